#!/usr/bin/env python3
"""Tables (tasks × poolings, plus the average) and a heat map from benchmark.py's results, next to the paper's.

    python report.py --features encoder fbank --corpus embedded --report ../../results/report

Writes `<report>/09_vq_pooling.md` (included in results/REPORT.md) and `09_vq_pooling.png`, and prints the tables.
The average is over KWS, SI, IC and ER as in the paper; ASV (cosine EER, lower is better) stands apart.
"""

import argparse
import json
import os

import numpy as np

from lobes.pooling import POOLINGS

TASKS = ("kws", "si", "ic", "er")
HERE = os.path.dirname(os.path.abspath(__file__))
# Park et al. (2023), wav2vec 2.0 base, accuracy % (KWS, SI, IC, ER, and the average as published): Table 1
# (unsupervised 1-NN) and Table 2 (supervised, linear head)
PAPER_UNSUPERVISED = {
    "ap": (58.44, 13.85, 26.71, 53.44, 38.11), "sp": (68.43, 15.63, 33.11, 53.30, 42.62),
    "whitening": (60.55, 15.13, 36.59, 50.88, 40.79), "softdecay": (58.66, 13.66, 26.71, 53.44, 38.12),
    "squash_and": (58.46, 14.82, 26.97, 52.76, 38.26), "squash_or": (55.83, 14.12, 24.97, 52.00, 36.73),
    "allsquash_and": (65.16, 14.80, 32.96, 53.50, 41.60), "allsquash_or": (65.92, 12.99, 37.81, 52.61, 42.33),
    "vq_sif": (59.62, 13.33, 36.54, 54.28, 40.94), "vq_lp": (74.48, 15.53, 48.11, 55.48, 48.40),
    "vq_gp": (67.98, 12.91, 41.55, 54.11, 44.14), "vq_bp": (73.48, 12.94, 50.99, 55.13, 48.14)}
PAPER_SUPERVISED = {
    "ap": (94.89, 65.36, 91.88, 62.59, 78.68), "sp": (95.15, 64.72, 97.39, 55.66, 79.18),
    "vq_lp": (95.49, 64.82, 95.70, 62.73, 79.69), "sap": (95.15, 40.86, 97.39, 55.66, 72.27),
    "asp": (95.70, 36.52, 97.47, 59.34, 72.26), "vap": (96.74, 68.50, 99.50, 65.50, 82.56)}


def load(results_root, corpus, features):
    path = os.path.join(results_root, "vq_pooling", corpus, features, "benchmark.json")
    if not os.path.isfile(path):
        raise SystemExit(f"{path} not found: run benchmark.py --features {features} first")
    with open(path) as f:
        return json.load(f)["results"]


def grid(rows, benchmark):
    """{pooling: {task: value}} of one benchmark (accuracy in %, ASV EER in %)."""
    out = {}
    for row in rows:
        if row["benchmark"] == benchmark:
            out.setdefault(row["pooling"], {})[row["task"]] = row["value"] * (1 if row["metric"] == "eer" else 100)
    return {p: out[p] for p in POOLINGS if p in out}


def table(values, with_asv):
    head = "| pooling | KWS | SI | IC | ER | average |" + (" ASV EER ↓ |" if with_asv else "")
    lines = [head, "|---" + "|---:" * (head.count("|") - 2) + "|"]
    best = {t: max((v.get(t, -1) for v in values.values()), default=-1) for t in TASKS}
    for pooling, v in values.items():
        cells = [f"**{v[t]:.1f}**" if t in v and v[t] == best[t] else (f"{v[t]:.1f}" if t in v else "–")
                 for t in TASKS]
        average = np.mean([v[t] for t in TASKS]) if all(t in v for t in TASKS) else float("nan")
        lines.append(f"| {pooling} | {' | '.join(cells)} | {average:.1f} |" +
                     (f" {v['asv']:.1f} |" if with_asv and "asv" in v else " – |" if with_asv else ""))
    return "\n".join(lines)


def paper_table(values):
    lines = ["| pooling | KWS | SI | IC | ER | average (as published) |", "|---|---:|---:|---:|---:|---:|"]
    for pooling, v in values.items():
        lines.append(f"| {pooling} | {' | '.join(f'{x:.2f}' for x in v)} |")
    return "\n".join(lines)


def paired_interval(a, b, resamples=2000, seed=0):
    """95 % bootstrap interval of mean(a) - mean(b), in points, resampling test utterances (paired)."""
    difference = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    means = difference[rng.integers(0, len(difference), size=(resamples, len(difference)))].mean(1)
    return 100 * np.percentile(means, 2.5), 100 * np.percentile(means, 97.5)


def verdict(rows, features):
    """Whether VQ-LP beats AP, task by task, with a paired bootstrap interval over the test utterances."""
    hits = {(r["task"], r["pooling"]): r.get("hits") for r in rows if r["benchmark"] == "unsupervised"}
    cells, clearly_better, clearly_worse = [], [], []
    for task in TASKS:
        lp, ap = hits.get((task, "vq_lp")), hits.get((task, "ap"))
        if not lp or not ap:
            continue
        low, high = paired_interval(lp, ap)
        cells.append(f"{task.upper()} {100 * (np.mean(lp) - np.mean(ap)):+.1f} [{low:+.1f}, {high:+.1f}]")
        (clearly_better if low > 0 else clearly_worse if high < 0 else []).append(task.upper())
    if not cells:
        return ""
    return (f"- `{features}`: VQ-LP − AP in points (95 % paired bootstrap interval over test utterances): "
            f"{'; '.join(cells)}. Better beyond the interval on {', '.join(clearly_better) or 'no task'}; worse "
            f"beyond it on {', '.join(clearly_worse) or 'no task'}.")


def heat_map(grids, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(grids), figsize=(3.6 * len(grids) + 1.2, 5.5), squeeze=False)
    for column, (ax, (features, values)) in enumerate(zip(axes[0], grids.items())):
        poolings = [p for p in POOLINGS if any(p in v for v in grids.values())]  # the same rows in every panel
        matrix = np.array([[values.get(p, {}).get(t, np.nan) for t in TASKS] for p in poolings])
        matrix = np.concatenate([matrix, matrix.mean(1, keepdims=True)], axis=1)  # NaN unless every task ran
        relative = matrix - matrix[poolings.index("ap")] if "ap" in poolings else matrix - np.nanmean(matrix, 0)
        image = ax.imshow(relative, cmap="RdBu", vmin=-15, vmax=15, aspect="auto")
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(TASKS) + 1), [t.upper() for t in TASKS] + ["avg"])
        ax.set_yticks(range(len(poolings)), poolings if column == 0 else [])  # the rows are the same in every panel
        ax.set_title(f"{features}: 1-NN accuracy %")
    fig.colorbar(image, ax=axes[0].tolist(), label="points above (blue) or below (red) AP")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--features", nargs="+", default=["encoder", "fbank"])
    parser.add_argument("--corpus", default="embedded")
    parser.add_argument("--results_root", default=os.path.join(HERE, "..", "..", "results"))
    parser.add_argument("--report", default=os.path.join(HERE, "..", "..", "results", "report"))
    args = parser.parse_args(argv)
    parts = ["## VQ pooling (recipes/VQPooling)", "",
             f"Corpus `{args.corpus}`; frames of each upstream pooled into one vector per utterance. Unsupervised: "
             "1-NN (cosine) against the training split, accuracy %; ASV: cosine EER % on the test trials. Supervised: "
             "a linear head per pooling, best validation epoch, test accuracy %. ER averages five session folds. "
             "Bold: the best pooling of a task.", ""]
    grids, verdicts = {}, []
    for features in args.features:
        rows = load(args.results_root, args.corpus, features)
        grids[features] = grid(rows, "unsupervised")
        parts += [f"### `{features}`, unsupervised (no training)", "", table(grids[features], True), ""]
        supervised = grid(rows, "supervised")
        if supervised:
            parts += [f"### `{features}`, supervised (linear head)", "", table(supervised, False), ""]
        verdicts.append(verdict(rows, features))
    parts += ["### Does VQ-LP beat AP here? (unsupervised)", "", *verdicts, "",
              "The interval comes from resampling the test utterances (for ER, those of the five folds pooled), so it "
              "measures the test sets' size, not the spread over training or quantizer seeds.", "",
              "### Published: wav2vec 2.0 base on the full datasets (Park et al., 2023), not measured here", "",
              "Table 1, unsupervised:", "", paper_table(PAPER_UNSUPERVISED), "", "Table 2, supervised (its SP average, 79.18, is not the mean of its four "
              "figures, 78.23):", "", paper_table(PAPER_SUPERVISED), "", "![VQ pooling heat map](09_vq_pooling.png)", ""]
    os.makedirs(args.report, exist_ok=True)
    heat_map(grids, os.path.join(args.report, "09_vq_pooling.png"))
    text = "\n".join(parts)
    with open(os.path.join(args.report, "09_vq_pooling.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
