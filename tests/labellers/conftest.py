"""Fixtures of the openSMILE comparisons: openSMILE itself and a set of named clips from the tiny corpus."""

import glob
import os

import numpy as np
import opensmile
import pytest
import torch

from corpora.audio import load_audio, write_audio

RATE = 16000
# LLD_TEST_DEVICE=cuda:0 runs the same comparisons with the torch descriptors on a GPU
DEVICE = os.environ.get("LLD_TEST_DEVICE", "cpu")


class OnDevice:
    """A descriptor module run on DEVICE, its `(table, rows)` handed back on the CPU where the tests read them."""

    def __init__(self, module):
        self.module = module.to(DEVICE)

    def __call__(self, wavs, lengths=None):
        inputs = [wavs.to(DEVICE)] + ([] if lengths is None else [lengths.to(DEVICE)])
        table, rows = self.module(*inputs)
        assert table.device.type == torch.device(DEVICE).type  # computed where asked, not moved back early
        return table.cpu(), rows.cpu()


def opensmile_columns(smiles, wav):
    """Every column of the given openSMILE sets by name, and the frame start times (s) of the first set's rows."""
    out, starts = {}, None
    for smile in smiles:
        table = smile.process_signal(wav, RATE)
        starts = table.index.get_level_values("start").total_seconds() if starts is None else starts
        out.update({c: table[c].to_numpy() for c in table.columns})
    return out, np.asarray(starts)


def mix_at_snr(speech, other, snr_db):
    other = np.resize(other, speech.shape)
    gain = np.sqrt(np.mean(speech ** 2) / (np.mean(other ** 2) * 10 ** (snr_db / 10)))
    mix = speech + gain * other
    return (mix / max(1.0, np.abs(mix).max() / 0.99)).astype(np.float32)


@pytest.fixture(scope="session")
def smiles():
    """eGeMAPSv02 and ComParE_2016 at LLD level, in that order."""
    return [opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, name), feature_level="lld")
            for name in ("eGeMAPSv02", "ComParE_2016")]


@pytest.fixture(scope="session")
def clips(tiny_corpus, tmp_path_factory):
    """Named 16 kHz clips: speech, speech + noise and + music at 5 dB, 8 kHz and 48 kHz files resampled, pauses."""
    root, _ = tiny_corpus
    speech = sorted(glob.glob(str(root / "LibriSpeech" / "**" / "*.flac"), recursive=True))[:3] + \
        sorted(glob.glob(str(root / "VoxCeleb" / "vox1" / "wav" / "**" / "*.wav"), recursive=True))[:2]
    noise = sorted(glob.glob(str(root / "musan" / "noise" / "**" / "*.wav"), recursive=True))[0]
    music = sorted(glob.glob(str(root / "musan" / "music" / "**" / "*.wav"), recursive=True))[0]
    out = {os.path.basename(p): load_audio(p, RATE).numpy() for p in speech}
    first = out[os.path.basename(speech[0])]
    out["noise_5dB"] = mix_at_snr(first, load_audio(noise, RATE).numpy(), 5.0)
    out["music_5dB"] = mix_at_snr(first, load_audio(music, RATE).numpy(), 5.0)
    folder = tmp_path_factory.mktemp("rates")
    for rate in (8000, 48000):
        path = str(folder / f"speech_{rate}.wav")
        native = load_audio(speech[1], rate).numpy()  # the clip as a recording at another rate
        write_audio(path, native, rate)
        out[f"resampled_from_{rate}"] = load_audio(path, RATE).numpy()  # as the recipes read it
    out["pauses"] = np.concatenate([np.zeros(4000, np.float32), first[:16000], np.zeros(3000, np.float32),
                                    first[16000:24000]])
    return out
