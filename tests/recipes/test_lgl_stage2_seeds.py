"""recipes/LGL/stage2_seeds.py on planted runs: mean ± sample std per variant, and the runs whose chosen checkpoint
comes from a gated phase read from score.txt."""

import hashlib
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


# Stage 1 and the run on 2 speakers x 2 utterances (a1 a2 b1 b2): every pair, target trials a1-a2 and b1-b2.
PAIRS = [("a1", "a2", 1), ("a1", "b1", 0), ("a1", "b2", 0), ("a2", "b1", 0), ("a2", "b2", 0), ("b1", "b2", 1)]


def _scores(path, scores, pairs=PAIRS):
    path.write_text("".join(f"{a} {b} {y} {s}\n" for (a, b, y), s in zip(pairs, scores)))


def _paired_setup(tmp_path, run_scores):
    stage1 = tmp_path / "stage1"
    stage1.mkdir()
    (stage1 / "metrics.json").write_text(json.dumps({"seed": 1986, "eer": 50.0, "min_dcf": 1.0, "val_eer": 4.0}))
    # Stage 1: targets 0.9 and 0.2 against non-targets 0.5, 0.4, 0.3, 0.1. Accepting scores > 0.3 (SpeechBrain's
    # rule, where miss and false-alarm rates meet) misses 0.2 (1 of 2) and accepts 0.5 and 0.4 (2 of 4) -> 50 %
    _scores(stage1 / "scores_test.txt", [0.9, 0.5, 0.4, 0.3, 0.1, 0.2])
    run = tmp_path / "seeds" / "lgl_lr0.001" / "1987"
    _run(run, 0.0, 1, ["train"])
    _scores(run / "scores_test.txt", run_scores)
    (tmp_path / "test.csv").write_text("ID,duration,wav,spk_id\n" + "".join(
        f"{u},1.0,/x/{u}.wav,{u[0]}\n" for u in ("a1", "a2", "b1", "b2")))
    return ["--stage1", str(stage1), "--test_csv", str(tmp_path / "test.csv")]


def test_runs_are_paired_with_stage1_on_the_same_trials(tmp_path):
    args = _paired_setup(tmp_path, [0.9, 0.5, 0.4, 0.3, 0.1, 0.8])  # separable: EER 0, 50 points below Stage 1
    stage2_seeds.main([str(tmp_path / "seeds")] + args)
    lines = (tmp_path / "seeds" / "seeds.md").read_text().splitlines()
    # of two speakers, the only resamples with a non-target trial draw each speaker once: the full list again
    assert "| Stage 2 lgl_lr0.001 | 1987 | 0.00 | -50.00 | [-50.00, -50.00] |" in lines


def test_a_run_on_another_trial_list_is_refused(tmp_path):
    args = _paired_setup(tmp_path, [0.9, 0.5, 0.4, 0.3, 0.1, 0.8])
    _scores(tmp_path / "seeds" / "lgl_lr0.001" / "1987" / "scores_test.txt", [0.9] * 5, PAIRS[:5])
    with pytest.raises(ValueError, match="score different trial lists"):
        stage2_seeds.main([str(tmp_path / "seeds")] + args)


def test_an_utterance_without_a_speaker_is_named(tmp_path):
    args = _paired_setup(tmp_path, [0.9, 0.5, 0.4, 0.3, 0.1, 0.8])
    (tmp_path / "test.csv").write_text("ID,duration,wav,spk_id\na1,1.0,/x/a1.wav,a\n")
    with pytest.raises(ValueError, match="has no speaker for 3 utterances"):
        stage2_seeds.main([str(tmp_path / "seeds")] + args)


@pytest.mark.parametrize("bad_line", ["a1 b1 yes 0.3", "a1 b1 0 nan", "a1 b1 0"])
def test_a_malformed_score_line_is_named(tmp_path, bad_line):
    args = _paired_setup(tmp_path, [0.9, 0.5, 0.4, 0.3, 0.1, 0.8])
    with open(tmp_path / "stage1" / "scores_test.txt", "a") as f:
        f.write(bad_line + "\n")
    with pytest.raises(ValueError, match=r"scores_test.txt:7: expected '<enrol> <test> <0\|1> <finite score>'"):
        stage2_seeds.main([str(tmp_path / "seeds")] + args)


def test_a_run_of_another_stage1_model_is_not_paired(tmp_path):
    args = _paired_setup(tmp_path, [0.9, 0.5, 0.4, 0.3, 0.1, 0.8])
    embedder = tmp_path / "stage1" / "save" / "embedder.ckpt"
    embedder.parent.mkdir()
    embedder.write_bytes(b"stage 1 weights")
    run = tmp_path / "seeds" / "lgl_lr0.001" / "1987"
    _run(run.parent / "1988", 0.0, 1, ["train"])
    _scores(run.parent / "1988" / "scores_test.txt", [0.9, 0.5, 0.4, 0.3, 0.1, 0.8])
    for seed, sha1 in (("1987", hashlib.sha1(b"stage 1 weights").hexdigest()), ("1988", "0" * 40)):
        metrics = json.loads((run.parent / seed / "metrics.json").read_text())
        (run.parent / seed / "metrics.json").write_text(json.dumps(dict(metrics, stage1_sha1=sha1)))
    stage2_seeds.main([str(tmp_path / "seeds")] + args)
    lines = (tmp_path / "seeds" / "seeds.md").read_text().splitlines()
    assert "| Stage 2 lgl_lr0.001 | 1987 | 0.00 | -50.00 | [-50.00, -50.00] |" in lines
    assert "| Stage 2 lgl_lr0.001 | 1988 | 0.00 | not paired: it started from another Stage-1 model | |" in lines
    # a run without a recorded sha1 that ended before the Stage-1 model was written cannot have started from it
    (run.parent / "1988").rename(tmp_path / "elsewhere")
    metrics = json.loads((run / "metrics.json").read_text())
    del metrics["stage1_sha1"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    os.utime(run / "metrics.json", (embedder.stat().st_mtime - 60,) * 2)
    stage2_seeds.main([str(tmp_path / "seeds")] + args)
    assert "not paired: it started from another Stage-1 model" in (tmp_path / "seeds" / "seeds.md").read_text()


def test_pairing_needs_stage1_and_the_speakers(tmp_path, capsys):
    args = _paired_setup(tmp_path, [0.9, 0.5, 0.4, 0.3, 0.1, 0.8])
    with pytest.raises(SystemExit):
        stage2_seeds.main([str(tmp_path / "seeds")] + args[2:])  # --test_csv alone
    assert "--test_csv pairs the runs with Stage 1: give --stage1 too" in capsys.readouterr().err
    (tmp_path / "test.csv").write_text("ID,duration,wav\na1,1.0,/x/a1.wav\n")
    with pytest.raises(ValueError, match="test.csv has no spk_id column"):
        stage2_seeds.main([str(tmp_path / "seeds")] + args)
    # the table of seeds is written before the pairing fails
    assert "| Stage 2 lgl_lr0.001 | 1987 | 0.00 |" in (tmp_path / "seeds" / "seeds.md").read_text()
