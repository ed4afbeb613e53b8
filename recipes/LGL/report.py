#!/usr/bin/env python3
"""The LGL results table (and DET curves) from the runs of example.sh, with the training-free baseline.

    python report.py --stage1 <out> --lgl <out> --baseline <out> --data_folder <vox1 root> --report results/report

Reads each run's metrics.json (test trials, scored once with the best validation checkpoint), adds the cosine
EER of MFCC statistics (corpora.sanity, no training) on the same test trials, prints the markdown table and
writes it with the DET curves as the report fragment `08_lgl.md`.
"""

import argparse
import json
import os
import shutil

from corpora.sanity import cosine_trial_eer

PAPER = {"stage1": "7.36", "lgl": "1.66", "baseline": "–"}  # VoxCeleb1-O, trained on VoxCeleb2 (Tao et al.)


def _metrics(folder):
    path = os.path.join(folder, "metrics.json")
    if not os.path.exists(path):
        raise SystemExit(f"{path} not found: run that stage first (recipes/LGL/example.sh)")
    with open(path) as f:
        return json.load(f)


def table(runs, mfcc_eer, test_trials):
    rows = ["| system | test EER (%) | minDCF (p 0.05) | best val EER (%) | epochs | paper, VoxCeleb1-O EER (%) |",
            "|---|---:|---:|---:|---:|---:|",
            f"| MFCC statistics, cosine, no training | {mfcc_eer:.2f} | | | | |"]
    names = {"stage1": "Stage 1: contrastive + augmentation-adversarial", "baseline":
             "Stage 2 without the gate (baseline)", "lgl": "Stage 2 with the loss gate (LGL)"}
    for key, metrics in runs.items():
        rows.append(f"| {names[key]} | {metrics['eer']:.2f} | {metrics['min_dcf']:.3f} | {metrics['val_eer']:.2f} | "
                    f"{metrics['epochs']} | {PAPER[key]} |")
    return "\n".join(rows) + f"\n\n{test_trials} test trials; every model selected on the validation trials.\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    for key in ("stage1", "baseline", "lgl"):
        parser.add_argument(f"--{key}", required=True)
    parser.add_argument("--data_folder", required=True, help="the VoxCeleb1 root (wav/, veri_test2.txt)")
    parser.add_argument("--report", default=None)
    args = parser.parse_args(argv)
    runs = {key: _metrics(getattr(args, key)) for key in ("stage1", "baseline", "lgl")}
    mfcc = cosine_trial_eer(os.path.join(args.data_folder, "veri_test2.txt"), os.path.join(args.data_folder, "wav"))
    text = table(runs, mfcc, runs["stage1"]["test_trials"])
    print(text)
    if args.report:
        os.makedirs(args.report, exist_ok=True)
        images = []
        for key in runs:
            det = os.path.join(getattr(args, key), "det_test.png")
            if os.path.exists(det):
                shutil.copyfile(det, os.path.join(args.report, f"lgl_{key}_det.png"))
                images.append(f"![{key} DET](lgl_{key}_det.png)")
        with open(os.path.join(args.report, "08_lgl.md"), "w") as f:
            f.write("## Self-supervised speaker verification: loss-gated learning\n\n"
                    "ECAPA-TDNN trained without speaker labels on the embedded VoxCeleb2-like training set "
                    "(recipes/LGL). The paper's figures are VoxCeleb figures, for orientation only.\n\n"
                    + text + "\n" + " ".join(images) + "\n")


if __name__ == "__main__":
    main()
