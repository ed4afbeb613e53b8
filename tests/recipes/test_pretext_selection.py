"""Smoke tests of recipes/PretextSelection on the tiny corpus: select_tasks.py and exp_optimizing.py."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

RECIPES = os.path.join(os.path.dirname(__file__), "..", "..", "recipes")
SELECTION = os.path.join(RECIPES, "PretextSelection")


def _run(folder, *args):
    done = subprocess.run([sys.executable, *map(str, args)], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    return done


@pytest.fixture(scope="module")
def librispeech_selection(tiny_corpus, tmp_path_factory):
    root, _ = tiny_corpus
    base = tmp_path_factory.mktemp("selection")
    prep, lld = base / "prep", base / "lld"
    _run(os.path.join(RECIPES, "PseudoLabels"), "extract.py", "hparams/extract_librispeech.yaml",
         "--data_folder", root / "LibriSpeech", "--prepare_folder", prep, "--output_folder", lld,
         "--num_workers", "2")
    args = ["select_tasks.py", "hparams/select_librispeech.yaml", "--data_folder", root / "LibriSpeech",
            "--prepare_folder", prep, "--lld_folder", lld, "--output_folder", base / "out",
            "--min_occurrences", "5", "--steps", "60"]
    first = _run(SELECTION, *args)
    return base, args, first


def _summary(base):
    return json.loads((base / "out" / "latest" / "summary.json").read_text())


def test_select_writes_ranking_weights_and_a_loadable_fragment(librispeech_selection):
    base, _, _ = librispeech_selection
    run = base / "out" / "latest"
    summary = _summary(base)
    assert summary["groups"] >= 3 and summary["segments_per_group"] == 5
    with open(run / "ranking.csv") as f:
        ranking = list(csv.DictReader(f))
    assert len(ranking) == 90 and {r["pseudo_label"] for r in ranking} >= {"f0", "hnr", "alpharatio"}
    scores = [float(r["hsic"]) for r in ranking]
    assert scores == sorted(scores)
    weights = json.loads((run / "weights.json").read_text())
    sparse, dense = weights["sparsemax"]["weights"], weights["softmax"]["weights"]
    assert sum(sparse.values()) == pytest.approx(1.0, abs=1e-4) and min(sparse.values()) >= 0
    assert all(w > 0 for w in dense.values()) and sum(dense.values()) == pytest.approx(1.0, abs=1e-4)
    assert weights["sparsemax"]["final_loss"] < weights["sparsemax"]["initial_loss"]
    assert (run / "weights.png").stat().st_size > 1000

    # The fragment builds: one Regressor and one stored-LLD labeller per non-zero weight.
    with open(run / "workers_softmax.yaml") as f:
        fragment = load_hyperpyyaml(f, {"lld_folder": str(base / "lld"), "encoder_dim": 32})
    regressors = fragment["workers_config"]["regressor"]
    assert set(regressors) == set(dense)
    assert regressors["f0"]["weight"] == pytest.approx(dense["f0"], abs=1e-4)
    assert regressors["f0"]["labeller"].columns == ["F0final_sma"]
    assert regressors["hnr"]["model"](torch.zeros(2, 7, 32)).shape == (2, 7, 1)


def test_rerun_reuses_the_cached_matrices(librispeech_selection):
    base, args, _ = librispeech_selection
    before = _summary(base)
    _run(SELECTION, *args)
    after = _summary(base)
    assert after["groups_built"] == 0 and before["groups_built"] == before["groups"]
    assert after["top5"] == before["top5"]


def _killed_mid_build(args, out):
    """Runs the selection into `out` and SIGKILLs it once the first group's K matrix is on disk; returns how many
    groups were cached at the kill (None if the run finished first)."""
    k_dir = out / "matrices" / "K"

    def done():  # finished K files; one being written is a `.npy.part<pid>` file until its rename
        return [f for f in os.listdir(k_dir) if f.endswith(".npy")] if k_dir.is_dir() else []

    proc = subprocess.Popen([sys.executable, *map(str, args)], cwd=SELECTION, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not done():
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    return len(done()) if proc.wait() == -signal.SIGKILL else None


def _ranking(run):
    with open(run / "ranking.csv") as f:
        return [(r["pseudo_label"], float(r["hsic"])) for r in csv.DictReader(f)]


def test_a_run_killed_while_caching_matrices_resumes_to_the_same_ranking(librispeech_selection, tmp_path):
    base, args, _ = librispeech_selection
    groups = _summary(base)["groups"]
    for attempt in range(3):  # the kill must land between the first and the last group
        out = tmp_path / f"killed{attempt}"
        killed_args = [a if a != base / "out" else out for a in args]
        cached = _killed_mid_build(killed_args, out)
        if cached is not None and cached < groups:
            break
    else:
        pytest.fail("three runs cached every group before the kill: no partial cache to resume from")
    _run(SELECTION, *killed_args)
    resumed = json.loads((out / "latest" / "summary.json").read_text())
    assert resumed["groups_built"] == groups - cached  # only what the killed run had not cached
    ranking, uninterrupted = _ranking(out / "latest"), _ranking(base / "out" / "latest")
    assert [name for name, _ in ranking] == [name for name, _ in uninterrupted]
    assert [score for _, score in ranking] == pytest.approx([score for _, score in uninterrupted], rel=1e-6)
    assert resumed["top5"] == _summary(base)["top5"]


def test_original_layout_cli_round_trips_the_recipe_matrices(librispeech_selection):
    base, args, _ = librispeech_selection
    # the original's kernel and score (the stored L matrices are those of a fixed sigma)
    original = [a if a != base / "out" else base / "out_original" for a in args]
    _run(SELECTION, *original, "--bandwidth", "fixed", "--score", "hsic", "--restarts", "1")
    matrices = base / "out_original" / "matrices"
    done = _run(SELECTION, "exp_optimizing.py", matrices / "K", matrices / "L", "0", base / "reweighted",
                "--weighting", "softmax", "--steps", "20")
    assert f"{_summary(base)['groups']} groups, 7 pseudo-labels" in done.stdout
    with open(base / "reweighted" / "latest" / "ranking.csv") as f:
        cli = {r["pseudo_label"]: float(r["hsic"]) for r in csv.DictReader(f)}
    with open(base / "out_original" / "latest" / "ranking.csv") as f:
        recipe = {r["pseudo_label"]: float(r["hsic"]) for r in csv.DictReader(f) if r["candidate"]}
    assert cli.keys() == recipe.keys()
    for name, value in recipe.items():
        assert cli[name] == pytest.approx(value, rel=1e-3), name

    (matrices / "L" / "F0final_sma").rename(matrices / "L_f0_moved")
    try:
        os.makedirs(matrices / "L" / "F0final_sma")
        bad = subprocess.run([sys.executable, "exp_optimizing.py", matrices / "K", matrices / "L", "0",
                              base / "bad"], cwd=SELECTION, capture_output=True, text=True)
        assert bad.returncode != 0 and "L_matrix_" in bad.stderr and "is missing" in bad.stderr
    finally:
        os.rmdir(matrices / "L" / "F0final_sma")
        (matrices / "L_f0_moved").rename(matrices / "L" / "F0final_sma")


def test_speaker_groups_on_the_voxceleb_layout(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    prep, lld = tmp_path / "prep", tmp_path / "lld"
    _run(os.path.join(RECIPES, "PseudoLabels"), "extract.py", "hparams/extract_voxceleb.yaml",
         "--data_folder", root / "VoxCeleb" / "vox1", "--prepare_folder", prep, "--output_folder", lld,
         "--num_workers", "2")
    _run(SELECTION, "select_tasks.py", "hparams/select_voxceleb.yaml", "--data_folder", root / "VoxCeleb" / "vox1",
         "--prepare_folder", prep, "--lld_folder", lld, "--output_folder", tmp_path / "out",
         "--min_occurrences", "4", "--steps", "20", "--weightings", "[sparsemax]")
    summary = json.loads((tmp_path / "out" / "latest" / "summary.json").read_text())
    assert summary["groups"] >= 4 and summary["segments_per_group"] == 4
    assert list(summary["optimization_seconds"]) == ["sparsemax"]
    bad = subprocess.run([sys.executable, "select_tasks.py", "hparams/select_voxceleb.yaml", "--data_folder",
                          str(root / "VoxCeleb" / "vox1"), "--prepare_folder", str(prep), "--lld_folder", str(lld),
                          "--output_folder", str(tmp_path / "out2"), "--min_occurrences", "500"],
                         cwd=SELECTION, capture_output=True, text=True)
    assert bad.returncode != 0 and "no group has 500 segments" in bad.stdout + bad.stderr
