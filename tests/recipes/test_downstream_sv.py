"""Smoke tests of recipes/Downstream/SpeakerVerification/train.py on the tiny VoxCeleb layout."""

import json
import os
import re
import subprocess
import sys

import pytest

from recipe_support import kill_when, logged_epochs

RECIPE = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "Downstream", "SpeakerVerification")
TINY = ["--number_of_epochs", "2", "--batch_size", "8", "--embedding_dim", "32", "--crop_min_seconds", "1.0",
        "--crop_max_seconds", "1.5", "--bootstrap_resamples", "100", "--noprogressbar"]


def _train(yaml, out, prep, data, *extra):
    # One thread: on a shared 2-core machine, torch's thread pool spins against other jobs.
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "train.py", f"hparams/{yaml}", "--output_folder", str(out), "--prepare_folder", str(prep),
           "--data_folder", str(data), *TINY, *map(str, extra)]
    done = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, env=env)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    with open(out / "metrics.json") as f:
        return json.load(f)


def _check_outputs(out, metrics, data):
    trials = (data / "veri_test2.txt").read_text().split("\n")
    trials = [t.split() for t in trials if t.strip()]
    assert metrics["test_trials"] == len(trials)
    for name in ("cosine", "plda", "asnorm"):
        eer, (low, high) = metrics[f"eer_{name}"], metrics[f"eer_{name}_ci95"]
        assert 0.0 <= eer <= 100.0 and low <= eer <= high
        assert 0.0 <= metrics[f"min_dcf_{name}"] <= 1.0 + 1e-9
        lines = [line.split() for line in (out / f"scores_test_{name}.txt").read_text().splitlines()]
        assert len(lines) == len(trials)
        # the score file keeps the trial list's order and labels
        assert [line[2] for line in lines] == [t[0] for t in trials]
        ids = [(t[1][:-4].replace("/", "--"), t[2][:-4].replace("/", "--")) for t in trials]  # manifest IDs
        assert [(line[0], line[1]) for line in lines] == ids
    with open(out / "det_test.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # the test list was scored with the checkpoint of the best validation EER, not the last one
    logged = [float(v) for v in re.findall(r"valid EER: ([0-9.e+-]+)", (out / "train_log.txt").read_text())]
    assert len(logged) == metrics["epochs"] == 2
    assert metrics["val_eer"] == pytest.approx(min(logged), abs=0.01)
    assert logged[metrics["best_epoch"] - 1] == pytest.approx(min(logged), abs=0.01)
    assert metrics["train_seconds"] > 0


@pytest.fixture(scope="module")
def tiny_vox(tiny_corpus, tmp_path_factory):
    root, _ = tiny_corpus
    return root / "VoxCeleb" / "vox1", tmp_path_factory.mktemp("sv")


def test_xvector_on_fbank_writes_metrics_scores_and_det(tiny_vox):
    data, base = tiny_vox
    out = base / "fbank"
    metrics = _train("xvector.yaml", out, base / "prep", data, "--tdnn_channels", "[32,32,32,32,64]")
    assert metrics["encoder"] == "fbank" and metrics["seed"] == 1986
    _check_outputs(out, metrics, data)


def test_ecapa_on_mfcc(tiny_vox):
    data, base = tiny_vox
    out = base / "mfcc"
    metrics = _train("ecapa.yaml", out, base / "prep", data, "--encoder", "mfcc", "--seed", "3",
                     "--channels", "[32,32,32,32,96]")
    assert metrics["encoder"] == "mfcc" and metrics["seed"] == 3 and metrics["embedding_model"] == "ecapa"
    _check_outputs(out, metrics, data)


def test_an_embedding_too_large_for_plda_stops_before_training(tiny_vox, tmp_path):
    data, base = tiny_vox
    cmd = [sys.executable, "train.py", "hparams/xvector.yaml", "--output_folder", str(tmp_path / "run"),
           "--prepare_folder", str(base / "prep"), "--data_folder", str(data), "--embedding_dim", "4096"]
    done = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode != 0 and "PLDA needs more than embedding_dim (4096): pass --embedding_dim" in \
        done.stdout + done.stderr
    assert not (tmp_path / "run" / "train_log.txt").exists()  # no epoch was trained for nothing


def test_a_killed_run_resumes_without_training_an_epoch_twice(tiny_vox, tmp_path):
    data, base = tiny_vox
    out = tmp_path / "killed"
    epochs = lambda: logged_epochs(out)  # noqa: E731
    three = [a if a != "2" or TINY[k - 1] != "--number_of_epochs" else "3" for k, a in enumerate(TINY)]
    cmd = [sys.executable, "train.py", "hparams/xvector.yaml", "--output_folder", str(out), "--prepare_folder",
           str(base / "prep"), "--data_folder", str(data), *three, "--tdnn_channels", "[32,32,32,32,64]"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    kill_when(cmd, RECIPE, env, lambda: bool(epochs()))
    assert epochs() == [1] and not (out / "metrics.json").exists(), epochs()
    done = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert epochs() == [1, 2, 3]  # the finished epoch was kept, none trained twice
    assert 0.0 <= json.loads((out / "metrics.json").read_text())["eer_cosine"] <= 100.0
