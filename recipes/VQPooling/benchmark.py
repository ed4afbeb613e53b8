#!/usr/bin/env python3
"""Both benchmarks of the paper for every pooling and task, in one process (train.py's functions, same results).

    python benchmark.py --features encoder fbank                       # embedded corpus, every pooling and task
    python benchmark.py --features encoder --tasks kws ic --poolings ap vq_lp --benchmarks unsupervised

Unsupervised (Table 1 of Park et al.): 1-NN accuracy of the parameter-free poolings (ASV: cosine EER). Supervised
(Table 2): a linear head per pooling, trained poolings included, best validation checkpoint, test accuracy. Every run
writes its json in its own output folder as train.py does; a finished run with the same settings (extraction, epochs,
rates) is read back instead of repeated, one with other settings is deleted and redone;
`<results>/<features>/benchmark.json` gathers them all (report.py turns it into tables and a heat map).
"""

import argparse
import json
import os
import shutil
import sys
import time

from hyperpyyaml import load_hyperpyyaml

import train
from features import FeatureStore
from lobes.pooling import POOLINGS, TRAINED

TASKS = ("kws", "si", "ic", "er", "asv")
HERE = os.path.dirname(os.path.abspath(__file__))


def load_task(task, overrides):
    with open(os.path.join(HERE, "hparams", f"{task}.yaml")) as f:
        hparams = load_hyperpyyaml(f, overrides)
    return hparams


def finished(hparams, mode, wanted):
    """The stored result of a run with the same settings; a run with other settings is deleted (it is redone)."""
    path = os.path.join(hparams["output_folder"], f"{mode}.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        stored = json.load(f)
    if stored.get("settings") == wanted:
        return stored
    print(f"{hparams['output_folder']}: settings changed since its runs, redoing them", flush=True)
    shutil.rmtree(hparams["output_folder"])
    return None


def run_all(features, tasks, poolings, benchmarks, corpus, overrides):
    results = []
    for task in tasks:
        for pooling in poolings:
            chosen = {k: v for k, v in overrides.items() if task != "asv" or k != "number_of_epochs"}  # not trained
            hparams = load_task(task, {"features": features, "pooling": pooling, "corpus": corpus, **chosen})
            wanted = train.settings(hparams, FeatureStore(hparams["features_folder"]).info())
            modes = []
            if "unsupervised" in benchmarks and pooling not in TRAINED:
                modes.append("unsupervised")
            if "supervised" in benchmarks and task != "asv":
                modes += ["train", "test"]
            for mode in modes:
                start = time.time()
                metrics = finished(hparams, mode, wanted) or train.run(hparams, mode)
                if mode != "train":
                    value = metrics.get("accuracy", metrics.get("eer"))
                    print(f"{features:10s} {task:4s} {pooling:14s} {mode:12s} {value:8.3f}  ({time.time() - start:.1f} s)",
                          flush=True)
                    results.append({"features": features, "task": task, "pooling": pooling,
                                    "benchmark": "unsupervised" if mode == "unsupervised" else "supervised",
                                    "metric": "eer" if "eer" in metrics else "accuracy", "value": value,
                                    "hits": metrics.get("hits")})
    return results


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--features", nargs="+", default=["encoder", "fbank"],
                        help="features folders written by extract.py (their `name`)")
    parser.add_argument("--corpus", default="embedded")
    parser.add_argument("--results_root", default=os.path.join(HERE, "..", "..", "results"),
                        help="holds prepared/<corpus> and receives vq_pooling/<corpus>")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--poolings", nargs="+", default=list(POOLINGS), choices=POOLINGS)
    parser.add_argument("--benchmarks", nargs="+", default=["unsupervised", "supervised"],
                        choices=["unsupervised", "supervised"])
    parser.add_argument("--number_of_epochs", type=int, help="of each supervised head (default: the task YAML's)")
    args = parser.parse_args(argv)
    overrides = {"results_root": os.path.abspath(args.results_root)}
    if args.number_of_epochs:
        overrides["number_of_epochs"] = args.number_of_epochs
    for features in args.features:
        start = time.time()
        results = run_all(features, args.tasks, args.poolings, args.benchmarks, args.corpus, overrides)
        folder = os.path.join(args.results_root, "vq_pooling", args.corpus, features)
        os.makedirs(folder, exist_ok=True)
        path = os.path.normpath(os.path.join(folder, "benchmark.json"))
        with open(path, "w") as f:
            json.dump({"features": features, "corpus": args.corpus, "results": results,
                       "seconds": round(time.time() - start, 1)}, f, indent=1)
        print(f"{features}: {len(results)} results in {time.time() - start:.0f} s -> {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
