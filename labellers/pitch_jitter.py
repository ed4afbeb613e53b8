"""openSMILE's waveform harmonics-to-noise ratio (cPitchJitter, ComParE's `logHNR`), in torch.

Pitch periods are matched along the wave: at each position the period length is the correlation
peak among lengths within +-25 % of 16000 / F0; the periods of a frame are averaged, and the HNR is
20 log10 of the RMS of that average over the RMS of each period's deviation from it (dB, although
openSMILE calls it log), -100 for unvoiced frames. Where a frame's periods start depends on where the
previous frame's ended, so this runs item by item, frame by frame, on the CPU.
"""

import math

import torch

from labellers.lld_torch import HOP, LONG_FRAME, SAMPLE_RATE

HNR_FLOOR = -100.0  # cPitchJitter's lgHNRfloor


def wave_hnr(x, num, f0, counts):
    """cPitchJitter's logHNR `[B, T]` of the waves `x [B, S]` (num [B] samples) at the gated F0 `[B, T]` (Hz).

    Sequential along each wave (where a frame's periods start depends on where the last frame's ended, and
    the next period on the correlation peak of this one), so it runs item by item, frame by frame, on the
    CPU (on a GPU every step would wait for its peak); the correlations of all candidate period lengths at
    one position are one tensor operation.
    """
    out = torch.zeros(f0.shape, dtype=torch.float32)
    f0_cpu, x_cpu = f0.cpu(), x.cpu()
    for b in range(x.shape[0]):
        out[b, :int(counts[b])] = _wave_hnr_item(x_cpu[b, :int(num[b])], f0_cpu[b, :int(counts[b])].tolist())
    return out.to(f0.device)


def _wave_hnr_item(wave, f0s):
    """logHNR per frame of one wave `[N]` (float32, CPU) at the frames' F0 (a list of floats)."""
    sample_period = 1.0 / SAMPLE_RATE
    wave64 = wave.double()
    out = [HNR_FLOOR] * len(f0s)
    tables = {}
    last_idx = last_mis = 0  # lastIdx = 160 t - lastMis always holds, so openSMILE never resyncs
    for t, f in enumerate(f0s):
        to_read0 = HOP + last_mis
        if f <= 0:  # unvoiced: the next frame starts a frame step on
            last_idx += to_read0
            last_mis = 0
            continue
        period = (1.0 / f) / sample_period
        t0 = int(math.floor(period + 0.5))
        t0_min, t0_max = int(math.floor(0.75 * period)), int(math.ceil(1.25 * period))  # searchRangeRel 0.25
        to_read = min(max(to_read0, 2 * t0_max + 2), last_mis + LONG_FRAME)
        seg, seg64 = wave[last_idx:last_idx + to_read], wave64[last_idx:last_idx + to_read]
        if (t0_min, t0_max) not in tables:
            tables[t0_min, t0_max] = _lag_table(t0_min, t0_max)
        mask, lags = tables[t0_min, t0_max]
        start, step, last_period, starts = 0, 0, 0, []
        avg = torch.zeros(t0, dtype=torch.float32)
        while start < len(seg) - 2 * t0_max - 1:
            cc = _correlations(seg64, start, t0_min, mask, lags)
            mid = cc[1:-2]
            peaks = (cc[:-3] < mid) & (mid > cc[2:-1])  # NaN (a flat stretch) is never a peak
            if peaks.any():
                step = t0_min + 1 + int(torch.where(peaks, mid, -math.inf).argmax())
                starts.append(start)
                avg += seg[start:start + t0]
            else:  # no period found: skip the expected length without recording it
                step = t0
            start += step
            if start < to_read0 - 1:
                last_period = start
        starts.append(start)
        m = min(t0, len(seg) - start)
        avg[:m] = (avg[:m] + seg[start:start + m]) / len(starts)  # samples past the wave stay undivided sums
        inner = avg[3:max(min(t0 - 2, m), 3)].double()
        harmonic = torch.sqrt((inner.square().sum() / max(t0 - 4, 1)).float())
        bounds = starts + [start + step]
        noise = torch.cat([seg[b + 2:min(e, b + t0) - 2] - avg[2:min(e - b, t0) - 2]
                           for b, e in zip(bounds[:-1], bounds[1:]) if min(e, b + t0) - 2 > b + 2] or [avg[:0]])
        noise = torch.sqrt((noise.double().square().sum() / max(len(noise), 1)).float())
        if noise > 0:
            ratio = harmonic / noise
            out[t] = max(20.0 * math.log10(float(ratio)), HNR_FLOOR) if ratio > 0 else HNR_FLOOR
        else:
            out[t] = 0.0
        last_mis = to_read0 - last_period
        last_idx += last_period
    return torch.tensor(out, dtype=torch.float32)


def _lag_table(low, high):
    """The candidate period lengths `[lags, 1]` and the mask `[lags, high]` of each one's samples."""
    lags = torch.arange(low, high + 1, dtype=torch.float64)[:, None]
    return (torch.arange(high)[None] < lags).double(), lags


def _correlations(wave, start, low, mask, lags):
    """Pearson correlation of the stretch of each candidate length L at `start` with the next L samples
    (cPitchJitter::crossCorr; 0 / 0 is NaN), `[lags]`: rows of strided views of the wave, masked."""
    count, longest = mask.shape
    this = wave[start:start + longest].expand(count, -1)
    after = wave[start + low:].as_strided((count, longest), (1, 1))  # row L starts at start + L
    pairs = torch.stack([this, after])
    centred = (pairs - (pairs * mask).sum(-1, keepdim=True) / lags) * mask
    return (centred[0] * centred[1]).sum(-1) / centred.square().sum(-1).sqrt().prod(0)
