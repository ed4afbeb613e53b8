"""On-the-fly signal targets, as PASE's regressors use them: computed from the crop itself.

- `mfcc`: MFCCs (`n_mfcc`, default 20), `fbank` / `melfs`: log mel filterbanks
  (`n_mels`, default 40), `lps`: log power spectrum (`n_fft // 2 + 1` bins),
  all from SpeechBrain's feature lobes;
- `prosody`: log F0 (torchaudio's NCCF pitch detector, 0 where unvoiced), a voicing
  flag, log energy and zero-crossing rate per frame.

The frame grid is the encoder's (`batch.hop_seconds`), and targets are cut or
edge-padded to `batch.num_frames`. No gammatone target: no maintained
implementation ships with the pinned libraries.
"""

import torch
import torchaudio.functional as AF
from speechbrain.lobes.features import MFCC, Fbank
from speechbrain.processing.features import STFT, spectral_magnitude

from labellers.base import Labeller
from labellers.registry import register_labeller


def fit_frames(feats, num_frames):
    """`[B, T, D]` -> `[B, num_frames, D]`, cutting or repeating the last frame."""
    if feats.shape[1] >= num_frames:
        return feats[:, :num_frames]
    pad = feats[:, -1:].expand(-1, num_frames - feats.shape[1], -1)
    return torch.cat([feats, pad], dim=1)


class _SignalTarget(Labeller):
    """A target computed by a SpeechBrain feature lobe, built once per frame grid and device."""

    kind, level = "regression", "frame"

    def make_lobe(self, hop_ms, sample_rate):
        """The feature module for this hop; subclasses define it (or override `features`)."""
        raise NotImplementedError(f"{type(self).__name__} must define make_lobe or features")

    def features(self, wavs, hop_ms, sample_rate):
        key = (hop_ms, sample_rate, wavs.device)
        lobes = self.__dict__.setdefault("_lobes", {})
        if key not in lobes:  # building filterbanks and windows per batch would sit in the hot path
            lobes[key] = self.make_lobe(hop_ms, sample_rate).to(wavs.device)
        return lobes[key](wavs)

    def __call__(self, batch):
        with torch.no_grad():
            feats = self.features(batch.wavs, 1000.0 * batch.hop_seconds, batch.sample_rate)
        return fit_frames(feats, batch.num_frames)


@register_labeller("mfcc")
class MFCCTarget(_SignalTarget):
    def __init__(self, n_mfcc=20, n_mels=40):
        self.dim, self.n_mfcc, self.n_mels = n_mfcc, n_mfcc, n_mels

    def make_lobe(self, hop_ms, sample_rate):
        return MFCC(deltas=False, context=False, n_mfcc=self.n_mfcc, n_mels=self.n_mels,
                    hop_length=hop_ms, sample_rate=sample_rate)


@register_labeller("fbank", "melfs")
class FbankTarget(_SignalTarget):
    def __init__(self, n_mels=40):
        self.dim, self.n_mels = n_mels, n_mels

    def make_lobe(self, hop_ms, sample_rate):
        return Fbank(n_mels=self.n_mels, hop_length=hop_ms, sample_rate=sample_rate)


@register_labeller("lps")
class LogPowerSpectrum(_SignalTarget):
    def __init__(self, n_fft=400):
        self.dim, self.n_fft = n_fft // 2 + 1, n_fft

    def make_lobe(self, hop_ms, sample_rate):
        stft = STFT(sample_rate=sample_rate, n_fft=self.n_fft, hop_length=hop_ms)
        return torch.nn.Sequential(stft, _LogPower())


class _LogPower(torch.nn.Module):
    def forward(self, spec):
        return torch.log1p(spectral_magnitude(spec, power=1))


@register_labeller("prosody")
class Prosody(_SignalTarget):
    """`[B, T, 4]`: log F0 (0 unvoiced), voiced flag, log energy, zero-crossing rate."""

    dim = 4

    def __init__(self, f0_min=60, f0_max=500):
        self.f0_min, self.f0_max = f0_min, f0_max

    def features(self, wavs, hop_ms, sample_rate):
        hop = int(round(hop_ms * sample_rate / 1000))
        frames = torch.nn.functional.pad(wavs, (hop, hop)).unfold(1, 2 * hop, hop)  # [B, T, 2*hop]
        energy = frames.pow(2).mean(-1)
        zcr = (frames[..., 1:].sign() != frames[..., :-1].sign()).float().mean(-1)
        f0 = AF.detect_pitch_frequency(wavs, sample_rate, frame_time=hop_ms / 1000, win_length=3,
                                       freq_low=self.f0_min, freq_high=self.f0_max)
        f0 = fit_frames(f0[..., None], energy.shape[1])[..., 0]
        loud = energy > 1e-3 * energy.amax(dim=1, keepdim=True)
        voiced = (loud & (f0 > self.f0_min) & (f0 < self.f0_max) & (zcr < 0.3)).float()
        log_f0 = torch.log(f0.clamp(min=1.0)) * voiced
        return torch.stack([log_f0, voiced, torch.log(energy + 1e-8), zcr], dim=-1)


@register_labeller("waveform")
class WaveformFrames(_SignalTarget):
    """`[B, T, hop]`: the crop itself, cut into the encoder's frames (PASE's waveform decoder)."""

    def __init__(self, hop_samples=160):
        self.dim = hop_samples

    def features(self, wavs, hop_ms, sample_rate):
        hop = int(round(hop_ms * sample_rate / 1000))
        if hop != self.dim:
            raise ValueError(f"waveform labeller built for {self.dim}-sample frames, the encoder hop is {hop}; "
                             f"set hop_samples: {hop}")
        frames = wavs.shape[1] // hop + 1
        return torch.nn.functional.pad(wavs, (0, frames * hop - wavs.shape[1])).reshape(wavs.shape[0], frames, hop)
