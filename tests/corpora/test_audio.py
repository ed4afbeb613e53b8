"""The shared audio loader: right result on good files, a clear error naming the file on bad ones."""

import numpy as np
import pytest
import soundfile as sf
import torch

from corpora.audio import AudioError, audio_info, load_audio, write_audio


def _tone(rate, seconds=0.5, freq=440.0):
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_good_file_round_trips(tmp_path):
    path = tmp_path / "tone.wav"
    write_audio(path, _tone(16000), 16000)
    wav = load_audio(str(path))
    assert wav.dtype == torch.float32 and wav.shape == (8000,)
    assert torch.allclose(wav, torch.from_numpy(_tone(16000)), atol=1e-4)
    assert audio_info(str(path)) == (16000, 8000, 1)


def test_stereo_is_averaged_to_mono(tmp_path):
    path = tmp_path / "stereo.wav"
    left, right = _tone(16000), np.zeros(8000, np.float32)
    sf.write(path, np.stack([left, right], axis=1), 16000)
    wav = load_audio(str(path))
    assert wav.shape == (8000,)
    assert torch.allclose(wav, torch.from_numpy(left) / 2, atol=1e-4)
    assert load_audio(str(path), mono=False).shape == (8000, 2)


@pytest.mark.parametrize("rate", [8000, 48000])
def test_other_rates_are_resampled_keeping_pitch(tmp_path, rate):
    path = tmp_path / f"tone{rate}.wav"
    sf.write(path, _tone(rate, seconds=1.0, freq=440.0), rate)
    wav = load_audio(str(path), sample_rate=16000)
    assert wav.shape == (16000,)
    peak_hz = np.argmax(np.abs(np.fft.rfft(wav.numpy()))) * 16000 / len(wav)
    assert abs(peak_hz - 440.0) < 2.0


def test_other_rate_rejected_when_resampling_is_off(tmp_path):
    path = tmp_path / "tone8k.wav"
    sf.write(path, _tone(8000), 8000)
    with pytest.raises(AudioError, match=r"tone8k.wav: sample rate 8000 Hz, expected 16000 Hz"):
        load_audio(str(path), resample=False)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match=r"empty.wav: empty audio"):
        load_audio(str(path))


def test_zero_byte_and_truncated_header(tmp_path):
    zero = tmp_path / "zero.wav"
    zero.write_bytes(b"")
    with pytest.raises(AudioError, match=r"zero.wav: unreadable audio"):
        load_audio(str(zero))
    good = tmp_path / "good.wav"
    sf.write(good, _tone(16000), 16000)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:20])
    with pytest.raises(AudioError, match=r"truncated.wav: unreadable audio"):
        load_audio(str(truncated))


@pytest.mark.parametrize("subtype, channels", [("PCM_16", 1), ("PCM_24", 2), ("FLOAT", 1)])
def test_a_file_cut_mid_data_is_named_not_read_short(tmp_path, subtype, channels):
    """Header 3.0 s, data 1.5 s: libsndfile would read 1.5 s without a word, and a transcript would stay whole."""
    good = tmp_path / "good.wav"
    sf.write(good, np.stack([_tone(16000, 3.0)] * channels, axis=1), 16000, subtype=subtype)
    data = good.read_bytes()
    cut = tmp_path / "cut.wav"
    block = channels * {"PCM_16": 2, "PCM_24": 3, "FLOAT": 4}[subtype]
    cut.write_bytes(data[:len(data) - 24000 * block])  # the last 1.5 s of samples gone
    with pytest.raises(AudioError, match=r"cut.wav: truncated: its header declares 3.00 s, the file holds 1.5"):
        audio_info(str(cut))
    with pytest.raises(AudioError, match="truncated"):
        load_audio(str(cut))
    assert audio_info(str(good))[1] == 48000  # an intact file passes


def test_nan_samples(tmp_path):
    path = tmp_path / "nan.wav"
    data = _tone(16000)
    data[100:110] = np.nan
    sf.write(path, data, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan.wav: 10 non-finite"):
        load_audio(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=r"nothere.flac: file not found"):
        load_audio(str(tmp_path / "nothere.flac"))


def test_atomic_write_leaves_no_partial_file(tmp_path):
    write_audio(tmp_path / "a" / "x.flac", _tone(16000), 16000)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["x.flac"]
