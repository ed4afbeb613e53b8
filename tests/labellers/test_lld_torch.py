"""The torch descriptors against openSMILE itself, on corpus speech, noisy mixtures, resampled audio and padded batches."""

import numpy as np
import pytest
import torch

from labellers.lld_torch import COLUMNS, TorchLLD
from labellers.opensmile_lld import OpenSmileLLD
from tests.labellers.conftest import RATE, OnDevice, opensmile_columns


def test_every_track_equals_opensmile(smiles, clips):
    lld = OnDevice(TorchLLD())
    pearson = {c: [] for c in COLUMNS}
    for name, wav in clips.items():
        ref, starts = opensmile_columns(smiles, wav)
        table, rows = lld(torch.from_numpy(wav)[None])
        n = int(rows[0])
        # the rows the stored (mixed) table has, starting every 10 ms as openSMILE reports them
        assert n == OpenSmileLLD(["eGeMAPSv02", "ComParE_2016"]).extract(wav, RATE)[1].shape[0], name
        np.testing.assert_allclose(starts[:n], 0.01 * np.arange(n), atol=1e-9)
        for j, column in enumerate(COLUMNS):
            ours, theirs = table[0, :n, j].numpy(), ref[column][:n]
            span = theirs.max() - theirs.min()
            assert np.abs(ours - theirs).max() <= 1e-4 * max(span, 1e-6), (name, column)
            pearson[column].append(np.corrcoef(ours, theirs)[0, 1] if span > 0 else 1.0)
    for column, values in pearson.items():
        assert np.median(values) >= 0.999 and min(values) >= 0.99, (column, values)


def test_a_padded_batch_equals_its_items_alone(clips):
    lld = OnDevice(TorchLLD())
    wavs = [clips[k] for k in ("noise_5dB", "pauses", "resampled_from_8000")] + [clips["music_5dB"][:1200]]
    longest = max(len(w) for w in wavs)
    batch = torch.zeros(len(wavs), longest)
    for i, w in enumerate(wavs):
        batch[i, :len(w)] = torch.from_numpy(w)
    table, rows = lld(batch, torch.tensor([len(w) / longest for w in wavs]))
    for i, w in enumerate(wavs):
        alone, n = lld(torch.from_numpy(w)[None])
        assert int(rows[i]) == int(n[0]) == (len(w) - 960) // 160 + 1
        torch.testing.assert_close(table[i, :rows[i]], alone[0], rtol=1e-5, atol=1e-6)
        assert not table[i, rows[i]:].any()  # rows past an item's end are empty


def test_the_two_row_corner_and_audio_too_short_for_a_frame(smiles, clips):
    lld = OnDevice(TorchLLD(["pcm_zcr_sma", "pcm_RMSenergy_sma"]))
    wav = clips["noise_5dB"][:1000]  # one 60 ms frame: openSMILE smooths the ZCR with an empty neighbour
    ref, _ = opensmile_columns(smiles, wav)
    table, rows = lld(torch.from_numpy(wav)[None])
    assert int(rows[0]) == 1
    np.testing.assert_allclose(table[0, 0].numpy(), [ref["pcm_zcr_sma"][0], ref["pcm_RMSenergy_sma"][0]], rtol=1e-5)
    table, rows = lld(torch.zeros(2, 900))
    assert rows.tolist() == [0, 0] and table.shape == (2, 0, 2)


def test_full_scale_audio_wraps_as_the_wrapper_casts_it(smiles):
    wav = np.full(4800, 0.5, np.float32)
    wav[2000:2400] = 1.0  # int16(1.0 * 32768) wraps to -32768 in the wrapper
    ref, _ = opensmile_columns(smiles, wav)
    table, rows = OnDevice(TorchLLD(["pcm_RMSenergy_sma", "pcm_zcr_sma"]))(torch.from_numpy(wav)[None])
    np.testing.assert_allclose(table[0, :rows[0], 0].numpy(), ref["pcm_RMSenergy_sma"][:int(rows[0])], rtol=1e-5)
    np.testing.assert_allclose(table[0, :rows[0], 1].numpy(), ref["pcm_zcr_sma"][:int(rows[0])], atol=1e-7)


def test_unknown_column_is_named():
    with pytest.raises(ValueError, match="F0final_sma"):
        TorchLLD(["F0final_sma"])


def test_bad_input_to_the_torch_backends_is_named(tmp_path):
    from labellers.lld_extraction import TorchTable, make_extractor
    from labellers.registry import get_labeller
    with pytest.raises(ValueError, match="'torch' stands alone"):
        make_extractor(["torch", "eGeMAPSv02"])
    with pytest.raises(ValueError, match="at 16 kHz, not 8000 Hz"):
        TorchTable().extract(np.zeros(8000, np.float32), 8000)
    with pytest.raises(ValueError, match="shorter than 60 ms"):
        TorchTable().extract(np.zeros(900, np.float32), RATE)
    # the online backend still needs the statistics of an extraction
    with pytest.raises(FileNotFoundError, match="features.json not found.*run `python extract.py"):
        get_labeller("rms", lld_folder=str(tmp_path), backend="online")
    with pytest.raises(ValueError, match="backend must be 'stored' or 'online'"):
        get_labeller("rms", lld_folder=str(tmp_path), backend="gpu")
