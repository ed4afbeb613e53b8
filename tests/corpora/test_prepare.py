"""Every prepare module parses its layout of the tiny corpus; bad input gets clear errors."""

import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from speechbrain.augment.time_domain import AddNoise, AddReverb

from corpora.common_voice import prepare_common_voice
from corpora.librispeech import prepare_librispeech
from corpora.manifest import read_csv
from corpora.preparation import PrepareError
from corpora.make_embedded import SIZES
from corpora.speech_commands import prepare_speech_commands
from corpora.embedded.text import SPEECH_COMMANDS
from corpora.voxceleb import prepare_voxceleb, read_trials, write_dev_validation

TINY = SIZES["tiny"]


def _speakers(rows):
    return {r["spk_id"] for r in rows}


def test_librispeech(prepared):
    out, summary = prepared
    for split, (n_spk, n_chap, n_utt) in TINY["librispeech"].items():
        rows = read_csv(out / "ls" / f"{split}.csv")
        assert len(rows) == n_spk * n_chap * n_utt and len(_speakers(rows)) == n_spk
        words = read_csv(out / "ls" / f"{split}_words.csv")
        assert len(words) == sum(len(r["wrd"].split()) for r in rows)
        assert all(0 < w["duration"] < 2.0 and w["word"].isupper() for w in words)


def test_voxceleb(prepared):
    out, _ = prepared
    vox = TINY["voxceleb"]
    per_spk = vox["videos"] * vox["utts"]
    train, val, test = (read_csv(out / "vox" / f"{n}.csv") for n in ("train", "val", "test"))
    assert (len(_speakers(train)), len(_speakers(val)), len(_speakers(test))) == \
        (vox["dev"], vox["val"], vox["test"])
    assert not (_speakers(train) & _speakers(test)) and not (_speakers(train) & _speakers(val))
    assert len(train) == vox["dev"] * per_spk
    iden = [read_csv(out / "vox" / f"iden_{n}.csv") for n in ("train", "dev", "test")]
    assert all(iden) and sum(map(len, iden)) == (vox["dev"] + vox["val"] + vox["test"]) * per_spk
    vox2 = read_csv(out / "vox" / "vox2_train.csv")
    assert len(vox2) == vox["vox2"] * vox["vox2_videos"] * vox["vox2_utts"]
    trials = (out / "vox" / "test_trials.txt").read_text().split("\n")
    assert 0 < sum(t.startswith("1 ") for t in trials) < sum(t.startswith("0 ") for t in trials)


def test_dev_validation_list_adds_unseen_dev_speakers_to_the_validation_trials(prepared, tmp_path):
    vox, tiny = prepared[0] / "vox", TINY["voxceleb"]
    csv, trials_path = tmp_path / "val.csv", tmp_path / "val_trials.txt"
    write_dev_validation(vox, 4, 3, csv, trials_path)
    rows, trials = read_csv(csv), read_trials(trials_path)
    train, val = read_csv(vox / "train.csv"), read_csv(vox / "val.csv")
    dev_rows = [r for r in rows if r["spk_id"] in _speakers(train)]
    # 4 of the 8 dev speakers (spread over the IDs), 3 utterances each, never a test or VoxCeleb2 speaker
    assert len(_speakers(dev_rows)) == 4 and len(dev_rows) == 12 and _speakers(dev_rows) < _speakers(train)
    assert sorted(_speakers(dev_rows))[:2] == sorted(_speakers(train))[0:3:2]
    held_out = _speakers(read_csv(vox / "test.csv")) | _speakers(read_csv(vox / "vox2_train.csv"))
    assert not _speakers(rows) & held_out
    assert len(rows) == 12 + len(val) and _speakers(val) <= _speakers(rows)
    for spk in _speakers(dev_rows):  # 3 videos of 2 utterances: one utterance of each video
        assert len({r["wav"].split(os.sep)[-2] for r in dev_rows if r["spk_id"] == spk}) == tiny["videos"] == 3
    # every pair of the 12 dev utterances (4 speakers x 3 same-speaker pairs), then veri_val.txt's trials
    val_trials = read_trials(vox / "val_trials.txt")
    assert len(trials) == 12 * 11 // 2 + len(val_trials) and trials[len(trials) - len(val_trials):] == val_trials
    speaker = {"/".join(r["wav"].split(os.sep)[-3:]): r["spk_id"] for r in rows}
    assert all(label == (speaker[a] == speaker[b]) for label, a, b in trials)
    assert sum(label for label, _, _ in trials[:66]) == 4 * 3
    write_dev_validation(vox, 0, 4, csv, trials_path)  # no dev speaker: the validation list alone
    assert read_trials(trials_path) == val_trials
    with pytest.raises(PrepareError, match="ask for at most 8 speakers"):
        write_dev_validation(vox, 9, 2, csv, trials_path)
    with pytest.raises(PrepareError, match="at least 2 utterances"):
        write_dev_validation(vox, 2, 1, csv, trials_path)


def test_common_voice(prepared):
    out, _ = prepared
    cv = TINY["common_voice"]
    for split in ("train", "dev", "test"):
        rows = read_csv(out / "cv" / f"{split}.csv")
        assert len(rows) == cv[split] * cv["utts"] and len(_speakers(rows)) == cv[split]
        assert all(r["gender"] in ("male", "female") and r["accent"] and r["age"] for r in rows)
        assert all(r["wav"].endswith(".mp3") and r["wrd"].endswith(".") for r in rows)


def test_speech_commands(prepared):
    out, _ = prepared
    sc = TINY["speech_commands"]
    for split, key in (("train", "train"), ("valid", "validation"), ("test", "test")):
        rows = read_csv(out / "sc" / f"{split}.csv")
        assert len(rows) == sc[key] * sc["repeats"] * len(SPEECH_COMMANDS)
        assert {r["command"] for r in rows} == set(SPEECH_COMMANDS)
        assert all(abs(r["duration"] - 1.0) < 1e-3 for r in rows)
    assert len(read_csv(out / "sc" / "background_noise.csv")) == 4


def test_fluent_speech_commands(prepared):
    out, _ = prepared
    fsc = TINY["fluent_speech_commands"]
    for split in ("train", "valid", "test"):
        rows = read_csv(out / "fsc" / f"{split}.csv")
        assert len(rows) == fsc[split] * fsc["utts"]
        assert all(r["intent"] == f'{r["action"]}|{r["object"]}|{r["location"]}' for r in rows)


def test_iemocap(prepared):
    out, _ = prepared
    cfg = TINY["iemocap"]
    per_session = cfg["dialogs"] * cfg["turns"]
    rows = {s: read_csv(out / "iemocap" / f"{s}.csv") for s in ("train", "valid", "test")}
    assert [len(rows[s]) for s in ("train", "valid", "test")] == \
        [per_session * (cfg["sessions"] - 2), per_session, per_session]
    assert _speakers(rows["test"]) == {"Ses05F", "Ses05M"}
    assert {r["emo"] for s in rows.values() for r in s} <= {"neu", "hap", "sad", "ang"}


def test_noise_rir(prepared):
    out, _ = prepared
    nr = TINY["noise_rir"]
    assert len(read_csv(out / "nr" / "noise.csv")) == nr["noise"]
    assert len(read_csv(out / "nr" / "babble.csv")) == nr["babble"]
    rir = read_csv(out / "nr" / "rir.csv")
    assert len(rir) == 3 * nr["rirs"] and len({r["ID"] for r in rir}) == len(rir)
    # the manifests are what SpeechBrain's augmentations read: noise at the SNR asked for, reverberation
    clean = 0.1 * torch.sin(2 * torch.pi * 200 * torch.arange(16000) / 16000).repeat(4, 1)
    noisy = AddNoise(str(out / "nr" / "noise.csv"), snr_low=10, snr_high=10)(clean, torch.ones(4))
    snr = 10 * torch.log10(clean.pow(2).mean(1) / (noisy - clean).pow(2).mean(1))
    assert torch.all((snr > 7) & (snr < 13)), snr
    reverberant = AddReverb(str(out / "nr" / "rir.csv"))(clean)
    assert reverberant.shape == clean.shape and not torch.allclose(reverberant, clean, atol=1e-3)


def test_skips_when_prepared_and_redoes_when_options_change(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    prepare_common_voice(root / "CommonVoice/en", tmp_path, splits=("dev",))
    stamp = os.path.getmtime(tmp_path / "dev.csv")
    prepare_common_voice(root / "CommonVoice/en", tmp_path, splits=("dev",))
    assert os.path.getmtime(tmp_path / "dev.csv") == stamp
    prepare_common_voice(root / "CommonVoice/en", tmp_path, splits=("dev", "test"))
    assert (tmp_path / "test.csv").exists()


def test_manifests_of_older_audio_checks_are_made_again(tiny_corpus, tmp_path):
    """Options saved before the audio checks had a version (a cut MP3 then passed prepare): the manifest is not
    reused, since load_audio now refuses such a file in training."""
    root, _ = tiny_corpus
    prepare_common_voice(root / "CommonVoice/en", tmp_path, splits=("dev",))
    options_file = tmp_path / "common_voice_options.json"
    older = json.loads(options_file.read_text())
    del older["audio_checks"]
    options_file.write_text(json.dumps(older))
    (tmp_path / "dev.csv").write_text("ID,duration,wav\n")  # what an older prepare wrote is not read again
    prepare_common_voice(root / "CommonVoice/en", tmp_path, splits=("dev",))
    assert len((tmp_path / "dev.csv").read_text().splitlines()) > 1
    assert "audio_checks" in json.loads(options_file.read_text())


def test_missing_root_names_the_path(tmp_path):
    with pytest.raises(PrepareError, match=r"LibriSpeech root .* at .*/nowhere, found nothing"):
        prepare_librispeech(tmp_path / "nowhere", tmp_path / "out", splits=("dev-clean",))
    (tmp_path / "LibriSpeech").mkdir()
    with pytest.raises(PrepareError, match=r"split 'dev-clean' at .*/LibriSpeech/dev-clean"):
        prepare_librispeech(tmp_path / "LibriSpeech", tmp_path / "out", splits=("dev-clean",))
    with pytest.raises(PrepareError, match=r"clips/ folder"):
        prepare_common_voice(tmp_path / "nowhere", tmp_path / "out")


def test_bad_files_are_reported_and_left_out(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    layout = tmp_path / "sc"
    shutil.copytree(root / "speech_commands_v0.02", layout)
    (layout / "yes").joinpath(sorted(os.listdir(layout / "yes"))[0]).write_bytes(b"RIFF\x00\x01")
    nan = np.full(16000, np.nan, np.float32)
    sf.write(layout / "no" / sorted(os.listdir(layout / "no"))[0], nan, 16000, subtype="FLOAT")
    prepare_speech_commands(layout, tmp_path / "out")
    kept = sum(len(read_csv(tmp_path / "out" / f"{s}.csv")) for s in ("train", "valid", "test"))
    sc = TINY["speech_commands"]
    assert kept == (sc["train"] + sc["validation"] + sc["test"]) * len(SPEECH_COMMANDS) - 2
    failures = "".join(p.read_text() for p in (tmp_path / "out").glob("*_failures.csv"))
    assert "unreadable audio" in failures and "non-finite" in failures
    with pytest.raises(PrepareError, match="unusable, listed in"):
        prepare_speech_commands(layout, tmp_path / "strict", strict=True)


def test_malformed_trial_list_names_file_and_line(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    layout = tmp_path / "vox1"
    shutil.copytree(root / "VoxCeleb/vox1", layout)
    with open(layout / "veri_test2.txt", "a") as f:
        f.write("yes id1/a.wav\n")
    with pytest.raises(PrepareError, match=r"veri_test2.txt:\d+: expected"):
        prepare_voxceleb(layout, tmp_path / "out")


def test_an_edited_trial_list_is_prepared_again(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    layout = tmp_path / "vox1"
    shutil.copytree(root / "VoxCeleb/vox1", layout)
    prepare_voxceleb(layout, tmp_path / "out")
    kept = (layout / "veri_test2.txt").read_text().splitlines()[:7]
    (layout / "veri_test2.txt").write_text("\n".join(kept) + "\n")
    prepare_voxceleb(layout, tmp_path / "out")
    assert (tmp_path / "out" / "test_trials.txt").read_text().splitlines() == kept


def test_a_removed_validation_list_leaves_no_stale_manifest(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    layout = tmp_path / "vox1"
    shutil.copytree(root / "VoxCeleb/vox1", layout)
    prepare_voxceleb(layout, tmp_path / "out")
    val_speakers = {row["spk_id"] for row in read_csv(tmp_path / "out" / "val.csv")}
    assert val_speakers and not val_speakers & {row["spk_id"] for row in read_csv(tmp_path / "out" / "train.csv")}
    (layout / "veri_val.txt").unlink()
    prepare_voxceleb(layout, tmp_path / "out")
    # the validation speakers are training speakers now: their old validation manifest must not survive
    assert val_speakers <= {row["spk_id"] for row in read_csv(tmp_path / "out" / "train.csv")}
    assert not (tmp_path / "out" / "val.csv").exists() and not (tmp_path / "out" / "val_trials.txt").exists()


def test_an_utterance_listed_twice_is_kept_once_and_named(tiny_corpus, tmp_path, caplog):
    """A repeated Common Voice TSV row or LibriSpeech transcript line would give a manifest with the ID twice (counted
    twice in statistics, refused by read_csv): prepare keeps the first entry and logs the ID."""
    import glob
    import logging

    root, _ = tiny_corpus
    shutil.copytree(root / "CommonVoice", tmp_path / "CommonVoice")
    shutil.copytree(root / "LibriSpeech", tmp_path / "LibriSpeech")
    tsv = tmp_path / "CommonVoice/en/dev.tsv"
    row = tsv.read_text().splitlines(True)[1]
    with open(tsv, "a") as f:
        f.write(row)
    transcript = sorted(glob.glob(str(tmp_path / "LibriSpeech/dev-clean/*/*/*.trans.txt")))[0]
    line = open(transcript).readline()
    with open(transcript, "a") as f:
        f.write(line)
    with caplog.at_level(logging.WARNING):
        prepare_common_voice(str(tmp_path / "CommonVoice/en"), str(tmp_path / "cv"))
        prepare_librispeech(str(tmp_path / "LibriSpeech"), str(tmp_path / "ls"))
    for manifest in (tmp_path / "cv/dev.csv", tmp_path / "ls/dev-clean.csv"):
        ids = [r["ID"] for r in read_csv(str(manifest))]  # read_csv refuses a repeated ID
        assert len(ids) == len(set(ids))
    assert sum("is listed twice" in r.message for r in caplog.records) == 2
