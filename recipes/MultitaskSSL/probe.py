#!/usr/bin/env python3
"""Representation check: frozen, mean-pooled encoder features for speaker identification.

    python probe.py PRETRAINED_ENCODER_DIR [--train_csv ...] [--test_csv ...] [--out probe.json]

Speaker identification (VoxCeleb1 identification split of the embedded corpus by default)
with two probes on the same features, nearest centroid and a linear (logistic regression)
probe, for the pretrained encoder and for the same architecture at random initialization
(several seeds: one random draw can be lucky). Pretraining should beat the random encoder.
"""

import argparse
import json
import sys

import numpy as np
import torch
from tqdm import tqdm

from corpora.audio import load_audio
from corpora.files import write_json
from corpora.manifest import read_csv
from lobes.encoder_folder import load_pretrained_encoder
from lobes.probes import centroid_accuracy, linear_probe_accuracy
from lobes.upstream import load_upstream, prepare_upstream
from lobes.workers import masked_mean


@torch.no_grad()
def pooled_features(encoder, rows, max_seconds=3.0, sample_rate=16000, desc="features"):
    out = []
    for row in tqdm(rows, desc=desc, unit="utt"):
        wav = load_audio(row["wav"], sample_rate)[: int(max_seconds * sample_rate)]
        out.append(masked_mean(encoder(wav[None])).squeeze(0).numpy())
    return np.stack(out)


def random_twin(folder, train_csv, seed=0):
    """The exported architecture with seeded random weights, its BatchNorm statistics re-estimated on training
    audio (a fresh BatchNorm in eval mode normalizes with mean 0 / variance 1, which handicaps a random conv
    encoder): the random twin of the downstream recipes (lobes.upstream)."""
    return prepare_upstream(load_upstream(f"random:{folder}", seed=seed), train_csv, seed=seed)


PROBES = {"nearest centroid": centroid_accuracy, "linear": linear_probe_accuracy}


def labelled_rows(path, label):
    """The manifest's rows, or a SystemExit naming the file when it is empty or lacks the `label` column."""
    rows = read_csv(path)
    if not rows:
        sys.exit(f"{path} has no rows: the probe needs a manifest of labelled utterances")
    if label not in rows[0]:
        sys.exit(f"{path} has no column {label!r} (columns: {', '.join(rows[0])}); pass --label with one of them")
    return rows


def probe_encoder(encoder, train, test, label, max_seconds, name):
    """{probe: accuracy} of one encoder, and the chance level."""
    x_train = pooled_features(encoder, train, max_seconds, desc=f"{name}, train")
    x_test = pooled_features(encoder, test, max_seconds, desc=f"{name}, test")
    y_train, y_test = [r[label] for r in train], [r[label] for r in test]
    scores = {probe: fn(x_train, y_train, x_test, y_test) for probe, fn in PROBES.items()}
    return {probe: accuracy for probe, (accuracy, _) in scores.items()}, scores["linear"][1]


def summarize(pretrained, randoms, seeds, chance):
    """Per probe: the pretrained accuracy, each random seed's, their mean and whether pretraining wins."""
    results = {"chance": chance, "random_seeds": list(seeds)}
    for probe in PROBES:
        random_scores = [r[probe] for r in randoms]
        results[probe] = {"pretrained": pretrained[probe], "random init": random_scores,
                          "random mean": float(np.mean(random_scores)),
                          "beats random": bool(pretrained[probe] > max(random_scores))}
    return results


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("encoder_dir")
    parser.add_argument("--train_csv", default="../../results/prepared/embedded/voxceleb/iden_train.csv")
    parser.add_argument("--test_csv", default="../../results/prepared/embedded/voxceleb/iden_test.csv")
    parser.add_argument("--label", default="spk_id")
    parser.add_argument("--max_seconds", type=float, default=3.0)
    parser.add_argument("--random_seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    train, test = labelled_rows(args.train_csv, args.label), labelled_rows(args.test_csv, args.label)
    common = (train, test, args.label, args.max_seconds)
    pretrained, chance = probe_encoder(load_pretrained_encoder(args.encoder_dir), *common, "pretrained")
    randoms = [probe_encoder(random_twin(args.encoder_dir, args.train_csv, seed), *common, f"random init {seed}")[0]
               for seed in args.random_seeds]
    results = summarize(pretrained, randoms, args.random_seeds, chance)
    print(json.dumps(results, indent=1))
    if args.out:
        write_json(args.out, results)


if __name__ == "__main__":
    main(sys.argv[1:])
