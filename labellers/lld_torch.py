"""OpenSMILE's energy and spectral low-level descriptors, recomputed in batched torch.

The same numbers as openSMILE 3.0 (the `opensmile` Python package, eGeMAPSv02 and
ComParE_2016 at LLD level) for 16 kHz audio, on the table layout that
`labellers.opensmile_lld.OpenSmileLLD` stores for the two sets mixed: row t is the
frame that starts at t * 10 ms, `(N - 960) // 160 + 1` rows for N samples.

What decides agreement (read from openSMILE's configs and sources):

- input: the Python wrapper turns float audio into int16 by `x * 32768` with
  truncation (and wrap-around above full scale); openSMILE reads int16 / 32767;
- frames: 20 ms (320 samples) or 60 ms (960), step 10 ms, only full frames;
- `pcm_RMSenergy_sma`: RMS of the unwindowed 20 ms frame;
- `pcm_zcr_sma`: zero crossings of the unwindowed 60 ms frame / 960, a crossing
  through an exact zero sample counted once;
- spectra: 20 ms Hamming frame (denominator N - 1), 512-point FFT, power;
- `alphaRatio_sma3`: 10 log10 of the power in 1-5 kHz over 0-1 kHz (DC and the
  5 kHz bin included); `hammarbergIndex_sma3`: 10 log10 of the peak power below
  2 kHz over the peak in 2-5 kHz; 0 where the denominator is 0;
- auditory spectrum: openSMILE's 26-band mel filterbank (20-8000 Hz, mel =
  1127 ln(1 + f / 700), triangles of height 1 over FFT bins 2..255 only), floored at
  9.3e-10, Hermansky's equal-loudness weight at each band centre, power 0.33;
  `audspec_lengthL1norm_sma` (= eGeMAPS `Loudness_sma3`) is the **mean** over bands;
- `audSpec_Rfilt_sma[i]`: RASTA filtering of the log mel bands (FIR numerator of
  29 Hz upper cut-off, pole 1 - sin(2 pi 0.01)), output 0 for frames 0-4, the
  feedback starting at frame 6, then equal loudness and power 0.33;
  `audspecRasta_lengthL1norm_sma` is their mean;
- `_sma` / `_sma3`: 3-frame moving average whose missing neighbour at either end is
  the edge frame (a track of one frame is averaged with a zero).

Example
-------
>>> lld = TorchLLD(["pcm_RMSenergy_sma", "Loudness_sma3"])
>>> table, rows = lld(torch.zeros(2, 16000), torch.tensor([1.0, 0.5]))
>>> table.shape, rows.tolist()
(torch.Size([2, 95, 2]), [95, 45])
"""

import math

import torch
import torchaudio
from speechbrain.dataio.dataio import length_to_mask

SAMPLE_RATE = 16000
HOP = 160             # 10 ms
SHORT_FRAME = 320     # 20 ms
LONG_FRAME = 960      # 60 ms
N_FFT = 512
N_BANDS = 26
MEL_FLOOR = 9.3e-10
SPEC_FLOOR = 1e-14
COMPRESSION = 0.33

RFILT = [f"audSpec_Rfilt_sma[{i}]" for i in range(N_BANDS)]
COLUMNS = ["pcm_RMSenergy_sma", "pcm_zcr_sma", "audspec_lengthL1norm_sma", "Loudness_sma3",
           "audspecRasta_lengthL1norm_sma", "alphaRatio_sma3", "hammarbergIndex_sma3"] + RFILT


def smile_input(wavs):
    """Float audio as openSMILE sees it through the Python wrapper: int16(trunc(x * 32768)) / 32767."""
    ints = torch.trunc(wavs.float() * 32768.0)
    ints = torch.remainder(ints + 32768.0, 65536.0) - 32768.0  # numpy's int16 cast wraps, it does not clip
    return ints / 32767.0


def frame_counts(num_samples, frame):
    """Full frames of `frame` samples at a 10 ms step (openSMILE emits no partial frame)."""
    return torch.div(num_samples - frame, HOP, rounding_mode="floor").add(1).clamp(min=0)


def smile_batch(wavs, lengths=None):
    """A padded batch as openSMILE sees each item: `(x [B, S]` (zero past an item's samples), `samples [B]`,
    `rows [B]` of the stored table, `the largest row count)`."""
    num = torch.full((wavs.shape[0],), wavs.shape[1], device=wavs.device) if lengths is None else \
        torch.round(lengths.to(wavs.device) * wavs.shape[1]).long()
    x = smile_input(wavs) * length_to_mask(num, wavs.shape[1], dtype=torch.bool)
    rows = frame_counts(num, LONG_FRAME)
    return x, num, rows, int(rows.max()) if len(rows) else 0


def exact_matmul(a, b):
    """`a @ b` in full float32 precision: TF32, when a user enabled it for CUDA matmuls, would round the
    operands to 10 mantissa bits and move the descriptors away from openSMILE's."""
    if not (a.is_cuda and torch.backends.cuda.matmul.allow_tf32):
        return a @ b
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        return a @ b
    finally:
        torch.backends.cuda.matmul.allow_tf32 = True


def _window_sums(values, frame, count):
    """Sum of `values [B, S]` over each frame [t * HOP, t * HOP + frame), t < count: `[B, count]`."""
    csum = torch.nn.functional.pad(values.double().cumsum(-1), (1, 0))
    starts = torch.arange(count, device=values.device) * HOP
    return csum[:, starts + frame] - csum[:, starts]


def smooth3(track, counts):
    """openSMILE's 3-frame moving average of `track [B, T, D]` with `counts [B]` valid frames per item.

    The neighbour missing at the start is frame 0 and at the end the last valid frame (openSMILE repeats
    edge frames); an item of a single frame is averaged with a zero instead (openSMILE reads an empty slot).
    """
    steps = torch.arange(track.shape[1], device=track.device)
    last = (counts - 1).clamp(min=0)[:, None]
    after = torch.minimum(steps[None] + 1, last)
    before = (steps - 1).clamp(min=0)[None].expand_as(after)
    pick = lambda idx: track.gather(1, idx[..., None].expand(-1, -1, track.shape[2]))  # noqa: E731
    right = torch.where((counts == 1)[:, None, None], torch.zeros_like(track), pick(after))
    return (pick(before) + track + right) / 3.0


def mel_weights():
    """openSMILE's mel filterbank `[257, 26]` for a 512-point FFT at 16 kHz, and its band centres in Hz."""
    mel = lambda f: 1127.0 * math.log(1.0 + f / 700.0)  # noqa: E731
    bin_hz = SAMPLE_RATE / N_FFT
    low, high = mel(20.0), mel(8000.0)
    # band edges on the mel axis, stored by openSMILE in float32
    edges = (low + torch.arange(N_BANDS + 2, dtype=torch.float64) * (high - low) / (N_BANDS + 1)).float().double()
    weights = torch.zeros(N_FFT // 2 + 1, N_BANDS, dtype=torch.float64)
    first, last = round(20.0 / bin_hz) + 1, round(8000.0 / bin_hz) - 1  # bins 2..255: bin 1 is skipped
    for n in range(first, last + 1):
        m_n = mel(n * bin_hz)
        m = int(torch.searchsorted(edges, torch.tensor(m_n, dtype=torch.float64)))
        falling = (edges[m] - m_n) / (edges[m] - edges[m - 1])
        if m - 2 >= 0:
            weights[n, m - 2] += falling
        if m - 1 < N_BANDS:
            weights[n, m - 1] += 1.0 - falling
    centres = 700.0 * (torch.exp(edges[1:N_BANDS + 1] / 1127.0) - 1.0)
    return weights, centres


def equal_loudness(freq_hz):
    """Hermansky's (1990) equal-loudness weight, as openSMILE's non-HTK PLP computes it."""
    w2 = (2.0 * math.pi * freq_hz) ** 2
    return 1e32 * (w2 + 56.8e6) * w2 * w2 / ((w2 + 6.3e6) ** 2 * (w2 + 0.38e9) * (w2 ** 3.5 + 1.7e31))


def rasta(log_mel):
    """openSMILE's `newRASTA` along the frames of `log_mel [B, T, bands]` (state 0 at frame 0)."""
    pole = 1.0 - math.sin(2.0 * math.pi * 1.0 * 0.01)
    om = math.cos(2.0 * math.pi * 29.0 * 0.01)
    norm = math.sqrt(10.0 * (32.0 * om * om + 8.0))
    x = log_mel.double().transpose(1, 2)  # [B, bands, T]
    numerator = torch.tensor([2.0, -4.0 * om, 0.0, 4.0 * om, -2.0], dtype=x.dtype, device=x.device) / norm
    fir = torch.nn.functional.conv1d(torch.nn.functional.pad(x.reshape(-1, 1, x.shape[-1]), (4, 0)),
                                     numerator.flip(0).view(1, 1, 5)).view_as(x)
    out = torch.zeros_like(x)
    if x.shape[-1] > 5:
        # frame 5 passes the FIR alone; the feedback y[t] = fir[t] + pole * y[t-1] starts at frame 6
        denominator, numerator = x.new_tensor([1.0, -pole]), x.new_tensor([1.0, 0.0])
        out[..., 5:] = torchaudio.functional.lfilter(fir[..., 5:], denominator, numerator, clamp=False)
    return out.transpose(1, 2)


def _zero_crossings(x):
    """`[B, S - 2]`: 1 where openSMILE counts a crossing at sample i (1 <= i <= S - 2)."""
    prev, cur, nxt = x[:, :-2], x[:, 1:-1], x[:, 2:]
    return (((prev * nxt <= 0) & (cur == 0)) | (prev * cur < 0)).double()


class TorchLLD(torch.nn.Module):
    """`(wavs [B, S] at 16 kHz, lengths [B] relative) -> (table [B, rows, columns], rows [B])`.

    Rows past an item's own count are 0. Only the computations the chosen columns need are run.
    """

    def __init__(self, columns=None):
        super().__init__()
        self.columns = list(COLUMNS if columns is None else columns)
        unknown = [c for c in self.columns if c not in COLUMNS]
        if unknown:
            raise ValueError(f"TorchLLD cannot compute {unknown}; it computes {COLUMNS}")
        weights, centres = mel_weights()
        self.register_buffer("mel", weights.float(), persistent=False)
        self.register_buffer("log_loudness", torch.log(equal_loudness(centres)), persistent=False)
        self.register_buffer("window", torch.hamming_window(SHORT_FRAME, periodic=False, dtype=torch.float64).float(),
                             persistent=False)

    def forward(self, wavs, lengths=None):
        x, num, rows, total = smile_batch(wavs, lengths)
        if total == 0:
            return x.new_zeros(x.shape[0], 0, len(self.columns)), rows
        wanted = set(self.columns)
        tracks = {}  # per column, [B, total + 1] frames before smoothing
        if "pcm_RMSenergy_sma" in wanted:
            tracks["pcm_RMSenergy_sma"] = torch.sqrt(_window_sums(x * x, SHORT_FRAME, total + 1) / SHORT_FRAME)
        if "pcm_zcr_sma" in wanted:
            # crossings tested at samples 1..958 of each 60 ms frame
            crossings = torch.nn.functional.pad(_zero_crossings(x), (0, 2))
            zcr = _window_sums(crossings, LONG_FRAME - 2, total) / LONG_FRAME
            tracks["pcm_zcr_sma"] = torch.nn.functional.pad(zcr, (0, 1))
        if wanted - {"pcm_RMSenergy_sma", "pcm_zcr_sma"}:
            tracks.update(self._spectral(x, total + 1, wanted))
        table = torch.stack([tracks[c] for c in self.columns], -1)
        # a 20 ms track has frames past the last row (its smoothing never meets the end); the 60 ms ZCR has not
        smoothed = smooth3(table, rows + 1)
        if "pcm_zcr_sma" in wanted:
            j = self.columns.index("pcm_zcr_sma")
            smoothed[..., j] = smooth3(table[..., j:j + 1], rows)[..., 0]
        smoothed = smoothed[:, :total]
        valid = length_to_mask(rows, total, dtype=torch.bool)
        return (smoothed * valid[..., None]).float(), rows

    def _spectral(self, x, count, wanted):
        frames = x[:, :(count - 1) * HOP + SHORT_FRAME].unfold(1, SHORT_FRAME, HOP)[:, :count]
        power = torch.view_as_real(torch.fft.rfft(frames * self.window, N_FFT)).square().sum(-1)  # [B, count, 257]
        out = {}
        if "alphaRatio_sma3" in wanted:
            low, high = power[..., :32].sum(-1), power[..., 32:161].sum(-1)
            out["alphaRatio_sma3"] = _db_ratio(high, low)
        if "hammarbergIndex_sma3" in wanted:
            low, high = power[..., :64].amax(-1), power[..., 64:161].amax(-1)
            out["hammarbergIndex_sma3"] = _db_ratio(low, high)
        mel = torch.clamp(exact_matmul(power, self.mel), min=MEL_FLOOR).double()
        if wanted & {"audspec_lengthL1norm_sma", "Loudness_sma3"}:
            loudness = torch.exp(COMPRESSION * (torch.log(mel) + self.log_loudness.double())).mean(-1)
            out["audspec_lengthL1norm_sma"] = out["Loudness_sma3"] = loudness
        if wanted & set(RFILT + ["audspecRasta_lengthL1norm_sma"]):
            rfilt = torch.exp(COMPRESSION * (rasta(torch.log(mel)) + self.log_loudness.double()))
            out["audspecRasta_lengthL1norm_sma"] = rfilt.mean(-1)
            out.update({name: rfilt[..., i] for i, name in enumerate(RFILT)})
        return out


def _db_ratio(num, den):
    """10 log10(num / den), num floored at openSMILE's 1e-14, and 0 where den is 0 (silence)."""
    num, den = num.double(), den.double()
    ratio = 10.0 * torch.log10(num.clamp(min=SPEC_FLOOR) / den.clamp(min=SPEC_FLOOR))
    return torch.where(den > 0, ratio, torch.zeros_like(ratio))
