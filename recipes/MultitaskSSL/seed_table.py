#!/usr/bin/env python3
"""The pretraining comparison over seeds: one row per encoder, mean ± std over its runs.

    python seed_table.py ../../results/downstream/embedded/seeds --tasks verification speaker_id

Reads every `<folder>/<task>/<encoder>/<seed>/metrics.json` that recipes/Downstream/compare.py wrote. An encoder
pretrained with another seed is named `<experiment>_s<seed>` (recipes/MultitaskSSL/example.sh --pretrain_seeds):
its runs join the `<experiment>` row, so a row's spread covers the pretraining seeds (and the downstream seeds of
the encoders that have no pretraining: Fbank, MFCC, random twins). Writes `<folder>/seeds.md` and `seeds.png`.
"""

import argparse
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Downstream"))
from comparison_table import chart, markdown_table  # noqa: E402


def collect(folder, tasks):
    """{task: {row name: {"<pretrain seed>/<downstream seed>": metrics}}} and the row names in a stable order."""
    results, names = {task: {} for task in tasks}, []
    for task in tasks:
        for path in sorted(glob.glob(os.path.join(folder, task, "*", "*", "metrics.json"))):
            encoder, seed = path.split(os.sep)[-3:-1]
            match = re.fullmatch(r"(.+)_s(\d+)", encoder)
            row, pretrain_seed = (match.group(1), match.group(2)) if match else (encoder, "1986")
            with open(path) as f:
                results[task].setdefault(row, {})[f"{pretrain_seed}/{seed}"] = json.load(f)
            if row not in names:
                names.append(row)
    for task in tasks:
        for name in names:
            results[task].setdefault(name, {})
    return results, names


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--tasks", nargs="+", default=["verification", "speaker_id"])
    args = parser.parse_args(argv)
    results, names = collect(args.folder, args.tasks)
    if not names:
        raise SystemExit(f"no metrics.json under {args.folder}/<task>/<encoder>/<seed>/: run compare.py first")
    runs = {name: max(len(results[t][name]) for t in args.tasks) for name in names}
    text = ("| encoder | runs |\n|---|---:|\n" + "".join(f"| {n} | {runs[n]} |\n" for n in names) + "\n"
            + markdown_table(results, names, args.tasks))
    with open(os.path.join(args.folder, "seeds.md"), "w") as f:
        f.write(text)
    chart(results, names, args.tasks, os.path.join(args.folder, "seeds.png"))
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
