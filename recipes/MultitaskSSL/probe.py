#!/usr/bin/env python3
"""Representation check: frozen, mean-pooled encoder features for speaker identification.

    python probe.py PRETRAINED_ENCODER_DIR [--train_csv ...] [--test_csv ...] [--out probe.json]

Nearest-centroid speaker identification (VoxCeleb1 identification split of the embedded
corpus by default) with the pretrained encoder and with the same architecture at random
initialization (seeded): pretraining should beat the random encoder.
"""

import argparse
import json
import sys

import numpy as np
import torch
from hyperpyyaml import load_hyperpyyaml
from tqdm import tqdm

from corpora.audio import load_audio
from corpora.manifest import read_csv, write_json
from corpora.sanity import centroid_accuracy
from lobes.pretraining import load_pretrained_encoder
from lobes.workers import masked_mean


@torch.no_grad()
def pooled_features(encoder, rows, max_seconds=3.0, sample_rate=16000, desc="features"):
    out = []
    for row in tqdm(rows, desc=desc, unit="utt"):
        wav = load_audio(row["wav"], sample_rate)[: int(max_seconds * sample_rate)]
        out.append(masked_mean(encoder(wav[None])).squeeze(0).numpy())
    return np.stack(out)


def random_twin(folder, seed=0):
    """The exported architecture with fresh random weights."""
    torch.manual_seed(seed)
    with open(f"{folder}/hyperparams.yaml") as f:
        return load_hyperpyyaml(f)["encoder"].eval()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("encoder_dir")
    parser.add_argument("--train_csv", default="../../results/prepared/embedded/voxceleb/iden_train.csv")
    parser.add_argument("--test_csv", default="../../results/prepared/embedded/voxceleb/iden_test.csv")
    parser.add_argument("--label", default="spk_id")
    parser.add_argument("--max_seconds", type=float, default=3.0)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    train, test = read_csv(args.train_csv), read_csv(args.test_csv)
    results = {}
    for name, encoder in (("pretrained", load_pretrained_encoder(args.encoder_dir)),
                          ("random init", random_twin(args.encoder_dir))):
        x_train = pooled_features(encoder, train, args.max_seconds, desc=f"{name}, train")
        x_test = pooled_features(encoder, test, args.max_seconds, desc=f"{name}, test")
        accuracy, chance = centroid_accuracy(x_train, [r[args.label] for r in train], x_test,
                                             [r[args.label] for r in test])
        results[name] = accuracy
    results["chance"] = chance
    print(json.dumps(results))
    if args.out:
        write_json(args.out, results)


if __name__ == "__main__":
    main(sys.argv[1:])
