#!/usr/bin/env python3
"""Stage 2 over seeds: one row per `<experiment>[_centroids][_patience<N>]_lr<lr>` folder, mean ± std over its
seeds, next to Stage 1.

    python stage2_seeds.py ../../results/lgl/embedded/seeds --stage1 ../../results/lgl/embedded/stage1 \
        --test_csv ../../results/lgl/embedded/prepared/test.csv

Reads `<folder>/<variant>/<seed>/metrics.json` and `score.txt` (recipes/LGL/compare_seeds.sh), and for the pairing
also each run's and Stage 1's `scores_test.txt` and the test manifest's speakers. Besides the test
EER and minDCF of the checkpoint the validation trials chose, it counts the runs whose chosen checkpoint comes from
a gated phase: the gate helps only where the validation picks what it trained. With `--stage1` and `--test_csv`, a
second table pairs each run with Stage 1 on the same test trials: the difference of their EERs and its 95 %
interval over resamples of the test speakers (`lobes.verification.eer_difference_ci`), since a few tenths of a
point on 16 test speakers may be the list, not the model. Writes `<folder>/seeds.md`.
"""

import argparse
import glob
import json
import os
import re

import numpy as np

from corpora.files import file_sha1, write_text
from corpora.manifest import read_csv
from lobes.trials import read_scores
from lobes.verification import eer_difference_ci


def scored_phase(run, epoch):
    """The phase (train or gated) of `epoch` in the run's score.txt."""
    with open(os.path.join(run, "score.txt")) as f:
        for line in f:
            match = re.match(rf"epoch {epoch}, iteration \d+, phase (\w+),", line)
            if match:
                return match.group(1)
    raise ValueError(f"{run}/score.txt has no line for epoch {epoch}")


def spread(values):
    """mean ± sample std (the mean alone for one value)."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}"


def rows(folder):
    """{variant: [(seed, metrics, phase of the scored epoch)]}, in name order."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, "*", "*", "metrics.json"))):
        run = os.path.dirname(path)
        variant, seed = run.split(os.sep)[-2:]
        with open(path) as f:
            metrics = json.load(f)
        runs.setdefault(variant, []).append((seed, metrics, scored_phase(run, metrics["scored_epoch"])))
    return runs


def table(runs, stage1=None):
    lines = ["| system | seeds | test EER (%) | minDCF | best val EER (%) | chosen from a gated phase |",
             "|---|---|---:|---:|---:|---:|"]
    if stage1 is not None:
        lines.append(f"| Stage 1 | {stage1['seed']} | {stage1['eer']:.2f} | {stage1['min_dcf']:.3f} | "
                     f"{stage1['val_eer']:.2f} | |")
    for variant, results in runs.items():
        metrics = [m for _, m, _ in results]
        gated = sum(phase == "gated" for _, _, phase in results)
        lines.append(f"| Stage 2 {variant} | {' '.join(s for s, _, _ in results)} | "
                     f"{spread([m['eer'] for m in metrics])} | {spread([m['min_dcf'] for m in metrics])} | "
                     f"{spread([m['val_eer'] for m in metrics])} | {gated} of {len(results)} |")
    return "\n".join(lines) + "\n"


def _started_from(run, metrics, stage1_folder):
    """Whether the run started from the Stage-1 model now in `stage1_folder`: its recorded sha1 when it has one
    (`stage1_sha1`), else at least not a model written after the run ended (a Stage 1 trained again since)."""
    embedder = os.path.join(stage1_folder, "save", "embedder.ckpt")
    if not os.path.isfile(embedder):
        return True  # nothing to tell them apart by: the trial lists are still checked
    if "stage1_sha1" in metrics:
        return metrics["stage1_sha1"] == file_sha1(embedder)
    return os.path.getmtime(embedder) <= os.path.getmtime(os.path.join(run, "metrics.json"))


def paired_with_stage1(folder, runs, stage1_folder, test_csv):
    """Markdown table: each run's test EER minus Stage 1's on the same trials, with a speaker-bootstrap interval."""
    rows = read_csv(test_csv)
    if rows and "spk_id" not in rows[0]:
        raise ValueError(f"{test_csv} has no spk_id column: give the test manifest the trials were scored with")
    speaker_of = {row["ID"]: row["spk_id"] for row in rows}
    stage1_path = os.path.join(stage1_folder, "scores_test.txt")
    enrol, test, labels, stage1_scores = read_scores(stage1_path)
    unknown = sorted({u for u in enrol + test if u not in speaker_of})
    if unknown:
        raise ValueError(f"{test_csv} has no speaker for {len(unknown)} utterances of {stage1_path}, e.g. "
                         f"{unknown[0]}: give the test manifest the trials were scored with")
    enrol_spk, test_spk = [speaker_of[u] for u in enrol], [speaker_of[u] for u in test]
    lines = ["| system | seed | test EER (%) | minus Stage 1 (points) | 95 % interval (test speakers resampled) |",
             "|---|---|---:|---:|---|"]
    for variant, results in runs.items():
        for seed, metrics, _ in results:
            run = os.path.join(folder, variant, seed)
            if not _started_from(run, metrics, stage1_folder):
                lines.append(f"| Stage 2 {variant} | {seed} | {metrics['eer']:.2f} | not paired: it started from "
                             "another Stage-1 model | |")
                continue
            path = os.path.join(run, "scores_test.txt")
            run_enrol, run_test, run_labels, scores = read_scores(path)
            if run_enrol != enrol or run_test != test or not np.array_equal(run_labels, labels):
                raise ValueError(f"{path} and {stage1_path} score different trial lists: pair only runs scored on "
                                 "Stage 1's test list (the same --test_trials)")
            difference, (lo, hi) = eer_difference_ci(scores, stage1_scores, labels, enrol_spk, test_spk)
            lines.append(f"| Stage 2 {variant} | {seed} | {metrics['eer']:.2f} | {difference:+.2f} | "
                         f"[{lo:+.2f}, {hi:+.2f}] |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("folder", help="results/lgl/<corpus>/seeds")
    parser.add_argument("--stage1", help="the Stage-1 output folder the runs started from")
    parser.add_argument("--test_csv", help="the test manifest (ID, spk_id) of the scored trials: pairs each run "
                                           "with Stage 1 (needs --stage1)")
    args = parser.parse_args(argv)
    runs = rows(args.folder)
    if not runs:
        raise SystemExit(f"no <variant>/<seed>/metrics.json under {args.folder}: run compare_seeds.sh first")
    stage1 = None
    if args.stage1:
        with open(os.path.join(args.stage1, "metrics.json")) as f:
            stage1 = json.load(f)
    if args.test_csv and not args.stage1:
        parser.error("--test_csv pairs the runs with Stage 1: give --stage1 too")
    text = table(runs, stage1)
    write_text(os.path.join(args.folder, "seeds.md"), text)  # kept if the pairing below fails
    if args.test_csv:
        text += "\n" + paired_with_stage1(args.folder, runs, args.stage1, args.test_csv)
        write_text(os.path.join(args.folder, "seeds.md"), text)
    print(text)


if __name__ == "__main__":
    main()
