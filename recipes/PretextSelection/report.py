#!/usr/bin/env python3
"""Report fragment of the selection runs: `python report.py REPORT_DIR RUN_DIR [RUN_DIR ...]`.

Writes `REPORT_DIR/03_pretext_selection.md` (and the weight plots beside it) from the
`<output_folder>/latest` folders that select_tasks.py wrote.
"""

import csv
import json
import os
import shutil
import sys

from corpora.files import write_text

# Weights published with the original work (sparsemax), same pseudo-label names.
PUBLISHED = {
    "librispeech_words": {"f0": 0.37, "alpharatio": 0.30, "hnr": 0.27, "rasta_l1": 0.06},
    "voxceleb_speakers": {"hnr": 0.45, "alpharatio": 0.28, "f0": 0.26},
}


def run_section(run, report_dir):
    run = os.path.realpath(run)
    summary = json.load(open(os.path.join(run, "summary.json")))
    weights = json.load(open(os.path.join(run, "weights.json")))
    with open(os.path.join(run, "ranking.csv")) as f:
        ranking = list(csv.DictReader(f))
    task = summary["task"]
    image = f"selection_{task}.png"
    shutil.copyfile(os.path.join(run, "weights.png"), os.path.join(report_dir, image))
    cands = [r for r in ranking if r["candidate"]]
    lines = [f"### {task}: {summary['groups']} groups x {summary['segments_per_group']} segments", "",
             f"K/L matrices built in {summary['matrix_build_seconds']} s ({summary['groups_built']} groups this run); "
             "weighting " + ", ".join(f"{w} {s} s" for w, s in summary["optimization_seconds"].items()) + ". "
             f"Best of all {summary['ranked']} stored LLDs (lowest HSIC): {', '.join(summary['top5'][:3])}. "
             "Ranking with the original scripts' centering matrix: "
             + ("**different**" if summary["ranking_changes_with_original_centering"] else "identical")
             + f" (top 3 there: {', '.join(summary['top5_original_centering'][:3])}).", "",
             "| candidate | HSIC | rank (of all) | rank, original H | "
             + " | ".join(f"{w} weight" for w in weights) + " | published (sparsemax) |",
             "|---|---:|---:|---:|" + "---:|" * len(weights) + "---:|"]
    published = PUBLISHED.get(task, {})
    for r in cands:
        name = r["pseudo_label"]
        cells = [f"{weights[w]['weights'][name]:.2f}" for w in weights]
        lines.append(f"| {name} | {float(r['hsic']):.3g} | {r['rank']} | {r['rank_original_centering']} | "
                     + " | ".join(cells) + f" | {published.get(name, 0.0):.2f} |")
    lines += ["", "HSIC loss of the weighted kernel, first -> last step: "
              + "; ".join(f"{w} {v['initial_loss']:.3g} -> {v['final_loss']:.3g}" for w, v in weights.items()), "",
              f"![weights and loss, {task}]({image})", ""]
    return lines


def main(report_dir, *runs):
    os.makedirs(report_dir, exist_ok=True)
    lines = ["## Pretext-task selection (HSIC ranking, softmax/sparsemax weights)", "",
             "Lower HSIC = the pseudo-label is closer to conditionally independent of the speech given the "
             "downstream label = a better pretext task. Weights: the original settings (SGD lr 0.01, momentum 0.9, "
             "1000 steps). Published weights were measured on LibriSpeech / VoxCeleb, not on this corpus.", ""]
    for run in runs:
        lines += run_section(run, report_dir)
    print(write_text(os.path.join(report_dir, "03_pretext_selection.md"), "\n".join(lines)))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__.splitlines()[0])
    main(*sys.argv[1:])
