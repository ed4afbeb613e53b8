"""recipes/LGL/Stage1: the segment pair, and train.py end to end on the tiny corpus (outputs, the test list scored
with the best validation checkpoint, the exported embedder, resume)."""

import importlib.util
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

RECIPE = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "LGL", "Stage1")
TINY_VALIDATION = ["--val_dev_speakers", "4", "--val_dev_utterances", "2"]  # the tiny corpus has 8 dev speakers
TINY = ["--batch_size", "8", "--channels", "[16,16,16,16,48]", "--embedding_dim", "16",
        "--segment_seconds", "0.8", "--noprogressbar", "--device", "cpu", *TINY_VALIDATION]  # CPU: deterministic


def _recipe_module():
    """recipes/LGL/Stage1/train.py under a name of its own (other recipes' tests import their own `train`)."""
    spec = importlib.util.spec_from_file_location("lgl_stage1_train", os.path.join(RECIPE, "train.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


two_segments = _recipe_module().two_segments


def test_two_segments_never_overlap_and_short_audio_wraps():
    rng = np.random.default_rng(0)
    signal = np.arange(1000, dtype=np.float32)
    for _ in range(200):
        pair = two_segments(signal, 300, rng)
        starts = sorted(int(p[0]) for p in pair)
        assert pair.shape == (2, 300) and starts[1] - starts[0] >= 300  # disjoint stretches of the signal
        assert all(np.array_equal(p, np.arange(p[0], p[0] + 300)) for p in pair)
    orders = {tuple(int(p[0]) > int(q[0]) for p, q in [two_segments(signal, 300, rng)]) for _ in range(50)}
    assert orders == {(True,), (False,)}  # either segment may come first
    short = two_segments(np.arange(450, dtype=np.float32), 300, rng)  # shorter than two segments: wrapped
    np.testing.assert_array_equal(np.concatenate(sorted(short, key=lambda p: p[0])),
                                  np.resize(np.arange(450, dtype=np.float32), 600))


def _train(out, root, epochs, *extra):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "train.py", "hparams/contrastive.yaml", "--output_folder", str(out),
           "--prepare_folder", str(out.parent / "prep"), "--data_folder", str(root / "VoxCeleb" / "vox1"),
           "--vox2_folder", str(root / "VoxCeleb" / "vox2" / "dev" / "wav"), "--noise_rir_data_folder", str(root),
           "--number_of_epochs", str(epochs), *TINY, *extra]
    done = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, env=env)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


def test_stage1_trains_scores_the_test_list_once_and_resumes(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    out = tmp_path / "stage1"
    _train(out, root, 1)
    _train(out, root, 2)  # resumes: epoch 2 only
    scores = (out / "score.txt").read_text().splitlines()
    assert [int(re.match(r"epoch (\d+)", line).group(1)) for line in scores] == [1, 2]
    # the resumed run trained as an uninterrupted one: the same crops and augmentations, so the same
    # losses and validation EERs (all but the throughput, which is a timing)
    _train(tmp_path / "uninterrupted", root, 2)
    uninterrupted = (tmp_path / "uninterrupted" / "score.txt").read_text().splitlines()
    assert [line.split(", training")[0] for line in scores] == [line.split(", training")[0] for line in uninterrupted]
    log = (out / "train_log.txt").read_text()
    assert "train adversarial" in log and "train discriminator_accuracy" in log
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    val = [float(v) for v in re.findall(r"val EER ([0-9.]+)", "\n".join(scores))]
    assert metrics["val_eer"] == pytest.approx(min(val), abs=0.01) and val[metrics["scored_epoch"] - 1] == min(val)
    assert metrics["epochs"] == 2  # trained, whichever epoch was best
    trials = [t for t in (root / "VoxCeleb" / "vox1" / "veri_test2.txt").read_text().splitlines() if t.strip()]
    assert metrics["test_trials"] == len(trials) == len((out / "scores_test.txt").read_text().splitlines())
    assert 0 <= metrics["eer"] <= 100 and 0 <= metrics["min_dcf"] <= 1 + 1e-9
    with open(out / "det_test.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    state = torch.load(out / "save" / "embedder.ckpt")
    assert any(k.startswith("ecapa.") for k in state) and not any(k.endswith(".part") for k in os.listdir(out / "save"))
    # a finished run started again trains nothing and keeps the training time of the run (it wrote ~0 s)
    _train(out, root, 2)
    again = json.loads((out / "metrics.json").read_text())
    assert again["train_seconds"] == metrics["train_seconds"] > 0


def test_stage1_without_the_adversarial_term(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    _train(tmp_path / "plain", root, 1, "--adversarial_weight", "0")
    log = (tmp_path / "plain" / "train_log.txt").read_text()
    assert "train contrastive" in log and "adversarial" not in log


def test_a_training_set_smaller_than_a_batch_is_named(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "train.py", "hparams/contrastive.yaml", "--output_folder", str(tmp_path / "big"),
           "--prepare_folder", str(tmp_path / "prep"), "--data_folder", str(root / "VoxCeleb" / "vox1"),
           "--vox2_folder", str(root / "VoxCeleb" / "vox2" / "dev" / "wav"), "--noise_rir_data_folder", str(root),
           "--batch_size", "1000", "--noprogressbar", *TINY_VALIDATION]
    done = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, env=env)
    assert done.returncode != 0 and "fewer than one batch (1000): lower --batch_size" in done.stdout + done.stderr
