"""Where the LLD targets sit in time, measured on openSMILE's own output for audio with a planted event.

A harmonic burst occupies [a, b) of otherwise quiet audio; openSMILE's tracks see it in rows that start
up to one frame earlier. Put on an encoder grid (frames centred at j * hop, SpeechBrain's convention),
the region each track marks must be centred on the burst, to < 2 ms, for both frame lengths (20 ms,
60 ms), through the stored and the online backends. Read at the row starts, as the tracks once were,
they are 10 ms (20 ms columns) or 30 ms (the pitch chain, ZCR) early.
"""

import json

import numpy as np
import pytest
import torch

from labellers.base import LabelBatch
from labellers.lld_extraction import write_features_file
from labellers.lld_store import LLDStore, array_path, save_array
from labellers.lld_timing import frame_seconds
from labellers.opensmile_lld import OpenSmileLLD
from labellers.registry import get_labeller

RATE = 16000
BURSTS = [(0.305, 0.705), (0.3, 0.9), (0.455, 1.105)]
# column -> how its track marks the burst (raw openSMILE values)
MARKS = {
    "F0final_sma": lambda v: v > 0,
    "F0semitoneFrom27.5Hz_sma3nz": lambda v: v > 0,
    "HNRdBACF_sma3nz": lambda v: v > 0,
    "voicingFinalUnclipped_sma": lambda v: v > 0.55,
    "pcm_zcr_sma": lambda v: v < 0.5 * np.median(v),
    "Loudness_sma3": lambda v: v > 0.5 * v.max(),
    "pcm_RMSenergy_sma": lambda v: v > 0.5 * v.max(),
    "mfcc_sma[1]": lambda v: v > 0.5 * (v.max() + v.min()),
}


def burst(a, b, seconds=1.5):
    t = np.arange(int(seconds * RATE)) / RATE
    x = 1e-3 * np.random.default_rng(0).standard_normal(t.size)
    inside = (t >= a) & (t < b)
    x[inside] += 0.3 * sum(np.sin(2 * np.pi * 150 * h * t[inside]) / h for h in range(1, 6))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def burst_store(tmp_path_factory):
    """A pseudo-label folder of openSMILE's raw tracks of the bursts (features.json as extract.py writes it)."""
    lld = OpenSmileLLD(["eGeMAPSv02", "ComParE_2016"])
    return raw_store(str(tmp_path_factory.mktemp("bursts")), lld,
                     {f"burst{k}": burst(a, b) for k, (a, b) in enumerate(BURSTS)})


def raw_store(folder, lld, wavs):
    """A pseudo-label folder of `lld`'s raw tracks of {utterance ID: wav} (identity statistics), as extract.py
    lays it out."""
    for utt_id, wav in wavs.items():
        columns, table = lld.extract(wav, RATE)
        save_array(array_path(folder, utt_id), table)
    write_features_file(folder, lld.feature_sets, RATE, columns, lld.frame_seconds)
    with open(f"{folder}/stats.json", "w") as f:
        json.dump({"columns": columns, "mean": [0.0] * len(columns), "std": [1.0] * len(columns)}, f)
    return folder


def marked_centre(values, mark, hop):
    """Centre (s) of the frames `mark` selects, frame j centred at j * hop."""
    frames = np.nonzero(mark(values))[0]
    return (frames.min() + frames.max()) / 2 * hop


@pytest.mark.parametrize("backend", ["stored", "online"])
def test_targets_are_centred_on_the_audio_they_describe(burst_store, backend):
    hop = 0.001  # a fine encoder grid, so that the centres are measured, not rounded to 10 ms
    columns = [c for c in MARKS if backend == "stored" or c not in ("mfcc_sma[1]",)]
    for k, (a, b) in enumerate(BURSTS):
        wav = torch.from_numpy(burst(a, b))[None]
        batch = LabelBatch(wav, torch.ones(1), [f"burst{k}"], torch.zeros(1, dtype=torch.long),
                           num_frames=1500, hop_seconds=hop, context_wavs=wav, context_lengths=torch.ones(1),
                           context_offsets=torch.zeros(1, dtype=torch.long))
        for column in columns:
            labeller = get_labeller("lld", lld_folder=burst_store, column=column, backend=backend)
            targets = labeller(batch)[0, :, 0].numpy()
            centre = marked_centre(targets, MARKS[column], hop)
            assert abs(centre - (a + b) / 2) < 0.002, (column, backend, a, b, centre)
            # read at the rows' starts the same marks come early by half the column's frame
            rows = LLDStore(burst_store).load(f"burst{k}", [column])[:, 0]
            early = (a + b) / 2 - marked_centre(rows, MARKS[column], 0.01)
            assert abs(early - frame_seconds(column, "ComParE_2016") / 2) < 0.002, (column, early)


def test_segment_means_take_the_rows_centred_in_the_segment(burst_store):
    store = LLDStore(burst_store)
    for k, (a, b) in enumerate(BURSTS):
        # every row centred inside the burst is voiced: the mean F0 is the burst's (150 Hz), not pulled
        # down by unvoiced rows that start inside it but describe the audio after it
        f0 = store.segment_mean(f"burst{k}", a, b, ["F0final_sma"])[0]
        assert abs(f0 - 150.0) < 0.01 * 150.0, (a, b, f0)


def test_frame_lengths_agree_with_the_frame_times_opensmile_reports():
    """OpenSMILE reports one frame length per feature set (its longest level): 20 ms for eGeMAPS' loudness
    level and 60 ms for ComParE, whose pitch chain and ZCR use 60 ms frames."""
    lld = OpenSmileLLD(["ComParE_2016"])
    table = lld._smiles[0].process_signal(burst(0.3, 0.9), RATE)
    reported = (table.index.get_level_values("end") - table.index.get_level_values("start")).total_seconds()
    assert np.allclose(reported[:-1], 0.06)
    assert {c for c, s in lld.frame_seconds.items() if s == 0.06} == {
        "F0final_sma", "voicingFinalUnclipped_sma", "jitterLocal_sma", "jitterDDP_sma", "shimmerLocal_sma",
        "logHNR_sma", "pcm_zcr_sma"}
    egemaps = OpenSmileLLD(["eGeMAPSv02"])
    table = egemaps._smiles[0].process_signal(burst(0.3, 0.9), RATE)
    reported = (table.index.get_level_values("end") - table.index.get_level_values("start")).total_seconds()
    assert np.allclose(reported[:-1], 0.02) and egemaps.frame_seconds["Loudness_sma3"] == 0.02


def test_a_set_of_unknown_frame_lengths_is_named():
    with pytest.raises(ValueError, match="IS13_ComParE.*lld_timing"):
        frame_seconds("F0final_sma", "IS13_ComParE")


def modulated_tone(rate_hz, seconds=4.0):
    """A harmonic tone whose log amplitude is sin(2 pi rate_hz t): every log band follows the sinusoid."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * 200 * h * t) / h for h in range(1, 10))
    return (0.05 * np.exp(np.sin(2 * np.pi * rate_hz * t)) * tone).astype(np.float32)


def lag_of_modulation(track, times, rate_hz):
    """How late (s) a track follows sin(2 pi rate_hz t), from a least-squares sinusoid fit."""
    basis = np.stack([np.sin(2 * np.pi * rate_hz * times), np.cos(2 * np.pi * rate_hz * times),
                      np.ones_like(times)], 1)
    s, c, _ = np.linalg.lstsq(basis, track, rcond=None)[0]
    return -np.arctan2(c, s) / (2 * np.pi * rate_hz)


def test_rasta_targets_need_no_shift_beyond_their_centre_at_syllable_rates(tmp_path):
    """The RASTA filter's FIR numerator is centred two rows back, but its integrating pole undoes most of that
    delay: at the syllable rates (3-4 Hz), the RASTA targets of openSMILE's tracks, as the stored labeller puts them
    on an encoder grid, follow a planted modulation to within 7 ms, where a 20 ms shift for the FIR's centre would
    put them 15 ms off. (Below 3 Hz they lead, above 4 Hz they lag: no constant shift is right at every rate; the
    README of recipes/PseudoLabels gives the figures.) Loudness, without the filter, is exactly on time."""
    lld = OpenSmileLLD(["ComParE_2016"])
    hop = 0.001  # a fine encoder grid: the lags are measured, not rounded to 10 ms
    for k, rate_hz in enumerate((3.0, 4.0)):
        folder = raw_store(str(tmp_path / f"tone{k}"), lld, {"tone": modulated_tone(rate_hz)})
        batch = LabelBatch(torch.zeros(1, 4 * RATE), torch.ones(1), ["tone"], torch.zeros(1, dtype=torch.long),
                           num_frames=3900, hop_seconds=hop)
        for column, bound in (("audspecRasta_lengthL1norm_sma", 0.007), ("audSpec_Rfilt_sma[5]", 0.007),
                              ("audspec_lengthL1norm_sma", 0.001)):
            targets = get_labeller("lld", lld_folder=folder, column=column)(batch)[0, :, 0].double().numpy()
            times = np.arange(len(targets)) * hop
            keep = times > 1.0  # past the filter's warm-up
            # the compressed bands are exp(0.33 * filtered log band): their log is linear in the filter's output
            lag = lag_of_modulation(np.log(np.maximum(targets[keep], 1e-8)), times[keep], rate_hz)
            assert abs(lag) < bound, (column, rate_hz, lag)
