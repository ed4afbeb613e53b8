"""openSMILE's waveform harmonics-to-noise ratio (cPitchJitter, ComParE's `logHNR`), in torch.

Pitch periods are matched along the wave: at each position the period length is the correlation
peak among lengths within +-25 % of 16000 / F0; the periods of a frame are averaged, and the HNR is
20 log10 of the RMS of that average over the RMS of each period's deviation from it (dB, although
openSMILE calls it log), -100 for unvoiced frames. Where a frame's periods start depends on where the
previous frame's ended, so this runs item by item, frame by frame, on the CPU, in numpy (small arrays:
a tenth of torch's overhead per operation), with running sums for the correlations' means and energies.
"""

import math

import numpy as np
import torch

from labellers.lld_torch import HOP, LONG_FRAME, SAMPLE_RATE

HNR_FLOOR = -100.0  # cPitchJitter's lgHNRfloor


def wave_hnr(x, num, f0, counts):
    """cPitchJitter's logHNR `[B, T]` of the waves `x [B, S]` (num [B] samples) at the gated F0 `[B, T]` (Hz).

    Sequential along each wave (where a frame's periods start depends on where the last frame's ended, and
    the next period on the correlation peak of this one), so it runs item by item, frame by frame, on the
    CPU (on a GPU every step would wait for its peak); the correlations of all candidate period lengths at
    one position are one array operation.
    """
    out = np.zeros(tuple(f0.shape), np.float32)
    f0_cpu, x_cpu = f0.cpu().numpy(), x.cpu().numpy()
    for b in range(x.shape[0]):
        n = int(counts[b])
        out[b, :n] = _wave_hnr_item(x_cpu[b, :int(num[b])], f0_cpu[b, :n].tolist())
    return torch.from_numpy(out).to(f0.device)


def _wave_hnr_item(wave, f0s):
    """logHNR per frame of one wave `[N]` (float32) at the frames' F0 (a list of floats)."""
    wave = np.asarray(wave, np.float32)
    wave64 = wave.astype(np.float64)
    out = np.full(len(f0s), HNR_FLOOR, np.float32)
    tables = {}
    last_idx = last_mis = 0  # lastIdx = 160 t - lastMis always holds, so openSMILE never resyncs
    for t, f in enumerate(f0s):
        to_read0 = HOP + last_mis
        if f <= 0:  # unvoiced: the next frame starts a frame step on
            last_idx += to_read0
            last_mis = 0
            continue
        period = SAMPLE_RATE / f
        t0 = int(math.floor(period + 0.5))
        t0_min, t0_max = int(math.floor(0.75 * period)), int(math.ceil(1.25 * period))  # searchRangeRel 0.25
        to_read = min(max(to_read0, 2 * t0_max + 2), last_mis + LONG_FRAME)
        seg, seg64 = wave[last_idx:last_idx + to_read], wave64[last_idx:last_idx + to_read]
        if (t0_min, t0_max) not in tables:
            tables[t0_min, t0_max] = _lag_table(t0_min, t0_max)
        sums = _running_sums(seg64)
        start, step, last_period, starts = 0, 0, 0, []
        avg = np.zeros(t0, np.float32)
        while start < len(seg) - 2 * t0_max - 1:
            cc = _correlations(seg64, start, t0_min, *tables[t0_min, t0_max], *sums)
            mid = cc[1:-2]
            with np.errstate(invalid="ignore"):
                peaks = (cc[:-3] < mid) & (mid > cc[2:-1])  # NaN (a flat stretch) is never a peak
            if peaks.any():
                step = t0_min + 1 + int(np.argmax(np.where(peaks, mid, -np.inf)))
                starts.append(start)
                avg += seg[start:start + t0]
            else:  # no period found: skip the expected length without recording it
                step = t0
            start += step
            if start < to_read0 - 1:
                last_period = start
        starts.append(start)
        m = min(t0, len(seg) - start)
        avg[:m] = (avg[:m] + seg[start:start + m]) / np.float32(len(starts))  # past the wave: undivided sums
        out[t] = _log_hnr(seg, avg, starts + [start + step], t0, m)
        last_mis = to_read0 - last_period
        last_idx += last_period
    return out


def _log_hnr(seg, avg, bounds, t0, m):
    """20 log10 of the average period's RMS (its edges left out) over the RMS of the periods' deviations."""
    inner = avg[3:max(min(t0 - 2, m), 3)].astype(np.float64)
    harmonic = np.float32(np.sqrt(np.float32((inner * inner).sum() / max(t0 - 4, 1))))
    parts = [seg[b + 2:min(e, b + t0) - 2] - avg[2:min(e - b, t0) - 2]
             for b, e in zip(bounds[:-1], bounds[1:]) if min(e, b + t0) - 2 > b + 2]
    noise = np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
    noise = np.float32(np.sqrt(np.float32((noise * noise).sum() / max(len(noise), 1))))
    if noise <= 0:
        return 0.0
    ratio = harmonic / noise
    return max(20.0 * math.log10(float(ratio)), HNR_FLOOR) if ratio > 0 else HNR_FLOOR


def _lag_table(low, high):
    """The candidate period lengths `[lags]` and the mask `[lags, high]` of each one's samples."""
    lags = np.arange(low, high + 1)
    return (np.arange(high)[None] < lags[:, None]).astype(np.float64), lags


def _running_sums(wave):
    """Prefix sums of the samples and of their squares (index k: the first k samples)."""
    return np.concatenate([[0.0], np.cumsum(wave)]), np.concatenate([[0.0], np.cumsum(wave * wave)])


def _correlations(wave, start, low, mask, lags, total, total_sq):
    """Pearson correlation of the stretch of each candidate length L at `start` with the next L samples
    (cPitchJitter::crossCorr; 0 / 0 is NaN), `[lags]`: sums and energies from the running sums, the
    products from rows of a strided view of the wave (row L starts at start + L)."""
    count, longest = mask.shape
    after = np.lib.stride_tricks.as_strided(wave[start + low:], (count, longest), (wave.strides[0],) * 2)
    cross = np.einsum("ij,ij->i", mask * wave[start:start + longest], after)
    sum_this, sum_next = total[start + lags] - total[start], total[start + 2 * lags] - total[start + lags]
    sq_this, sq_next = total_sq[start + lags] - total_sq[start], total_sq[start + 2 * lags] - total_sq[start + lags]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (cross - sum_this * sum_next / lags) / np.sqrt((sq_this - sum_this ** 2 / lags)
                                                              * (sq_next - sum_next ** 2 / lags))
