"""The torch pitch descriptors against openSMILE itself: corpus speech, noisy mixtures, resampled audio, pauses,
speech cut inside voiced frames (openSMILE's end-of-input artefact), padded batches and the shortest inputs."""

import numpy as np
import pytest
import torch

from labellers.lld_pitch import PITCH_COLUMNS, PitchLLD
from labellers.opensmile_lld import OpenSmileLLD
from tests.labellers.conftest import RATE, OnDevice, opensmile_columns


@pytest.fixture(scope="module")
def pitch():
    return OnDevice(PitchLLD())


@pytest.fixture(scope="module")
def more_clips(clips, pitch):
    """Speech cut just after voiced frames at several places (the ends where openSMILE's buffers show), and
    quiet speech, about half of whose frames fall under the energy gate."""
    wav = clips["pauses"][4000:]
    table, rows = pitch(torch.from_numpy(wav)[None])
    voiced = np.nonzero(table[0, :int(rows[0]), 0].numpy() > 0)[0]
    ends = voiced[np.linspace(len(voiced) // 4, len(voiced) - 1, 4).astype(int)]
    cut = {f"cut_after_frame_{t}": wav[:t * 160 + 960 + 17 * k] for k, t in enumerate(ends)}
    return {**cut, "quiet": clips["pauses"] * np.float32(0.05)}


def test_every_pitch_track_equals_opensmile(smiles, clips, more_clips, pitch):
    for name, wav in {**clips, **more_clips}.items():
        ref, starts = opensmile_columns(smiles, wav)
        table, rows = pitch(torch.from_numpy(wav)[None])
        n = int(rows[0])
        # openSMILE's rows but its last, starting every 10 ms: the stored table's layout
        assert n == len(starts) - 1 == (len(wav) - 960) // 160 + 1, name
        np.testing.assert_allclose(starts[:n], 0.01 * np.arange(n), atol=1e-9)
        for j, column in enumerate(PITCH_COLUMNS):
            ours, theirs = table[0, :n, j].numpy(), ref[column][:n]
            span = theirs.max() - theirs.min()
            error = np.abs(ours - theirs).max() / max(span, 1e-6)
            r = np.corrcoef(ours, theirs)[0, 1] if span > 0 else 1.0
            # the same frames voiced (F0, voicing) or zero (HNR), then float32 rounding only (measured: at most
            # 8e-7 of the range, r = 1 - 2e-13)
            assert np.array_equal(ours != 0, theirs != 0), (name, column)
            assert error <= 1e-5, (name, column, error)
            assert r >= 0.999999, (name, column, r)


def test_rows_match_the_stored_table(clips, pitch):
    wav = clips["music_5dB"]
    _, rows = pitch(torch.from_numpy(wav)[None])
    assert int(rows[0]) == OpenSmileLLD(["eGeMAPSv02", "ComParE_2016"]).extract(wav, RATE)[1].shape[0]


def test_a_padded_batch_equals_its_items_alone(clips, pitch):
    wavs = [clips[k] for k in ("noise_5dB", "pauses", "resampled_from_8000")] + \
        [clips["music_5dB"][:1200], clips["music_5dB"][:900]]
    longest = max(len(w) for w in wavs)
    batch = torch.zeros(len(wavs), longest)
    for i, w in enumerate(wavs):
        batch[i, :len(w)] = torch.from_numpy(w)
    batch[-1, len(wavs[-1]):] = 0.5  # what lies past an item's length does not count
    table, rows = pitch(batch, torch.tensor([len(w) / longest for w in wavs]))
    assert table.shape == (len(wavs), int(rows.max()), len(PITCH_COLUMNS)) and table.dtype == torch.float32
    for i, w in enumerate(wavs):
        alone, n = pitch(torch.from_numpy(w)[None])
        assert int(rows[i]) == int(n[0]) == max((len(w) - 960) // 160 + 1, 0)
        torch.testing.assert_close(table[i, :rows[i]], alone[0], rtol=1e-6, atol=1e-5)
        assert not table[i, rows[i]:].any()  # rows past an item's end are empty


@pytest.mark.parametrize("length", [1000, 1130, 1300, 1450])
def test_the_shortest_inputs(smiles, clips, pitch, length):
    wav = clips["resampled_from_48000"][8000:8000 + length]  # inside speech
    ref, _ = opensmile_columns(smiles, wav)
    table, rows = pitch(torch.from_numpy(wav)[None])
    n = (length - 960) // 160 + 1
    assert int(rows[0]) == n
    np.testing.assert_allclose(table[0].numpy(), np.stack([ref[c][:n] for c in PITCH_COLUMNS], -1),
                               rtol=1e-5, atol=1e-4)


def test_audio_too_short_for_a_frame_and_a_column_subset(clips):
    table, rows = OnDevice(PitchLLD(["logHNR_sma"]))(torch.zeros(2, 900))
    assert rows.tolist() == [0, 0] and table.shape == (2, 0, 1)
    wav = torch.from_numpy(clips["noise_5dB"][:8000])[None]
    everything, _ = OnDevice(PitchLLD())(wav)
    some, _ = OnDevice(PitchLLD(["HNRdBACF_sma3nz", "F0final_sma"]))(wav)
    torch.testing.assert_close(some, everything[..., [4, 0]], rtol=0, atol=0)


def test_unknown_column_is_named():
    with pytest.raises(ValueError, match="pcm_zcr_sma.*F0final_sma"):
        PitchLLD(["F0final_sma", "pcm_zcr_sma"])
