"""lobes/train_logging.py: what TensorBoard's own reader finds in the event files, and nothing when disabled."""

import numpy as np
import pytest
import torch
from speechbrain.utils.train_logger import FileTrainLogger

from lobes.train_logging import RecipeTrainLogger

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def read_scalars(folder):
    """{tag: [(step, value)]} as TensorBoard reads the folder's event files."""
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_epoch_stats_are_read_back_at_their_epoch(tmp_path):
    logs = tmp_path / "tensorboard"
    log = RecipeTrainLogger(str(tmp_path / "train_log.txt"), use_tensorboard=True, tensorboard_logs=str(logs))
    # epoch 2 is validated, epoch 1 is not; epoch 3 comes first, as in a run resumed after it
    log.log_stats({"epoch": 3, "lr": 0.5}, train_stats={"loss": torch.tensor(0.25)}, verbose=False)
    log.log_stats({"epoch": 1, "lr": 1.0}, train_stats={"loss": 2.0}, verbose=False)
    log.log_stats({"epoch": 2, "lr": np.float32(0.75)}, train_stats={"loss": 1.0}, valid_stats={"EER": 12.5},
                  verbose=False)
    scalars = read_scalars(logs)
    assert sorted(scalars["loss/train"]) == [(1, 2.0), (2, 1.0), (3, 0.25)]
    assert sorted(scalars["lr"]) == [(1, 1.0), (2, 0.75), (3, 0.5)]
    assert scalars["EER/valid"] == [(2, 12.5)]
    assert (tmp_path / "train_log.txt").read_text().count("epoch: ") == 3


def test_values_tensorboard_cannot_plot_stay_in_the_text_log(tmp_path):
    logs = tmp_path / "tensorboard"
    log = RecipeTrainLogger(str(tmp_path / "train_log.txt"), use_tensorboard=True, tensorboard_logs=str(logs))
    log.log_stats({"epoch": 4, "iteration": 2, "phase": "gated", "gate": True},
                  train_stats={"loss": 0.5, "per_batch": [1.0, 2.0]}, verbose=False)
    # a call naming no epoch (ASR's test scores) lands at the last epoch logged
    log.log_stats({"best checkpoint": ""}, test_stats={"WER": 3.0}, verbose=False)
    scalars = read_scalars(logs)
    assert scalars == {"iteration": [(4, 2.0)], "gate": [(4, 1.0)], "loss/train": [(4, 0.5)], "WER/test": [(4, 3.0)]}
    text = (tmp_path / "train_log.txt").read_text()
    assert "phase: gated" in text and "train per_batch: [1.0, 2.0]" in text and "test WER: 3.00" in text


def test_disabled_writes_no_tensorboard_folder_and_the_text_log_speechbrain_writes(tmp_path):
    log = RecipeTrainLogger(str(tmp_path / "train_log.txt"), tensorboard_logs=str(tmp_path / "tensorboard"))
    plain = FileTrainLogger(str(tmp_path / "plain.txt"))
    for logger in (log, plain):
        logger.log_stats({"epoch": 1, "lr": 1e-3}, train_stats={"loss": 1.5}, valid_stats={"EER": 7.25}, verbose=False)
    assert not (tmp_path / "tensorboard").exists()
    assert (tmp_path / "train_log.txt").read_text() == (tmp_path / "plain.txt").read_text()


def test_enabled_without_a_folder_names_the_key(tmp_path):
    with pytest.raises(ValueError, match="tensorboard_logs"):
        RecipeTrainLogger(str(tmp_path / "train_log.txt"), use_tensorboard=True, tensorboard_logs=None)
