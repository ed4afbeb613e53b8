"""Bad input to corpora.audio.load_audio (every recipe's reader) and to the manifest readers."""

import numpy as np
import pytest
import soundfile as sf

from bad_input_support import RATE, Case, assert_clear_error, cases_for, rewrite, tone
from corpora.audio import AudioError, load_audio
from corpora.manifest import check_audio_files, read_csv, write_csv

REENCODE = r"re-download or re-encode|re-encode the file"

LOAD_AUDIO = [
    Case("zero-byte WAV", "load_audio", "error", REENCODE, dict(fmt="wav", damage="zero-byte")),
    Case("WAV with a header and no samples", "load_audio", "error", REENCODE, dict(fmt="wav", damage="empty")),
    Case("WAV cut mid-data", "load_audio", "error", r"truncated.*" + REENCODE, dict(fmt="wav", damage="cut")),
    Case("FLAC cut mid-stream", "load_audio", "error", REENCODE, dict(fmt="flac", damage="cut")),
    Case("MP3 cut mid-stream", "load_audio", "error", r"truncated.*" + REENCODE, dict(fmt="mp3", damage="cut")),
    Case("NaN samples", "load_audio", "error", r"non-finite.*re-encode", dict(fmt="wav", damage="nan")),
    Case("inf samples", "load_audio", "error", r"non-finite.*re-encode", dict(fmt="wav", damage="inf")),
    Case("a file that is not there", "load_audio", "error", r"restore it", dict(fmt="wav", damage="missing")),
    Case("8 kHz audio where resampling is off", "load_audio", "error", r"resample the file to 16000 Hz",
         dict(fmt="wav", damage="8kHz", resample=False)),
    Case("all-zero audio", "load_audio", "handled", data=dict(fmt="wav", damage="zeros")),
    Case("stereo audio", "load_audio", "handled", data=dict(fmt="wav", damage="stereo")),
    Case("8 kHz audio", "load_audio", "handled", data=dict(fmt="flac", damage="8kHz")),
    Case("48 kHz audio", "load_audio", "handled", data=dict(fmt="wav", damage="48kHz")),
]


@pytest.mark.parametrize(**cases_for(LOAD_AUDIO))
def test_load_audio(case, tmp_path):
    path = str(tmp_path / f"clip.{case.data['fmt']}")
    seconds, freq = 2.0, 220.0
    sf.write(path, tone(seconds, freq=freq), RATE)
    if case.data["damage"] == "missing":
        path = str(tmp_path / "elsewhere.wav")
    else:
        rewrite(path, case.data["damage"])
    if case.kind == "error":
        with pytest.raises(AudioError) as caught:
            load_audio(path, sample_rate=RATE, resample=case.data.get("resample", True))
        assert_clear_error(caught.value, [path], case.fix)
        return
    wav = load_audio(path, sample_rate=RATE).numpy()
    assert wav.ndim == 1 and abs(len(wav) / RATE - seconds) < 0.01  # mono, 16 kHz, the file's own duration
    if case.data["damage"] == "zeros":
        assert not wav.any()  # what the file holds (prepare and extraction refuse it: see their tables)
        return
    peak_hz = np.argmax(np.abs(np.fft.rfft(wav))) * RATE / len(wav)
    assert abs(peak_hz - freq) < 1.0  # resampled, not played at another speed
    expected = 0.75 * tone(seconds, freq=freq) if case.data["damage"] == "stereo" else tone(seconds, freq=freq)
    np.testing.assert_allclose(wav[800:-800], expected[800:-800], atol=0.02)  # (l + r) / 2, the same wave


def _manifest(tmp_path, text):
    path = tmp_path / "train.csv"
    path.write_text(text)
    return path


MANIFESTS = [
    Case("CSV without the duration column", "read_csv", "error", r"write_csv|prepare function",
         dict(text="ID,wav\na,{a}\n", names=["'duration'"])),
    Case("zero-byte CSV", "read_csv", "error", r"write_csv|prepare function", dict(text="", names=["'ID'"])),
    Case("CSV with a duration that is not a number", "read_csv", "error", r"correct that line|prepare the manifest",
         dict(text="ID,duration,wav\na,1.0,{a}\nb,long,{b}\n", names=["line 3", "'long'"])),
    Case("CSV with an ID twice", "read_csv", "error", r"IDs must be unique.*prepare the manifest again",
         dict(text="ID,duration,wav\na,1.0,{a}\na,2.0,{b}\n", names=["line 3", "'a'"])),
    Case("CSV row pointing to a missing file", "check_audio_files", "error", r"restore them or prepare the manifest",
         dict(text="ID,duration,wav\na,1.0,{a}\nb,1.0,{b}\n", names=["{b}"])),
]


@pytest.mark.parametrize(**cases_for(MANIFESTS))
def test_manifest(case, tmp_path):
    present = tmp_path / "a.wav"
    sf.write(present, tone(), RATE)
    paths = dict(a=present, b=tmp_path / "gone.wav")
    manifest = _manifest(tmp_path, case.data["text"].format(**paths))
    read = read_csv if case.entry == "read_csv" else check_audio_files
    with pytest.raises((ValueError, FileNotFoundError)) as caught:
        read(manifest)
    assert_clear_error(caught.value, [manifest, *(n.format(**paths) for n in case.data["names"])], case.fix)


def test_a_written_manifest_reads_back_as_written(tmp_path):
    """The reference the error cases differ from: a manifest from write_csv is read without complaint."""
    rows = [{"ID": "a", "duration": 1.5, "wav": str(tmp_path / "a.wav")}]
    write_csv(tmp_path / "m.csv", rows)
    assert read_csv(tmp_path / "m.csv") == rows
