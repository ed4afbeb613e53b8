"""Reverberation and additive noise drawn per segment, mixed in batches on the training device.

The augmentation of self-supervised speaker training (loss-gated learning, after voxceleb_trainer): each
segment gets a profile, clean, reverberation only, noise only or both (Stage 1: 0 / 25 / 25 / 50 %; Stage 2:
reverberation and noise each with p 0.5, i.e. 25 % each); its noise is drawn from one category (uniformly among
noise, speech and music, each with its SNR range; speech mixes several talkers in Stage 2, a babble), and its
reverberation convolves with a room impulse response normalized to unit energy, then scaled by a random gain.

The work is split where it is cheapest:

- `NoiseDraw` (in the loader workers, numpy): draws the profile, reads the noise crops and the impulse
  response from the MUSAN/RIR-like manifests of `corpora.noise_rir` (a partial read of each file), and hands
  them over as plain arrays with their SNRs; `DrawCollate` pads a batch's draws into a few tensors still in the
  worker (handing hundreds of small arrays per batch between processes costs more than reading them);
- `mix` (on the batch's device, torch): the convolutions, one FFT product for the whole batch, and the
  SNR scaling and sums, with the formulas of the original: the levels are `10 log10(mean(x^2) + 1e-4)` dB of
  the (reverberated) segment and of each noise, each noise scaled to its SNR below the segment, then summed.

Example
-------
>>> wavs = torch.randn(2, 1600)
>>> rirs = torch.zeros(2, 4); rirs[:, 0] = 1.0          # a unit impulse: no change
>>> noises, snrs = torch.zeros(2, 1, 1600), torch.zeros(2, 1)
>>> torch.allclose(mix(wavs, rirs, torch.tensor([True, False]), noises, snrs), wavs, atol=1e-5)
True
"""

import numpy as np
import soundfile as sf
import torch
from scipy.fft import next_fast_len
from speechbrain.dataio.batch import PaddedBatch

from corpora.audio import load_audio
from corpora.manifest import read_csv

LEVEL_FLOOR = 1e-4  # inside the log of every level, as in the original
CATEGORIES = {"noise": "noise.csv", "speech": "babble.csv", "music": "music.csv"}


class NoiseDraw:
    """Per-segment augmentation draws from the manifests in `noise_rir_folder` (noise.csv, babble.csv,
    music.csv, rir.csv). Called with the segment length and a numpy Generator, it returns a dict of numpy
    arrays: `rir [R]` (empty: no reverberation), `noises [K, samples]` and `snrs [K]` (K = 0: no noise), and
    the draw's `choice` (what `again` repeats).

    profiles: probabilities of clean, reverberation only, noise only, both; snr: dB range per category;
    talkers: how many recordings of a category are mixed (inclusive range); rir_gain_db: the impulse
    response is scaled by 10^(g / 10), g uniform in this range (the original's factor; None: unit energy).
    """

    def __init__(self, noise_rir_folder, sample_rate=16000, profiles=(0.0, 0.25, 0.25, 0.5), snr=None,
                 talkers=None, rir_gain_db=(-7.0, 3.0), max_rir_seconds=1.0):
        snr = snr or {"noise": (0.0, 15.0), "speech": (13.0, 20.0), "music": (5.0, 15.0)}
        talkers = talkers or {"noise": (1, 1), "speech": (1, 1), "music": (1, 1)}
        if len(profiles) != 4 or abs(sum(profiles) - 1.0) > 1e-6 or min(profiles) < 0:
            raise ValueError(f"profiles {profiles}: four probabilities (clean, reverberation only, noise only, "
                             "both) summing to 1")
        unknown = (set(snr) | set(talkers)) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown noise categories {sorted(unknown)}; expected {sorted(CATEGORIES)}")
        self.rate, self.profiles, self.snr, self.talkers = sample_rate, np.asarray(profiles), snr, talkers
        self.rir_gain_db, self.max_rir = rir_gain_db, int(max_rir_seconds * sample_rate)
        self.files = {}
        needed = {c: n for c, n in CATEGORIES.items() if c in snr}
        for category, name in {**needed, "rir": "rir.csv"}.items():
            path = f"{noise_rir_folder}/{name}"
            try:
                rows = read_csv(path)
            except (OSError, ValueError) as error:
                raise ValueError(f"{path}: cannot read the {category} manifest ({error}); prepare it with "
                                 "corpora.noise_rir.prepare_noise_rir (the recipe's prepare_noise_rir)") from error
            if not rows:
                raise ValueError(f"{path} lists no {category} recordings: the augmentation needs some")
            self.files[category] = [r["wav"] for r in rows]

    def __call__(self, samples, rng):
        profile = int(rng.choice(4, p=self.profiles))  # 0 clean, 1 reverberation only, 2 noise only, 3 both
        choice = {"rir": None, "gain": 1.0, "category": None, "picks": [], "snrs": []}
        if profile in (1, 3):
            choice["rir"] = int(rng.integers(len(self.files["rir"])))
            if self.rir_gain_db is not None:
                choice["gain"] = float(10.0 ** (0.1 * rng.uniform(*self.rir_gain_db)))
        if profile in (2, 3):
            categories = sorted(self.snr)
            category = categories[int(rng.integers(len(categories)))]
            low, high = self.talkers.get(category, (1, 1))
            count = int(rng.integers(low, high + 1))
            files = self.files[category]
            choice.update(category=category, snrs=rng.uniform(*self.snr[category], size=count).tolist(),
                          picks=rng.choice(len(files), size=count, replace=count > len(files)).tolist())
        return self.again(choice, samples, rng)

    def again(self, choice, samples, rng):
        """The draw `choice` once more (same profile, impulse response, gain, noise files and SNRs), with new
        random crops of the noise recordings."""
        rir = np.zeros(0, np.float32)
        if choice["rir"] is not None:
            rir = self._rir(self.files["rir"][choice["rir"]]) * np.float32(choice["gain"])
        noises = np.zeros((0, samples), np.float32)
        if choice["picks"]:
            files = self.files[choice["category"]]
            noises = np.stack([self._crop(files[i], samples, rng) for i in choice["picks"]])
        return {"rir": rir, "noises": noises, "snrs": np.asarray(choice["snrs"], np.float32), "choice": choice}

    def _crop(self, path, samples, rng):
        """A random stretch of `samples` of the recording, wrap-padded when it is shorter."""
        total = sf.info(path).frames
        if total > samples:
            start = int(rng.integers(0, total - samples + 1))
            wav, rate = sf.read(path, start=start, frames=samples, dtype="float32", always_2d=True)
            if rate == self.rate:
                return wav.mean(1)
        wav = load_audio(path, self.rate).numpy()  # short or another rate: whole file, resampled
        wav = np.resize(wav, samples) if len(wav) < samples else wav[:samples]
        return wav.astype(np.float32)

    def _rir(self, path):
        """The impulse response at unit energy (the gain then scales it)."""
        rir = load_audio(path, self.rate).numpy()[: self.max_rir].astype(np.float64)
        energy = np.sqrt((rir ** 2).sum())
        if energy <= 0:
            raise ValueError(f"{path}: an impulse response of zero energy; remove it from rir.csv")
        return (rir / energy).astype(np.float32)


def level_db(x):
    """`10 log10(mean(x^2) + 1e-4)` over the last dimension."""
    return 10.0 * torch.log10(x.float().square().mean(-1) + LEVEL_FLOOR)


def reverberate(wavs, rirs):
    """Each row of `wavs [B, T]` convolved with its impulse response `rirs [B, R]` (as given: NoiseDraw has
    normalized and scaled them), the first T samples of the full convolution; one FFT product for the batch."""
    rirs = rirs.float()
    n = next_fast_len(wavs.shape[-1] + rirs.shape[-1] - 1, real=True)  # a smooth length, not the next power of 2
    spectrum = torch.fft.rfft(wavs.float(), n) * torch.fft.rfft(rirs, n)
    return torch.fft.irfft(spectrum, n)[..., : wavs.shape[-1]]


def mix(wavs, rirs, reverb, noises, snrs, noise_mask=None):
    """The augmented batch: `wavs [B, T]`, `rirs [B, R]` used where `reverb [B]`, `noises [B, K, T]` at `snrs [B, K]`
    dB below each (reverberated) segment, where `noise_mask [B, K]` (default: every noise)."""
    out = wavs.float()
    if reverb.any():
        out = torch.where(reverb[:, None], reverberate(out, rirs), out)
    if noises.shape[1]:
        mask = torch.ones(snrs.shape, dtype=torch.bool, device=wavs.device) if noise_mask is None else noise_mask
        gain = torch.sqrt(10.0 ** ((level_db(out)[:, None] - level_db(noises) - snrs.float()) / 10.0))
        out = out + (noises.float() * (gain * mask)[..., None]).sum(1)
    return out


def batch_draws(draws, samples, device=None):
    """The draws of B segments (NoiseDraw outputs) as padded tensors for `mix`: `(rirs [B, R], reverb [B],
    noises [B, K, samples], snrs [B, K], noise_mask [B, K])`."""
    longest_rir = max([len(d["rir"]) for d in draws] + [1])
    most = max(len(d["snrs"]) for d in draws)
    rirs = torch.zeros(len(draws), longest_rir)
    noises, snrs = torch.zeros(len(draws), most, samples), torch.zeros(len(draws), most)
    mask = torch.zeros(len(draws), most, dtype=torch.bool)
    for i, d in enumerate(draws):
        rirs[i, : len(d["rir"])] = torch.as_tensor(d["rir"])  # arrays, or tensors once a loader collated them
        k = len(d["snrs"])
        noises[i, :k], snrs[i, :k], mask[i, :k] = torch.as_tensor(d["noises"]), torch.as_tensor(d["snrs"]), True
    reverb = torch.tensor([len(d["rir"]) > 0 for d in draws])
    return tuple(t.to(device) if device is not None else t for t in (rirs, reverb, noises, snrs, mask))


class DrawCollate:
    """`collate_fn` for items that carry NoiseDraw outputs under `key` (one draw, or a list of draws, one per view):
    SpeechBrain's PaddedBatch of the other keys, plus `batch.<key>`: the `batch_draws` tensors (a list of them,
    one per view), padded in the loader worker. `samples`: the segments' length."""

    def __init__(self, samples, key="draws"):
        self.samples, self.key = samples, key

    def __call__(self, items):
        draws = [item.pop(self.key) for item in items]
        batch = PaddedBatch(items)
        if isinstance(draws[0], (list, tuple)):
            padded = [batch_draws([d[v] for d in draws], self.samples) for v in range(len(draws[0]))]
        else:
            padded = batch_draws(draws, self.samples)
        setattr(batch, self.key, padded)
        return batch
