#!/usr/bin/env python3
"""Report fragment of pretraining runs: `python report.py REPORT_DIR RUN_DIR [RUN_DIR ...]`.

Each RUN_DIR is a train.py output folder holding losses.csv, losses.png and probe.json
(written by probe.py). Writes REPORT_DIR/04_multitask_ssl.md and copies the loss plots.
"""

import csv
import json
import os
import re
import shutil
import sys

from corpora.files import write_text


def _probe_cells(scores):
    mark = " (beats random)" if scores["beats random"] else ""
    return (f"{scores['pretrained']:.3f}{mark} | {scores['random mean']:.3f} "
            f"({max(scores['random init']):.3f}) | ")


def _data_of(run):
    """What a run was pretrained on (`pooled`, `common_voice`), from the record example.sh writes into it."""
    path = os.path.join(run, "pretraining_run.txt")
    if not os.path.exists(path):
        return "?"
    with open(path) as f:
        found = re.search(r"data=(\S+)", f.read())
    return found.group(1) if found else "?"


def main(report_dir, *runs):
    os.makedirs(report_dir, exist_ok=True)
    lines = ["## Multitask self-supervised pretraining", "",
             "Encoders pretrained on the data of the `data` column (`pooled`: every speech layout without its "
             "test splits; `common_voice`: that layout alone); representation check: speaker "
             "identification on the VoxCeleb1 identification split, frozen mean-pooled features, nearest "
             "centroid and linear probe, against the same architecture with random weights (mean over the "
             "random seeds, best seed in brackets).", "",
             "| run | data | workers | epochs | first -> last valid loss | centroid, pretrained | centroid, random "
             "| linear, pretrained | linear, random | chance |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
    images = []
    for run in runs:
        name = os.path.basename(os.path.normpath(run))
        with open(os.path.join(run, "losses.csv")) as f:
            history = list(csv.DictReader(f))
        rows = [r for r in history if r["stage"] == "valid" and r["name"] == "loss"]
        workers = sorted({r["name"][:-5] for r in history if r["name"].endswith("_loss")})
        probe = json.load(open(os.path.join(run, "probe.json")))
        lines.append(f"| {name} | {_data_of(run)} | {', '.join(workers)} | {rows[-1]['epoch']} | "
                     f"{float(rows[0]['loss']):.3g} -> {float(rows[-1]['loss']):.3g} | "
                     + "".join(_probe_cells(probe[p]) for p in ("nearest centroid", "linear"))
                     + f"{probe['chance']:.3f} |")
        image = f"multitask_{name}_losses.png"
        shutil.copyfile(os.path.join(run, "losses.png"), os.path.join(report_dir, image))
        images.append(f"![{name} losses]({image})")
    lines += [""] + images + [""]
    print(write_text(os.path.join(report_dir, "04_multitask_ssl.md"), "\n".join(lines)))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__.splitlines()[0])
    main(*sys.argv[1:])
