"""On-the-fly signal targets, as PASE's regressors use them: computed from the crop itself.

- `mfcc`: MFCCs (`n_mfcc`, default 20), `fbank` / `melfs`: log mel filterbanks
  (`n_mels`, default 40), `lps`: log power spectrum (`n_fft // 2 + 1` bins),
  all from SpeechBrain's feature lobes;
- `prosody`: log F0 (torchaudio's NCCF pitch detector, 0 where unvoiced), a voicing
  flag, log energy and zero-crossing rate per frame.

The frame grid is the encoder's (`batch.hop_seconds`), and targets are cut or
edge-padded to `batch.num_frames`. No gammatone target: no maintained
implementation ships with the pinned libraries.

With `train_csv` and `stats_file`, the targets are z-normalized per dimension with
statistics of the training split (computed once over up to `stats_utterances`
training utterances, seeded, and cached in `stats_file`), as the stored LLD targets
are: raw MFCCs (std about 17, c0 about -46) or log-mel energies would otherwise make
most of a multitask loss and a worker's weight would not mean what it says.
"""

import json
import os
import random

import torch
import torchaudio.functional as AF
from speechbrain.lobes.features import MFCC, Fbank
from speechbrain.processing.features import STFT, spectral_magnitude

from corpora.audio import load_audio
from corpora.files import write_json
from corpora.manifest import read_csv
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
    normalization = None  # (train_csv, stats_file, utterances) when the targets are normalized
    mean = std = None  # their per-dimension statistics, loaded or computed at the first batch

    def normalize_with(self, train_csv=None, stats_file=None, stats_utterances=200):
        """Normalizes the targets with training statistics, read from `stats_file` or computed there at the
        first batch (when a recipe has prepared its manifests: it builds its labellers before)."""
        if (train_csv is None) != (stats_file is None):
            raise ValueError(f"{type(self).__name__}: normalization needs both train_csv and stats_file "
                             f"(got train_csv={train_csv!r}, stats_file={stats_file!r})")
        if train_csv is not None:
            self.normalization = (str(train_csv), str(stats_file), int(stats_utterances))
        return self

    def statistics(self):
        """(mean, std) `[dim]` of the training split (None, None without normalization)."""
        if self.normalization is not None and self.mean is None:
            self.mean, self.std = target_statistics(self, *self.normalization)
        return self.mean, self.std

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
        mean, std = self.statistics()
        if mean is not None:
            feats = (feats - mean.to(feats.device)) / std.to(feats.device)
        return fit_frames(feats, batch.num_frames)


def target_statistics(labeller, train_csv, stats_file, utterances=200, seed=0, sample_rate=16000):
    """Per-dimension (mean, std) of `labeller`'s features over up to `utterances` training utterances (10 ms
    hop, at most 10 s each), cached in `stats_file` (JSON; recomputed when the labeller or the manifest differ)."""
    rows = read_csv(train_csv)
    key = {"labeller": type(labeller).__name__, "dim": int(labeller.dim), "train_csv": os.path.abspath(train_csv),
           "rows": len(rows), "utterances": utterances, "seed": seed}
    if os.path.exists(stats_file):
        with open(stats_file) as f:
            cached = json.load(f)
        if cached.get("key") == key:
            return torch.tensor(cached["mean"]), torch.tensor(cached["std"])
    if not rows:
        raise ValueError(f"{train_csv} has no rows: normalization statistics need training utterances")
    total = torch.zeros(labeller.dim, dtype=torch.float64)
    total_sq, frames = torch.zeros_like(total), 0
    for row in random.Random(seed).sample(rows, min(utterances, len(rows))):
        wav = load_audio(row["wav"], sample_rate)[: 10 * sample_rate]
        with torch.no_grad():
            feats = labeller.features(wav[None], 10.0, sample_rate)[0].double()
        total += feats.sum(0)
        total_sq += feats.square().sum(0)
        frames += feats.shape[0]
    mean = total / frames
    std = (total_sq / frames - mean.square()).clamp(min=0).sqrt()
    std = torch.where(std > 1e-6, std, torch.ones_like(std))  # a constant dimension is left unscaled
    # every process of a DDP run computes and writes the same values
    write_json(stats_file, {"key": key, "frames": frames, "mean": mean.tolist(), "std": std.tolist()})
    return mean.float(), std.float()


@register_labeller("mfcc")
class MFCCTarget(_SignalTarget):
    def __init__(self, n_mfcc=20, n_mels=40, **normalization):
        self.dim, self.n_mfcc, self.n_mels = n_mfcc, n_mfcc, n_mels
        self.normalize_with(**normalization)

    def make_lobe(self, hop_ms, sample_rate):
        return MFCC(deltas=False, context=False, n_mfcc=self.n_mfcc, n_mels=self.n_mels,
                    hop_length=hop_ms, sample_rate=sample_rate)


@register_labeller("fbank", "melfs")
class FbankTarget(_SignalTarget):
    def __init__(self, n_mels=40, **normalization):
        self.dim, self.n_mels = n_mels, n_mels
        self.normalize_with(**normalization)

    def make_lobe(self, hop_ms, sample_rate):
        return Fbank(n_mels=self.n_mels, hop_length=hop_ms, sample_rate=sample_rate)


@register_labeller("lps")
class LogPowerSpectrum(_SignalTarget):
    def __init__(self, n_fft=400, **normalization):
        self.dim, self.n_fft = n_fft // 2 + 1, n_fft
        self.normalize_with(**normalization)

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

    def __init__(self, f0_min=60, f0_max=500, **normalization):
        self.f0_min, self.f0_max = f0_min, f0_max
        self.normalize_with(**normalization)

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
