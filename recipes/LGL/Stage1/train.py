#!/usr/bin/env python3
"""Loss-gated learning, Stage 1: contrastive self-supervised speaker embeddings (no speaker labels).

    python train.py hparams/contrastive.yaml
    python train.py hparams/contrastive.yaml --device cuda:0 --precision bf16 --data_folder /data/voxceleb1 \
        --train_csv /exp/prepared/vox2_train.csv --noise_rir_data_folder /data
    python train.py hparams/contrastive.yaml --frontend_spec "pretrained:/exp/multitask_ssl/selected/save/pretrained_encoder"

Each training item is one utterance of `train_csv` (its speaker is never read): two non-overlapping
random segments, each corrupted by its own draw of reverberation and/or noise (lobes.wave_augment: read
in the loader, mixed in batches on the device). The ECAPA embeddings of the two views are pulled together
against the other utterances of the batch (NT-Xent); with `adversarial_weight` > 0, a third view (the second
segment with the first one's augmentation) feeds the augmentation-adversarial discriminator.

Every epoch embeds the validation utterances (whole, one at a time) and scores the validation trials
(cosine EER, minDCF at p_target 0.05) -> `score.txt`; checkpoints are kept by that EER. At the end the best
checkpoint scores the test trials once -> `metrics.json`, `scores_test.txt`, `det_test.png`, and exports the
embedder for Stage 2 (`save/embedder.ckpt`).
"""

import logging
import os
import sys
import time

import numpy as np
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.distributed import if_main_process

from corpora.audio import load_audio
from corpora.files import write_json
from lobes.wave_augment import DrawCollate, mix

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lgl_common import EmbeddingBrain, prepare_data, saveable_cpu_generator, score_test, whole_utterances  # noqa: E402

logger = logging.getLogger(__name__)


class ContrastiveBrain(EmbeddingBrain):
    """TRAIN: the embeddings of view 0, view 2 (and view 1), NT-Xent (+ the adversarial term)."""

    def on_fit_start(self):
        super().on_fit_start()  # recovers the latest checkpoint of a resumed run
        latest = self.checkpointer.find_checkpoint() if self.checkpointer is not None else None
        # metrics.json reports the training time of the whole run, the earlier invocations of a resumed one too
        self.trained_before = float(latest.meta.get("train_seconds", 0.0)) if latest is not None else 0.0
        self.fit_start = time.time()

    def count_trained_seconds(self):
        """The run's training time up to now; from here on counted after this epoch's checkpoint."""
        self.trained_before, self.fit_start = self.trained_before + time.time() - self.fit_start, time.time()
        return self.trained_before

    def train_forward(self, batch):
        segments = batch.segments.data.to(self.device)  # [B, 2, samples]
        views = [(0, 0), (1, 2)] + ([(1, 1)] if self.hparams.adversarial_weight > 0 else [])
        out = []
        for segment, view in views:  # one batch per view, as the original (BatchNorm statistics per view)
            draws = [t.to(self.device, non_blocking=True) for t in batch.draws[view]]  # padded by DrawCollate
            wavs = mix(segments[:, segment], *draws)
            out.append(self.modules.embedder(wavs))
        return out

    def train_objectives(self, outputs, batch):
        loss, accuracy = self.modules.contrastive(outputs[0], outputs[1])
        self.segments_seen += 2 * outputs[0].shape[0]
        self.stats["contrastive"].append(loss.item())
        self.stats["accuracy"].append(accuracy.item())
        if len(outputs) == 3:
            adversarial = self.hparams.adversary.encoder_loss(outputs[0], outputs[2], outputs[1])  # unwrapped (DDP)
            self.stats["adversarial"].append(adversarial.item())
            loss = loss + self.hparams.adversarial_weight * adversarial
        return loss

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """The discriminator's own step, on the detached embeddings of the three views."""
        if len(outputs) == 3 and should_step:
            d_loss, d_accuracy = self.hparams.adversary.discriminator_loss(outputs[0], outputs[2], outputs[1])
            self.disc_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.disc_optimizer.step()
            self.stats["discriminator_accuracy"].append(d_accuracy.item())

    def init_optimizers(self):
        main = list(self.modules.embedder.parameters()) + list(self.modules.contrastive.parameters())
        self.optimizer = self.hparams.opt_class(main)
        self.disc_optimizer = self.hparams.disc_opt_class(self.modules.adversary.parameters())
        self.optimizers_dict = {"optimizer": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverables({"optimizer": self.optimizer, "disc_optimizer": self.disc_optimizer})

    def on_stage_start(self, stage, epoch=None):
        self.embeddings, self.stats = {}, {k: [] for k in ("contrastive", "accuracy", "adversarial",
                                                            "discriminator_accuracy")}
        self.segments_seen, self.stage_start = 0, time.time()
        if stage == sb.Stage.TRAIN:  # lr0 * decay ^ ((epoch - 1) // every): a function of the epoch, so resumable
            # StepScheduler(n) returns (lr0 * decay ^ (n // every), the next epoch's rate): its count is one ahead
            lr, _ = self.hparams.lr_annealing(epoch - 1)
            for group in self.optimizer.param_groups:
                group["lr"] = lr

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss, **{k: float(np.mean(v)) for k, v in self.stats.items() if v}}
            # training throughput, loader included: seconds of (two-segment) audio per second
            self.train_stats["audio_per_s"] = self.segments_seen * self.hparams.segment_seconds / max(
                time.time() - self.stage_start, 1e-9)
            return
        if stage == sb.Stage.VALID:
            metrics = self.validation_metrics()
            eer, min_dcf = metrics["EER"], metrics["minDCF"]
            lr = self.optimizer.param_groups[0]["lr"]
            self.hparams.train_logger.log_stats({"epoch": epoch, "lr": lr}, train_stats=self.train_stats,
                                                valid_stats={"EER": eer, "minDCF": min_dcf})
            if if_main_process():
                with open(os.path.join(self.hparams.output_folder, "score.txt"), "a") as f:
                    f.write(f"epoch {epoch}, lr {lr:.6f}, loss {self.train_stats['loss']:.4f}, "
                            f"accuracy {self.train_stats.get('accuracy', 0):.3f}, val EER {eer:.2f}, "
                            f"minDCF {min_dcf:.4f}, training {self.train_stats['audio_per_s']:.0f} s of audio/s\n")
            meta = {"EER": eer, "epoch": epoch, "train_seconds": self.count_trained_seconds()}
            self.checkpointer.save_and_keep_only(meta=meta, min_keys=["EER"])


def two_segments(signal, samples, rng):
    """Two non-overlapping stretches of `samples` of `signal` (numpy), in random order; a signal shorter than
    both is wrap-padded to their length first."""
    if len(signal) < 2 * samples:
        signal = np.resize(signal, 2 * samples)
    room = len(signal) - 2 * samples + 1
    first, second = sorted(rng.choice(room, size=2, replace=False)) if room >= 2 else (0, 0)
    second += samples
    pair = [signal[first:first + samples], signal[second:second + samples]]
    if rng.random() < 0.5:
        pair.reverse()
    return np.stack(pair)


def dataio_prepare(hparams):
    rate, samples = hparams["sample_rate"], int(hparams["segment_seconds"] * hparams["sample_rate"])
    draw = hparams["noise_draw"]

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("segments", "draws")
    def train_pipeline(wav):
        rng = np.random.default_rng(int(torch.randint(2 ** 62, ())))  # seeded per loader worker by torch
        pair = two_segments(load_audio(wav, rate).numpy(), samples, rng)
        first = draw(samples, rng)
        yield torch.from_numpy(pair)
        # views: 0 = segment 0 with draw A; 1 = segment 1 with draw A again (new noise crops); 2 = segment 1, draw B
        yield [first, draw.again(first["choice"], samples, rng), draw(samples, rng)]

    train = DynamicItemDataset.from_csv(hparams["train_csv"])
    train.add_dynamic_item(train_pipeline)
    train.set_output_keys(["id", "segments", "draws"])
    return {"train": train, "val": whole_utterances(hparams["val_csv"], rate),
            "test": whole_utterances(hparams["test_csv"], rate)}


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    sb.utils.distributed.ddp_init_group(run_opts)  # torchrun: one process per device (or CPU core group)
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(hparams["output_folder"], hyperparams_to_save=hparams_file, overrides=overrides)
    prepare_data(hparams)
    datasets = dataio_prepare(hparams)
    modules = {"embedder": hparams["embedder"], "contrastive": hparams["contrastive"],
               "adversary": hparams["adversary"]}
    checkpointer = hparams["checkpointer"]
    checkpointer.add_recoverables({**modules, "epoch_counter": hparams["epoch_counter"]})
    # resumed, a run draws the crops and augmentations an uninterrupted one would (older checkpoints: a warning)
    checkpointer.add_recoverable("rng_state", saveable_cpu_generator(), optional_load=True)
    brain = ContrastiveBrain(modules=modules, hparams=hparams, run_opts=run_opts, checkpointer=checkpointer)
    logger.info("ECAPA embedder: %.2fM parameters; %d training utterances (speakers unused)",
                sum(p.numel() for p in hparams["embedder"].parameters()) / 1e6, len(datasets["train"]))
    samples = int(hparams["segment_seconds"] * hparams["sample_rate"])
    brain.fit(hparams["epoch_counter"], datasets["train"], datasets["val"],
              train_loader_kwargs=dict(hparams["dataloader_options"], collate_fn=DrawCollate(samples, "draws")),
              valid_loader_kwargs={"batch_size": 1})
    # the run's training time up to its last epoch, as saved with it: the same figure when a finished run is rerun
    train_seconds = brain.trained_before
    epochs = hparams["epoch_counter"].current  # before the best is loaded

    brain.evaluate(datasets["test"], min_key="EER", test_loader_kwargs={"batch_size": 1})  # test: once, best val
    if not if_main_process():
        return
    best = brain.scored_checkpoint
    metrics = score_test(hparams, brain.embeddings, "LGL Stage 1 (contrastive): test trials")
    metrics.update({"val_eer": float(best.meta["EER"]), "scored_epoch": int(best.meta["epoch"]),
                    "epochs": epochs, "train_seconds": train_seconds,
                    "seed": hparams["seed"]})
    write_json(os.path.join(hparams["output_folder"], "metrics.json"), metrics)
    export = os.path.join(hparams["save_folder"], "embedder.ckpt")
    torch.save(hparams["embedder"].state_dict(), export + ".part")  # the best checkpoint's weights (loaded above)
    os.replace(export + ".part", export)
    print(f"Stage 1: test EER {metrics['eer']:.2f} %, minDCF {metrics['min_dcf']:.4f} (best validation EER "
          f"{metrics['val_eer']:.2f} % at epoch {metrics['scored_epoch']}); embedder for Stage 2: {export}")


if __name__ == "__main__":
    main(sys.argv[1:])
