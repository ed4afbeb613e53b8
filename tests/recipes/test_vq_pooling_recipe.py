"""recipes/VQPooling end to end on the tiny corpus: extraction (our encoder with a product quantizer, a tiny
wav2vec 2.0 with its own quantizer), resumed extraction, both benchmarks on every task, and the named errors."""

import json
import os
import re
import subprocess
import sys

import pytest
import torch

from corpora.prepare_embedded import prepare_embedded
from lobes.encoder_folder import export_encoder
from lobes.encoders import FbankCRDNN
from recipe_support import kill_when

RECIPE = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "VQPooling")
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def _run(*args):
    done = subprocess.run([sys.executable, *args], cwd=RECIPE, capture_output=True, text=True, env=ENV)
    return done, done.stdout + done.stderr


@pytest.fixture(scope="module")
def extracted(tiny_corpus, tiny_wav2vec2, tmp_path_factory):
    root, _ = tiny_corpus
    results = tmp_path_factory.mktemp("vq_results")
    prepare_embedded(str(root), str(results / "prepared" / "tiny"))
    torch.manual_seed(0)
    encoder = export_encoder(FbankCRDNN(n_mels=40, cnn_channels=(8,), rnn_neurons=16, dnn_neurons=24).eval(),
                             results / "encoder")
    common = ["--results_root", str(results), "--corpus", "tiny"]
    runs = {"encoder": ["hparams/extract_encoder.yaml", "--upstream", f"pretrained:{encoder}", "--codebook_size",
                        "16", *common],
            "wav2vec2": ["hparams/extract_wav2vec2.yaml", "--wav2vec2_folder",
                         tiny_wav2vec2(results / "wav2vec2_model"), *common]}
    for name, args in runs.items():
        done, out = _run("extract.py", *args)
        assert done.returncode == 0, out[-3000:]
    return results, runs


def test_extraction_caches_frames_and_codes_and_resumes(extracted):
    results, runs = extracted
    for name, size, hop in (("encoder", 24, 0.01), ("wav2vec2", 32, 0.02)):
        folder = results / "vq_pooling" / "tiny" / "features" / name
        info = json.loads((folder / "features.json").read_text())
        assert (info["frame_size"], info["hop_seconds"], info["groups"]) == (size, hop, 2)
        assert info["codebook_size"] == (16 if name == "encoder" else 320)
        feats = sorted((folder / "speech_commands").glob("*.feats.npy"))
        assert len(feats) == len(list((folder / "speech_commands").glob("*.codes.npy"))) > 0
        import numpy as np
        frames, codes = np.load(feats[0]), np.load(str(feats[0]).replace(".feats.", ".codes."))
        assert frames.dtype == np.float16 and codes.dtype == np.int16 and len(frames) == len(codes)
        assert 0 <= codes.min() and codes.max() < info["codebook_size"]
    done, out = _run("extract.py", *runs["encoder"])  # a second run finds everything cached
    assert done.returncode == 0 and "(0 computed now" in out, out[-2000:]


def test_both_benchmarks_run_on_every_task(extracted):
    results, _ = extracted
    done, out = _run("benchmark.py", "--features", "encoder", "wav2vec2", "--corpus", "tiny", "--results_root",
                     str(results), "--poolings", "ap", "whitening", "allsquash_or", "vq_lp", "vq_bp", "sap",
                     "--number_of_epochs", "2")
    assert done.returncode == 0, out[-3000:]
    for features in ("encoder", "wav2vec2"):
        rows = json.loads((results / "vq_pooling" / "tiny" / features / "benchmark.json").read_text())["results"]
        unsupervised = {(r["task"], r["pooling"]) for r in rows if r["benchmark"] == "unsupervised"}
        supervised = {(r["task"], r["pooling"]) for r in rows if r["benchmark"] == "supervised"}
        assert unsupervised == {(t, p) for t in ("kws", "si", "ic", "er", "asv")
                                for p in ("ap", "whitening", "allsquash_or", "vq_lp", "vq_bp")}
        assert supervised == {(t, p) for t in ("kws", "si", "ic", "er")
                              for p in ("ap", "whitening", "allsquash_or", "vq_lp", "vq_bp", "sap")}
        for row in rows:
            assert 0 <= row["value"] <= (100 if row["metric"] == "eer" else 1), row
    er = json.loads((results / "vq_pooling" / "tiny" / "encoder" / "er" / "vq_lp" / "test.json").read_text())
    assert len(er["folds"]) == 5  # each IEMOCAP session is the test fold once
    log = (results / "vq_pooling" / "tiny" / "encoder" / "er" / "vq_lp" / "train_log.txt").read_text()
    assert sorted(re.findall(r"^fold: (\w+), epoch: (\d+) - train loss", log, re.M)) == \
        sorted((fold, epoch) for fold in er["folds"] for epoch in ("1", "2"))  # every head's epochs
    er = json.loads((results / "vq_pooling" / "tiny" / "encoder" / "er" / "vq_lp" / "unsupervised.json").read_text())
    utterances = sum(len(open(results / "prepared" / "tiny" / "iemocap" / f"{s}.csv").readlines()) - 1
                     for s in ("train", "valid", "test"))
    assert len(er["hits"]) == utterances  # every utterance tested once over the folds
    done, out = _run("report.py", "--features", "encoder", "wav2vec2", "--corpus", "tiny", "--results_root",
                     str(results), "--report", str(results / "report"))
    assert done.returncode == 0 and "VQ-LP − AP" in out and (results / "report" / "09_vq_pooling.png").is_file(), \
        out[-2000:]
    done, out = _run("train.py", "hparams/asv.yaml", "--results_root", str(results), "--corpus", "tiny")
    eer = float(out.split("EER ")[1].split(" %")[0])
    assert done.returncode == 0 and 0 <= eer <= 100, out[-2000:]


def test_nothing_is_fitted_on_test_audio(extracted):
    """The quantizer learns from a dataset no task reads; the ASV statistics from speakers in no trial."""
    import csv
    from hyperpyyaml import load_hyperpyyaml

    results, _ = extracted
    with open(os.path.join(RECIPE, "hparams", "extract_encoder.yaml")) as f:
        extraction = load_hyperpyyaml(f, {"results_root": str(results), "corpus": "tiny"})
    assert {m.split("/")[0] for m in extraction["quantizer_training"]} == {"librispeech"}
    with open(os.path.join(RECIPE, "hparams", "asv.yaml")) as f:
        asv = load_hyperpyyaml(f, {"results_root": str(results), "corpus": "tiny"})
    speakers = lambda path: {row["spk_id"] for row in csv.DictReader(open(path))}  # noqa: E731
    assert not speakers(asv["fit_csv"]) & speakers(asv["test_csv"])


@pytest.mark.parametrize("args, message", [
    (["--pooling", "sap", "--mode", "unsupervised"], "is trained with a head"),
    (["--pooling", "vq_lp", "--mode", "test", "--output_folder", "/nonexistent/run"], "run --mode train first"),
    (["--pooling", "vq_xx", "--mode", "unsupervised"], "unknown pooling 'vq_xx'"),
    (["--pooling", "ap", "--mode", "unsupervised", "--features", "missing"], "extract.py"),
])
def test_mistakes_are_named(extracted, args, message):
    results, _ = extracted
    done, out = _run("train.py", "hparams/ic.yaml", "--results_root", str(results), "--corpus", "tiny", *args)
    assert done.returncode != 0 and message in out, out[-2000:]


def _assert_same_cache(folder, reference):
    """The same frame and code files, with the same arrays."""
    import numpy as np

    files = sorted(p.relative_to(reference) for p in reference.glob("*/*.npy"))
    assert files == sorted(p.relative_to(folder) for p in folder.glob("*/*.npy"))
    for name in files:
        np.testing.assert_array_equal(np.load(folder / name), np.load(reference / name))


def test_extraction_killed_midway_resumes_to_the_same_cache(extracted, tmp_path):
    """SIGKILL once some utterances are cached; the rerun completes and its cache equals the uninterrupted one's."""
    import signal

    results, runs = extracted
    args = [*runs["encoder"], "--name", "killed"]
    folder = results / "vq_pooling" / "tiny" / "features" / "killed"
    code = kill_when([sys.executable, "extract.py", *args], RECIPE, ENV,
                     lambda: len(list(folder.glob("*/*.feats.npy"))) >= 20, timeout=120)
    if code != -signal.SIGKILL:
        pytest.skip("the extraction finished before it could be killed")
    assert not (folder / "features.json").exists()  # the interrupted run is not mistaken for a finished one
    done, out = _run("extract.py", *args)
    assert done.returncode == 0, out[-2000:]
    _assert_same_cache(folder, results / "vq_pooling" / "tiny" / "features" / "encoder")


def test_sharded_extraction_then_a_finishing_run_equals_one_run(extracted):
    """Two job-array shards write the frames of their slices, a run without --shard quantizes and finishes: the cache
    equals the one a single run wrote."""

    results, runs = extracted
    args = [*runs["encoder"], "--name", "sharded"]
    folder = results / "vq_pooling" / "tiny" / "features" / "sharded"
    counts = []
    for shard in ("0/2", "1/2"):
        done, out = _run("extract.py", *args, "--shard", shard)
        assert done.returncode == 0 and f"shard {shard[0]}/2" in out, out[-2000:]
        counts.append(len(list(folder.glob("*/*.feats.npy"))))
    assert 0 < counts[0] < counts[1] and not list(folder.glob("*/*.codes.npy"))  # frames only, slice by slice
    assert not (folder / "features.json").exists()
    done, out = _run("extract.py", *args)
    assert done.returncode == 0 and "(0 computed now" in out, out[-2000:]  # every frame came from a shard
    _assert_same_cache(folder, results / "vq_pooling" / "tiny" / "features" / "encoder")
