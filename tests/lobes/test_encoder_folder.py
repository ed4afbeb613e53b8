"""The exported encoder folder: relocatable, and loadable without running its YAML for a folder of unknown origin."""

import shutil
from pathlib import Path

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from lobes.encoder_folder import UpstreamError, export_encoder, load_encoder_folder
from lobes.encoders import FbankCRDNN


@pytest.fixture
def exported(tmp_path):
    torch.manual_seed(7)
    encoder = FbankCRDNN(n_mels=40, cnn_channels=(8,), rnn_neurons=16, dnn_neurons=24).eval()
    return Path(export_encoder(encoder, tmp_path / "original")), encoder


def _same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_a_moved_folder_loads_its_own_weights(exported, tmp_path):
    folder, encoder = exported
    moved = tmp_path / "elsewhere" / "encoder"
    shutil.copytree(folder, moved)
    shutil.rmtree(folder)  # the original is gone: nothing may point back to it
    assert str(folder) not in (moved / "hyperparams.yaml").read_text()
    assert _same_weights(load_encoder_folder(str(moved)), encoder)
    # the SpeechBrain way, through the file's own pretrainer
    with open(moved / "hyperparams.yaml") as f:
        hparams = load_hyperpyyaml(f, {"folder": str(moved)})
    hparams["pretrainer"].collect_files()
    hparams["pretrainer"].load_collected()
    assert _same_weights(hparams["encoder"], encoder)


def test_a_copy_without_weights_is_named(exported, tmp_path):
    folder, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "encoder.ckpt").unlink()
    with pytest.raises(UpstreamError, match="encoder.ckpt not found"):
        load_encoder_folder(str(copy))


def test_a_named_architecture_loads_without_running_the_yaml(exported, tmp_path):
    """A folder whose hyperparams.yaml carries code: the default loader runs it (as SpeechBrain's hub loading
    does); with the architecture named, the file is read as data and the code never runs."""
    folder, encoder = exported
    marker = tmp_path / "code_ran"
    yaml = folder / "hyperparams.yaml"
    yaml.write_text(yaml.read_text() + f"payload: !apply:pathlib.Path.touch [!new:pathlib.Path [{str(marker)!r}]]\n")
    assert _same_weights(load_encoder_folder(str(folder), architecture="FbankCRDNN"), encoder)
    assert not marker.exists()
    load_encoder_folder(str(folder))
    assert marker.exists()  # the risk the named loader avoids
    with pytest.raises(UpstreamError, match="not lobes.encoders.PASEEncoder"):
        load_encoder_folder(str(folder), architecture="PASEEncoder")
    with pytest.raises(UpstreamError, match="not an encoder class"):
        load_encoder_folder(str(folder), architecture="os")
