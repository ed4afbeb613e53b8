"""The embedded corpus: layouts, counts, audio quality, determinism, resumption."""

import hashlib
import json
import os
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from corpora.embedded.text import CONTENT_WORDS, SPEECH_COMMANDS
import corpora.make_embedded as make_embedded_module
from corpora.make_embedded import SIZES, make_embedded, plan_corpus

AUDIO_EXT = (".wav", ".flac", ".mp3")


def _audio_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root)
                  for f in files if f.endswith(AUDIO_EXT) and ".embedded" not in d)


def _digest(path):
    return hashlib.sha1(open(path, "rb").read()).hexdigest()


def test_summary_matches_the_size_configuration(tiny_corpus):
    root, summary = tiny_corpus
    cfg = SIZES["tiny"]
    ls = cfg["librispeech"]
    assert summary["librispeech"]["splits"] == {s: n * c * u for s, (n, c, u) in ls.items()}
    vox = cfg["voxceleb"]
    assert summary["voxceleb"]["speakers"] == vox["dev"] + vox["val"] + vox["test"] + vox["vox2"]
    sc = cfg["speech_commands"]
    assert summary["speech_commands"]["splits"]["train"] == sc["train"] * len(SPEECH_COMMANDS)
    assert summary["iemocap"]["speakers"] == 2 * cfg["iemocap"]["sessions"]
    assert sum(s["files"] for s in summary.values()) == len(_audio_files(root))


def test_layout_paths_follow_the_real_corpora(tiny_corpus):
    root, _ = tiny_corpus
    files = _audio_files(root)
    prefixes = ["LibriSpeech/train-clean-100/", "VoxCeleb/vox1/wav/id1", "VoxCeleb/vox2/dev/wav/id",
                "CommonVoice/en/clips/common_voice_en_", "speech_commands_v0.02/yes/",
                "speech_commands_v0.02/_background_noise_/", "fluent_speech_commands_dataset/wavs/speakers/",
                "IEMOCAP_full_release/Session1/sentences/wav/Ses01", "musan/noise/free-sound/",
                "musan/music/fma/", "musan/speech/librivox/", "RIRS_NOISES/simulated_rirs/smallroom/Room"]
    for prefix in prefixes:
        assert any(f.startswith(prefix) for f in files), prefix
    assert all(f.endswith(".flac") for f in files if f.startswith("LibriSpeech"))
    assert all(f.endswith(".mp3") for f in files if f.startswith("CommonVoice"))
    for name in ("LibriSpeech/SPEAKERS.TXT", "VoxCeleb/vox1/veri_test2.txt", "VoxCeleb/vox1/veri_val.txt",
                 "VoxCeleb/vox1/iden_split.txt", "CommonVoice/en/train.tsv",
                 "speech_commands_v0.02/validation_list.txt", "speech_commands_v0.02/testing_list.txt",
                 "fluent_speech_commands_dataset/data/train_data.csv",
                 "RIRS_NOISES/simulated_rirs/smallroom/rir_list"):
        assert (root / name).is_file(), name


def test_audio_is_16k_mono_finite_and_not_silent(tiny_corpus):
    root, _ = tiny_corpus
    for rel in _audio_files(root):
        data, rate = sf.read(root / rel, dtype="float32", always_2d=True)
        assert rate == 16000 and data.shape[1] == 1, rel
        assert np.isfinite(data).all(), rel
        assert np.abs(data).max() > 0.01, rel


def test_word_alignments_match_the_transcripts(tiny_corpus):
    root, _ = tiny_corpus
    from corpora.librispeech import parse_alignment_line

    checked = 0
    for trans in (root / "LibriSpeech").rglob("*.trans.txt"):
        texts = dict(line.strip().split(" ", 1) for line in trans.read_text().splitlines())
        for line in trans.with_name(trans.name.replace(".trans.txt", ".alignment.txt")).read_text().splitlines():
            utt, words = parse_alignment_line(line)
            assert [w for w, _, _ in words] == texts[utt].split()
            duration = sf.info(trans.parent / f"{utt}.flac").duration
            starts = [s for _, s, _ in words]
            assert starts == sorted(starts) and all(s < e <= duration + 1e-3 for _, s, e in words)
            checked += 1
    assert checked == sum(n * c * u for n, c, u in SIZES["tiny"]["librispeech"].values())


def test_trial_lists_hold_every_pair_and_refer_to_existing_files(tiny_corpus):
    root, _ = tiny_corpus
    vox = SIZES["tiny"]["voxceleb"]
    per_spk = vox["videos"] * vox["utts"]
    for name, role in (("veri_test2.txt", "test"), ("veri_val.txt", "val")):
        lines = (root / "VoxCeleb/vox1" / name).read_text().split("\n")
        trials = [line.split() for line in lines if line]
        labels = Counter(t[0] for t in trials)
        n = vox[role] * per_spk
        assert len(trials) == n * (n - 1) // 2 == len({frozenset(t[1:]) for t in trials})
        assert labels["1"] == vox[role] * per_spk * (per_spk - 1) // 2
        for label, a, b in trials:
            assert (root / "VoxCeleb/vox1/wav" / a).is_file() and (root / "VoxCeleb/vox1/wav" / b).is_file()
            assert (a.split("/")[0] == b.split("/")[0]) == (label == "1")
    test_spk = {t.split()[1].split("/")[0] for t in (root / "VoxCeleb/vox1/veri_test2.txt").read_text().splitlines()}
    val_spk = {t.split()[1].split("/")[0] for t in (root / "VoxCeleb/vox1/veri_val.txt").read_text().splitlines()}
    assert not test_spk & val_spk


def test_speakers_are_never_shared_between_layouts_or_splits():
    jobs = plan_corpus("tiny", seed=0)
    owner = {}
    for layout, layout_jobs in jobs.items():
        for job in layout_jobs:
            if job.speaker is None:
                continue
            split = job.fields.get("split", job.fields.get("role", job.fields.get("session")))
            assert owner.setdefault(job.speaker.index, (layout, split)) == (layout, split)


def test_small_has_twenty_content_words_with_100_occurrences():
    jobs = plan_corpus("small", seed=0)["librispeech"]
    counts = Counter(w for j in jobs if j.fields["split"] == "train-clean-100"
                     for w in j.text.split() if w in CONTENT_WORDS)
    assert sum(c >= 100 for c in counts.values()) >= 20
    assert len({j.speaker.index for j in jobs}) >= 40


def test_same_seed_same_files_and_rerun_does_nothing(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    other = tmp_path / "again"
    make_embedded(str(other), size="tiny", seed=0, num_workers=2)
    files = _audio_files(root)
    assert _audio_files(other) == files
    assert all(_digest(root / f) == _digest(other / f) for f in files[::7])
    stamp = {f: os.path.getmtime(other / f) for f in files}
    make_embedded(str(other), size="tiny", seed=0, num_workers=2)
    assert stamp == {f: os.path.getmtime(other / f) for f in files}
    with pytest.raises(RuntimeError, match="seed"):
        make_embedded(str(other), size="tiny", seed=1)


def test_killed_run_resumes_to_identical_files(tiny_corpus, tmp_path):
    root, summary = tiny_corpus
    part = tmp_path / "part"
    make_embedded(str(part), size="tiny", seed=0, num_workers=2)
    files = _audio_files(part)
    # A killed run: no completion marker, some files missing, a stray temporary file.
    os.remove(part / ".embedded" / "done.json")
    for f in files[::5]:
        os.remove(part / f)
    (part / "LibriSpeech" / "stray.part123.flac").write_bytes(b"")
    assert make_embedded(str(part), size="tiny", seed=0, num_workers=2) == summary
    assert all(_digest(root / f) == _digest(part / f) for f in files)
    assert json.loads((part / "summary.json").read_text()) == summary


def _render_dying_once(args):
    """The renderer, except that the first process to get here dies as a crash of the native engine would."""
    os.makedirs(args[0], exist_ok=True)
    marker = os.path.join(args[0], "died")
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return _real_render(args)


def _render_dying(args):
    os._exit(1)


_real_render = make_embedded_module._render


def test_a_rendering_process_that_dies_does_not_hang_the_corpus(tiny_corpus, tmp_path, monkeypatch):
    """A dead process used to leave the pool waiting forever for its files (seen mid-corpus); a fresh pool now
    renders the rest, to the same corpus."""
    root, summary = tiny_corpus
    monkeypatch.setattr(make_embedded_module, "_render", _render_dying_once)
    again = tmp_path / "again"
    assert make_embedded(str(again), size="tiny", seed=0, num_workers=2) == summary
    assert (again / "died").exists()
    files = _audio_files(root)
    assert _audio_files(again) == files and all(_digest(root / f) == _digest(again / f) for f in files[::7])
    # a process that dies on every file: an error that says how to resume, not a hang
    monkeypatch.setattr(make_embedded_module, "_render", _render_dying)
    with pytest.raises(RuntimeError, match="died 3 times.*run the same command again"):
        make_embedded(str(tmp_path / "never"), size="tiny", seed=0, num_workers=2)


def test_a_missing_speech_engine_is_named_once(tmp_path, monkeypatch):
    # a pool whose workers cannot start the engine used to respawn them forever, printing the same traceback
    monkeypatch.setitem(__import__("sys").modules, "espeakng_loader", None)  # import now raises ImportError
    with pytest.raises(RuntimeError, match="espeakng-loader.*requirements.txt"):
        make_embedded(str(tmp_path / "corpus"), size="tiny", seed=0, num_workers=2)
    assert not (tmp_path / "corpus" / "LibriSpeech").exists()
