"""OpenSMILE's pitch descriptors (F0, voicing, harmonics-to-noise ratio) recomputed in batched torch.

The same numbers as openSMILE 3.0 (the `opensmile` Python package at LLD level) for 16 kHz audio,
on the table layout that `labellers.opensmile_lld.OpenSmileLLD` stores for eGeMAPSv02 and
ComParE_2016 mixed: row t is the 60 ms frame that starts at t * 10 ms, `(N - 960) // 160 + 1` rows
for N samples (openSMILE's own last row, a copy of the last frame, is dropped).

What decides agreement (read from openSMILE's configs and C++ sources, checked frame by frame):

- input and frames as in `labellers.lld_torch`; 60 ms Gaussian window (sigma 0.4), 1024-point FFT;
- octave spectrum (cSpecScale): peaks of the magnitude spectrum kept +-2 bins with the valleys
  between peaks zeroed (a spectrum with a single peak keeps only bins 0-2: openSMILE reads an unset
  second peak position), [1 2 1] / 4 smoothing, natural cubic spline from the linear bins onto 513
  log2-spaced points from 25 Hz, auditory weighting 0.5 + atan(...) / pi;
- sub-harmonic summation of 15 harmonics weighted 0.85^(h-1), strict local maxima as candidates in
  descending score (the first index on ties), 6 kept, parabolic vertex, voicing 1 - mean / score;
  candidates outside 52-620 Hz (ComParE) or 55-1000 Hz (eGeMAPS) dropped, the best score moved to slot 0;
- Viterbi smoothing (`labellers.pitch_viterbi`) over 6 candidates + unvoiced with openSMILE's quirks: the octave-jump weight is
  the voiced-voiced one (10, not 5); unvoiced -> unvoiced costs 1 (the wTuu test never holds); the
  'lastChange' log-ratio is one global value, updated by every (current, previous) pair the trellis
  evaluates, so the cost of a pair depends on the pairs before it in loop order;
- openSMILE decides a frame once the paths of all 7 states agree on it, and forces a decision after
  30 (ComParE) / 40 (eGeMAPS) undecided frames; a full-sequence Viterbi gives the same states unless a
  decision is forced, which never happened on speech, noise, music or tones (it is not emulated);
- frames whose windowed RMS is <= 0.001 are unvoiced with voicing 0;
- `F0final_sma` in Hz, `voicingFinalUnclipped_sma` the chosen candidate's voicing (the slot-0
  candidate's for unvoiced frames); `F0semitoneFrom27.5Hz_sma3nz` = 12 log2(F0 / 27.5) (1 below 29.136 Hz);
- `HNRdBACF_sma3nz`: autocorrelation from the 60 ms power spectrum, the peak nearest to lag
  floor(16000 / F0) (the left one on ties), 10 log10(acf[k] / (acf[0] - acf[k])) within [-90, 110] dB,
  0 for unvoiced frames;
- `logHNR_sma` (ComParE's cPitchJitter, `labellers.pitch_jitter`): waveform matching of pitch periods, sequential along the
  wave: 20 log10 of the RMS of the average period over the RMS of each period's deviation from it,
  -100 for unvoiced frames (-100 is a value for the smoothing, not a gap);
- `_sma` / `_sma3nz`: mean of the non-zero values among a frame and its two neighbours (0 stays 0),
  the edge frame repeated at either end. End-of-input artefact of openSMILE's buffers for the
  eGeMAPS columns and `logHNR_sma` (not for ComParE's F0 and voicing): with c the first frame that
  only the final flush of the Viterbi decided, row c - 1 is smoothed as if frame c - 1 were the last
  and row c is a copy of frame c - 1.

Example
-------
>>> pitch = PitchLLD(["F0final_sma", "HNRdBACF_sma3nz"])
>>> table, rows = pitch(torch.zeros(2, 16000), torch.tensor([1.0, 0.5]))
>>> table.shape, rows.tolist()
(torch.Size([2, 95, 2]), [95, 45])
"""

import math
from functools import lru_cache

import torch
from speechbrain.dataio.dataio import length_to_mask

from labellers.lld_torch import HOP, LONG_FRAME, SAMPLE_RATE, exact_matmul, smile_batch
from labellers.pitch_jitter import wave_hnr
from labellers.pitch_viterbi import N_CANDIDATES, UNVOICED, VOICING_CUTOFF, viterbi

PITCH_COLUMNS = ["F0final_sma", "voicingFinalUnclipped_sma", "logHNR_sma",  # ComParE_2016
                 "F0semitoneFrom27.5Hz_sma3nz", "HNRdBACF_sma3nz"]          # eGeMAPSv02
COMPARE_COLUMNS, EGEMAPS_COLUMNS = PITCH_COLUMNS[:3], PITCH_COLUMNS[3:]
PITCH_RANGES = {"ComParE_2016": (52.0, 620.0), "eGeMAPSv02": (55.0, 1000.0)}

N_FFT = 1024
N_BINS = N_FFT // 2 + 1
N_HARMONICS = 15
HARMONIC_DECAY = 0.85
ENERGY_GATE = 0.001
CHUNK = 512  # frames per step of the spectral stages on the CPU


def _f32(value):
    return float(torch.tensor(value, dtype=torch.float32))


@lru_cache(maxsize=1)
def octave_scale():
    """cSpecScale's fixed parts (CPU, float64): the 513 x 513 map of [1 2 1] / 4 smoothing then spline
    interpolation onto the octave grid, the auditory weights, and the grid as cPitchShs reads it."""
    bin_hz = 1.0 / _f32(N_FFT / SAMPLE_RATE)  # the level's frame length 0.064 s is stored as float32
    max_hz = bin_hz * (N_BINS - 1)
    log2 = lambda v: torch.log(torch.as_tensor(v, dtype=torch.float64)) / math.log(2.0)  # noqa: E731
    low, high = math.log(25.0) / math.log(2.0), math.log(max_hz) / math.log(2.0)
    source = log2(torch.arange(N_BINS, dtype=torch.float64) * bin_hz)
    source[0] = 2.0 * source[1] - source[2]  # openSMILE's position for the DC bin
    target = low + torch.arange(N_BINS, dtype=torch.float64) * ((high - low) / (N_BINS - 1))
    smooth = torch.zeros(N_BINS, N_BINS, dtype=torch.float64)
    i = torch.arange(N_BINS - 1)
    smooth[i, i] = 0.5
    smooth[i[1:], i[1:] - 1] = 0.25
    smooth[i, i + 1] = 0.25
    smooth[-1, -1] = 1.0  # the last bin is left as it is
    per_octave = N_BINS / ((math.log(max_hz / 25.0)) / math.log(2.0))
    centre = per_octave * math.log2(65.0 / 50.0) - 1.0
    weights = 0.5 + torch.atan(3.0 * (torch.arange(N_BINS, dtype=torch.float64) + 1 - centre) / per_octave) / math.pi
    low32, high32 = torch.tensor(low, dtype=torch.float32), torch.tensor(high, dtype=torch.float32)
    step32 = float((high32 - low32) / (N_BINS - 1))
    return _spline(source, target) @ smooth, weights, _f32(per_octave), float(low32), step32


def _spline(x, at):
    """Natural cubic spline through (x, y) evaluated at `at`, as a matrix applied to y (Numerical Recipes'
    recursion, run on the identity so that every column is one unit sample)."""
    n = len(x)
    eye = torch.eye(n, dtype=torch.float64)
    y2, u = torch.zeros(n, n, dtype=torch.float64), torch.zeros(n, n, dtype=torch.float64)
    for i in range(1, n - 1):
        sig = (x[i] - x[i - 1]) / (x[i + 1] - x[i - 1])
        p = sig * y2[i - 1] + 2.0
        y2[i] = (sig - 1.0) / p
        slope = (eye[i + 1] - eye[i]) / ((x[i + 1] - x[i]) * (x[i + 1] - x[i - 1])) \
            - (eye[i] - eye[i - 1]) / ((x[i] - x[i - 1]) * (x[i + 1] - x[i - 1]))
        u[i] = (6.0 * slope - sig * u[i - 1]) / p
    for j in range(n - 2, -1, -1):
        y2[j] = y2[j] * y2[j + 1] + u[j]
    upper = torch.searchsorted(x, at).clamp(min=1)  # the first source point >= the target point
    lower = upper - 1
    h = x[upper] - x[lower]
    a = (x[upper] - at) / h
    b = 1.0 - a
    col = lambda v: v[:, None]  # noqa: E731
    return col(a) * eye[lower] + col(b) * eye[upper] + col((a ** 3 - a) * h * h / 6.0) * y2[lower] \
        + col((b ** 3 - b) * h * h / 6.0) * y2[upper]


def enhance_peaks(mag):
    """openSMILE's specEnhance on `mag [..., bins]`: zero the valleys between neighbouring peaks, keeping
    2 bins either side of each; before the first and after the last peak nothing changes. With a single
    peak openSMILE pairs it with position 0 and zeroes every bin from 3 on."""
    n = mag.shape[-1]
    peak = torch.zeros_like(mag, dtype=torch.bool)
    peak[..., 0] = mag[..., 0] > mag[..., 1]
    peak[..., 1:-1] = (mag[..., 1:-1] > mag[..., :-2]) & (mag[..., 1:-1] >= mag[..., 2:])
    peak[..., -1] = mag[..., -1] > mag[..., -2]
    idx = torch.arange(n, device=mag.device)
    before = torch.where(peak, idx, -n).cummax(-1).values
    after = torch.where(peak, idx, 2 * n).flip(-1).cummin(-1).values.flip(-1)
    valley = (before >= 0) & (after < n) & (idx - before >= 3) & (after - idx >= 3)
    count = peak.sum(-1, keepdim=True)
    valley = torch.where(count == 1, idx >= 3, valley) & (count > 0)
    return mag.masked_fill(valley, 0.0)


def _vertex(x1, y1, x2, y2, x3, y3):
    """smileMath_quadFrom3pts: the vertex of the parabola through three points (the middle point if flat)."""
    den = x1 * x1 * x2 + x2 * x2 * x3 + x3 * x3 * x1 - x3 * x3 * x2 - x2 * x2 * x1 - x1 * x1 * x3
    a = (y1 * x2 + y2 * x3 + y3 * x1 - y3 * x2 - y2 * x1 - y1 * x3) / den
    b = (x1 * x1 * y2 + x2 * x2 * y3 + x3 * x3 * y1 - x3 * x3 * y2 - x2 * x2 * y1 - x1 * x1 * y3) / den
    c = (x1 * x1 * x2 * y3 + x2 * x2 * x3 * y1 + x3 * x3 * x1 * y2 - x3 * x3 * x2 * y1
         - x2 * x2 * x1 * y3 - x1 * x1 * x3 * y2) / den
    x = -b / (2.0 * a)
    ok = (den != 0) & (a != 0)
    return torch.where(ok, x, x2), torch.where(ok, c - a * x * x, y2)


def nz_smooth(track, counts, flushed=None):
    """openSMILE's 3-frame smoothing that skips zeros, of `track [B, T]` with `counts [B]` frames per item,
    the edge frame repeated at both ends. `flushed [B]`: the end-of-input artefact (module docstring)."""
    steps = torch.arange(track.shape[1], device=track.device)[None]
    last = (counts[:, None] - 1).clamp(min=0)
    right_end = last
    if flushed is not None:
        c = flushed[:, None]
        early = (c >= 1) & (c < counts[:, None])
        right_end = torch.where(early & (steps < c), c - 1, last)
    v = track.double()
    left = v.gather(1, (steps - 1).clamp(min=0).expand_as(v))
    right = v.gather(1, torch.minimum(steps + 1, right_end))
    total = left * (left != 0) + v + right * (right != 0)
    smoothed = torch.where(v != 0, total / (1 + (left != 0).double() + (right != 0).double()), 0.0)
    if flushed is not None:  # row c is the early copy of frame c - 1
        copy = v.gather(1, (c - 1).clamp(min=0))
        smoothed = torch.where(early & (steps == c), copy, smoothed)
    return smoothed.float()


class PitchLLD(torch.nn.Module):
    """`(wavs [B, S] at 16 kHz, lengths [B] relative) -> (table [B, rows, columns], rows [B])`.

    Rows past an item's own count are 0; samples past an item's length do not change it. Only the chains
    the chosen columns need are run (ComParE's and eGeMAPS' differ in pitch range).
    """

    def __init__(self, columns=None):
        super().__init__()
        self.columns = list(PITCH_COLUMNS if columns is None else columns)
        unknown = [c for c in self.columns if c not in PITCH_COLUMNS]
        if unknown:
            raise ValueError(f"PitchLLD cannot compute {unknown}; it computes {PITCH_COLUMNS}")
        spline, weights, self.per_octave, self.grid_low, self.grid_step = octave_scale()
        self.register_buffer("spline_t", spline.T.float().contiguous(), persistent=False)  # [513, 513]
        self.register_buffer("auditory", weights, persistent=False)
        i = torch.arange(LONG_FRAME, dtype=torch.float64)
        gauss = torch.exp(-0.5 * ((i - (LONG_FRAME - 1) / 2.0) / (0.4 * (LONG_FRAME - 1) / 2.0)) ** 2)
        self.register_buffer("window", gauss.float(), persistent=False)
        # harmonic h sits floor(points per octave * log2 h) points above the fundamental
        self.shifts = [int(math.floor(self.per_octave * (math.log(h) / math.log(2.0))))
                       for h in range(2, N_HARMONICS + 1)]
        gains, g = [], torch.tensor(HARMONIC_DECAY, dtype=torch.float32)
        for _ in self.shifts:
            gains.append(float(g))
            g = g * torch.tensor(HARMONIC_DECAY, dtype=torch.float32)  # accumulated in float32
        self.gains = gains
        self.sets = [s for s, cols in (("ComParE_2016", COMPARE_COLUMNS), ("eGeMAPSv02", EGEMAPS_COLUMNS))
                     if set(cols) & set(self.columns)]

    def forward(self, wavs, lengths=None):
        x, num, rows, total = smile_batch(wavs, lengths)
        if total == 0:
            return x.new_zeros(x.shape[0], 0, len(self.columns)), rows
        frames = x[:, :(total - 1) * HOP + LONG_FRAME].unfold(1, LONG_FRAME, HOP) * self.window  # [B, T, 960]
        frames = frames.reshape(-1, LONG_FRAME)
        f0, voicing, score, found, loud = (v.view(len(rows), total, *v.shape[1:])
                                           for v in _in_chunks(self._frame_candidates, frames))
        # both pitch ranges run as one batch of 2B items through the Viterbi
        ranged = [self._in_range(f0, voicing, score, found, *PITCH_RANGES[s]) for s in self.sets]
        f0, voicing, clipped = (torch.cat(parts) for parts in zip(*ranged))
        states, flushed = viterbi(f0, voicing, clipped, rows.repeat(len(self.sets)))
        chosen = states.clamp(max=N_CANDIDATES - 1)[..., None]
        gate = loud.repeat(len(self.sets), 1)
        final_f0 = torch.where((states < UNVOICED) & gate, f0.gather(-1, chosen)[..., 0], 0.0)
        final_voicing = torch.where(states < UNVOICED, voicing.gather(-1, chosen)[..., 0], voicing[..., 0]) * gate
        tracks = {}
        per_set = (v.chunk(len(self.sets)) for v in (final_f0, final_voicing, flushed))
        for name, f0_k, voicing_k, flushed_k in zip(self.sets, *per_set):
            if name == "ComParE_2016":
                tracks["F0final_sma"] = nz_smooth(f0_k, rows)
                tracks["voicingFinalUnclipped_sma"] = nz_smooth(voicing_k, rows)
                if "logHNR_sma" in self.columns:
                    tracks["logHNR_sma"] = nz_smooth(wave_hnr(x, num, f0_k, rows), rows, flushed_k)
            else:
                tracks["F0semitoneFrom27.5Hz_sma3nz"] = nz_smooth(semitones(f0_k), rows, flushed_k)
                if "HNRdBACF_sma3nz" in self.columns:
                    hnr = acf_hnr(frames, f0_k.reshape(-1)).view_as(f0_k)
                    tracks["HNRdBACF_sma3nz"] = nz_smooth(hnr, rows, flushed_k)
        table = torch.stack([tracks[c] for c in self.columns], -1)
        valid = length_to_mask(rows, total, dtype=torch.bool)
        return table * valid[..., None], rows

    def _frame_candidates(self, frames):
        """`frames [N, 960]` (windowed) -> cPitchShs' up to 6 pitch candidates `[N, 6]` (f0 Hz, voicing, score,
        found) and whether the frame passes the energy gate `[N]`."""
        loud = torch.sqrt(frames.double().square().sum(-1) / LONG_FRAME).float() > ENERGY_GATE
        mag = torch.fft.rfft(frames, N_FFT).abs()  # [N, 513], float32 as openSMILE's
        octave = exact_matmul(enhance_peaks(mag), self.spline_t)  # [1 2 1] smoothing and spline in one product
        spec = torch.where(octave > 0, (octave.double() * self.auditory).float(), 0.0)
        summed = spec.clone()
        for shift, gain in zip(self.shifts, self.gains):  # float32, harmonic by harmonic as openSMILE adds
            summed[..., :-shift] += spec[..., shift:] * gain
        summed = (summed / N_HARMONICS).clamp(min=0.0)
        mean = summed.double().mean(-1, keepdim=True)
        peak = torch.zeros_like(summed, dtype=torch.bool)
        peak[..., 1:-1] = (summed[..., :-2] < summed[..., 1:-1]) & (summed[..., 1:-1] > summed[..., 2:])
        # descending score, the lower index first on ties: the float32 bits of a score >= 0 sort as the score
        idx = torch.arange(N_BINS, device=mag.device)
        key = torch.where(peak, summed.view(torch.int32).long() * 1024 + (1023 - idx), -1)
        best = key.topk(N_CANDIDATES, -1).indices
        found = key.gather(-1, best) >= 0
        best = best.clamp(1, N_BINS - 2)
        pos = lambda k: ((best + k).float() * self.grid_step + self.grid_low).double()  # noqa: E731  (float32 grid)
        val = lambda k: summed.gather(-1, best + k).double()  # noqa: E731
        top, value = _vertex(pos(-1), val(-1), pos(0), val(0), pos(1), val(1))
        f0 = torch.exp(top * math.log(2.0)).float()
        voicing = torch.where((value > 0) & (value > mean), 1.0 - mean / value, 0.0).float()
        return f0, voicing, value.float(), found, loud

    @staticmethod
    def _in_range(f0, voicing, score, found, low, high):
        """cPitchBase: candidates outside [low, high] Hz removed (order kept, empty slots 0), then the first
        best-scoring one swapped into slot 0; the voicing-clipped slot-0 voicing."""
        keep = found & (f0 >= low) & (f0 <= high)
        slot = torch.arange(N_CANDIDATES, device=f0.device)
        order = torch.where(keep, slot, slot + N_CANDIDATES).argsort(-1)
        kept = keep.gather(-1, order)
        f0, voicing, score = (torch.where(kept, v.gather(-1, order), 0.0) for v in (f0, voicing, score))
        top = score.argmax(-1, keepdim=True)
        swap = torch.where(slot == 0, top, torch.where(slot == top, 0, slot))
        f0, voicing = f0.gather(-1, swap), voicing.gather(-1, swap)
        clipped = torch.where(voicing[..., 0] > VOICING_CUTOFF, voicing[..., 0], 0.0)
        return f0, voicing, clipped


def semitones(f0):
    """F0finalLog: 12 log2(f0 / 27.5) in float32 above 29.136 Hz, 1 for lower positive f0, 0 unvoiced."""
    tone = 12.0 * torch.log(f0 / 27.5) / _f32(math.log(2.0))
    return torch.where(f0 > 29.136, tone, (f0 > 0).float())


def acf_hnr(frames, f0):
    """cHarmonics' HNR in dB of the windowed `frames [N, 960]` at `f0 [N]` (Hz; 0 unvoiced) from the
    autocorrelation of the power spectrum, computed for the voiced frames only."""
    voiced = torch.nonzero(f0 > 0)[:, 0]
    out = torch.zeros_like(f0)
    if len(voiced):
        out[voiced] = _in_chunks(lambda idx: _acf_hnr(frames[idx], f0[idx]), voiced)
    return out


def _acf_hnr(frames, f0):
    power = torch.fft.rfft(frames.double(), N_FFT).abs().float().double().square()  # openSMILE keeps |X| in float32
    acf = (torch.fft.irfft(power, N_FFT) * (N_FFT / 2)).abs()[..., :N_BINS] / N_BINS  # Ooura's inverse scaling
    lag = torch.floor(2.0 * (N_BINS - 1) / 0.064 / torch.where(f0 > 0, f0, 1.0).double()).long()
    lag = torch.where(f0 > 0, lag, 0)
    k = _nearest_peak(acf, lag)
    peak, zero = acf.gather(-1, k[..., None].clamp(max=N_BINS - 1))[..., 0], acf[..., 0]
    ratio = torch.where(zero == peak, 1e11, peak / (zero - peak))
    db = torch.where(ratio > 1e11, 110.0, torch.where(ratio < 1e-9, -90.0, 10.0 * torch.log10(ratio.clamp(min=1e-9))))
    return torch.where((f0 > 0) & (k > 0), db, 0.0).float()


def _in_chunks(fn, items):
    """`fn(items)` run over chunks of `items` on the CPU, so that its [chunk, 513] intermediates stay
    in the cache (a whole batch at once is about 1.7 times slower); at once on a GPU."""
    if items.is_cuda or len(items) <= CHUNK:
        return fn(items)
    outs = [fn(chunk) for chunk in items.split(CHUNK)]
    return tuple(torch.cat(o) for o in zip(*outs)) if isinstance(outs[0], tuple) else torch.cat(outs)


def _nearest_peak(acf, lag):
    """The local maximum of each `acf [N, L]` nearest to `lag [N]`: the lag itself if a peak, then lag - o
    before lag + o for o = 1, 2, ... over lags 1..L-2; with none, openSMILE's end-point rules."""
    n = acf.shape[-1]
    peak = torch.zeros_like(acf, dtype=torch.bool)
    peak[..., 0] = acf[..., 0] > acf[..., 1]
    peak[..., 1:-1] = (acf[..., 1:-1] > acf[..., :-2]) & (acf[..., 1:-1] > acf[..., 2:])
    peak[..., -1] = acf[..., -1] > acf[..., -2]
    idx = torch.arange(n, device=acf.device)
    at = lag[..., None]
    inner = peak & (idx > 0) & (idx < n - 1)
    # distance rank: the lag itself 0, then lag - o (2 o - 1) before lag + o (2 o); 4 n: not a candidate
    rank = torch.where(inner, 2 * (idx - at).abs() - (idx < at).long(), 4 * n)
    rank = torch.where(idx == at, torch.where(peak, 0, 4 * n), rank)
    near, where = rank.min(-1)
    # no peak anywhere between: towards the higher end point
    here = acf.gather(-1, at.clamp(max=n - 1))[..., 0]
    first, end = acf[..., 0], acf[..., -1]
    fallback = torch.where((first > here) & (end <= here), 0, torch.where(
        (first <= here) & (end > here), n - 1, torch.where((first > here) & (end > here),
                                                           torch.where(lag < n // 2, 0, n - 1), lag)))
    return torch.where(near < 4 * n, where, fallback)
