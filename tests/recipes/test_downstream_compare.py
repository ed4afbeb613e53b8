"""recipes/Downstream/compare.py and the speaker-ID recipe on the tiny corpus; the table's cells."""

import json
import os
import subprocess
import sys

import pytest

from corpora.manifest import read_csv

DOWNSTREAM = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "Downstream")
sys.path.insert(0, DOWNSTREAM)
from compare import parse_encoder  # noqa: E402
from comparison_table import cell, markdown_table  # noqa: E402


def test_encoders_are_named_and_their_folders_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # each recipe runs from its own folder: a relative folder would be lost
    folder = os.path.join("results", "multitask_ssl", "pase", "save", "pretrained_encoder")
    absolute = str(tmp_path / folder)
    assert parse_encoder("fbank") == ("fbank", "fbank")
    assert parse_encoder(f"random:{folder}") == ("random_pase", f"random:{absolute}")
    assert parse_encoder(f"mine=pretrained:{folder}") == ("mine", f"pretrained:{absolute}")


def test_cells_are_mean_and_sample_std_over_seeds_or_the_single_run_interval():
    assert cell({0: {"wer": 10.0}, 1: {"wer": 14.0}}, "wer") == "12.0 ± 2.8"  # std of (10, 14) = sqrt(8)
    # a spread below 1 keeps its mean's decimals: std of (5.0, 5.6) = 0.42
    assert cell({0: {"eer": 5.0}, 1: {"eer": 5.6}}, "eer") == "5.3 ± 0.4"
    assert cell({0: {"eer": 3.25, "ci": [2.5, 4.0]}}, "eer", "ci") == "3.2 [2.5, 4.0]"
    assert cell({0: {"acc": 0.5}, 1: {"failed": "exit 1"}}, "acc") == "0.500 (1 failed)"
    assert cell({0: {"failed": "exit 1"}}, "acc") == "failed"
    assert cell({0: {}}, "acc") == "–"  # not run
    table = markdown_table({"speaker_id": {"a": {0: {"accuracy": 0.9, "train_seconds": 90}}}}, ["a"],
                           ["speaker_id"])
    assert table.splitlines()[2] == "| a | 0.900 | 1.5 |"


def test_compare_runs_every_encoder_reports_a_failure_and_resumes(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    out = tmp_path / "compare"
    cmd = [sys.executable, "compare.py", "--encoders", f"broken=pretrained:{tmp_path / 'nowhere'}", "mfcc",
           "--tasks", "speaker_id", "--settings", "debug", "--data", str(root), "--prepared", str(tmp_path / "prep"),
           "--out", str(out), "--report", str(tmp_path / "report"), "--extra", "speaker_id:--batch_size=8", "--jobs", "2"]
    done = subprocess.run(cmd, cwd=DOWNSTREAM, capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    speakers = {r["spk_id"] for r in read_csv(tmp_path / "prep" / "voxceleb_downstream" / "iden_train.csv")}
    assert len(speakers) == 15
    metrics = json.loads((out / "speaker_id" / "mfcc" / "0" / "metrics.json").read_text())
    assert metrics["encoder"] == "mfcc" and 0 <= metrics["accuracy"] <= 1 and metrics["chance"] == pytest.approx(1 / 15)
    table = (out / "compare.md").read_text()
    assert "| broken | failed |" in table and "| mfcc | " in table
    assert "does not exist" in (out / "speaker_id" / "broken" / "0" / "compare_log.txt").read_text()
    assert (tmp_path / "report" / "07_downstream.md").exists() and (out / "compare.png").stat().st_size > 1000
    # a second call reuses the finished run
    again = subprocess.run(cmd, cwd=DOWNSTREAM, capture_output=True, text=True)
    assert "speaker_id / mfcc" not in again.stdout and "speaker_id / broken" in again.stdout
