"""OpenSMILE LLD mixing and the per-feature statistics."""

import numpy as np
import pytest

from labellers.lld_stats import FeatureStats, normalize
from labellers.opensmile_lld import OpenSmileLLD


def _tone(freq, seconds=1.0, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_mixed_table_is_frame_aligned_with_named_columns():
    lld = OpenSmileLLD(["eGeMAPSv02", "ComParE_2016"])
    columns, frames = lld.extract(_tone(220.0, seconds=1.5), 16000)
    assert columns == lld.columns
    assert frames.shape[1] == len(columns) == 25 + 65
    for name in ("alphaRatio_sma3", "Loudness_sma3", "F0final_sma", "logHNR_sma", "pcm_zcr_sma",
                 "audspecRasta_lengthL1norm_sma", "voicingFinalUnclipped_sma", "pcm_RMSenergy_sma"):
        assert name in columns
    # 10 ms hop over 1.5 s: about 150 frames, the frames both sets have.
    assert 140 <= frames.shape[0] <= 150


def test_f0_column_tracks_a_tone():
    lld = OpenSmileLLD(["ComParE_2016"])
    columns, frames = lld.extract(_tone(180.0), 16000)
    f0 = frames[:, columns.index("F0final_sma")]
    voiced = f0[f0 > 0]
    assert len(voiced) > 0.7 * len(f0)
    assert abs(np.median(voiced) - 180.0) < 5.0


def test_unknown_feature_set_is_named():
    with pytest.raises(ValueError, match="unknown OpenSMILE feature set 'eGeMAPSv99'"):
        OpenSmileLLD(["eGeMAPSv99"])


def test_stats_skip_nonfinite_and_merge_like_one_pass():
    rng = np.random.default_rng(0)
    a, b = rng.normal(3.0, 2.0, (500, 3)), rng.normal(3.0, 2.0, (300, 3))
    a[:10, 1] = np.nan
    b[:5, 2] = np.inf
    whole = FeatureStats(["x", "y", "z"])
    whole.update(np.concatenate([a, b]))
    parts = FeatureStats(["x", "y", "z"])
    parts.update(a)
    other = FeatureStats(["x", "y", "z"])
    other.update(b)
    parts.merge(other)
    np.testing.assert_allclose(parts.mean(), whole.mean())
    np.testing.assert_allclose(parts.std(), whole.std())
    assert whole.nonfinite.tolist() == [0, 10, 5]
    finite = np.concatenate([a, b])[:, 1]
    np.testing.assert_allclose(whole.mean()[1], np.nanmean(finite))
    normed = normalize(np.concatenate([a, b]), whole.mean(), whole.std())
    assert np.isfinite(normed).all() and normed[0, 1] == 0.0
    assert FeatureStats.from_dict(whole.to_dict()).to_dict() == whole.to_dict()


def test_lld_only_compare_config_gives_the_stock_values():
    rng = np.random.default_rng(1)
    signal = _tone(150.0, seconds=1.2) + 0.05 * rng.standard_normal(19200).astype(np.float32)
    cols_fast, fast = OpenSmileLLD(["ComParE_2016"], lld_only=True).extract(signal, 16000)
    cols_stock, stock = OpenSmileLLD(["ComParE_2016"], lld_only=False).extract(signal, 16000)
    assert cols_fast == cols_stock
    np.testing.assert_allclose(fast, stock, rtol=1e-5, atol=1e-6, equal_nan=True)
