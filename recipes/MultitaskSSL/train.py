#!/usr/bin/env python3
"""Multitask self-supervised pretraining: one encoder, many YAML-wired workers.

    python train.py hparams/pretrain_alpharatio.yaml
    python train.py hparams/pretrain_selected.yaml --device cuda:0 --precision bf16
    torchrun --nproc_per_node=2 train.py hparams/pretrain_alpharatio.yaml

Each batch holds random crops (`chunk_size` samples) with their start offsets, so every
labeller cuts its target at the crop's own position. The loss is the weighted sum of the
worker losses (each logged); the encoder and every worker have their own optimizer, all
checkpointed with the epoch counter and the loss history, so a killed run resumes. At the
end the encoder is written for SpeechBrain's Pretrainer (`<save_folder>/pretrained_encoder/`).
"""

import difflib
import logging
import os
import random
import re
import sys
import zlib

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.distributed import if_main_process, run_on_main

from corpora.audio import load_audio
from corpora.manifest import check_audio_files
from labellers.base import LabelBatch
from labellers.lld_torch import HOP as LLD_HOP
from lobes.distributed import CpuDistributedMixin
from lobes.encoder_folder import export_encoder
from lobes.multitask import (WorkerConfigError, WorkerHeads, build_workers, label_context, label_fetchers,
                             require_keys, worker_loss)

logger = logging.getLogger(__name__)
# the keys this script reads unconditionally (checked before any work: see lobes.multitask.require_keys)
READS = ("checkpointer", "chunk_size", "ckpt_save_interval", "dataloader_options", "decay_factor", "encoder_config",
         "epoch_counter", "export_checkpoint", "hop_seconds", "loss_history", "lr_update_interval", "meta_columns",
         "num_ckpts_keep", "output_folder", "prepare", "sample_rate", "save_folder", "skip_prep", "sorting",
         "train_csv", "train_logger", "valid_csv", "workers_config")


class MultitaskBrain(CpuDistributedMixin, sb.Brain):
    """Encoder + worker heads; the objective is sum_w weight_w * loss_w."""

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        wavs, lengths = batch.sig
        augment = getattr(self.hparams, "wav_augment", None)
        if stage == sb.Stage.TRAIN and augment is not None:
            # the encoder hears the corrupted crop; the labellers read the clean one (batch.sig)
            wavs, lengths = corrupt(augment, wavs, lengths)
        feats = self.modules.encoder(wavs, lengths)
        return feats, self.modules.heads(feats, lengths)

    def compute_objectives(self, outputs, batch, stage):
        feats, preds = outputs
        wavs, lengths = batch.sig
        context = dict(zip(("context_wavs", "context_lengths"), batch.context_sig),
                       context_offsets=batch.context_offset.cpu()) if hasattr(batch, "context_sig") else {}
        labels = LabelBatch(wavs=wavs, lengths=lengths, ids=list(batch.id), offsets=batch.offset.cpu(),
                            num_frames=feats.shape[1], hop_seconds=self.hparams.hop_seconds,
                            sample_rate=self.hparams.sample_rate,
                            meta={c: getattr(batch, c) for c in self.hparams.meta_columns},
                            fetched=getattr(batch, "fetched", None), **context)
        total = 0.0
        for name, worker in self.workers.items():
            target = worker.labeller(labels)
            if torch.is_tensor(target):
                target = target.to(self.device)
            loss = worker_loss(worker, preds[name].float(), target, lengths)
            self.stage_losses[name] = self.stage_losses.get(name, 0.0) + loss.detach()
            total = total + worker.weight * loss
        self.stage_batches += 1
        return total

    def init_optimizers(self):
        """One optimizer for the encoder and one per worker, as in the PASE recipe."""
        heads = getattr(self.modules.heads, "module", self.modules.heads).heads
        self.optimizers_dict = {"encoder": self.hparams.encoder_config["optimizer"](
            self.modules.encoder.parameters())}
        for name, worker in self.workers.items():
            self.optimizers_dict[f"worker_{name}"] = worker.optimizer(heads[name].parameters())
        self.optimizer = self.optimizers_dict["encoder"]
        if self.checkpointer is not None:
            for key, opt in self.optimizers_dict.items():
                self.checkpointer.add_recoverable(f"optimizer_{key}", opt)

    def on_stage_start(self, stage, epoch=None):
        self.stage_losses, self.stage_batches = {}, 0

    def on_stage_end(self, stage, stage_loss, epoch=None):
        stats = {"loss": stage_loss}
        stats.update({f"{n}_loss": float(v) / max(self.stage_batches, 1) for n, v in self.stage_losses.items()})
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        lrs = {k: opt.param_groups[0]["lr"] for k, opt in self.optimizers_dict.items()}
        self.hparams.loss_history.add(epoch, self.train_stats, stats)
        # Not SpeechBrain's StepScheduler: it holds one initial rate (here the encoder and every worker have their own,
        # read from the checkpoint on resume) and computes initial * factor ** k, which differs from this repeated
        # product in the last bits unless the factor is a power of two; its epoch count also runs one ahead.
        if epoch % self.hparams.lr_update_interval == 0:  # anneal encoder and worker learning rates
            for opt in self.optimizers_dict.values():
                for group in opt.param_groups:
                    group["lr"] *= self.hparams.decay_factor
        last = epoch == self.hparams.epoch_counter.limit
        if epoch % self.hparams.ckpt_save_interval == 0 or last:
            # the most recent (to resume) and the best by validation loss (to export) are kept
            self.checkpointer.save_and_keep_only(meta={"loss": stats["loss"], "epoch": epoch},
                                                 num_to_keep=self.hparams.num_ckpts_keep, min_keys=["loss"])
        # logged after the save, so that a run stopped right after this line restarts from this epoch's checkpoint
        self.hparams.train_logger.log_stats(stats_meta={"epoch": epoch, "lr_encoder": lrs["encoder"]},
                                            train_stats=self.train_stats, valid_stats=stats)


def corrupt(augment, wavs, lengths):
    """`augment(wavs, lengths)`, which must keep the crops' length: the targets are cut on the clean crop's
    frames (a speed or tempo change would shift every frame)."""
    out, out_lengths = augment(wavs, lengths)
    if out.shape != wavs.shape:
        raise ValueError(f"wav_augment changed the crops from {tuple(wavs.shape)} to {tuple(out.shape)}: the "
                         "pretraining targets need the clean crop's frames; use length-preserving augmentations "
                         "(noise, reverberation, filtering), as in hparams/augment_noise_reverb.yaml")
    return out, out_lengths


def dataio_prepare(hparams, context=None, fetchers=None):
    """Train/valid datasets of random crops (`chunk_size` samples) with their offsets; with `context`
    ((left, right) seconds, lobes.multitask.label_context), also the clean audio around each crop
    (`context_sig`) and where the crop starts in it (`context_offset`), for labellers that compute
    their targets from audio; with `fetchers` ({fetch_key: labeller}, lobes.multitask.label_fetchers),
    what each of them reads for the crop (`fetched`), read in the loader workers rather than in the
    training step."""
    chunk = int(hparams["chunk_size"])
    rate = hparams["sample_rate"]

    def crop(wav, utt_id, train):
        signal = load_audio(wav, rate)
        if signal.shape[0] <= chunk:
            return signal, 0, signal
        # Training crops are random; validation crops are fixed per utterance (comparable epochs).
        rng = random if train else random.Random(zlib.crc32(utt_id.encode()))
        offset = rng.randint(0, signal.shape[0] - chunk)
        return signal[offset:offset + chunk], offset, signal

    def around(signal, offset):
        left, right = context
        start = 0 if left is None else max(0, offset - int(left * rate))
        start -= start % LLD_HOP  # the context's 10 ms frames on the utterance's grid, as the stored tracks
        return signal[start:offset + chunk + int(right * rate)], offset - start

    datasets = {}
    for split, train in (("train", True), ("valid", False)):
        data = DynamicItemDataset.from_csv(csv_path=hparams[f"{split}_csv"])

        @sb.utils.data_pipeline.takes("wav", "id")
        @sb.utils.data_pipeline.provides("sig", "offset", "context_sig", "context_offset")
        def audio_pipeline(wav, utt_id, train=train):
            signal, offset, whole = crop(wav, utt_id, train)
            yield signal
            yield offset
            if context is not None:
                yield from around(whole, offset)

        data.add_dynamic_item(audio_pipeline)
        keys = ["context_sig", "context_offset"] if context is not None else []
        if fetchers:
            @sb.utils.data_pipeline.takes("id", "offset", "sig")
            @sb.utils.data_pipeline.provides("fetched")
            def fetch_pipeline(utt_id, offset, signal):
                return {key: labeller.fetch(utt_id, offset, len(signal), rate) for key, labeller in fetchers.items()}

            data.add_dynamic_item(fetch_pipeline)
            keys.append("fetched")
        data.set_output_keys(["id", "sig", "offset", *keys, *hparams["meta_columns"]])
        if hparams["sorting"] in ("ascending", "descending"):
            data = data.filtered_sorted(sort_key="duration", reverse=hparams["sorting"] == "descending")
        datasets[split] = data
    return datasets


def load_hparams(hparams_file, overrides):
    """load_hyperpyyaml, with a dangling `!ref <{worker}_labeller>`-style key, or an override of a key the YAML
    does not have, named in the error."""
    with open(hparams_file) as fin:
        try:
            return load_hyperpyyaml(fin, overrides)
        except KeyError as err:
            unknown = re.search(r"Override '([^']+)' not found", str(err))
            if unknown:
                key = unknown.group(1)
                with open(hparams_file) as f:
                    keys = re.findall(r"^([A-Za-z_]\w*):", f.read(), re.M)
                close = difflib.get_close_matches(key, keys, n=1)
                hint = f" (did you mean `{close[0]}`?)" if close else ""
                # hyperpyyaml says the same of a key nested in an override's value (--dataloader_options "{...}")
                raise WorkerConfigError(f"{hparams_file} has no key `{key}`, which the overrides set{hint}: an "
                                        "override changes a key the YAML defines") from None
            raise
        except FileNotFoundError as err:
            if "hparams" in str(err.filename):  # an !include: of a shared fragment
                raise FileNotFoundError(f"{hparams_file}: the fragment {err.filename} it includes is not there; "
                                        "`!include:` paths are relative to the YAML's own folder (the shared "
                                        "fragments are in the top-level hparams/ of this collection)") from None
            raise
        except ValueError as err:
            missing = re.search(r'The reference "([^"]+)" is not valid', str(err))
            if missing:
                key = missing.group(1)
                raise WorkerConfigError(f"{hparams_file}: `<{key}>` is referenced but not defined; add a "
                                        f"top-level `{key}:` key (e.g. `{key}: !new:...`)") from None
            raise


def load_fragment(path, inputs):
    """`workers_config` of a fragment written by recipes/PretextSelection (its inputs overridden)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"selection fragment {path} not found: run recipes/PretextSelection/select_tasks.py "
                                "first, or point --selection_fragment at its workers_*.yaml")
    with open(path) as fin:
        text = fin.read()
    inputs = dict(inputs)
    if inputs.get("lld_backend") == "stored" and not re.search(r"^lld_backend:", text, re.M):
        del inputs["lld_backend"]  # a fragment written before the online backend existed reads stored tracks
    undeclared = [k for k in inputs if not re.search(rf"^{re.escape(k)}:", text, re.M)]
    if undeclared:
        raise WorkerConfigError(f"{path} has no input {undeclared} (the keys at its top): it was written by an "
                                "older recipes/PretextSelection; run select_tasks.py again, or drop them from "
                                "selection_inputs")
    fragment = load_hyperpyyaml(text, inputs)
    if "workers_config" not in fragment:
        raise WorkerConfigError(f"{path} has no workers_config: not a selection fragment")
    return fragment["workers_config"]


def build_all_workers(hparams):
    """`workers_config` plus, when `selection_fragment` is set, the selection recipe's workers."""
    default = hparams.get("worker_optimizer")  # entries without `optimizer:` (Adam at worker_lr_start in the YAMLs)
    workers = build_workers(hparams["workers_config"], hparams, default_optimizer=default)
    if hparams.get("selection_fragment"):
        more = build_workers(load_fragment(hparams["selection_fragment"], hparams["selection_inputs"]), hparams,
                             default_optimizer=default)
        clash = set(more) & set(workers)
        if clash:
            raise WorkerConfigError(f"workers {sorted(clash)} are in workers_config and in "
                                    f"{hparams['selection_fragment']}: rename or remove one of them")
        workers.update(more)
    return workers


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    sb.utils.distributed.ddp_init_group(run_opts)
    hparams = load_hparams(hparams_file, overrides)
    require_keys(hparams, READS, hparams_file)
    sb.create_experiment_directory(hparams["output_folder"], hyperparams_to_save=hparams_file,
                                   overrides=overrides)
    workers = build_all_workers(hparams)  # before any data work: fails fast
    if not hparams["skip_prep"]:
        run_on_main(hparams["prepare"])
        if hparams.get("wav_augment") is not None and hparams.get("prepare_noise_rir") is not None:
            run_on_main(hparams["prepare_noise_rir"])  # the noise and RIR manifests the augmentation reads
    check_audio_files(hparams["train_csv"], hparams["valid_csv"])
    datasets = dataio_prepare(hparams, label_context(workers), label_fetchers(workers))

    encoder = hparams["encoder_config"]["model"]
    heads = WorkerHeads({name: w.model for name, w in workers.items()})
    hparams["checkpointer"].add_recoverables({"encoder": encoder, "heads": heads,
                                              "epoch_counter": hparams["epoch_counter"],
                                              "loss_history": hparams["loss_history"]})
    brain = MultitaskBrain(modules={"encoder": encoder, "heads": heads}, hparams=hparams, run_opts=run_opts,
                           checkpointer=hparams["checkpointer"])
    brain.workers = workers
    logger.info("workers: %s", ", ".join(f"{n} ({w.section}, weight {w.weight:g})" for n, w in workers.items()))
    loader = dict(hparams["dataloader_options"], shuffle=hparams["sorting"] == "random")
    brain.fit(hparams["epoch_counter"], datasets["train"], datasets["valid"], train_loader_kwargs=loader,
              valid_loader_kwargs=dict(hparams["dataloader_options"]))
    if if_main_process():
        hparams["loss_history"].write(hparams["output_folder"])  # the whole history, before a checkpoint reload
        epoch = load_exported_checkpoint(brain.checkpointer, hparams["export_checkpoint"])
        out = export_encoder(encoder, os.path.join(hparams["save_folder"], "pretrained_encoder"))
        print(f"encoder of epoch {epoch} ({hparams['export_checkpoint']}) for the Pretrainer: {out}; "
              f"losses: {os.path.join(hparams['output_folder'], 'losses.png')}")


def load_exported_checkpoint(checkpointer, which):
    """Loads the checkpoint to export: `best` (lowest validation loss) or `last`; returns its epoch."""
    if which not in ("best", "last"):
        raise ValueError(f"export_checkpoint must be 'best' or 'last', got {which!r}")
    ckpt = checkpointer.find_checkpoint(min_key="loss") if which == "best" else checkpointer.find_checkpoint()
    checkpointer.load_checkpoint(ckpt)
    logger.info("exporting the encoder of epoch %s (%s validation loss %.4f)", ckpt.meta["epoch"], which,
                ckpt.meta["loss"])
    return ckpt.meta["epoch"]


if __name__ == "__main__":
    main(sys.argv[1:])
