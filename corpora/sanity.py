"""Sanity checks that a corpus is learnable: MFCC statistics + nearest centroid.

No training, no model: if this simple baseline identifies speakers and words well
above chance, the corpus carries the information the recipes need.

    python -m corpora.sanity --train a.csv --test b.csv --label spk_id
"""

import argparse
import os

import numpy as np
import torch
from torchaudio.compliance.kaldi import mfcc

from corpora.audio import load_audio
from corpora.manifest import read_csv
from lobes.probes import centroid_accuracy


def mfcc_stats(path, segments=1, num_ceps=20):
    """Mean MFCCs of the loud frames, per time segment, after mean normalization.

    Dropping quiet frames and the utterance mean removes leading/trailing silence
    and most of the channel; `segments` > 1 keeps a coarse temporal order, which
    words need and speakers do not.
    """
    wav = load_audio(path)
    feats = mfcc(wav[None] * 32768, num_ceps=num_ceps, sample_frequency=16000).numpy()
    loud = feats[feats[:, 0] > feats[:, 0].max() - 8]
    if len(loud) < max(segments, 2):
        loud = feats
    if segments == 1:
        return np.concatenate([loud.mean(0), loud.std(0)])
    loud = loud - loud.mean(0)
    return np.concatenate([part.mean(0) for part in np.array_split(loud, segments)])


def nearest_centroid_accuracy(train_rows, test_rows, label, segments=1):
    """(accuracy, chance) of nearest-centroid classification on standardized features."""
    with torch.no_grad():
        x_train = np.stack([mfcc_stats(r["wav"], segments) for r in train_rows])
        x_test = np.stack([mfcc_stats(r["wav"], segments) for r in test_rows])
    return centroid_accuracy(x_train, [r[label] for r in train_rows], x_test, [r[label] for r in test_rows])


def cosine_trial_eer(trials, wav_root):
    """EER (%) of cosine scoring of MFCC statistics on a VoxCeleb trial list."""
    from corpora.voxceleb import read_trials
    from lobes.verification import eer

    trials = read_trials(trials)
    cache = {}

    def embed(rel):
        if rel not in cache:
            vec = mfcc_stats(os.path.join(wav_root, rel))
            cache[rel] = vec / np.linalg.norm(vec)
        return cache[rel]

    scores = np.array([float(embed(a) @ embed(b)) for _, a, b in trials])
    return eer(scores, np.array([label for label, _, _ in trials]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--train", required=True, nargs="+")
    parser.add_argument("--test", required=True, nargs="+")
    parser.add_argument("--label", required=True)
    parser.add_argument("--segments", type=int, default=1)
    args = parser.parse_args(argv)
    train = [r for path in args.train for r in read_csv(path)]
    test = [r for path in args.test for r in read_csv(path)]
    acc, chance = nearest_centroid_accuracy(train, test, args.label, args.segments)
    print(f"{args.label}: accuracy {acc:.3f} (chance {chance:.3f}) on {len(test)} test items")


if __name__ == "__main__":
    main()
