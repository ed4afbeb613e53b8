#!/usr/bin/env python3
"""Downstream speaker verification (VoxCeleb layout): any upstream -> x-vector or ECAPA -> EER/minDCF.

    python train.py hparams/xvector.yaml
    python train.py hparams/xvector.yaml --encoder mfcc --seed 2
    python train.py hparams/ecapa.yaml --encoder pretrained:/path/to/pretrained_encoder
    python train.py hparams/xvector.yaml --device cuda:0 --precision bf16

The upstream (frozen unless `freeze_encoder: False`) gives frames; each utterance's frames are
mean-normalized, an embedding model (YAML `embedding_model`) pools them into one vector, and
a cosine classifier over the training speakers is trained with AAM-softmax on random crops.
Every epoch embeds the validation utterances and scores the validation trials (cosine EER);
checkpoints are kept by the best validation EER. At the end, the best checkpoint embeds the
test utterances once; the test trials are scored with cosine and PLDA (trained on the training
embeddings) -> `metrics.json`, `scores_test_{cosine,plda}.txt`, `det_test.png`.
"""

import logging
import os
import sys
import time

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.distributed import if_main_process, run_on_main
from tqdm import tqdm

from corpora.audio import load_audio
from corpora.files import write_json
from corpora.manifest import check_audio_files, read_csv
from corpora.voxceleb import prepare_voxceleb
from lobes import verification
from lobes.distributed import CpuDistributedMixin
from lobes.frame_cache import FrameCache, crop_frames, sample_crops_to_frames
from lobes.trials import Trials, embedding_matrix, write_scores
from lobes.upstream import claim_output_folder, optimizer_groups, prepare_upstream, recoverables

logger = logging.getLogger(__name__)


class SpeakerBrain(CpuDistributedMixin, sb.Brain):
    """Training: AAM-softmax over training speakers. VALID/TEST: collects {utterance ID: embedding}."""

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        wavs, lengths = batch.sig
        keys = batch.utt  # the utterance, shared by its training crops and its whole-utterance embedding
        if stage == sb.Stage.TRAIN and self.hparams.wav_augment is not None:
            # label-preserving (speed, dropped bands and chunks): the batch size does not change
            wavs, lengths = self.hparams.wav_augment(wavs, lengths)
            keys = None  # augmented audio differs every epoch: nothing to cache
        feats, lengths = self.frame_cache(self.modules.upstream, wavs, lengths, keys)
        if stage == sb.Stage.TRAIN:  # the random crop, cut from the frames of the whole utterance
            feats, lengths = crop_frames(feats, lengths, *sample_crops_to_frames(batch.crop.data, self.hop_samples))
        feats = self.modules.mean_var_norm(feats, lengths)
        embeddings = self.modules.embedding_model(feats, lengths)  # [B, 1, D]
        if stage == sb.Stage.TRAIN:
            return self.modules.classifier(embeddings)  # [B, 1, speakers] cosines
        return embeddings

    def compute_objectives(self, outputs, batch, stage):
        if stage == sb.Stage.TRAIN:
            speakers, _ = batch.spk_id_encoded
            return self.hparams.compute_cost(outputs.float(), speakers)
        self.embeddings.update(zip(batch.id, outputs.squeeze(1).float().cpu().numpy()))
        return torch.zeros((), device=self.device)  # nothing to optimize: the metric is the EER

    def init_optimizers(self):
        """Head parameters at `lr`; a fine-tuned upstream at `encoder_lr` (lobes.upstream)."""
        heads = [self.modules.embedding_model, self.modules.classifier]
        upstream = getattr(self.modules.upstream, "module", self.modules.upstream)  # DDP-wrapped when trainable
        self.optimizer = self.opt_class(optimizer_groups(upstream, heads, self.hparams.encoder_lr))
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def on_stage_start(self, stage, epoch=None):
        self.embeddings = {}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss}
            return
        if stage == sb.Stage.TEST:
            return
        trials = self.hparams.val_trials
        val_eer = verification.eer(verification.cosine_scores(embedding_matrix(self.embeddings, trials.ids),
                                                              trials.enrol, trials.test), trials.labels)
        old_lr, new_lr = self.hparams.lr_annealing(epoch)
        sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr, param_group=[0])
        self.checkpointer.save_and_keep_only(meta={"EER": val_eer, "epoch": epoch}, min_keys=["EER"])
        self.hparams.train_logger.log_stats(stats_meta={"epoch": epoch, "lr": old_lr},  # after the save: see SpeakerID
                                            train_stats=self.train_stats, valid_stats={"EER": val_eer})

    def embed(self, dataset, loader_kwargs, desc):
        """{utterance ID: embedding [D]} of `dataset`, with the modules as they are now."""
        self.on_stage_start(sb.Stage.TEST)
        self.modules.eval()
        loader = self.make_dataloader(dataset, sb.Stage.TEST, **loader_kwargs)
        with torch.no_grad():
            quiet = self.noprogressbar or not if_main_process()
            for batch in tqdm(loader, desc=desc, disable=quiet, dynamic_ncols=True):
                with self.evaluation_ctx:
                    self.compute_objectives(self.compute_forward(batch, sb.Stage.TEST), batch, sb.Stage.TEST)
        return self.embeddings


def training_rows(hparams):
    """Rows of train.csv, plus VoxCeleb2 dev (vox2_train.csv) when `vox2_folder` is set."""
    rows = read_csv(hparams["train_csv"])
    if hparams["vox2_folder"]:
        rows += read_csv(os.path.join(hparams["prepare_folder"], "vox2_train.csv"))
    if not rows:
        raise ValueError(f"{hparams['train_csv']} is empty: no training speakers outside the trial lists")
    return rows


def dataio_prepare(hparams):
    """Training crops (`crops_per_utterance` random crops of crop_min..crop_max seconds per epoch)
    with encoded speakers; val/test/training embedding sets of whole utterances, longest first."""
    rate = hparams["sample_rate"]
    label_encoder = sb.dataio.encoder.CategoricalEncoder()

    @sb.utils.data_pipeline.takes("wav", "ID")
    @sb.utils.data_pipeline.provides("sig", "crop", "utt")
    def crop_pipeline(wav, utt):  # `ID`: the utterance of this "ID@k" crop item
        signal = load_audio(wav, rate)  # whole: the crop is cut from its frames (see compute_forward)
        lo, hi = (int(hparams[k] * rate) for k in ("crop_min_seconds", "crop_max_seconds"))
        size = int(torch.randint(lo, hi + 1, ()))
        start = int(torch.randint(0, signal.shape[0] - size + 1, ())) if signal.shape[0] > size else 0
        yield signal
        yield torch.LongTensor([start, size])
        yield utt

    @sb.utils.data_pipeline.takes("wav", "id")
    @sb.utils.data_pipeline.provides("sig", "utt")
    def full_pipeline(wav, utt):
        yield load_audio(wav, rate)
        yield utt

    @sb.utils.data_pipeline.takes("spk_id")
    @sb.utils.data_pipeline.provides("spk_id_encoded")
    def label_pipeline(spk_id):
        return torch.LongTensor([label_encoder.encode_label(spk_id)])

    rows = training_rows(hparams)
    repeated = {f"{row['ID']}@{k}": dict(row, duration=float(row["duration"]))
                for k in range(int(hparams["crops_per_utterance"])) for row in rows}
    train = DynamicItemDataset(repeated, dynamic_items=[crop_pipeline, label_pipeline],
                               output_keys=["id", "sig", "crop", "utt", "spk_id_encoded"])
    label_encoder.load_or_create(os.path.join(hparams["save_folder"], "label_encoder.txt"),
                                 from_didatasets=[train], output_key="spk_id")
    label_encoder.expect_len(len({row["spk_id"] for row in rows}))  # a stale label_encoder.txt fails here
    datasets = {"train": train}
    for name in ("val", "test", "train"):
        data = DynamicItemDataset({r["ID"]: r for r in rows}) if name == "train" else \
            DynamicItemDataset.from_csv(hparams[f"{name}_csv"])
        data.add_dynamic_item(full_pipeline)
        data.set_output_keys(["id", "sig", "utt"])
        datasets[f"{name}_full"] = data.filtered_sorted(sort_key="duration", reverse=True)
    return datasets, label_encoder


def score_test(hparams, test_embeddings, train_embeddings, train_speakers):
    """Cosine and PLDA scores of the test trials -> metrics, score files, DET plot."""
    trials, out = Trials(hparams["test_trials"], hparams["test_csv"]), hparams["output_folder"]
    emb = embedding_matrix(test_embeddings, trials.ids)
    plda = verification.PLDAScorer(rank_f=hparams["plda_rank"]).fit(train_embeddings, train_speakers)
    scores = {"cosine": verification.cosine_scores(emb, trials.enrol, trials.test),
              "plda": plda.score(emb, trials.enrol, trials.test),
              "asnorm": verification.as_norm_scores(emb, trials.enrol, trials.test, train_embeddings,
                                                    top_k=hparams["asnorm_top_k"])}
    metrics = {}
    for name, values in scores.items():
        summary = verification.summarize(values, trials.labels, trials.enrol_speakers, trials.test_speakers,
                                         hparams["bootstrap_resamples"], seed=hparams["seed"])
        metrics.update({f"eer_{name}": summary["eer"], f"eer_{name}_ci95": summary["eer_ci95"],
                        f"min_dcf_{name}": summary["min_dcf"]})
        write_scores(os.path.join(out, f"scores_test_{name}.txt"), trials, values)
    verification.plot_det(scores, trials.labels, os.path.join(out, "det_test.png"),
                          title=f"{hparams['encoder']} + {hparams['embedding_name']}: test trials")
    metrics["test_trials"] = int(trials.labels.size)
    return metrics


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.utils.distributed.ddp_init_group(run_opts)
    claim_output_folder(hparams["output_folder"], hparams["encoder"])
    sb.create_experiment_directory(hparams["output_folder"], hyperparams_to_save=hparams_file,
                                   overrides=overrides)
    run_on_main(prepare_voxceleb, kwargs={"data_folder": hparams["data_folder"],
                                          "save_folder": hparams["prepare_folder"],
                                          "verification_file": hparams["verification_file"],
                                          "validation_file": hparams["validation_file"],
                                          "vox2_folder": hparams["vox2_folder"],
                                          "skip_prep": hparams["skip_prep"]})
    if not os.path.exists(hparams["val_trials"]):
        raise FileNotFoundError(f"{hparams['val_trials']} not found: the recipe selects checkpoints on validation "
                                f"trials; put {hparams['validation_file']} in {hparams['data_folder']}")
    # a validation or test file gone since prepare would otherwise stop the run after a whole training epoch
    check_audio_files(hparams["train_csv"], hparams["val_csv"], hparams["test_csv"])
    upstream = prepare_upstream(hparams["upstream"], hparams["train_csv"], seed=hparams["seed"])
    datasets, label_encoder = dataio_prepare(hparams)
    n_train = len(datasets["train_full"])
    if n_train <= hparams["embedding_dim"]:  # found now, not after training: PLDA scoring could not be fitted
        raise ValueError(f"{hparams['train_csv']} has {n_train} training utterances; PLDA needs more than "
                         f"embedding_dim ({hparams['embedding_dim']}): pass --embedding_dim {n_train // 2} or less")
    hparams["val_trials"] = Trials(hparams["val_trials"], hparams["val_csv"])
    classifier = hparams["classifier"](out_neurons=len(label_encoder))
    modules = {"upstream": upstream, "mean_var_norm": hparams["mean_var_norm"],
               "embedding_model": hparams["embedding_model"], "classifier": classifier}
    checkpointer = hparams["checkpointer"]
    checkpointer.add_recoverables({"embedding_model": hparams["embedding_model"], "classifier": classifier,
                                   "epoch_counter": hparams["epoch_counter"], **recoverables(upstream)})
    brain = SpeakerBrain(modules=modules, opt_class=hparams["opt_class"], hparams=hparams,
                         run_opts=run_opts, checkpointer=checkpointer)
    brain.frame_cache = FrameCache(hparams["cache_frames_gb"])
    brain.hop_samples = upstream.hop_seconds * hparams["sample_rate"]
    logger.info("embedding model: %s, %.2fM parameters; %d training speakers", hparams["embedding_name"],
                sum(p.numel() for p in hparams["embedding_model"].parameters()) / 1e6, len(label_encoder))

    eval_loader = dict(hparams["eval_dataloader_options"])
    start = time.time()
    brain.fit(hparams["epoch_counter"], datasets["train"], datasets["val_full"],
              train_loader_kwargs=hparams["dataloader_options"], valid_loader_kwargs=eval_loader)
    train_seconds, epochs = time.time() - start, hparams["epoch_counter"].current

    # The test list is scored once, with the checkpoint of the best validation EER.
    brain.evaluate(datasets["test_full"], min_key="EER", test_loader_kwargs=eval_loader)
    test_embeddings = dict(brain.embeddings)
    train_embeddings = brain.embed(datasets["train_full"], eval_loader, "training embeddings (PLDA)")
    if not if_main_process():
        return
    speakers = {row["ID"]: row["spk_id"] for row in training_rows(hparams)}
    ids = sorted(train_embeddings)
    metrics = score_test(hparams, test_embeddings, embedding_matrix(train_embeddings, ids),
                         [speakers[i] for i in ids])
    best = checkpointer.find_checkpoint(min_key="EER")
    metrics.update({"val_eer": float(best.meta["EER"]) if best else None, "encoder": hparams["encoder"],
                    "embedding_model": hparams["embedding_name"], "seed": hparams["seed"],
                    "train_seconds": train_seconds, "epochs": epochs,
                    "best_epoch": int(best.meta["epoch"]) if best else None})
    write_json(os.path.join(hparams["output_folder"], "metrics.json"), metrics)
    print(f"test EER cosine {metrics['eer_cosine']:.2f} % {metrics['eer_cosine_ci95']}, PLDA "
          f"{metrics['eer_plda']:.2f} %, cosine + AS-norm {metrics['eer_asnorm']:.2f} %; minDCF "
          f"{metrics['min_dcf_cosine']:.3f} / {metrics['min_dcf_plda']:.3f} / {metrics['min_dcf_asnorm']:.3f}; "
          f"outputs in {hparams['output_folder']}")


if __name__ == "__main__":
    main(sys.argv[1:])
