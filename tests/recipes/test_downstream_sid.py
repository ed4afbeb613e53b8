"""recipes/Downstream/SpeakerID/train.py: the classifier size comes from the training manifest; a killed run
resumes; TensorBoard holds the epochs of train_log.txt."""

import json
import os
import re
import subprocess
import sys

import pytest

from recipe_support import kill_when, logged_epochs

RECIPE = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "Downstream", "SpeakerID")
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def _run(root, tmp_path, out, *extra):
    cmd = [sys.executable, "train.py", "hparams/speaker_id.yaml", "--data_folder", str(root / "VoxCeleb" / "vox1"),
           "--prepare_folder", str(tmp_path / "prep"), "--output_folder", str(tmp_path / out),
           "--number_of_epochs", "1", "--batch_size", "8", *extra]
    return subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, env=ENV)


def test_speakers_are_counted_and_a_wrong_count_is_named(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    done = _run(root, tmp_path, "run")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    speakers = len({line.split(",")[3] for line in (tmp_path / "prep" / "iden_train.csv").read_text().splitlines()[1:]})
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert abs(metrics["chance"] - 1 / speakers) < 1e-9
    wrong = _run(root, tmp_path, "wrong", "--n_speakers", str(speakers + 1))
    assert wrong.returncode != 0 and f"has {speakers} speakers but n_speakers is {speakers + 1}" in \
        wrong.stdout + wrong.stderr


def test_a_killed_run_resumes_without_training_an_epoch_twice(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    out = tmp_path / "killed"
    epochs = lambda: logged_epochs(out)  # noqa: E731
    cmd = [sys.executable, "train.py", "hparams/speaker_id.yaml", "--data_folder", str(root / "VoxCeleb" / "vox1"),
           "--prepare_folder", str(tmp_path / "prep"), "--output_folder", str(out), "--number_of_epochs", "3",
           "--batch_size", "8"]
    kill_when(cmd, RECIPE, ENV, lambda: bool(epochs()))
    assert epochs() == [1] and not (out / "metrics.json").exists(), epochs()
    done = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert epochs() == [1, 2, 3]  # the finished epoch was kept, none trained twice
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best_epoch"] in (1, 2, 3) and 0 <= metrics["accuracy"] <= 1


def test_tensorboard_holds_the_epoch_stats_of_train_log(tiny_corpus, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root, _ = tiny_corpus
    out = tmp_path / "tb"
    done = subprocess.run([sys.executable, "train.py", "hparams/speaker_id.yaml", "--data_folder",
                           str(root / "VoxCeleb" / "vox1"), "--prepare_folder", str(tmp_path / "prep"),
                           "--output_folder", str(out), "--number_of_epochs", "2", "--batch_size", "8",
                           "--use_tensorboard", "True"], cwd=RECIPE, capture_output=True, text=True, env=ENV)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # "epoch: 1 - train loss: 2.31 - valid loss: 2.20, valid accuracy: 1.25e-01", two decimals of each
    logged = {}
    for line in (out / "train_log.txt").read_text().splitlines():
        epoch = re.match(r"epoch: (\d+) - ", line)
        if epoch:
            for stage, stat, value in re.findall(r"(train|valid) (\w+): ([0-9.e+-]+)", line):
                logged[(f"{stat}/{stage}", int(epoch.group(1)))] = float(value)
    assert {key[1] for key in logged} == {1, 2} and ("loss/train", 2) in logged, logged
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    written = {(tag, e.step): e.value for tag in events.Tags()["scalars"] if tag.endswith(("/train", "/valid"))
               for e in events.Scalars(tag)}
    assert written.keys() == logged.keys()
    assert all(written[key] == pytest.approx(value, rel=1e-2) for key, value in logged.items()), (written, logged)
