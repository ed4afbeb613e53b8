"""Bad encoder folders and specs fed to the encoder loaders (lobes.upstream.load_upstream, what every downstream
YAML calls; lobes.encoder_folder.load_pretrained_encoder) and a resumed run whose checkpoint is of another
architecture (lobes.checkpoints.AtomicCheckpointer)."""

import os
import shutil

import pytest
import torch

from bad_input_support import Case, assert_clear_error, cases_for
from lobes.checkpoints import AtomicCheckpointer
from lobes.encoders import FbankCRDNN, PASEEncoder
from lobes.encoder_folder import UpstreamError, export_encoder, load_encoder_folder, load_pretrained_encoder
from lobes.upstream import load_upstream

EXPORT_AGAIN = r"export the folder again"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(CRDNN folder, PASE folder): two small encoders as recipes/MultitaskSSL exports them."""
    base = tmp_path_factory.mktemp("bad_encoders")
    torch.manual_seed(0)
    crdnn = export_encoder(FbankCRDNN(n_mels=40, cnn_channels=(8,), rnn_neurons=16, dnn_neurons=24), base / "crdnn")
    pase = export_encoder(PASEEncoder(sinc_channels=8, channels=(8, 8, 8, 8, 8), output_size=24), base / "pase")
    return crdnn, pase


def _folder(tmp_path, crdnn, pase, damage):
    """A copy of the CRDNN folder with `damage`; returns (spec folder, the file or folder the error must name)."""
    folder = tmp_path / "encoder"
    if damage == "missing folder":
        return folder, folder
    shutil.copytree(crdnn, folder)
    yaml, ckpt = folder / "hyperparams.yaml", folder / "encoder.ckpt"
    if damage == "no yaml":
        yaml.unlink()
        return folder, yaml
    if damage == "no ckpt":
        ckpt.unlink()
        return folder, ckpt
    if damage == "other architecture":
        shutil.copyfile(os.path.join(pase, "encoder.ckpt"), ckpt)
    elif damage == "cut ckpt":
        data = ckpt.read_bytes()
        ckpt.write_bytes(data[: len(data) // 2])
    elif damage == "text ckpt":
        ckpt.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")  # an LFS pointer
    elif damage == "none":
        return folder, yaml
    elif damage == "empty wav2vec2":
        from transformers import Wav2Vec2Config

        Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2).to_json_file(folder / "config.json")
        yaml.unlink()
        ckpt.unlink()
        return folder, folder
    return folder, ckpt


LOADERS = [
    Case("checkpoint of another architecture", "load_upstream pretrained:", "error",
         r"does not match.*" + EXPORT_AGAIN, dict(damage="other architecture")),
    Case("checkpoint of another architecture", "load_pretrained_encoder", "error",
         r"does not match.*" + EXPORT_AGAIN, dict(damage="other architecture")),
    Case("encoder.ckpt cut short", "load_upstream pretrained:", "error", r"cannot be read.*" + EXPORT_AGAIN,
         dict(damage="cut ckpt")),
    Case("encoder.ckpt that is a Git LFS pointer", "load_pretrained_encoder", "error",
         r"cannot be read.*" + EXPORT_AGAIN, dict(damage="text ckpt")),
    Case("encoder folder without encoder.ckpt", "load_upstream pretrained:", "error",
         r"copy the whole folder.*pretrained_encoder", dict(damage="no ckpt")),
    Case("encoder folder without hyperparams.yaml", "load_upstream random:", "error",
         r"as written by recipes/MultitaskSSL/train.py", dict(damage="no yaml")),
    Case("encoder folder that does not exist", "load_upstream pretrained:", "error",
         r"pass the folder recipes/MultitaskSSL/train.py exported", dict(damage="missing folder")),
    Case("wav2vec2 folder with config.json and no weights", "load_upstream wav2vec2:", "error",
         r"needs the model weights beside config.json", dict(damage="empty wav2vec2")),
    Case("folder of another architecture than named", "load_encoder_folder(architecture=)", "error",
         r"name the architecture the folder was exported with", dict(damage="none", architecture="PASEEncoder")),
]


@pytest.mark.parametrize(**cases_for(LOADERS))
def test_encoder_loader(case, exported, tmp_path):
    folder, named = _folder(tmp_path, *exported, case.data["damage"])
    with pytest.raises(UpstreamError) as caught:
        if case.entry == "load_pretrained_encoder":
            load_pretrained_encoder(str(folder))
        elif case.entry.startswith("load_encoder_folder"):
            load_encoder_folder(str(folder), architecture=case.data["architecture"])
        else:
            load_upstream(f"{case.entry.split()[1]}{folder}")
    assert_clear_error(caught.value, [named], case.fix)


SPECS = [
    Case("misspelled encoder kind", "load_upstream", "error", r"expected one of fbank, mfcc, pretrained:<folder>",
         dict(spec="pretrainde:/some/folder")),
    Case("pretrained without its folder", "load_upstream", "error", r"expected one of fbank, mfcc",
         dict(spec="pretrained")),
]


@pytest.mark.parametrize(**cases_for(SPECS))
def test_encoder_spec(case):
    with pytest.raises(UpstreamError) as caught:
        load_upstream(case.data["spec"])
    assert_clear_error(caught.value, [repr(case.data["spec"])], case.fix)


RESUME = Case("run resumed with a checkpoint of another architecture", "AtomicCheckpointer", "error",
              r"another configuration.*rerun with the settings it was trained with.*--output_folder")


@pytest.mark.parametrize(**cases_for([RESUME]))
def test_resume_with_another_architecture(case, tmp_path):
    saved = AtomicCheckpointer(tmp_path / "save", recoverables={"model": torch.nn.Linear(4, 8)})
    saved.save_checkpoint()
    resumed = AtomicCheckpointer(tmp_path / "save", recoverables={"model": torch.nn.Linear(4, 16)})
    with pytest.raises(RuntimeError) as caught:
        resumed.recover_if_possible()
    ckpt = next(p for p in (tmp_path / "save").iterdir() if p.name.startswith("CKPT"))
    assert_clear_error(caught.value, [ckpt], case.fix)
    assert ckpt.exists() and (ckpt / "model.ckpt").exists()  # the finished work is still there to resume
