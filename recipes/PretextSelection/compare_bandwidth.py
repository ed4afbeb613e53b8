#!/usr/bin/env python3
"""Does the kernel bandwidth or the score change the selection? Runs select_tasks.py with every combination of
`bandwidth` (fixed, median) and `score` (hsic, cka) on one task and writes one table.

    python compare_bandwidth.py hparams/select_voxceleb.yaml --out ../../results/pretext_selection/bandwidth_voxceleb
    python compare_bandwidth.py hparams/select_librispeech.yaml --out ... -- --lld_folder /exp/pseudo_labels/ls

Arguments after `--` go to select_tasks.py (overrides of the YAML). Each run goes to `<out>/<bandwidth>_<score>/` and
reuses the matrices of the first one (the K and segment values do not depend on these options). Writes
`<out>/bandwidth.md`: per combination the five best-ranked pseudo-labels, the rank correlation (Spearman) of the
whole ranking with the original's (fixed, hsic), and the sparsemax and softmax weights of the candidates.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
COMBINATIONS = [("fixed", "hsic"), ("fixed", "cka"), ("median", "hsic"), ("median", "cka")]


def spearman(order_a, order_b):
    """Rank correlation of two orderings of the same labels."""
    rank_b = {label: k for k, label in enumerate(order_b)}
    a = np.arange(len(order_a), dtype=float)
    b = np.array([rank_b[label] for label in order_a], dtype=float)
    return float(np.corrcoef(a, b)[0, 1])


def run(yaml, folder, bandwidth, score, extra):
    cmd = [sys.executable, "select_tasks.py", yaml, "--output_folder", folder, "--bandwidth", bandwidth, "--score", score,
           *extra]
    done = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    latest = os.path.join(folder, "latest")
    with open(os.path.join(latest, "ranking.csv")) as f:
        order = [line.split(",")[1] for line in f.read().splitlines()[1:]]  # rank,pseudo_label,...
    with open(os.path.join(latest, "weights.json")) as f:
        weights = json.load(f)
    return order, weights


def table(results):
    original = results[("fixed", "hsic")][0]
    weightings = list(next(iter(results.values()))[1])
    candidates = list(next(iter(results.values()))[1][weightings[0]]["weights"])
    lines = ["| bandwidth | score | top 5 | Spearman vs original | "
             + " | ".join(f"{w}: " + ", ".join(candidates) for w in weightings) + " |",
             "|---|---|---|---:|" + "---|" * len(weightings)]
    for (bandwidth, score), (order, weights) in results.items():
        cells = [" ".join(f"{weights[w]['weights'][c]:.2f}" for c in candidates) for w in weightings]
        lines.append(f"| {bandwidth} | {score} | {', '.join(order[:5])} | {spearman(order, original):.2f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("yaml")
    parser.add_argument("--out", required=True)
    split = argv.index("--") if "--" in argv else len(argv)
    args, extra = parser.parse_args(argv[:split]), argv[split + 1:]
    yaml, out = os.path.abspath(args.yaml), os.path.abspath(args.out)
    results = {}
    for bandwidth, score in COMBINATIONS:
        folder = os.path.join(out, f"{bandwidth}_{score}")
        first = os.path.join(out, "fixed_hsic", "matrices")
        if not os.path.isdir(os.path.join(folder, "matrices")) and os.path.isdir(first):
            shutil.copytree(first, os.path.join(folder, "matrices"))  # the same K and values
        print(f"== {bandwidth} bandwidth, {score} score -> {folder}", flush=True)
        results[(bandwidth, score)] = run(yaml, folder, bandwidth, score, extra)
    text = (f"# Bandwidth and score of the selection: {os.path.basename(yaml)}\n\n"
            "Weights in the candidates' order given in the header.\n\n" + table(results))
    with open(os.path.join(out, "bandwidth.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
