"""VoxCeleb-style trial lists as indices into one embedding matrix, and their score files.

    trials = Trials("prepared/val_trials.txt", "prepared/val.csv")
    scores = verification.cosine_scores(embedding_matrix(embeddings, trials.ids), trials.enrol, trials.test)
    write_scores("scores_val.txt", trials, scores)
    enrol_names, test_names, labels, scores = read_scores("scores_val.txt")
"""

import os

import numpy as np

from corpora.files import atomic_write
from corpora.manifest import read_csv
from corpora.voxceleb import read_trials


class Trials:
    """A VoxCeleb trial list as indices into `ids` (the manifest IDs of its utterances).

    labels, enrol, test: [N]; speakers of each trial side for the speaker bootstrap.
    """

    def __init__(self, path, csv_path):
        by_rel = {"/".join(row["wav"].replace(os.sep, "/").split("/")[-3:]): row for row in read_csv(csv_path)}
        trials = read_trials(path)
        missing = sorted({r for _, a, b in trials for r in (a, b) if r not in by_rel})
        if missing:
            raise ValueError(f"{path} names {len(missing)} utterances that {csv_path} lacks, e.g. {missing[0]}; "
                             "prepare the manifests again (delete the prepare folder)")
        self.ids = sorted({by_rel[r]["ID"] for _, a, b in trials for r in (a, b)})
        index = {uid: i for i, uid in enumerate(self.ids)}
        self.labels = np.array([t[0] for t in trials])
        self.enrol = np.array([index[by_rel[t[1]]["ID"]] for t in trials])
        self.test = np.array([index[by_rel[t[2]]["ID"]] for t in trials])
        self.enrol_speakers = np.array([by_rel[t[1]]["spk_id"] for t in trials])
        self.test_speakers = np.array([by_rel[t[2]]["spk_id"] for t in trials])
        self.enrol_names = [by_rel[t[1]]["ID"] for t in trials]
        self.test_names = [by_rel[t[2]]["ID"] for t in trials]


def embedding_matrix(embeddings, ids):
    """[len(ids), D] rows of {ID: embedding [D]}, with a clear error for a missing one."""
    missing = [uid for uid in ids if uid not in embeddings]
    if missing:
        raise KeyError(f"no embedding for {len(missing)} trial utterances, e.g. {missing[0]}")
    return np.stack([embeddings[uid] for uid in ids])


def write_scores(path, trials, scores):
    """`enrol test label score` per line (the order of the trial list)."""
    atomic_write(path, lambda f: f.writelines(f"{a} {b} {y} {s:.6f}\n" for a, b, y, s in
                                              zip(trials.enrol_names, trials.test_names, trials.labels, scores)))


def read_scores(path):
    """(enrol_names, test_names, labels [N], scores [N]) of a `write_scores` file, with a clear error if malformed."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: score the test trials (the recipe's train.py writes it at the end)")
    enrol, test, labels, scores = [], [], [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                if len(parts) != 4 or parts[2] not in ("0", "1"):
                    raise ValueError
                score = float(parts[3])
                if not np.isfinite(score):
                    raise ValueError
            except ValueError:
                raise ValueError(f"{path}:{n}: expected '<enrol> <test> <0|1> <finite score>', got "
                                 f"{line.strip()!r}; score the trials again") from None
            enrol.append(parts[0])
            test.append(parts[1])
            labels.append(int(parts[2]))
            scores.append(score)
    if not scores:
        raise ValueError(f"{path} holds no scored trial: score the trials again")
    return enrol, test, np.array(labels), np.array(scores)
