"""recipes/LGL/stage2_seeds.py on planted runs: mean ± sample std per variant, and the runs whose chosen checkpoint
comes from a gated phase read from score.txt."""

import importlib.util
import json
import os

import pytest

# loaded from its file: a bare `import` would collide with another recipe's module of the same name in the test session
_SPEC = importlib.util.spec_from_file_location(
    "lgl_stage2_seeds", os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "LGL", "stage2_seeds.py"))
stage2_seeds = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(stage2_seeds)


def _run(folder, eer, scored_epoch, phases):
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"eer": eer, "min_dcf": 0.5, "val_eer": 4.0,
                                                     "scored_epoch": scored_epoch}))
    (folder / "score.txt").write_text("".join(
        f"epoch {e}, iteration 0, phase {p}, gate None, loss 1.0, kept 1.000, val EER 4.00, minDCF 0.5, next "
        "continue\n" for e, p in enumerate(phases, 1)))


def test_rows_spread_and_gated_counts(tmp_path, capsys):
    _run(tmp_path / "lgl_lr0.001" / "1986", 6.0, 3, ["train", "train", "gated"])
    _run(tmp_path / "lgl_lr0.001" / "1987", 8.0, 1, ["train", "gated"])
    _run(tmp_path / "baseline_lr0.001" / "1986", 7.5, 2, ["train", "train"])
    stage2_seeds.main([str(tmp_path)])
    lines = (tmp_path / "seeds.md").read_text().splitlines()
    assert "| Stage 2 lgl_lr0.001 | 1986 1987 | 7.00 ± 1.41 | 0.50 ± 0.00 | 4.00 ± 0.00 | 1 of 2 |" in lines
    assert "| Stage 2 baseline_lr0.001 | 1986 | 7.50 | 0.50 | 4.00 | 0 of 1 |" in lines
    assert capsys.readouterr().out.strip() == "\n".join(lines)


def test_a_scored_epoch_missing_from_score_txt_is_named(tmp_path):
    _run(tmp_path / "lgl_lr0.001" / "1986", 6.0, 5, ["train"])
    with pytest.raises(ValueError, match="score.txt has no line for epoch 5"):
        stage2_seeds.main([str(tmp_path)])


def test_no_runs_is_named(tmp_path):
    with pytest.raises(SystemExit, match="run compare_seeds.sh first"):
        stage2_seeds.main([str(tmp_path)])
