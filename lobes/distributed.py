"""`torchrun` on CPU for every recipe's Brain.

SpeechBrain's `Brain._wrap_distributed` converts BatchNorm layers to SyncBatchNorm before wrapping the modules in
DistributedDataParallel, and SyncBatchNorm only runs on GPUs: on CPU (the gloo backend) a recipe with a BatchNorm
stops at start-up. `CpuDistributedMixin` wraps the trainable modules in DDP without that conversion when the device is
the CPU (each process then keeps its own BatchNorm statistics, as plain DDP does) and leaves GPU runs to SpeechBrain.

    class SpeakerIdBrain(CpuDistributedMixin, sb.Brain): ...
"""

import torch


class CpuDistributedMixin:
    def _wrap_distributed(self):
        if not (self.distributed_launch and str(self.device).startswith("cpu")):
            return super()._wrap_distributed()
        for name, module in self.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                self.modules[name] = torch.nn.parallel.DistributedDataParallel(
                    module, find_unused_parameters=self.find_unused_parameters)
