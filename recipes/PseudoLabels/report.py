#!/usr/bin/env python3
"""Report fragment of the pseudo-label extraction: what was stored, and a picture of it.

    python report.py <output_folder> <report_dir>

Writes `<report_dir>/02_pseudo_labels.md` and `pseudo_labels_example.png` (the
candidate pretext LLDs of one training utterance, normalized).
"""

import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from corpora.files import write_text  # noqa: E402
from labellers.lld_store import LLDStore  # noqa: E402

CANDIDATES = ["F0final_sma", "logHNR_sma", "pcm_RMSenergy_sma", "voicingFinalUnclipped_sma",
              "pcm_zcr_sma", "audspecRasta_lengthL1norm_sma", "alphaRatio_sma3"]


def main(folder, report_dir):
    store = LLDStore(folder)
    with open(os.path.join(folder, "failures.csv"), newline="") as f:
        failures = list(csv.DictReader(f))
    utterances = sorted(n[:-4] for n in os.listdir(os.path.join(folder, "lld")) if n.endswith(".npy"))
    stats = store.stats
    nonfinite = {c: n for c, n in zip(stats["columns"], stats["nonfinite"]) if n}
    os.makedirs(report_dir, exist_ok=True)
    example = utterances[0]
    tracks = store.load(example, CANDIDATES)
    fig, axes = plt.subplots(len(CANDIDATES), 1, figsize=(8, 1.1 * len(CANDIDATES)), sharex=True)
    for ax, name, track in zip(axes, CANDIDATES, tracks.T):
        ax.plot([k * store.hop_seconds for k in range(len(track))], track, lw=0.8)
        ax.set_ylabel(name.replace("_sma3", "").replace("_sma", ""), rotation=0, ha="right", fontsize=7)
    axes[-1].set_xlabel(f"seconds ({example}, normalized values)")
    fig.tight_layout()
    fig.savefig(os.path.join(report_dir, "pseudo_labels_example.png"), dpi=90)
    plt.close(fig)
    rows = ["| item | value |", "|---|---|",
            f"| feature sets | {', '.join(store.features['feature_sets'])} (opensmile "
            f"{store.features['opensmile_version']}) |",
            f"| LLD columns (mixed table) | {len(store.columns)} |",
            f"| utterances stored | {len(utterances)} |",
            f"| failed files (failures.csv) | {len(failures)} |",
            f"| training frames behind the statistics | {stats['frames']} |",
            f"| non-finite values replaced | {json.dumps(nonfinite) if nonfinite else 'none'} |"]
    text = "\n\n".join([
        "## Pseudo-labels (OpenSMILE LLDs)",
        f"`recipes/PseudoLabels/extract.py` on the Common Voice layout: one float16 array per utterance in "
        f"`{folder}`, normalized per column with the training split's statistics.",
        "\n".join(rows),
        "![candidate pretext LLDs of one utterance](pseudo_labels_example.png)",
    ])
    print(write_text(os.path.join(report_dir, "02_pseudo_labels.md"), text))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
