#!/usr/bin/env python3
"""Speaker identification on an encoder's frames (the downstream of SpeechBrain's PASE recipe).

    python train.py hparams/speaker_id.yaml
    python train.py hparams/speaker_id.yaml --encoder mfcc
    python train.py hparams/speaker_id.yaml --encoder pretrained:../../../results/multitask_ssl/pase/1986/save/pretrained_encoder
    python train.py hparams/speaker_id.yaml --device cuda:0 --precision bf16

The encoder (any spec of lobes.upstream, frozen by default) gives frames; statistics pooling and a
linear (or small MLP) classifier predict the speaker. Data: the VoxCeleb1 identification split
(`iden_split.txt`: each speaker's videos divided into train / dev / test). The checkpoint with the
best dev accuracy is evaluated once on the test split; `metrics.json` holds the result.
"""

import logging
import os
import random
import sys
import time
import zlib

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.distributed import if_main_process, run_on_main

from corpora.audio import load_audio
from corpora.files import write_json
from corpora.manifest import check_audio_files
from lobes.distributed import CpuDistributedMixin
from lobes.frame_cache import FrameCache, crop_frames, sample_crops_to_frames
from lobes.upstream import claim_output_folder, optimizer_groups, prepare_upstream, recoverables

logger = logging.getLogger(__name__)


class SpeakerIdBrain(CpuDistributedMixin, sb.Brain):
    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        wavs, lengths = batch.sig
        # a frozen upstream runs once per utterance; the training crop is cut from its frames
        feats, lengths = self.frame_cache(self.modules.upstream, wavs, lengths, batch.id)
        feats, lengths = crop_frames(feats, lengths, *sample_crops_to_frames(batch.crop.data, self.hop_samples))
        return self.modules.head(feats, lengths)

    def compute_objectives(self, logits, batch, stage):
        targets = batch.spk_id_encoded.data.squeeze(1)
        loss = torch.nn.functional.cross_entropy(logits.float(), targets)
        if stage != sb.Stage.TRAIN:
            self.correct += int((logits.argmax(1) == targets).sum())
            self.total += len(targets)
        return loss

    def init_optimizers(self):
        groups = optimizer_groups(self.modules.upstream, [self.modules.head], self.hparams.encoder_lr)
        self.optimizer = self.hparams.opt_class(groups)
        self.optimizers_dict = {"optimizer": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def on_stage_start(self, stage, epoch=None):
        self.correct, self.total = 0, 0

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            return
        stats = {"loss": stage_loss, "accuracy": self.correct / max(self.total, 1)}
        if stage == sb.Stage.VALID:
            # saved before the log line: an epoch in the log is an epoch a restart does not train again
            self.checkpointer.save_and_keep_only(meta={"accuracy": stats["accuracy"], "epoch": epoch},
                                                 max_keys=["accuracy"], num_to_keep=1)
            self.hparams.train_logger.log_stats(stats_meta={"epoch": epoch}, train_stats={"loss": self.train_loss},
                                                valid_stats=stats)
        else:
            self.hparams.train_logger.log_stats(stats_meta={"epoch loaded": self.hparams.epoch_counter.current},
                                                test_stats=stats)
            self.test_stats = stats


def dataio_prepare(hparams):
    """Train (random crops), dev and test (fixed crops) datasets with encoded speaker labels."""
    rate = hparams["sample_rate"]
    label_encoder = sb.dataio.encoder.CategoricalEncoder()
    datasets = {}
    for split in ("train", "dev", "test"):
        data = DynamicItemDataset.from_csv(csv_path=hparams[f"{split}_csv"])
        seconds = hparams["train_crop_seconds"] if split == "train" else hparams["eval_max_seconds"]

        @sb.utils.data_pipeline.takes("wav", "id")
        @sb.utils.data_pipeline.provides("sig", "crop")
        def audio_pipeline(wav, utt_id, train=split == "train", size=int(seconds * rate)):
            signal = load_audio(wav, rate)
            start = 0
            if signal.shape[0] > size:
                # random crops in training, cut from the frames of the whole utterance (cacheable); a fixed
                # crop per utterance for dev/test, cut from the audio (comparable epochs)
                start = (random if train else random.Random(zlib.crc32(utt_id.encode()))).randint(
                    0, signal.shape[0] - size)
                if not train:
                    signal, start = signal[start:start + size], 0
            yield signal
            yield torch.LongTensor([start, size])

        @sb.utils.data_pipeline.takes("spk_id")
        @sb.utils.data_pipeline.provides("spk_id_encoded")
        def label_pipeline(spk_id):
            return torch.LongTensor([label_encoder.encode_label(spk_id)])

        data.add_dynamic_item(audio_pipeline)
        data.add_dynamic_item(label_pipeline)
        data.set_output_keys(["id", "sig", "crop", "spk_id_encoded"])
        if split != "train" or hparams["sorting"] != "random":
            data = data.filtered_sorted(sort_key="duration", reverse=hparams["sorting"] == "descending")
        datasets[split] = data
    label_encoder.load_or_create(os.path.join(hparams["save_folder"], "label_encoder.txt"),
                                 from_didatasets=[datasets["train"]], output_key="spk_id")
    speakers = len(label_encoder)
    if hparams["n_speakers"] is not None and speakers != hparams["n_speakers"]:
        raise ValueError(f"{hparams['train_csv']} has {speakers} speakers but n_speakers is "
                         f"{hparams['n_speakers']}: pass --n_speakers {speakers} (or leave it null)")
    return datasets, speakers


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    claim_output_folder(hparams["output_folder"], hparams["encoder"])
    sb.create_experiment_directory(hparams["output_folder"], hyperparams_to_save=hparams_file, overrides=overrides)
    if not hparams["skip_prep"]:
        run_on_main(hparams["prepare"])
    # a dev or test file gone since prepare would otherwise stop the run after a whole training epoch
    check_audio_files(hparams["train_csv"], hparams["dev_csv"], hparams["test_csv"])
    datasets, speakers = dataio_prepare(hparams)
    upstream = prepare_upstream(hparams["upstream"], hparams["train_csv"], seed=hparams["seed"])
    head = hparams["head"](num_classes=speakers)
    hparams["checkpointer"].add_recoverables({"head": head, "epoch_counter": hparams["epoch_counter"],
                                              **recoverables(upstream)})
    brain = SpeakerIdBrain(modules={"upstream": upstream, "head": head}, hparams=hparams,
                           run_opts=run_opts, checkpointer=hparams["checkpointer"])
    brain.frame_cache = FrameCache(hparams["cache_frames_gb"])
    brain.hop_samples = upstream.hop_seconds * hparams["sample_rate"]
    start = time.time()
    brain.fit(hparams["epoch_counter"], datasets["train"], datasets["dev"],
              # drop_last: the head's BatchNorm needs two or more utterances per batch
              train_loader_kwargs=dict(hparams["dataloader_options"], shuffle=hparams["sorting"] == "random",
                                       drop_last=True),
              valid_loader_kwargs=hparams["dataloader_options"])
    train_seconds = time.time() - start
    brain.evaluate(datasets["test"], max_key="accuracy", test_loader_kwargs=hparams["dataloader_options"])
    if if_main_process():
        best = brain.checkpointer.find_checkpoint(max_key="accuracy")
        metrics = {"accuracy": brain.test_stats["accuracy"], "dev_accuracy": best.meta["accuracy"],
                   "best_epoch": best.meta["epoch"], "chance": 1.0 / speakers,
                   "encoder": hparams["encoder"], "seed": hparams["seed"], "train_seconds": round(train_seconds, 1),
                   "epochs": hparams["number_of_epochs"], "test_utterances": len(datasets["test"])}
        write_json(os.path.join(hparams["output_folder"], "metrics.json"), metrics)
        print(f"speaker ID test accuracy {metrics['accuracy']:.3f} (dev {metrics['dev_accuracy']:.3f}, "
              f"chance {metrics['chance']:.3f}); {hparams['output_folder']}/metrics.json")


if __name__ == "__main__":
    main(sys.argv[1:])
