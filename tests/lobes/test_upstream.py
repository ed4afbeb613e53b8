"""The encoder interface of the downstream recipes: shapes at the stated hop, the random twin,
folder errors, freezing."""

import os

import pytest
import torch

from lobes.encoder_folder import export_encoder
from lobes.encoders import FbankCRDNN, PASEEncoder
from lobes.upstream import (UpstreamError, claim_output_folder, load_upstream, optimizer_groups, prepare_upstream,
                            recoverables)

SECONDS = 1.37


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{name: (folder, original encoder)} for a small CRDNN and a small PASE encoder."""
    base = tmp_path_factory.mktemp("encoders")
    torch.manual_seed(123)
    encoders = {"crdnn": FbankCRDNN(n_mels=40, cnn_channels=(8,), rnn_neurons=16, dnn_neurons=24),
                "pase": PASEEncoder(sinc_channels=8, channels=(8, 8, 8, 8, 8), output_size=24)}
    out = {}
    for name, encoder in encoders.items():
        encoder.train()
        with torch.no_grad():  # move the BatchNorm statistics away from their initial values
            encoder(torch.randn(3, 16000) * 0.3)
        out[name] = (export_encoder(encoder.eval(), base / name), encoder)
    return out


@pytest.fixture(scope="module")
def wav2vec2_folder(tmp_path_factory):
    """A tiny random wav2vec 2.0 checkpoint written with save_pretrained (the real transformers path)."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    folder = tmp_path_factory.mktemp("w2v2")
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    Wav2Vec2Model(config).save_pretrained(folder)
    return folder


def _specs(exported, wav2vec2_folder):
    return {"fbank": (80, 0.01), "mfcc": (39, 0.01),
            f"pretrained:{exported['crdnn'][0]}": (24, 0.01), f"random:{exported['crdnn'][0]}": (24, 0.01),
            f"pretrained:{exported['pase'][0]}": (24, 0.01), f"random:{exported['pase'][0]}": (24, 0.01),
            f"wav2vec2:{wav2vec2_folder}": (32, 0.02)}


def test_every_spec_gives_frames_at_its_stated_hop(exported, wav2vec2_folder):
    wavs = torch.randn(2, int(SECONDS * 16000)) * 0.1
    for spec, (size, hop) in _specs(exported, wav2vec2_folder).items():
        up = load_upstream(spec)
        feats = up(wavs, torch.tensor([1.0, 0.6]))
        assert (up.output_size, up.hop_seconds) == (size, hop), spec
        assert feats.shape[0] == 2 and feats.shape[2] == size, spec
        # one frame per hop over the signal (wav2vec 2.0's conv stack drops up to one 25 ms receptive field)
        assert abs(feats.shape[1] - SECONDS / hop) <= 2, (spec, feats.shape)
        assert torch.isfinite(feats).all(), spec


def test_pretrained_reproduces_the_exported_encoder(exported):
    wavs = torch.randn(1, 16000) * 0.1
    for folder, original in exported.values():
        with torch.no_grad():
            assert torch.allclose(load_upstream(f"pretrained:{folder}")(wavs), original(wavs), atol=1e-6)


def _batchnorm_stats(module):
    return [(m.running_mean.clone(), m.running_var.clone()) for m in module.modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def test_random_twin_is_seeded_and_its_batchnorm_statistics_are_estimated(exported, tiny_corpus, tmp_path):
    from corpora.voxceleb import prepare_voxceleb

    prepare_voxceleb(tiny_corpus[0] / "VoxCeleb" / "vox1", tmp_path)
    for folder, original in exported.values():
        twin, again, other = (load_upstream(f"random:{folder}", seed=s) for s in (0, 0, 1))
        weights = list(twin.parameters())
        assert all(torch.equal(a, b) for a, b in zip(weights, again.parameters()))
        assert not all(torch.equal(a, b) for a, b in zip(weights, other.parameters()))
        assert not all(torch.equal(a, b) for a, b in zip(weights, original.parameters()))
        before = _batchnorm_stats(twin)
        assert all(torch.all(m == 0) and torch.all(v == 1) for m, v in before)  # a fresh BatchNorm
        prepare_upstream(twin, tmp_path / "train.csv", count=4)
        after = _batchnorm_stats(twin)
        assert all(not torch.allclose(m, torch.zeros_like(m)) for m, _ in after)
        assert all(not torch.allclose(v, torch.ones_like(v)) for _, v in after)
        # the estimate is deterministic, so a resumed run rebuilds the same twin
        prepare_upstream(again, tmp_path / "train.csv", count=4)
        assert all(torch.equal(a[0], b[0]) for a, b in zip(after, _batchnorm_stats(again)))


def test_wrong_encoder_folders_are_named(exported, tmp_path):
    with pytest.raises(UpstreamError, match="does not exist"):
        load_upstream(f"pretrained:{tmp_path / 'nowhere'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UpstreamError, match=r"empty/hyperparams.yaml not found.*encoder.ckpt"):
        load_upstream(f"pretrained:{tmp_path / 'empty'}")
    crdnn_folder, pase_folder = exported["crdnn"][0], exported["pase"][0]
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "hyperparams.yaml").write_text(open(os.path.join(crdnn_folder, "hyperparams.yaml")).read())
    with pytest.raises(UpstreamError, match="no weights"):
        load_upstream(f"pretrained:{mixed}")
    (mixed / "encoder.ckpt").write_bytes(open(os.path.join(pase_folder, "encoder.ckpt"), "rb").read())
    with pytest.raises(UpstreamError, match=r"mixed/encoder.ckpt does not match.*missing keys \['crdnn"):
        load_upstream(f"pretrained:{mixed}")
    whole = open(os.path.join(crdnn_folder, "encoder.ckpt"), "rb").read()
    (mixed / "encoder.ckpt").write_bytes(whole[: len(whole) // 2])  # a copy cut short
    with pytest.raises(UpstreamError, match=r"mixed/encoder.ckpt cannot be read.*export the folder again"):
        load_upstream(f"pretrained:{mixed}")
    with pytest.raises(UpstreamError, match="unknown encoder spec 'pretrained'.*fbank, mfcc"):
        load_upstream("pretrained")
    with pytest.raises(UpstreamError, match="config.json not found"):
        load_upstream(f"wav2vec2:{tmp_path / 'empty'}")


def test_frozen_encoders_get_no_gradient_and_fine_tuning_gets_its_own_rate(exported, wav2vec2_folder):
    folder = exported["pase"][0]
    wavs = torch.randn(2, 8000) * 0.1
    frozen = load_upstream(f"pretrained:{folder}").train()
    assert not frozen(wavs).requires_grad and not frozen.encoder.training
    assert recoverables(frozen) == {}
    head = torch.nn.Linear(24, 3)
    assert [len(g["params"]) for g in optimizer_groups(frozen, [head], 1e-4)] == [2]

    tuned = load_upstream(f"pretrained:{folder}", freeze=False).train()
    tuned(wavs).sum().backward()
    assert all(p.grad is not None for p in tuned.parameters())
    groups = optimizer_groups(tuned, [head], 1e-4)
    assert groups[1]["lr"] == 1e-4 and len(groups[1]["params"]) == len(list(tuned.parameters()))
    assert recoverables(tuned) == {"upstream": tuned}

    w2v = load_upstream(f"wav2vec2:{wav2vec2_folder}").train()
    w2v(wavs).sum().backward()
    assert w2v.layer_mix.weights.grad is not None
    assert all(p.grad is None for p in w2v.model.parameters())
    assert set(recoverables(w2v)) == {"upstream_layer_mix"}
    assert [len(g["params"]) for g in optimizer_groups(w2v, [head], 1e-4)] == [3]


def test_a_run_folder_belongs_to_one_encoder(tmp_path):
    claim_output_folder(tmp_path / "run", "fbank")
    claim_output_folder(tmp_path / "run", "fbank")  # the same encoder resumes
    with pytest.raises(UpstreamError, match=r"holds a run of encoder 'fbank', not 'mfcc'.*--output_folder"):
        claim_output_folder(tmp_path / "run", "mfcc")
