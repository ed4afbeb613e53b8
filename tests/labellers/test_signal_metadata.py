"""On-the-fly signal targets and manifest metadata classifiers."""

import math

import pytest
import torch

from corpora.common_voice import prepare_common_voice
from labellers import LabelBatch, get_labeller


def _batch(wavs, num_frames=100, meta=None):
    n = wavs.shape[0]
    return LabelBatch(wavs, torch.ones(n), [f"u{k}" for k in range(n)], torch.zeros(n, dtype=torch.long),
                      num_frames=num_frames, meta=meta or {})


def _tone(pitch, seconds=1.0):
    return 0.4 * torch.sin(2 * math.pi * pitch * torch.arange(int(16000 * seconds)) / 16000)


@pytest.mark.parametrize("name,dim", [("mfcc", 20), ("fbank", 40), ("melfs", 40), ("lps", 201), ("prosody", 4)])
def test_signal_targets_are_on_the_encoder_grid(name, dim):
    labeller = get_labeller(name)
    targets = labeller(_batch(torch.stack([_tone(150.0), _tone(300.0)]), num_frames=97))
    assert labeller.dim == dim and labeller.level == "frame" and labeller.kind == "regression"
    assert targets.shape == (2, 97, dim) and torch.isfinite(targets).all()


def test_prosody_tracks_pitch_and_marks_silence_unvoiced():
    wav = torch.cat([_tone(200.0), torch.zeros(8000)])[None]
    prosody = get_labeller("prosody")(_batch(wav, num_frames=150))[0]
    voiced = prosody[10:90]
    assert (voiced[:, 1] == 1).all()
    assert abs(voiced[:, 0].median().exp() - 200.0) < 6.0
    assert (prosody[110:, 1] == 0).all() and (prosody[110:, 0] == 0).all()


@pytest.mark.parametrize("name", ["mfcc", "fbank", "lps", "prosody"])
def test_normalized_signal_targets_use_cached_training_statistics(name, tiny_corpus, tmp_path):
    from corpora.audio import load_audio
    from corpora.manifest import read_csv
    root, _ = tiny_corpus
    prepare_common_voice(str(root / "CommonVoice" / "en"), str(tmp_path))
    train_csv, stats = str(tmp_path / "train.csv"), tmp_path / "stats" / f"{name}.json"
    labeller = get_labeller(name, train_csv=train_csv, stats_file=str(stats))
    assert not stats.exists()  # computed at the first batch: a recipe builds labellers before preparing data
    # held-out audio of the same corpus: roughly standardized, where the raw targets are far from it
    rows = read_csv(str(tmp_path / "dev.csv"))[:4]
    wavs = torch.stack([load_audio(r["wav"])[:16000] for r in rows])
    raw, normed = get_labeller(name)(_batch(wavs)), labeller(_batch(wavs))
    assert stats.exists()
    torch.testing.assert_close(normed, (raw - labeller.mean) / labeller.std)
    assert normed.mean().abs() < 0.5 and 0.5 < normed.std() < 1.5
    if name in ("mfcc", "fbank"):
        assert raw.abs().mean() > 3.0  # what made these targets dominate a multitask loss
    # a second labeller reads the cached statistics (the file is not rewritten); another manifest recomputes
    before = stats.stat().st_mtime_ns
    again = get_labeller(name, train_csv=train_csv, stats_file=str(stats))
    assert torch.equal(again.statistics()[0], labeller.mean) and stats.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="needs both train_csv and stats_file"):
        get_labeller(name, train_csv=train_csv)


def test_metadata_classes_come_from_the_training_manifest(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    prepare_common_voice(root / "CommonVoice/en", tmp_path)
    gender = get_labeller("gender", train_csv=str(tmp_path / "train.csv"))
    assert gender.classes == ["female", "male"] and gender.dim == 2 and gender.level == "utterance"
    batch = _batch(torch.zeros(3, 160), meta={"gender": ["male", "", "other"]})
    assert gender(batch).tolist() == [1, -100, -100]
    with pytest.raises(KeyError, match="no 'shoe_size' column|no column 'shoe_size'"):
        get_labeller("metadata", column="shoe_size", train_csv=str(tmp_path / "train.csv"))
    with pytest.raises(KeyError, match="carries no 'accent' column"):
        get_labeller("accent", train_csv=str(tmp_path / "train.csv"))(_batch(torch.zeros(1, 160)))
