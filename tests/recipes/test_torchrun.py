"""Every training recipe under `torchrun` with two gloo processes on CPU: it trains, logs each epoch once and writes
its metrics (MultitaskSSL's own test is in test_multitask_ssl.py, LGL Stage 2's in test_lgl_stage2.py)."""

import json
import os
import subprocess
import sys

import pytest

from recipe_support import logged_epochs, torchrun

RECIPES = os.path.join(os.path.dirname(__file__), "..", "..", "recipes")


def _args(name, root, out):
    vox, common = root / "VoxCeleb", ["--output_folder", str(out), "--prepare_folder", str(out.parent / "prep")]
    if name == "SpeakerID":
        return ["hparams/speaker_id.yaml", "--data_folder", str(vox / "vox1"), "--batch_size", "8", *common]
    if name == "SpeakerVerification":
        return ["hparams/xvector.yaml", "--data_folder", str(vox / "vox1"), "--batch_size", "8", "--embedding_dim",
                "32", "--tdnn_channels", "[32,32,32,32,64]", "--crop_min_seconds", "1.0", "--crop_max_seconds", "1.5",
                "--bootstrap_resamples", "100", *common]
    if name == "ASR":
        return ["hparams/ctc.yaml", "--data_folder", str(root / "LibriSpeech"), "--vocab_size", "40", "--batch_size",
                "8", "--num_workers", "0", "--rnn_layers", "1", "--rnn_neurons", "32", "--conv_channels", "32",
                "--dnn_neurons", "32", "--beam_size", "2", *common]
    return ["hparams/contrastive.yaml", "--data_folder", str(vox / "vox1"), "--vox2_folder",
            str(vox / "vox2" / "dev" / "wav"), "--noise_rir_data_folder", str(root), "--batch_size", "4", "--channels",
            "[16,16,16,16,48]", "--embedding_dim", "16", "--segment_seconds", "0.8", "--val_dev_speakers", "4",
            "--val_dev_utterances", "2", *common]


@pytest.mark.parametrize("name, folder", [("SpeakerID", "Downstream/SpeakerID"),
                                          ("SpeakerVerification", "Downstream/SpeakerVerification"),
                                          ("ASR", "Downstream/ASR"), ("LGL Stage 1", "LGL/Stage1")])
def test_two_gloo_processes(tiny_corpus, tmp_path, name, folder):
    root, _ = tiny_corpus
    failures = []
    for attempt in range(2):
        out = tmp_path / f"run{attempt}"
        cmd = [*torchrun(), "train.py",
               *_args(name, root, out), "--number_of_epochs", "2", "--distributed_backend", "gloo", "--noprogressbar"]
        done = subprocess.run(cmd, cwd=os.path.join(RECIPES, folder), capture_output=True, text=True,
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
        if done.returncode == 0:
            break
        failures.append(done.stderr)
        # Now and then on a loaded 2-core machine two gloo processes fail while starting, before the first epoch
        # is logged (at the process group's first barrier, or a native abort, SIGABRT, in one process; not
        # understood yet); one more start on a new port is allowed for a failure before training only, and both
        # runs' errors are shown when it fails again.
        if (out / "train_log.txt").exists():
            break
    if done.returncode != 0:  # every failed start's stderr in full (an assertion's repr cut the traceback short)
        pytest.fail("\n\n".join(f"start {k + 1}, stderr:\n{f}" for k, f in enumerate(failures)), pytrace=False)
    assert logged_epochs(out) == [1, 2]  # one process logs, each epoch once
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2
    if name == "LGL Stage 1":  # its own per-epoch file, written by the main process too
        assert len((out / "score.txt").read_text().splitlines()) == 2
