"""MultitaskSSL with `lld_backend: online`: targets computed from the audio equal the stored openSMILE ones, and a
run trains as with stored targets."""

import csv
import os

import pytest
import torch

from corpora.manifest import read_csv
from recipe_support import ALPHARATIO, RECIPE, from_recipe, train_recipe


def _crop_batch(rows, offsets, chunk, context=True, right=0.0):
    """A LabelBatch of crops at `offsets`, with the clean audio from each utterance start to `right` seconds past
    each crop, as the recipe gives it."""
    from labellers.base import LabelBatch
    from corpora.audio import load_audio
    wavs = [load_audio(r["wav"]) for r in rows]
    crops = torch.stack([w[o:o + chunk] for w, o in zip(wavs, offsets)])
    around = [w[:o + chunk + int(right * 16000)] for w, o in zip(wavs, offsets)]
    longest = max(len(a) for a in around)
    padded = torch.stack([torch.nn.functional.pad(a, (0, longest - len(a))) for a in around])
    extra = dict(context_wavs=padded, context_lengths=torch.tensor([len(a) / longest for a in around]),
                 context_offsets=torch.tensor(offsets)) if context else {}
    return LabelBatch(wavs=crops, lengths=torch.ones(len(rows)), ids=[r["ID"] for r in rows],
                      offsets=torch.tensor(offsets), num_frames=chunk // 160, hop_seconds=0.01, **extra)


def test_online_targets_equal_the_stored_ones(tiny_cv):
    from labellers.lld_torch import RFILT
    from labellers.registry import get_labeller
    base, args = tiny_cv
    lld = args[args.index("--lld_folder") + 1]
    rows = [r for r in read_csv(str(base / "prep" / "train.csv")) if float(r["duration"]) > 2.5][:4]
    chunk = 16000
    # offsets on the 10 ms grid and between its frames, the start and the very end of an utterance
    offsets = [0, 4800, 3217, int(float(rows[3]["duration"]) * 16000) - chunk]
    labellers = {name: dict(name=name) for name in ("alpharatio", "loudness", "zcr", "rasta_l1", "rms", "f0",
                                                    "voicing", "hnr")}
    labellers["egemaps_pitch"] = dict(name="lld_group", columns=["F0semitoneFrom27.5Hz_sma3nz", "HNRdBACF_sma3nz"])
    labellers["rfilt"] = dict(name="lld_group", columns=RFILT)
    for name, kwargs in labellers.items():
        stored = get_labeller(lld_folder=lld, **kwargs)
        online = get_labeller(lld_folder=lld, backend="online", **kwargs)
        assert online.context is not None and stored.context is None
        right = online.context[1]  # what the recipe gives this labeller
        want = stored(_crop_batch(rows, offsets, chunk))
        got = online(_crop_batch(rows, offsets, chunk, right=right))
        assert got.shape == want.shape == (4, 100, online.dim)
        # stored tracks are float16: about 3 significant digits
        torch.testing.assert_close(got, want, atol=2e-3, rtol=2e-3, msg=name)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # a bf16 training step does not lower their precision
            torch.testing.assert_close(online(_crop_batch(rows, offsets, chunk, right=right)), want, atol=2e-3,
                                       rtol=2e-3, msg=name)
        # on 2 s crops alone, only frames near the crop edges differ; RASTA's (pole 0.937) by up to 6 standard
        # deviations at the start, 0.004 after 1 s, 0.0014 after 1.2 s
        long_crops = [0, 4800, 3200, 1600]
        alone = online(_crop_batch(rows, long_crops, 2 * chunk, context=False))
        want = stored(_crop_batch(rows, long_crops, 2 * chunk))  # (crops on the 10 ms grid: see labellers/online.py)
        # (the first 5 frames: they read the crop's first 2 rows, which differ, a 60 ms row being centred 3 frames
        # after its start; the last 15: no 60 ms frame reaches past the crop, and the pitch smoother ends there)
        rasta = name in ("rasta_l1", "rfilt")
        settled = slice(130 if rasta else 5, -15)
        torch.testing.assert_close(alone[:, settled], want[:, settled], atol=2e-3, rtol=2e-3, msg=name)
        assert not rasta or not torch.allclose(alone[1:, :20], want[1:, :20], atol=2e-3, rtol=2e-3)
    with pytest.raises(ValueError, match="backend: stored"):
        get_labeller("lld", column="mfcc_sma[1]", lld_folder=lld, backend="online")


def test_a_capped_left_context_keeps_the_frame_grid(tiny_cv):
    """The recipe's own crops with left_context_seconds 0.5: the context starts on the 10 ms grid, so every
    target but the RASTA ones (their warm-up is longer) equals the stored one."""
    from labellers.base import LabelBatch
    from labellers.registry import get_labeller
    dataio_prepare = from_recipe("train", "dataio_prepare")
    base, args = tiny_cv
    lld = args[args.index("--lld_folder") + 1]
    labellers = {name: (get_labeller(name, lld_folder=lld), get_labeller(name, lld_folder=lld, backend="online",
                                                                           left_context_seconds=0.5))
                 for name in ("alpharatio", "loudness", "zcr", "rms", "f0", "voicing", "hnr")}
    context = labellers["f0"][1].context
    hparams = {"chunk_size": 16000, "sample_rate": 16000, "sorting": "random", "meta_columns": [],
               "train_csv": str(base / "prep" / "train.csv"), "valid_csv": str(base / "prep" / "dev.csv")}
    data = dataio_prepare(hparams, context)["valid"]  # fixed crops
    items = [data[i] for i in range(len(data))]
    items = [x for x in items if x["offset"] > 8000 and x["offset"] % 160][:4]  # past 0.5 s, off the grid
    assert len(items) >= 2
    longest = max(len(x["context_sig"]) for x in items)
    batch = LabelBatch(wavs=torch.stack([x["sig"] for x in items]), lengths=torch.ones(len(items)),
                       ids=[x["id"] for x in items],
                       offsets=torch.tensor([x["offset"] for x in items]), num_frames=100,
                       context_wavs=torch.stack([torch.nn.functional.pad(x["context_sig"],
                                                                         (0, longest - len(x["context_sig"])))
                                                 for x in items]),
                       context_lengths=torch.tensor([len(x["context_sig"]) / longest for x in items]),
                       context_offsets=torch.tensor([x["context_offset"] for x in items]))
    for name, (stored, online) in labellers.items():
        torch.testing.assert_close(online(batch), stored(batch), atol=2e-3, rtol=2e-3, msg=name)


def test_trains_with_online_targets_as_with_stored_ones(tiny_cv, tmp_path):
    """pretrain_alpharatio.yaml, and pretrain_selected.yaml with a selection of every LLD family (spectral,
    RASTA, energy, ZCR, waveform HNR): one epoch, the same losses with either backend."""
    from recipes.PretextSelection.selection_outputs import write_fragment
    from labellers.stored import LLD_ALIASES
    base, args = tiny_cv
    names = ["alpharatio", "rasta_l1", "rms", "zcr", "hnr"]
    fragment = tmp_path / "workers.yaml"
    write_fragment(str(fragment), names, [LLD_ALIASES[n] for n in names], [0.3, 0.25, 0.2, 0.15, 0.1],
                   LLD_ALIASES, "test")
    selected = (os.path.join(RECIPE, "hparams", "pretrain_selected.yaml"), "--selection_fragment", fragment)
    for yaml, *extra in ((ALPHARATIO,), selected):
        losses = {}
        for backend in ("stored", "online"):
            out = tmp_path / f"{os.path.basename(yaml)}_{backend}"
            # (with the input corrupted: the YAML seeds its random draws too, so two runs draw the same)
            train_recipe(yaml, out, args, "--number_of_epochs", "1", "--lld_backend", backend, *extra)
            with open(out / "losses.csv") as f:
                losses[backend] = {(r["epoch"], r["stage"], r["name"]): float(r["loss"]) for r in csv.DictReader(f)}
        assert losses["online"].keys() == losses["stored"].keys()
        assert any(name == "hnr_loss" for _, _, name in losses["online"]) or yaml == ALPHARATIO
        for key, value in losses["stored"].items():  # same seed, same crops, the same targets up to float16
            assert losses["online"][key] == pytest.approx(value, rel=2e-3), (yaml, key)
    # every target normalized (Fbank and MFCC with training statistics, as the stored LLDs): no worker's loss
    # dwarfs the others', so the selection's weights steer training (raw MFCCs made ~97 % of it)
    first = {name: v for (epoch, stage, name), v in losses["stored"].items()
             if epoch == "1" and stage == "train" and name.endswith("_loss")}
    assert {"fbank_loss", "mfcc_loss", "hnr_loss"} <= set(first)
    assert max(first.values()) < 4 * min(first.values()), first
