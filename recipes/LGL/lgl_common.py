"""Glue shared by the two LGL stages: data preparation, whole-utterance datasets, embedding and trial scoring.

Each stage's train.py puts this folder on sys.path and imports from here.
"""

import os

import speechbrain as sb
import torch
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.distributed import ddp_broadcast, run_on_main
from speechbrain.utils.repro import SaveableGenerator

from corpora.audio import load_audio
from corpora.manifest import check_audio_files, read_csv
from corpora.noise_rir import prepare_noise_rir
from corpora.voxceleb import prepare_voxceleb, write_dev_validation
from lobes import verification
from lobes.distributed import CpuDistributedMixin
from lobes.trials import Trials, embedding_matrix, write_scores


def saveable_cpu_generator():
    """torch's CPU generator as a checkpoint recoverable. It seeds the loader workers (hence every crop and
    augmentation) and Stage 2's fresh heads; restored with a checkpoint, a resumed run draws what the uninterrupted
    run would have. CPU only: under torchrun only the main process saves it, and every process's CPU generator is
    in that same state (same seed, same draws), which the CUDA generators are not; nothing here draws on the device."""
    return SaveableGenerator({"default": torch.default_generator})


def prepare_data(hparams):
    """The VoxCeleb manifests (VoxCeleb1 trials, VoxCeleb2 training utterances), the validation list (veri_val.txt
    when there is one, and `val_dev_speakers` VoxCeleb1 dev speakers) and the noise/RIR manifests; then
    `hparams["noise_draw"]` is built from the latter and `hparams["val_trials"]` read."""
    run_on_main(prepare_voxceleb, kwargs={"data_folder": hparams["data_folder"],
                                          "save_folder": hparams["prepare_folder"],
                                          "vox2_folder": hparams["vox2_folder"], "skip_prep": hparams["skip_prep"]})
    run_on_main(prepare_noise_rir, kwargs={"data_folder": hparams["noise_rir_data_folder"],
                                           "save_folder": hparams["noise_rir_folder"],
                                           "skip_prep": hparams["skip_prep"]})
    # VoxCeleb1 dev speakers, never trained on here, join the validation list (real VoxCeleb has none)
    if not hparams["skip_prep"]:
        run_on_main(write_dev_validation, args=(hparams["prepare_folder"], hparams["val_dev_speakers"],
                                                hparams["val_dev_utterances"], hparams["val_csv"],
                                                hparams["val_trials"]))
    check_audio_files(hparams["train_csv"], hparams["val_csv"], hparams["test_csv"])
    utterances = len(read_csv(hparams["train_csv"]))
    # with drop_last no batch would be trained; under torchrun each process gets 1/world of the utterances
    world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    if utterances // world < hparams["batch_size"]:
        processes = f" for each of {world} processes" if world > 1 else ""
        raise ValueError(f"{hparams['train_csv']} has {utterances} utterances, fewer than one batch "
                         f"({hparams['batch_size']}){processes}: lower --batch_size")
    hparams["noise_draw"] = hparams["noise_draw"]()  # reads the manifests just prepared
    hparams["val_trials"] = Trials(hparams["val_trials"], hparams["val_csv"])


def whole_utterances(csv, sample_rate):
    """Items `id`, `sig` (the whole utterance) of a manifest, for embedding."""
    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def full_pipeline(wav):
        return load_audio(wav, sample_rate)

    data = DynamicItemDataset.from_csv(csv)
    data.add_dynamic_item(full_pipeline)
    data.set_output_keys(["id", "sig"])
    return data


class EmbeddingBrain(CpuDistributedMixin, sb.Brain):
    """VALID/TEST stages embed whole utterances one at a time into `self.embeddings` ({ID: vector});
    `validation_metrics()` scores the validation trials with them. Subclasses define the TRAIN stage in
    `train_forward` / `train_objectives`."""

    def compute_forward(self, batch, stage):
        if stage == sb.Stage.TRAIN:
            return self.train_forward(batch)
        wavs, lengths = batch.sig
        return self.modules.embedder(wavs.to(self.device), lengths.to(self.device))

    def compute_objectives(self, outputs, batch, stage):
        if stage == sb.Stage.TRAIN:
            return self.train_objectives(outputs, batch)
        self.embeddings.update(zip(batch.id, outputs.float().cpu().numpy()))
        return torch.zeros((), device=self.device)

    def on_evaluate_start(self, max_key=None, min_key=None):
        """The test list is scored with the checkpoint of the best validation EER, never the latest:
        `self.scored_checkpoint` is the one loaded."""
        if min_key != "EER":
            raise ValueError("evaluate(..., min_key='EER'): the test trials are scored with the best validation "
                             "checkpoint")
        self.scored_checkpoint = self.checkpointer.recover_if_possible(min_key=min_key)

    def validation_metrics(self):
        """EER and minDCF of the validation trials; under torchrun the main process's, so that every process takes
        the same decisions: a rounding difference between processes must not split the schedule."""
        trials = self.hparams.val_trials
        scores = verification.cosine_scores(embedding_matrix(self.embeddings, trials.ids), trials.enrol, trials.test)
        return ddp_broadcast({"EER": verification.eer(scores, trials.labels),
                              "minDCF": verification.min_dcf(scores, trials.labels, p_target=self.hparams.p_target)})


def score_test(hparams, embeddings, title):
    """The test trials scored once (cosine): scores_test.txt, det_test.png; returns eer, min_dcf, test_trials."""
    trials, out = Trials(hparams["test_trials"], hparams["test_csv"]), hparams["output_folder"]
    scores = verification.cosine_scores(embedding_matrix(embeddings, trials.ids), trials.enrol, trials.test)
    write_scores(os.path.join(out, "scores_test.txt"), trials, scores)
    verification.plot_det({"cosine": scores}, trials.labels, os.path.join(out, "det_test.png"), title=title)
    return {"eer": verification.eer(scores, trials.labels),
            "min_dcf": verification.min_dcf(scores, trials.labels, p_target=hparams["p_target"]),
            "test_trials": int(trials.labels.size)}
