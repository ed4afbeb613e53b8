"""Encoders, worker heads and YAML-wired workers of the multitask pretraining."""

import importlib.util
import json
import os

import numpy as np
import pytest
import torch

from corpora.audio import write_audio
from labellers import LabelBatch, get_labeller
from lobes.encoder_folder import export_encoder, load_pretrained_encoder
from lobes.encoders import FbankCRDNN, PASEEncoder
from lobes.multitask import WorkerConfigError, WorkerHeads, build_workers, worker_loss
from lobes.upstream import UpstreamError
from lobes.workers import Classifier, InfoMax, Regressor

RECIPE = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "MultitaskSSL")


def tiny_encoder():
    return FbankCRDNN(n_mels=40, cnn_blocks=1, cnn_channels=[8], rnn_layers=1, rnn_neurons=16, dnn_neurons=32,
                      dropout=0.0)


def tones(batch=4, samples=8000, seed=0):
    """Distinct harmonic tones with a little noise: every target has something to learn."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / 16000
    wavs = [0.3 * torch.sin(2 * np.pi * (120 + 70 * b) * t * (1 + 0.2 * t))
            + 0.1 * torch.sin(2 * np.pi * (700 + 300 * b) * t) for b in range(batch)]
    return torch.stack(wavs) + 0.01 * torch.randn(batch, samples, generator=gen)


def ramp_store(folder, ids, seconds=3.0):
    """A pseudo-label folder whose one column is each row's centre time in seconds (a ramp; a 20 ms
    column, centred 10 ms after the row's start)."""
    os.makedirs(os.path.join(folder, "lld"), exist_ok=True)
    frames = int(seconds * 100)
    for utt in ids:
        np.save(os.path.join(folder, "lld", f"{utt}.npy"),
                (np.arange(frames, dtype=np.float32) * 0.01 + 0.01)[:, None].astype(np.float16))
    with open(os.path.join(folder, "features.json"), "w") as f:
        json.dump({"columns": ["time_sma"], "hop_seconds": 0.01}, f)
    with open(os.path.join(folder, "stats.json"), "w") as f:
        json.dump({}, f)
    return folder


def entry(model, labeller, **extra):
    return dict(model=model, labeller=labeller, optimizer=lambda p: torch.optim.Adam(p, lr=3e-3), **extra)


def test_encoders_give_one_frame_per_10_ms_and_record_their_config():
    wavs = torch.randn(2, 16000)
    for encoder in (tiny_encoder(), PASEEncoder(sinc_channels=8, channels=[8, 8, 8, 8, 16], output_size=16)):
        out = encoder(wavs, torch.tensor([1.0, 0.5]))
        assert out.shape[:2] == (2, 101) and out.shape[2] == encoder.output_size
        assert encoder.config and all(not isinstance(v, tuple) for v in encoder.config.values())
    with pytest.raises(ValueError, match="10 ms frame grid needs 160"):
        PASEEncoder(strides=[10, 2, 2, 2, 1])


def test_build_workers_names_the_missing_or_inconsistent_key():
    f0 = get_labeller("mfcc")
    good = {"regressor": {"mfcc": entry(Regressor(32, 20), f0, weight=0.5)}}
    workers = build_workers(good)
    assert workers["mfcc"].weight == 0.5 and isinstance(workers["mfcc"].loss, torch.nn.L1Loss)
    # fallback on top-level keys, as {worker}_model / {worker}_labeller
    fallback = build_workers({"regressor": {"mfcc": {"optimizer": torch.optim.Adam}}},
                             {"mfcc_model": Regressor(32, 20), "mfcc_labeller": f0})
    assert fallback["mfcc"].model is not None
    with pytest.raises(WorkerConfigError, match=r"`f0_labeller:`"):
        build_workers({"regressor": {"f0": {"model": Regressor(32, 1), "optimizer": torch.optim.Adam}}})
    with pytest.raises(WorkerConfigError, match="needs a 'classification' labeller"):
        build_workers({"classifier": {"mfcc": entry(Classifier(32, 20), f0)}})
    with pytest.raises(WorkerConfigError, match="set `level: utterance`"):
        build_workers({"classifier": {"lim": entry(Classifier(32, 2), get_labeller("lim"))}})
    with pytest.raises(WorkerConfigError, match="expected 'regressor' and/or 'classifier'"):
        build_workers({"regresor": {}})
    # a misspelled key in an entry would leave the weight at 1.0 (or the labeller to a fallback) without a word
    misspelled = {k: v for k, v in entry(Regressor(32, 20), f0).items() if k != "weight"}
    with pytest.raises(WorkerConfigError, match=r"unknown keys \['wieght'\].*'weight'"):
        build_workers({"regressor": {"mfcc": {**misspelled, "wieght": 0.1}}})


def test_every_worker_loss_decreases_on_a_fixed_batch(tmp_path):
    torch.manual_seed(0)
    ids = [f"utt{k}" for k in range(4)]
    lld = ramp_store(str(tmp_path / "lld"), ids)
    config = {"regressor": {
        "mfcc": entry(Regressor(32, 20, hidden_size=64), get_labeller("mfcc")),
        "fbank": entry(Regressor(32, 40, hidden_size=64), get_labeller("fbank")),
        "lps": entry(Regressor(32, 201, hidden_size=64), get_labeller("lps")),
        "prosody": entry(Regressor(32, 4, hidden_size=64), get_labeller("prosody")),
        "decoder": entry(Regressor(32, 160, hidden_size=64), get_labeller("waveform")),
        "time": entry(Regressor(32, 1, hidden_size=64), get_labeller("lld", lld_folder=lld, column="time_sma")),
    }, "classifier": {
        "lim": entry(InfoMax(32, 32, "local"), get_labeller("lim")),
        "gim": entry(InfoMax(32, 32, "global"), get_labeller("gim")),
        "spc": entry(InfoMax(32, 32, "spc"), get_labeller("spc")),
        "bins": entry(Classifier(32, 4, hidden_size=64),
                      get_labeller("lld_bins", lld_folder=lld, column="time_sma", num_bins=4)),
    }}
    workers = build_workers(config)
    encoder = tiny_encoder()
    heads = WorkerHeads({n: w.model for n, w in workers.items()})
    opts = [torch.optim.Adam(encoder.parameters(), lr=3e-3)] + [w.optimizer(w.model.parameters())
                                                                 for w in workers.values()]
    wavs, lengths = tones(), torch.tensor([1.0, 1.0, 0.8, 0.6])
    offsets = torch.tensor([0, 1600, 3200, 8000])
    history = {n: [] for n in workers}
    for _ in range(40):
        feats = encoder(wavs, lengths)
        preds = heads(feats, lengths)
        batch = LabelBatch(wavs, lengths, ids, offsets, num_frames=feats.shape[1])
        total = 0
        for name, worker in workers.items():
            loss = worker_loss(worker, preds[name], worker.labeller(batch), lengths)
            history[name].append(loss.item())
            total = total + loss
        for opt in opts:
            opt.zero_grad()
        total.backward()
        for opt in opts:
            opt.step()
    for name, losses in history.items():
        first, last = np.mean(losses[:3]), np.mean(losses[-3:])
        assert last < 0.9 * first, (name, first, last)


def test_worker_loss_ignores_padded_frames_and_checks_sizes():
    worker = build_workers({"regressor": {"x": entry(Regressor(4, 1), get_labeller("mfcc"))}})["x"]
    pred, target = torch.zeros(2, 10, 1), torch.zeros(2, 10, 1)
    target[1, 5:] = 100.0  # beyond the second item's length
    assert worker_loss(worker, pred, target, torch.tensor([1.0, 0.5])).item() == 0.0
    with pytest.raises(WorkerConfigError, match="set `output_size: 3`"):
        worker_loss(worker, pred, torch.zeros(2, 10, 3), torch.tensor([1.0, 1.0]))


def test_a_batch_whose_labels_are_all_missing_gives_no_nan(tmp_path):
    """Real Common Voice leaves age empty for many clips: a batch of only those must not stop the run."""
    train_csv = tmp_path / "train.csv"
    train_csv.write_text("ID,duration,wav,age\na,1,x.wav,twenties\nb,1,y.wav,thirties\n")
    labeller = get_labeller("age", train_csv=str(train_csv))
    worker = build_workers({"classifier": {"age": entry(Classifier(4, 2, level="utterance"), labeller)}})["age"]
    batch = LabelBatch(wavs=torch.zeros(2, 160), lengths=torch.ones(2), ids=["c", "d"], offsets=torch.zeros(2),
                       num_frames=1, meta={"age": ["", ""]})
    pred = torch.randn(2, 2, requires_grad=True)
    loss = worker_loss(worker, pred, labeller(batch), torch.ones(2))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros(2, 2))
    half = LabelBatch(wavs=torch.zeros(2, 160), lengths=torch.ones(2), ids=["c", "d"], offsets=torch.zeros(2),
                      num_frames=1, meta={"age": ["", "thirties"]})
    expected = torch.nn.functional.cross_entropy(pred[1:], torch.tensor([labeller.index["thirties"]]))
    torch.testing.assert_close(worker_loss(worker, pred, labeller(half), torch.ones(2)), expected)


def _recipe_module():
    spec = importlib.util.spec_from_file_location("multitask_train", os.path.join(RECIPE, "train.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ramp_corpus(folder, step, count=6):
    """`count` noise files of 3 s, 3 s - step samples, ..., their manifest and a ramp store; (lld, hparams)."""
    ids = [f"utt{k}" for k in range(count)]
    rows = ["ID,duration,wav"]
    for k, utt in enumerate(ids):
        path = str(folder / f"{utt}.wav")
        write_audio(path, 0.1 * torch.randn(48000 - step * k).numpy(), 16000)
        rows.append(f"{utt},{(48000 - step * k) / 16000},{path}")
    (folder / "train.csv").write_text("\n".join(rows) + "\n")
    hparams = {"chunk_size": 16000, "sample_rate": 16000, "train_csv": str(folder / "train.csv"),
               "valid_csv": str(folder / "train.csv"), "meta_columns": [], "sorting": "random"}
    return ramp_store(str(folder / "lld"), ids), hparams


def test_random_crops_carry_offsets_that_cut_stored_targets_at_the_right_time(tmp_path):
    """A ramp track (value = row centre in s) must come back as each encoder frame's centre,
    offset/16000 + k * 10 ms, for every crop."""
    lld, hparams = _ramp_corpus(tmp_path, step=1000)
    datasets = _recipe_module().dataio_prepare(hparams)
    labeller = get_labeller("lld", lld_folder=lld, column="time_sma")
    encoder = tiny_encoder()
    seen = set()
    for split in ("train", "valid"):
        for item in datasets[split]:
            offset = item["offset"]
            seen.add(offset)
            feats = encoder(item["sig"][None])
            batch = LabelBatch(item["sig"][None], torch.ones(1), [item["id"]], torch.tensor([offset]),
                               num_frames=feats.shape[1])
            target = labeller(batch)[0, :, 0]
            expected = (offset / 16000 + 0.01 * torch.arange(feats.shape[1])).clamp(min=0.01)
            assert torch.allclose(target[:95], expected[:95], atol=0.002), (item["id"], offset)
    assert len(seen) > 3  # the crops really are at different places


def test_loader_workers_fetch_the_stored_targets_and_the_step_reads_no_file(tmp_path):
    """Targets from rows the loader workers fetched equal those read in the step, and need no file then."""
    from speechbrain.dataio.batch import PaddedBatch
    from lobes.multitask import Worker, label_fetchers
    lld, hparams = _ramp_corpus(tmp_path, step=3000)
    labeller = get_labeller("lld", lld_folder=lld, column="time_sma")
    workers = {"time": Worker("time", "regressor", None, labeller, None, None)}
    datasets = _recipe_module().dataio_prepare(hparams, None, label_fetchers(workers))
    loader = torch.utils.data.DataLoader(datasets["train"], batch_size=3, num_workers=2, collate_fn=PaddedBatch)
    batches = []
    for batch in loader:
        wavs, lengths = batch.sig
        labels = dict(wavs=wavs, lengths=lengths, ids=list(batch.id), offsets=batch.offset, num_frames=101)
        read = labeller(LabelBatch(**labels))
        batches.append((labels, batch.fetched, read))
    for name in os.listdir(os.path.join(lld, "lld")):  # from here on the step cannot read a track
        os.remove(os.path.join(lld, "lld", name))
    for labels, fetched, read in batches:
        assert torch.equal(labeller(LabelBatch(**labels, fetched=fetched)), read)
    # rows that do not cover the crop's frames (here: a coarse 0.5 s encoder grid) are not used
    labels, fetched, _ = batches[0]
    with pytest.raises(FileNotFoundError, match="no pseudo-labels"):
        labeller(LabelBatch(**dict(labels, num_frames=5), hop_seconds=0.5, fetched=fetched))


def test_exported_encoder_loads_through_the_pretrainer(tmp_path):
    encoder = tiny_encoder().eval()
    folder = export_encoder(encoder, str(tmp_path / "pretrained"))
    loaded = load_pretrained_encoder(folder)
    wavs = torch.randn(1, 8000)
    with torch.no_grad():
        assert torch.allclose(loaded(wavs), encoder(wavs))
    with pytest.raises(UpstreamError, match="pretrained_encoder"):
        load_pretrained_encoder(str(tmp_path))
