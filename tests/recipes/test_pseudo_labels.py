"""Smoke tests of recipes/PseudoLabels/extract.py on the tiny Common Voice layout."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from corpora.manifest import read_csv
from labellers.lld_store import LLDStore

RECIPE = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "PseudoLabels")


def _command(data, prep, out, *extra):
    return [sys.executable, "extract.py", "hparams/extract.yaml", "--data_folder", str(data),
            "--prepare_folder", str(prep), "--output_folder", str(out), *extra]


def _run(*args):
    done = subprocess.run(_command(*args), cwd=RECIPE, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _arrays(out):
    folder = os.path.join(out, "lld")
    return {f: np.load(os.path.join(folder, f)) for f in sorted(os.listdir(folder))}


@pytest.fixture(scope="module")
def extracted(tiny_corpus, tmp_path_factory):
    root, _ = tiny_corpus
    base = tmp_path_factory.mktemp("pseudo")
    _run(root / "CommonVoice/en", base / "prep", base / "out", "--num_workers", "2")
    return root, base


def test_outputs_and_normalization_on_the_training_split(extracted):
    _, base = extracted
    out = base / "out"
    features = json.loads((out / "features.json").read_text())
    assert features["hop_seconds"] == 0.01 and features["feature_sets"] == ["eGeMAPSv02", "ComParE_2016"]
    assert "alphaRatio_sma3" in features["columns"] and "F0final_sma" in features["columns"]
    rows = {s: read_csv(base / "prep" / f"{s}.csv") for s in ("train", "dev", "test")}
    arrays = _arrays(out)
    assert len(arrays) == sum(map(len, rows.values()))
    assert all(a.dtype == np.float16 and a.shape[1] == len(features["columns"]) for a in arrays.values())
    store = LLDStore(str(out))
    train = np.concatenate([store.load(r["ID"]) for r in rows["train"]]).astype(np.float64)
    varying = train.std(0) > 1e-3
    np.testing.assert_allclose(train.mean(0), 0.0, atol=2e-3)
    np.testing.assert_allclose(train.std(0)[varying], 1.0, atol=2e-3)
    # About 100 frames per second of audio, on the 10 ms grid.
    r = rows["dev"][0]
    assert abs(store.load(r["ID"]).shape[0] - 100 * r["duration"]) <= 8
    with pytest.raises(KeyError, match="did you mean"):
        store.column_index("alphaRatio_sma")


def test_sharded_run_then_reduce_equals_one_run(extracted):
    root, base = extracted
    out = base / "sharded"
    for k in range(3):
        done = _run(root / "CommonVoice/en", base / "prep", out, "--shard", f"{k}/3")
        assert "run with --reduce" in done.stdout
    _run(root / "CommonVoice/en", base / "prep", out, "--shard", "0/3", "--reduce")
    one, sharded = _arrays(base / "out"), _arrays(out)
    assert one.keys() == sharded.keys()
    assert all(np.array_equal(one[k], sharded[k]) for k in one)
    assert not (out / "raw").exists()


def test_reduce_before_every_shard_is_done_names_the_missing_shards(extracted):
    root, base = extracted
    out = base / "incomplete"
    _run(root / "CommonVoice/en", base / "prep", out, "--shard", "1/2")
    done = subprocess.run(_command(root / "CommonVoice/en", base / "prep", out, "--shard", "0/2", "--reduce"),
                          cwd=RECIPE, capture_output=True, text=True)
    assert done.returncode != 0 and "shards [0] of 2 have not finished" in done.stdout + done.stderr


def test_killed_run_resumes_to_identical_files(extracted):
    root, base = extracted
    out = base / "killed"
    proc = subprocess.Popen(_command(root / "CommonVoice/en", base / "prep", out), cwd=RECIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        raw = out / "raw"
        if raw.exists() and len(os.listdir(raw)) >= 5:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _run(root / "CommonVoice/en", base / "prep", out)
    one, resumed = _arrays(base / "out"), _arrays(out)
    assert one.keys() == resumed.keys()
    assert all(np.array_equal(one[k], resumed[k]) for k in one)


def _cut_header(path):
    with open(path, "r+b") as f:
        f.truncate(40)


def _cut_data(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _silence(path):
    import soundfile as sf
    data, rate = sf.read(path)
    sf.write(path, data * 0, rate)


@pytest.mark.parametrize("damage, reason", [(_cut_header, "unreadable"), (_cut_data, "truncated: its header declares"),
                                            (_silence, "digital silence")])
def test_a_damaged_file_is_listed_and_the_run_finishes(extracted, tmp_path, damage, reason):
    """Files damaged after prepare wrote the manifest (or a hand-made manifest): each is listed with its reason in
    failures.csv, gets no track, and stays out of the normalization statistics; the others are extracted. An MP3
    cut in half is named against its own header (load_audio), before the manifest's duration is compared."""
    root, base = extracted
    layout = tmp_path / "cv"
    shutil.copytree(root / "CommonVoice/en", layout)
    prep = tmp_path / "prep"
    _run(layout, prep, tmp_path / "warmup", "--shard", "0/1")  # manifests from intact audio
    victim = read_csv(prep / "dev.csv")[0]
    damage(victim["wav"])
    _run(layout, prep, tmp_path / "out")
    with open(tmp_path / "out" / "failures.csv", newline="") as f:
        failures = list(csv.DictReader(f))
    assert [r["ID"] for r in failures] == [victim["ID"]] and reason in failures[0]["reason"]
    assert len(os.listdir(tmp_path / "out" / "lld")) == len(_arrays(base / "out")) - 1


def test_torch_feature_set_stores_the_same_tracks_as_opensmile(extracted):
    root, base = extracted
    _run(root / "CommonVoice/en", base / "prep", base / "torch", "--feature_sets", "[torch]", "--num_workers", "2")
    reference, ours = LLDStore(str(base / "out")), LLDStore(str(base / "torch"))
    assert ours.features["feature_sets"] == ["torch"]
    assert {"alphaRatio_sma3", "F0final_sma", "logHNR_sma"} < set(ours.columns)
    assert set(ours.columns) < set(reference.columns)
    np.testing.assert_allclose([ours.stats["mean"][ours.columns.index(c)] for c in ours.columns],
                               [reference.stats["mean"][reference.columns.index(c)] for c in ours.columns], rtol=1e-4)
    utterances = sorted(f[:-4] for f in os.listdir(base / "out" / "lld"))
    assert utterances == sorted(f[:-4] for f in os.listdir(base / "torch" / "lld"))
    for utt in utterances:
        want, got = reference.load(utt, ours.columns), ours.load(utt, ours.columns)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=4e-3, rtol=2e-3)  # float16 storage of normalized values
