"""The labeller registry and the stored-LLD labellers (names, alignment at crop offsets, F0 on tones)."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from labellers import LabelBatch, Labeller, available_labellers, get_labeller, register_labeller
from labellers.lld_extraction import extract_shard, reduce_shards
from labellers.lld_store import LLDStore, array_path, save_array


def test_unknown_name_suggests_the_nearest_and_lists_all():
    with pytest.raises(KeyError, match=r"Did you mean 'alpharatio'\?.*Registered: .*f0"):
        get_labeller("alpharatoi")


def test_registering_a_user_labeller_and_name_clashes():
    @register_labeller("test_constant")
    class Constant(Labeller):
        level = "utterance"

        def __call__(self, batch):
            return torch.ones(len(batch.ids), 1)

    assert "test_constant" in available_labellers()
    batch = LabelBatch(torch.zeros(2, 160), torch.ones(2), ["a", "b"], torch.zeros(2, dtype=torch.long), 1)
    assert get_labeller("test_constant")(batch).shape == (2, 1)
    with pytest.raises(ValueError, match="already taken"):
        register_labeller("test_constant")(type("Other", (Labeller,), {}))


@pytest.fixture()
def ramp_store(tmp_path):
    """A pseudo-label folder whose columns hold each row's centre time, in 10 ms hops: a 20 ms column
    (centred one hop after its start) and F0 (60 ms frames, three hops)."""
    columns = ["ramp_sma", "F0final_sma"]
    (tmp_path / "features.json").write_text(json.dumps({"columns": columns, "hop_seconds": 0.01,
                                                        "feature_sets": ["ComParE_2016"]}))
    (tmp_path / "stats.json").write_text(json.dumps({"columns": columns}))
    ramp = np.stack([np.arange(500) + 1, np.arange(500) + 3], axis=1).astype(np.float16)
    save_array(array_path(str(tmp_path), "utt1"), ramp)
    return tmp_path


def test_targets_are_cut_at_each_crops_own_offset_and_centred_on_the_encoder_frames(ramp_store):
    offsets = torch.tensor([0, 16000, 4000])  # samples: 0 s, 1 s, 0.25 s
    batch = LabelBatch(torch.zeros(3, 8000), torch.ones(3), ["utt1"] * 3, offsets, num_frames=50)
    for column, first_centre in (("ramp_sma", 1), ("F0final_sma", 3)):
        labeller = get_labeller("lld", lld_folder=str(ramp_store), column=column)
        targets = labeller(batch)
        assert targets.shape == (3, 50, 1)
        # encoder frame j of a crop at `start` hops is centred at start + j hops (before the first
        # row's centre, the first row)
        expected = torch.stack([(torch.arange(50.0) + start).clamp(min=first_centre) for start in (0, 100, 25)])
        assert torch.equal(targets[..., 0], expected), column
    # A coarser encoder (20 ms frames, centred at 0, 20, 40 ms) averages around its own centres.
    coarse = get_labeller("lld", lld_folder=str(ramp_store), column="ramp_sma", mode="average")
    batch.hop_seconds, batch.num_frames = 0.02, 25
    assert torch.equal(coarse(batch)[0, :4, 0], torch.tensor([1.0, 2.0, 4.0, 6.0]))
    assert torch.equal(coarse(batch)[1, :3, 0], torch.tensor([100.0, 102.0, 104.0]))


def test_bad_column_fails_when_the_labeller_is_built(ramp_store):
    with pytest.raises(KeyError, match="no LLD column 'F0_sma'.*did you mean"):
        get_labeller("lld", lld_folder=str(ramp_store), column="F0_sma")


def test_f0_labeller_tracks_tones_of_known_pitch(tmp_path):
    rows = []
    for k, pitch in enumerate((140.0, 260.0)):
        t = np.arange(32000) / 16000
        path = tmp_path / f"tone{k}.wav"
        sf.write(path, (0.4 * np.sin(2 * np.pi * pitch * t)).astype(np.float32), 16000)
        rows.append({"ID": f"tone{k}", "wav": str(path)})
    out = str(tmp_path / "lld")
    extract_shard(rows, {"tone0", "tone1"}, out, ["ComParE_2016"])
    reduce_shards(out, 1)
    stats = LLDStore(out).stats
    col = stats["columns"].index("F0final_sma")
    f0 = get_labeller("f0", lld_folder=out)
    assert f0.kind == "regression" and f0.dim == 1 and isinstance(f0.default_loss(), torch.nn.L1Loss)
    batch = LabelBatch(torch.zeros(2, 16000), torch.ones(2), ["tone0", "tone1"],
                       torch.tensor([8000, 8000]), num_frames=100)
    hz = f0(batch)[..., 0] * stats["std"][col] + stats["mean"][col]
    assert abs(hz[0].median() - 140.0) < 5.0 and abs(hz[1].median() - 260.0) < 5.0
    bins = get_labeller("lld_bins", lld_folder=out, column="F0final_sma", num_bins=4)
    classes = bins(batch)
    assert bins.kind == "classification" and classes.dtype == torch.long
    assert classes[0].median() < classes[1].median()
