"""Bad input to the prepare functions: damaged files planted in copies of the tiny corpus, one prepare run per
layout; each case checks its own file."""

import glob
import os
import re
import shutil
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from bad_input_support import Case, assert_clear_error, cases_for, logged, read_failures, rewrite
from corpora.audio import load_audio
from corpora.common_voice import prepare_common_voice
from corpora.librispeech import prepare_librispeech
from corpora.manifest import read_csv
from corpora.preparation import PrepareError
from corpora.voxceleb import prepare_voxceleb

VOXCELEB = [
    Case("zero-byte WAV", "prepare_voxceleb", "skip", r"unreadable audio.*re-download", dict(damage="zero-byte")),
    Case("WAV with no samples", "prepare_voxceleb", "skip", r"empty audio", dict(damage="empty")),
    Case("WAV cut mid-data", "prepare_voxceleb", "skip", r"truncated", dict(damage="cut")),
    Case("NaN samples", "prepare_voxceleb", "skip", r"non-finite", dict(damage="nan")),
    Case("inf samples", "prepare_voxceleb", "skip", r"non-finite", dict(damage="inf")),
    Case("all-zero audio", "prepare_voxceleb", "skip", r"digital silence", dict(damage="zeros")),
    Case("stereo WAV", "prepare_voxceleb", "handled", data=dict(damage="stereo")),
    Case("8 kHz WAV", "prepare_voxceleb", "handled", data=dict(damage="8kHz")),
    Case("48 kHz WAV", "prepare_voxceleb", "handled", data=dict(damage="48kHz")),
]
LIBRISPEECH = [
    Case("FLAC cut mid-stream", "prepare_librispeech", "skip", r"unreadable audio.*truncated", dict(damage="cut")),
    Case("all-zero FLAC", "prepare_librispeech", "skip", r"digital silence", dict(damage="zeros")),
    Case("transcript line of a missing FLAC", "prepare_librispeech", "skip", r"file not found",
         dict(damage="missing")),
    Case("transcript line twice (duplicate ID)", "prepare_librispeech", "skip", r"listed twice",
         dict(damage="duplicate")),
    Case("stereo FLAC", "prepare_librispeech", "handled", data=dict(damage="stereo")),
    Case("48 kHz FLAC", "prepare_librispeech", "handled", data=dict(damage="48kHz")),
]
COMMON_VOICE = [
    Case("MP3 cut mid-stream", "prepare_common_voice", "skip", r"truncated.*re-download", dict(damage="cut")),
    Case("zero-byte MP3", "prepare_common_voice", "skip", r"unreadable audio", dict(damage="zero-byte")),
    Case("TSV row of a missing clip", "prepare_common_voice", "skip", r"file not found", dict(damage="missing")),
    Case("TSV row twice (duplicate ID)", "prepare_common_voice", "skip", r"listed twice",
         dict(damage="duplicate")),
    Case("8 kHz MP3", "prepare_common_voice", "handled", data=dict(damage="8kHz")),
    Case("48 kHz MP3", "prepare_common_voice", "handled", data=dict(damage="48kHz")),
]


def _plant(victims, cases):
    """{case: (path, what the file holds afterwards)}: each case's damage done to its own file."""
    return {case: (path, rewrite(path, case.data["damage"]) if case.data["damage"] not in ("missing", "duplicate")
                   else None) for case, path in zip(cases, victims)}


def _train_speakers(vox1):
    in_trials = {rel.split("/")[0] for name in ("veri_test2.txt", "veri_val.txt")
                 for line in open(os.path.join(vox1, name)) for rel in line.split()[1:]}
    return sorted(s for s in os.listdir(os.path.join(vox1, "wav")) if s not in in_trials)


@pytest.fixture(scope="module")
def voxceleb(tiny_corpus, tmp_path_factory):
    base = tmp_path_factory.mktemp("bad_vox")
    vox1 = base / "vox1"
    shutil.copytree(tiny_corpus[0] / "VoxCeleb" / "vox1", vox1)
    victims = [f for s in _train_speakers(vox1) for f in sorted(glob.glob(str(vox1 / "wav" / s / "*" / "*.wav")))]
    victims = victims[::len(victims) // len(VOXCELEB)]  # spread over the training speakers
    planted = _plant(victims, VOXCELEB)
    with logged("corpora") as log:
        prepare_voxceleb(vox1, base / "out")
    return planted, base / "out", log


@pytest.fixture(scope="module")
def librispeech(tiny_corpus, tmp_path_factory):
    base = tmp_path_factory.mktemp("bad_ls")
    shutil.copytree(tiny_corpus[0] / "LibriSpeech" / "dev-clean", base / "LibriSpeech" / "dev-clean")
    victims = sorted(glob.glob(str(base / "LibriSpeech" / "dev-clean" / "*" / "*" / "*.flac")))
    planted = _plant(victims, LIBRISPEECH)
    for case, (path, _) in planted.items():
        utt = os.path.basename(path)[:-5]
        trans = glob.glob(os.path.join(os.path.dirname(path), "*.trans.txt"))[0]
        line = next(line for line in open(trans) if line.startswith(utt + " "))
        if case.data["damage"] == "missing":
            os.remove(path)
        elif case.data["damage"] == "duplicate":
            with open(trans, "a") as f:
                f.write(line)
    with logged("corpora") as log:
        prepare_librispeech(base / "LibriSpeech", base / "out", splits=("dev-clean",))
    return planted, base / "out", log


@pytest.fixture(scope="module")
def common_voice(tiny_corpus, tmp_path_factory):
    base = tmp_path_factory.mktemp("bad_cv")
    cv = base / "en"
    shutil.copytree(tiny_corpus[0] / "CommonVoice" / "en", cv)
    rows = open(cv / "dev.tsv").read().splitlines(True)
    victims = [str(cv / "clips" / row.split("\t")[1]) for row in rows[1:]]
    planted = _plant(victims, COMMON_VOICE)
    for case, (path, _) in planted.items():
        if case.data["damage"] == "missing":
            os.remove(path)
        elif case.data["damage"] == "duplicate":
            row = next(r for r in rows if os.path.basename(path) in r)
            with open(cv / "dev.tsv", "a") as f:
                f.write(row)
    with logged("corpora") as log:
        prepare_common_voice(cv, base / "out", splits=("dev",))
    return planted, base / "out", log


def _check(case, prepared, manifest, failures):
    planted, out, log = prepared
    path, holds = planted[case]
    rows = {r["wav"]: r for r in read_csv(out / manifest)}
    if case.kind == "handled":
        seconds, rate = holds
        assert abs(rows[path]["duration"] - seconds) < 0.01, (rows[path], seconds)  # the recording's duration
        assert sf.info(path).samplerate == rate
        assert abs(len(load_audio(path)) - seconds * 16000) < 160  # what the recipes read: 16 kHz, same length
    elif case.data["damage"] == "duplicate":
        assert path in rows  # kept, and once: read_csv refuses a manifest with an ID twice
        utt = os.path.splitext(os.path.basename(path))[0]
        assert any(utt in line and re.search(case.fix, line) for line in log), log  # the ID named in the log
    else:
        assert path not in rows and rows  # left out, the others kept
        reasons = read_failures(out / failures)
        assert re.search(case.fix, reasons[path]), reasons[path]  # listed with its reason
        assert any(path in line for line in log), log  # and logged


@pytest.mark.parametrize(**cases_for(VOXCELEB))
def test_prepare_voxceleb(case, voxceleb):
    _check(case, voxceleb, "train.csv", "voxceleb1_failures.csv")


@pytest.mark.parametrize(**cases_for(LIBRISPEECH))
def test_prepare_librispeech(case, librispeech):
    _check(case, librispeech, "dev-clean.csv", "librispeech_dev-clean_failures.csv")


@pytest.mark.parametrize(**cases_for(COMMON_VOICE))
def test_prepare_common_voice(case, common_voice):
    _check(case, common_voice, "dev.csv", "common_voice_dev_failures.csv")


def _tsv_without_path(cv):
    text = (cv / "dev.tsv").read_text().replace("\tpath\t", "\tfile\t", 1)
    (cv / "dev.tsv").write_text(text)
    return cv / "dev.tsv", "'path'"


def _trial_file_damaged(vox1):
    first = open(vox1 / "veri_test2.txt").readline().split()[1]
    open(vox1 / "wav" / first, "wb").close()
    return vox1 / "veri_test2.txt", vox1 / "wav" / first


def _all_damaged(vox1):
    for path in glob.glob(str(vox1 / "wav" / "*" / "*" / "*.wav")):
        rewrite(path, "zeros")
    return ()  # the message names the failures CSV, which names every file


LAYOUT_ERRORS = [
    Case("TSV without the path column", "prepare_common_voice", "error", r"tab-separated with client_id, path",
         dict(corpus="CommonVoice/en", damage=_tsv_without_path)),
    Case("trial list naming an unusable file", "prepare_voxceleb", "error", r"restore those files.*trial list",
         dict(corpus="VoxCeleb/vox1", damage=_trial_file_damaged)),
    Case("every file of a corpus unusable", "prepare_voxceleb", "error", r"none is usable; check `data_folder`",
         dict(corpus="VoxCeleb/vox1", damage=_all_damaged, names_failures=True)),
    Case("bad files with strict=True", "prepare_voxceleb", "error", r"listed in .*repair or remove them",
         dict(corpus="VoxCeleb/vox1", damage=_trial_file_damaged, strict=True, names_failures=True)),
]


@pytest.mark.parametrize(**cases_for(LAYOUT_ERRORS))
def test_prepare_layout_error(case, tiny_corpus, tmp_path):
    layout = tmp_path / "layout"
    shutil.copytree(tiny_corpus[0] / case.data["corpus"], layout)
    names = case.data["damage"](layout)
    prepare = prepare_common_voice if case.entry == "prepare_common_voice" else prepare_voxceleb
    kwargs = dict(splits=("dev",)) if case.entry == "prepare_common_voice" else {}
    with pytest.raises(PrepareError) as caught:
        prepare(layout, tmp_path / "out", strict=case.data.get("strict", False), **kwargs)
    if case.data.get("names_failures"):
        names = (tmp_path / "out" / "voxceleb1_failures.csv",)
    assert_clear_error(caught.value, names, case.fix)
    assert not (tmp_path / "out" / "train.csv").exists()  # no manifest that looks finished


ONE_HOUR = Case("one-hour 16 kHz WAV", "prepare_voxceleb", "handled")


@pytest.mark.parametrize(**cases_for([ONE_HOUR]))
def test_prepare_a_one_hour_file(case, tmp_path):
    """Validated (every sample decoded: finite, not silent) in blocks: memory stays far below the 230 MB the
    samples take as float32, and the duration is the file's."""
    wav = tmp_path / "vox1" / "wav"
    short = [wav / "id00002" / "v" / f"0000{k}.wav" for k in (1, 2)]
    for path in short:
        os.makedirs(path.parent, exist_ok=True)
        sf.write(path, (0.1 * np.random.default_rng(len(str(path))).standard_normal(16000)).astype(np.float32),
                 16000)
    long = wav / "id00001" / "v" / "00001.wav"
    os.makedirs(long.parent)
    with sf.SoundFile(long, "w", 16000, 1, subtype="PCM_16") as f:
        rng = np.random.default_rng(0)
        for _ in range(60):  # written a minute at a time: low noise, 115 MB
            f.write(rng.integers(-300, 300, 60 * 16000, dtype=np.int16))
    (tmp_path / "vox1" / "veri_test2.txt").write_text("1 id00002/v/00001.wav id00002/v/00002.wav\n")
    tracemalloc.start()
    try:
        prepare_voxceleb(tmp_path / "vox1", tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rows = read_csv(tmp_path / "out" / "train.csv")
    assert [(r["wav"], r["duration"]) for r in rows] == [(str(long), 3600.0)]
    assert peak < 50e6, f"{peak / 1e6:.0f} MB"
