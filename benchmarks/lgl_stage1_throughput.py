#!/usr/bin/env python3
"""LGL Stage-1 training throughput, ours (recipes/LGL/Stage1) against the original's, on the same utterances.

    git --git-dir=<mirror of TaoRuijie/Loss-Gated-Learning> archive HEAD -- Stage1 ':(exclude)Stage1/rir.npy' \
        | tar -x -C /tmp/lgl_original
    python benchmarks/lgl_stage1_throughput.py --original /tmp/lgl_original/Stage1 --device cuda:0 \
        --train_csv results/prepared/embedded/librispeech/train-clean-100.csv --items 6000 --batch_size 300 \
        --num_workers 4 8 12 --precisions fp32 bf16
    python benchmarks/lgl_stage1_throughput.py --original /tmp/lgl_original/Stage1 --items 96 --batch_size 32 \
        --num_workers 2 --epochs 2          # the same on a CPU (small: C = 512 trains at ~15 s of audio/s there)

What is timed: whole training epochs, from the creation of the loader's iterator to the last optimizer step,
worker start-up included, `--epochs` times for each system and loader-process count (the first epoch warms up
the device; the table reports the fastest epoch and the mean of the others). Each epoch's loader wait, the time
the training loop spent waiting for its next batch, tells whether the loader or the model sets the pace.

- ORIGINAL: Tao et al.'s Stage1 `model` (its ECAPA-TDNN, C = `--channels`, contrastive loss, AAT discriminator, two
  Adam optimizers) and `get_loader` (its DataLoader: reading, reverberation and noise mixing in numpy/scipy inside
  `--num_workers` loader processes, prefetch 5), imported at run time from `--original` (never copied here), its
  `train_network(loader, epoch)` called as its main_train.py does. Float32, as the original trains.
- OURS: `ContrastiveBrain` of recipes/LGL/Stage1/train.py with hparams/contrastive.yaml (C = `--channels`, the
  adversarial term on), `brain.fit` for one epoch at a time without validation: the loader reads the segments and
  the augmentation draws, the mixing, convolutions and log-mel run batched on `--device`; in each `--precisions`.

Both read the same list of utterances (those of `--train_csv` of at least 3.63 s, which the original's loader
needs, cycled to `--items`), the MUSAN-like chunks and the impulse responses of the embedded corpus, prepared as
benchmarks/lgl_loader.py describes (a temporary folder, removed at the end). One item is one utterance: two
segments (ours 2 x 1.8 s, the original 2 x 1.815 s) and three augmented views; "s of audio/s" counts the two
segments read, as the issue's figures do.

Without CUDA the original's `.cuda()` calls are sent to the CPU for the time of its run (Module.cuda and
Tensor.cuda return their object, its loss module's `torch.device('cuda')` reads as the CPU): a CPU measurement,
where the two models take almost all the time (our mixing is about 1 % of an epoch there), not the GPU
comparison the recipe's README asks for.
"""

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lgl_loader import ORIGINAL_FRAMES, ORIGINAL_SAMPLES, PREPARED, RATE, build_ours, prepare  # noqa: E402
from timing import synchronize  # noqa: E402


@contextlib.contextmanager
def cuda_calls_on_cpu(loss_module):
    """The original hard-codes CUDA; on a machine without it, its calls land on the CPU while this is open."""
    if torch.cuda.is_available():
        yield
        return
    saved = torch.nn.Module.cuda, torch.Tensor.cuda, loss_module.torch
    torch.nn.Module.cuda = lambda self, *a, **k: self
    torch.Tensor.cuda = lambda self, *a, **k: self
    cpu_torch = types.ModuleType("torch_on_cpu")
    cpu_torch.__dict__.update(vars(torch))
    cpu_torch.device = lambda *a, **k: torch.device("cpu")
    loss_module.torch = cpu_torch
    try:
        yield
    finally:
        torch.nn.Module.cuda, torch.Tensor.cuda, loss_module.torch = saved


@contextlib.contextmanager
def loader_waits():
    """Seconds the training process spends waiting for its next batch (inside any DataLoader iterator's
    `__next__`), summed while this is open: `waits[0]`. Ours synchronizes the device at each step's end (the
    loss's `.cpu()`), so its wait is time the loader kept the model waiting. The original's last synchronization
    of a step (`.cpu()` of its loss) comes before its backward pass: on a GPU its wait can also hold the tail of
    that backward pass and optimizer step, an upper bound on the time its loader cost it."""
    iterator = torch.utils.data.dataloader._BaseDataLoaderIter
    saved, waits = iterator.__next__, [0.0]

    def timed_next(self):
        start = time.perf_counter()
        try:
            return saved(self)
        finally:
            waits[0] += time.perf_counter() - start

    iterator.__next__ = timed_next
    try:
        yield waits
    finally:
        iterator.__next__ = saved


def original_epochs(original, data, args, workers):
    """(seconds, loader wait) of each of `args.epochs` epochs of the original's training (its model and loader)."""
    np.float = float  # numpy >= 1.24 removed the alias the original uses (.astype(numpy.float))
    if original not in sys.path:
        sys.path.insert(0, original)
    import dataLoader
    import loss as loss_module
    import model as model_module
    loader_args = argparse.Namespace(max_frames=ORIGINAL_FRAMES, train_list=data["train_list"],
                                     train_path=data["train_path"], musan_path=data["musan"],
                                     batch_size=args.batch_size, n_cpu=workers)
    seconds = []
    with cuda_calls_on_cpu(loss_module):
        trainer = model_module.model(lr=0.001, lr_decay=0.95)
        if args.channels != 512:  # its ECAPA_TDNN(C=512) is built inside model(); rebuilt at the asked width
            trainer.Network = model_module.ECAPA_TDNN(C=args.channels).cuda()
            trainer.OptimNet = torch.optim.Adam(list(trainer.Network.parameters())
                                                + list(trainer.Loss.parameters()), lr=0.001)
            trainer.Scheduler = torch.optim.lr_scheduler.StepLR(trainer.OptimNet, step_size=5, gamma=0.95)
        loader = dataLoader.get_loader(loader_args)
        for epoch in range(1, args.epochs + 1):
            start = time.perf_counter()
            with loader_waits() as waits:
                trainer.train_network(loader=loader, epoch=epoch)
                synchronize(args.device)
            seconds.append((time.perf_counter() - start, waits[0]))
    del trainer
    return seconds


def our_epochs(data, args, tmp, precision, workers):
    """(seconds, loader wait) of each of `args.epochs` epochs of our Stage-1 training (train.py's Brain, no
    validation), and the segment length."""
    channels = [args.channels] * 4 + [3 * args.channels]
    train_set, hparams = build_ours(data["bench_csv"], os.path.join(tmp, f"ours_{precision}_{workers}"),
                                    args.batch_size, channels=channels)
    from train import ContrastiveBrain  # recipes/LGL/Stage1, put on sys.path by build_ours

    from lobes.wave_augment import DrawCollate
    modules = {"embedder": hparams["embedder"], "contrastive": hparams["contrastive"],
               "adversary": hparams["adversary"]}
    brain = ContrastiveBrain(modules=modules, hparams=hparams, checkpointer=None,
                             run_opts={"device": args.device, "precision": precision, "noprogressbar": True})
    samples = int(hparams["segment_seconds"] * hparams["sample_rate"])
    loader_kwargs = dict(hparams["dataloader_options"], num_workers=workers,
                         collate_fn=DrawCollate(samples, "draws"))
    seconds = []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        with loader_waits() as waits:
            brain.fit([epoch], train_set, train_loader_kwargs=loader_kwargs)
            synchronize(args.device)
        seconds.append((time.perf_counter() - start, waits[0]))
    return seconds, hparams["segment_seconds"]


def row(name, workers, epochs, items, item_audio):
    """A table row from `epochs`, a (seconds, loader wait) pair per epoch."""
    seconds = [s for s, _ in epochs]
    best = min(seconds)
    rest = seconds[1:] or seconds
    mean = sum(rest) / len(rest)
    return (f"| {name} | {workers} | {items / best:.1f} | {items * item_audio / best:.0f} | "
            f"{items * item_audio / mean:.0f} | {', '.join(f'{s:.1f} ({w:.1f})' for s, w in epochs)} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--original", required=True, help="the original's Stage1 folder (holds model.py)")
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--items", type=int, default=6000, help="utterances per epoch")
    parser.add_argument("--batch_size", type=int, default=300, help="the original's default")
    parser.add_argument("--channels", type=int, default=512,
                        help="ECAPA width C of both (the original's 512; its last layer stays 1536 wide, ours is "
                             "3C: the two match at 512 only)")
    parser.add_argument("--num_workers", type=int, nargs="+", default=[4], help="loader processes (the original: 4)")
    parser.add_argument("--precisions", nargs="+", default=["fp32"], help="ours: fp32, bf16 and/or fp16")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per system and worker count")
    parser.add_argument("--systems", nargs="+", default=["original", "ours"], choices=["original", "ours"])
    parser.add_argument("--train_csv", default=os.path.join(PREPARED, "voxceleb", "vox2_train.csv"))
    args = parser.parse_args()
    if args.items % args.batch_size:
        parser.error("--items must be a multiple of --batch_size (both loaders drop the last partial batch)")
    original = os.path.abspath(args.original)
    if "original" in args.systems and not os.path.exists(os.path.join(original, "model.py")):
        parser.error(f"{original}/model.py not found: --original is the original's Stage1 folder")
    if str(args.device).startswith("cuda"):
        torch.cuda.set_device(args.device)

    tmp, cwd, rows = tempfile.mkdtemp(prefix="lgl_stage1_"), os.getcwd(), []
    try:
        data = prepare(tmp, args.items, os.path.abspath(args.train_csv), os.path.join(PREPARED, "noise_rir"))
        print(f"{args.items} items per epoch over {data['utterances']} utterances; device {args.device}, "
              f"C = {args.channels}, batch {args.batch_size}, {args.epochs} epochs each", flush=True)
        os.chdir(tmp)  # the original's loader reads 'rir.npy' from the working directory
        for workers in args.num_workers:
            if "original" in args.systems:
                seconds = original_epochs(original, data, args, workers)
                rows.append(row("original (its loader mixes in numpy/scipy), fp32", workers, seconds, args.items,
                                2 * ORIGINAL_SAMPLES / RATE))
                print(rows[-1], flush=True)
            if "ours" in args.systems:
                for precision in args.precisions:
                    seconds, segment = our_epochs(data, args, tmp, precision, workers)
                    rows.append(row(f"ours (mixing and log-mel on the device), {precision}", workers, seconds,
                                    args.items, 2 * segment))
                    print(rows[-1], flush=True)
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)

    name = torch.cuda.get_device_name(args.device) if str(args.device).startswith("cuda") else "CPU"
    print(f"\n{name}, {os.cpu_count()} cores, torch {torch.__version__}; {args.items} utterances per epoch, batch "
          f"{args.batch_size}, ECAPA C = {args.channels}; s of audio = the two segments read per utterance\n")
    print("| system | loader processes | items/s (best epoch) | s of audio/s (best epoch) | s of audio/s (mean, "
          "epochs 2+) | epoch seconds (loader wait) |")
    print("|---|---:|---:|---:|---:|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
