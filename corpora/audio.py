"""Robust audio I/O shared by the prepare modules, the generator and the recipes.

Every failure raises `AudioError`, whose message names the file and the reason, so
a prepare script can list bad files instead of crashing or dropping them silently.

Example
-------
>>> import tempfile, os, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
>>> write_audio(path, np.sin(np.arange(8000) / 5.0).astype("float32") * 0.5, 8000)
>>> load_audio(path, sample_rate=16000).shape
torch.Size([16000])
"""

import os

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF


EMPTY = "empty audio (0 samples); re-download or re-encode the file, or leave it out"
SILENCE = "digital silence (all samples are zero): nothing to learn from; re-export the recording or leave it out"


class AudioError(ValueError):
    """An audio file that cannot be used, with the file and the reason."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


def audio_info(path):
    """(sample_rate, num_frames, channels) from the header, without reading samples."""
    if not os.path.isfile(path):
        raise AudioError(path, "file not found; restore it, or prepare the manifest that names it again")
    try:
        info = sf.info(path)
    except Exception as err:  # libsndfile raises several types for bad headers
        raise AudioError(path, f"unreadable audio ({err}); re-download or re-encode the file") from err
    if info.frames <= 0:
        raise AudioError(path, EMPTY)
    declared = _declared_wav_frames(path)
    if declared is not None and declared > info.frames:
        # libsndfile silently reads what is there: a file cut mid-data would pass for a shorter recording
        raise AudioError(path, f"truncated: its header declares {declared / info.samplerate:.2f} s, the file "
                               f"holds {info.frames / info.samplerate:.2f} s; re-download or re-encode it")
    return info.samplerate, info.frames, info.channels


def _declared_wav_frames(path):
    """Frames the data chunk of a RIFF/WAVE header declares, or None (not a WAV file, or a length left open by a
    streaming writer)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"fmt ":
                fmt = f.read(size + size % 2)
                block_align = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else None
            elif chunk[:4] == b"data":
                if not block_align or size in (0, 0xFFFFFFFF):
                    return None
                return size // block_align
            else:
                f.seek(size + size % 2, os.SEEK_CUR)  # chunks are padded to an even size


def load_audio(path, sample_rate=16000, mono=True, resample=True):
    """Reads a file as a float32 tensor, checked and converted.

    Arguments
    ---------
    path : str
    sample_rate : int
        Rate the caller expects; other rates are resampled (or rejected when
        `resample` is False).
    mono : bool
        Average the channels of a multi-channel file.

    Returns
    -------
    torch.Tensor
        `[T]` when mono, else `[T, C]`.
    """
    _, declared, _ = audio_info(path)
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as err:
        raise AudioError(path, f"unreadable audio ({err}); the file may be truncated: re-download or re-encode "
                               "it") from err
    if data.shape[0] == 0:
        raise AudioError(path, EMPTY)
    _require_whole(path, rate, declared, data.shape[0])
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise AudioError(path, f"{bad} non-finite (NaN/inf) samples; re-encode the file")
    wav = torch.from_numpy(data)
    if mono:
        wav = wav.mean(dim=1)
    if rate != sample_rate:
        if not resample:
            raise AudioError(path, f"sample rate {rate} Hz, expected {sample_rate} Hz; resample the file to "
                                   f"{sample_rate} Hz (or load it with resample=True)")
        wav = AF.resample(wav.T if wav.dim() == 2 else wav, rate, sample_rate)
        wav = wav.T.contiguous() if wav.dim() == 2 else wav
    return wav


def scan_audio(path, block_seconds=60):
    """Decodes the whole file block by block (memory bounded by one block, whatever the file's length) and
    returns the number of frames decoded; raises AudioError for what `load_audio` and `require_signal` refuse
    (unreadable, empty, non-finite samples, digital silence) and for a file that decodes shorter than its
    header says (a compressed file cut short: libsndfile reads what is there without a word)."""
    rate, declared, _ = audio_info(path)
    decoded, bad, peak = 0, 0, 0.0
    try:
        # not sf.blocks: it yields whole blocks past a short read (stale samples where the file ends early)
        with sf.SoundFile(path) as f:
            while True:
                block = f.read(int(block_seconds * rate), dtype="float32", always_2d=True)
                if not block.shape[0]:
                    break
                decoded += block.shape[0]
                finite = np.isfinite(block)
                bad += int(block.size - finite.sum())
                peak = max(peak, float(np.abs(np.where(finite, block, 0.0)).max(initial=0.0)))
    except Exception as err:
        raise AudioError(path, f"unreadable audio ({err}); the file may be truncated: re-download or re-encode "
                               "it") from err
    if decoded == 0:
        raise AudioError(path, EMPTY)
    if bad:
        raise AudioError(path, f"{bad} non-finite (NaN/inf) samples; re-encode the file")
    if peak == 0.0:
        raise AudioError(path, SILENCE)
    _require_whole(path, rate, declared, decoded)
    return decoded


def _require_whole(path, rate, declared, decoded):
    """A compressed file cut short decodes to what is left without an error: compare with its header. Decoders
    may differ by a few ms at the end of a stream; a cut file loses far more."""
    if declared - decoded > max(0.1 * rate, 0.01 * declared):
        raise AudioError(path, f"truncated: its header declares {declared / rate:.2f} s, it decodes to "
                               f"{decoded / rate:.2f} s; re-download or re-encode it")


def require_signal(path, wav):
    """Raises AudioError for digital silence: every descriptor of it is constant, and it would still count in
    normalization statistics."""
    if float(wav.abs().max()) == 0.0:
        raise AudioError(path, SILENCE)


def write_audio(path, wav, sample_rate):
    """Writes atomically (temporary file, then rename): a killed run leaves no half file."""
    path = str(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    root, ext = os.path.splitext(path)
    tmp = f"{root}.part{os.getpid()}{ext}"
    wav = wav.numpy() if isinstance(wav, torch.Tensor) else np.asarray(wav)
    sf.write(tmp, wav, sample_rate)
    os.replace(tmp, path)
