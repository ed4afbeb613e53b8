#!/usr/bin/env python3
"""Pooling benchmark on one task: cached frames and codes (extract.py) -> one vector per utterance -> a decision.

    python train.py hparams/kws.yaml --pooling vq_lp --mode unsupervised   # 1-NN (cosine) against the training set
    python train.py hparams/kws.yaml --pooling vq_lp --mode train          # a head on pooled vectors, best validation
    python train.py hparams/kws.yaml --pooling vq_lp --mode test           # that checkpoint on the test split, once
    python train.py hparams/kws.yaml --pooling ap --mode unsupervised --features fbank

Tasks (hparams/<task>.yaml): kws (Speech Commands), si (VoxCeleb1 identification), asv (VoxCeleb1 trials, cosine EER,
unsupervised only), ic (Fluent Speech Commands intents), er (IEMOCAP, 4 emotions, leave-one-session-out folds).
Poolings: lobes.pooling.POOLINGS; those fitted on data (whitening, soft-decay, code counts) see the training split
only; the trained ones (sap, asp, vap) exist in the supervised modes only. Every decision (the head's checkpoint) is
made on the validation split; `metrics.json` holds the result.
"""

import json
import logging
import os
import sys
import time

import numpy as np
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.data_utils import batch_pad_right
from speechbrain.utils.epoch_loop import EpochCounter

from corpora.files import write_json
from corpora.manifest import read_csv
from features import FeatureStore
from lobes.checkpoints import AtomicCheckpointer
from lobes.pooling import TRAINED, make_pooling
from lobes.trials import Trials
from lobes.verification import cosine_scores, eer

logger = logging.getLogger(__name__)
MODES = ("unsupervised", "train", "test")


class Split:
    """The cached frames `[T, D]` (float32), codes `[T, G]` (int64) and labels of a manifest's utterances."""

    def __init__(self, store, dataset, rows, label_key):
        self.ids = [row["ID"] for row in rows]
        self.labels = [row[label_key] for row in rows] if label_key else [None] * len(rows)
        self.frames = [torch.from_numpy(store.load(dataset, i, "feats").astype(np.float32)) for i in self.ids]
        self.codes = [torch.from_numpy(store.load(dataset, i, "codes").astype(np.int64)) for i in self.ids]

    def batches(self, indices, batch_size, pad=True):
        """(frames [B, T, D], codes [B, T, G], relative lengths [B], indices) padded per batch; with `pad=False` only
        the indices (a head on cached pooled vectors reads no frames)."""
        for start in range(0, len(indices), batch_size):
            part = indices[start:start + batch_size]
            if not pad:
                yield None, None, None, part
                continue
            frames, lengths = batch_pad_right([self.frames[i] for i in part])
            codes, _ = batch_pad_right([self.codes[i] for i in part])
            yield frames, codes, lengths, part


def read_rows(hparams, name):
    path = hparams[name]
    rows = read_csv(path)
    key = hparams["label_key"]
    if key and rows and key not in rows[0]:
        raise ValueError(f"{path} has no column {key!r} (label_key of {hparams['task']}); columns: {list(rows[0])}")
    return rows


def folds(hparams, store):
    """[(name, train, valid, test)]: one fold, or IEMOCAP's sessions in turn as test (the next one validates)."""
    dataset, key = hparams["dataset"], hparams["label_key"]
    if not hparams.get("session_folds"):
        return [("all", *(Split(store, dataset, read_rows(hparams, f"{s}_csv"), key) for s in ("train", "valid",
                                                                                               "test")))]
    rows = [row for name in ("train_csv", "valid_csv", "test_csv") for row in read_rows(hparams, name)]
    session = {row["ID"]: row["ID"][3:5] for row in rows}  # Ses01F_impro01_F000 -> "01"
    sessions = sorted(set(session.values()))
    out = []
    for k, test in enumerate(sessions):
        valid = sessions[(k + 1) % len(sessions)]
        pick = lambda keep: Split(store, dataset, [r for r in rows if keep(session[r["ID"]])], key)  # noqa: E731
        out.append((f"session{test}", pick(lambda s: s not in (test, valid)), pick(lambda s: s == valid),
                    pick(lambda s: s == test)))
    return out


def build_pooling(hparams, info, train, transform=None):
    """The pooling, fitted (if it needs it) on the training frames exactly as it will see them (`transform`)."""
    pooling = make_pooling(hparams["pooling"], info["frame_size"], codebook_size=info["codebook_size"],
                           groups=info["groups"], sif_a=hparams["sif_a"])
    if getattr(pooling, "needs_fit", False):
        with torch.no_grad():
            frames = [(transform(f) if transform else f).numpy() for f in train.frames]
        pooling.fit(frames, [c.numpy() for c in train.codes])
    return pooling


@torch.no_grad()
def pool_split(pooling, split, batch_size, standardize=None):
    """[N, output_size]: every utterance of `split` pooled, in manifest order."""
    out = []
    for frames, codes, lengths, _ in split.batches(list(range(len(split.ids))), batch_size):
        out.append(pooling(standardize(frames) if standardize else frames, codes, lengths))
    return torch.cat(out)


def nearest_neighbour_hits(train_vectors, train_labels, test_vectors, test_labels):
    """1 where a test vector's most cosine-similar training vector has its label, else 0 (one per test vector)."""
    train_unit = torch.nn.functional.normalize(train_vectors, dim=1)
    nearest = [j for part in torch.nn.functional.normalize(test_vectors, dim=1).split(1024)  # bounded memory
               for j in (part @ train_unit.T).argmax(1).tolist()]
    return [int(train_labels[j] == label) for j, label in zip(nearest, test_labels)]


def unsupervised(hparams, store, info):
    if hparams["pooling"] in TRAINED:
        raise ValueError(f"pooling {hparams['pooling']!r} is trained with a head: use --mode train, then --mode test")
    if hparams["task"] == "asv":
        split = Split(store, hparams["dataset"], read_rows(hparams, "test_csv"), None)
        # fitted poolings learn from the verification training speakers (none of them in a trial)
        fit_rows = read_csv(hparams["fit_csv"])
        pooling = build_pooling(hparams, info, Split(store, hparams["dataset"], fit_rows, None))
        vectors = dict(zip(split.ids, pool_split(pooling, split, hparams["batch_size"]).numpy()))
        trials = Trials(hparams["test_trials"], hparams["test_csv"])
        scores = cosine_scores(np.stack([vectors[i] for i in trials.ids]), trials.enrol, trials.test)
        return {"eer": float(eer(scores, trials.labels)), "trials": len(trials.labels)}
    accuracies, hits = {}, []
    for name, train, _, test in folds(hparams, store):
        pooling = build_pooling(hparams, info, train)
        fold_hits = nearest_neighbour_hits(pool_split(pooling, train, hparams["batch_size"]), train.labels,
                                           pool_split(pooling, test, hparams["batch_size"]), test.labels)
        accuracies[name] = float(np.mean(fold_hits))
        hits += fold_hits
    # hits: per test utterance, in fold and manifest order, for paired comparisons of poolings (report.py)
    return {"accuracy": float(np.mean(list(accuracies.values()))), "folds": accuracies, "hits": hits}


class Standardize(torch.nn.Module):
    """Frames standardized with the training split's per-dimension mean and deviation (buffers)."""

    def __init__(self, train):
        super().__init__()
        frames = torch.cat(train.frames)
        self.register_buffer("mean", frames.mean(0))
        self.register_buffer("std", frames.std(0) + 1e-5)

    def forward(self, frames):
        return (frames - self.mean) / self.std


def make_head(input_size, classes, hidden_size, dropout):
    """Linear classifier of standardized pooled vectors (a hidden layer when hidden_size > 0)."""
    layers = [torch.nn.BatchNorm1d(input_size, affine=False)]
    if hidden_size:
        layers += [torch.nn.Linear(input_size, hidden_size), torch.nn.LeakyReLU(), torch.nn.Dropout(dropout)]
        input_size = hidden_size
    return torch.nn.Sequential(*layers, torch.nn.Linear(input_size, classes))


class PooledClassifier(torch.nn.Module):
    """Head on pooled vectors; a pooling without trained weights pools each split once, the trained ones every step."""

    def __init__(self, standardize, pooling, head, trained):
        super().__init__()
        self.standardize, self.pooling, self.head, self.trained = standardize, pooling, head, trained
        self.cache = {}

    def forward(self, split, part, frames, codes, lengths):
        if self.trained:
            return self.head(self.pooling(self.standardize(frames), codes, lengths))
        key = id(split)
        if key not in self.cache:
            self.cache[key] = pool_split(self.pooling, split, 256, self.standardize)
        return self.head(self.cache[key][part])


def accuracy(model, split, classes, batch_size):
    model.eval()
    correct = 0
    with torch.no_grad():
        for frames, codes, lengths, part in split.batches(list(range(len(split.ids))), batch_size, model.trained):
            predicted = model(split, part, frames, codes, lengths).argmax(1)
            correct += sum(classes.get(split.labels[i], -1) == int(p) for i, p in zip(part, predicted))
    return correct / max(len(split.ids), 1)


def supervised(hparams, store, info, mode):
    if hparams["task"] == "asv":
        raise ValueError("asv is scored without training here (--mode unsupervised); its trained embedding "
                         "extractor is recipes/Downstream/SpeakerVerification")
    results = {}
    for name, train, valid, test in folds(hparams, store):
        torch.manual_seed(hparams["seed"])
        classes = {label: i for i, label in enumerate(sorted(set(train.labels)))}
        for split, manifest in ((valid, "valid"), (test, "test")):
            unknown = sorted(set(split.labels) - set(classes))
            if unknown:  # counted as errors, as any classifier trained on this split would make them
                logger.warning("%s fold %s: %d %s utterances have labels the training split lacks (%s); they count "
                               "as errors", hparams["task"], name, sum(label in unknown for label in split.labels),
                               manifest, ", ".join(unknown[:5]))
        standardize = Standardize(train)
        pooling = build_pooling(hparams, info, train, standardize)
        model = PooledClassifier(standardize, pooling, make_head(pooling.output_size, len(classes),
                                                                 hparams["hidden_size"], hparams["dropout"]),
                                 trained=hparams["pooling"] in TRAINED)
        folder = os.path.join(hparams["output_folder"], name)
        counter = EpochCounter(hparams["number_of_epochs"])
        optimizer = torch.optim.Adam(model.parameters(), lr=hparams["lr"], weight_decay=hparams["weight_decay"])
        checkpointer = AtomicCheckpointer(os.path.join(folder, "save"),
                                    {"model": model, "optimizer": optimizer, "counter": counter})
        start = time.time()
        if mode == "train":
            # Only improvements are saved, so a resumed run restarts after its best epoch; each epoch's shuffle is
            # seeded by its number, so the epochs it trains again are the very epochs it had trained.
            resumed = checkpointer.recover_if_possible()
            best_score = resumed.meta["accuracy"] if resumed else -1.0
            targets = torch.tensor([classes[label] for label in train.labels])
            # one TensorBoard run per fold (their epochs overlap); one train_log.txt, each line naming its fold
            train_logger = hparams["train_logger"](tensorboard_logs=os.path.join(hparams["tensorboard_logs"], name))
            for epoch in counter:
                model.train()
                generator = torch.Generator().manual_seed(hparams["seed"] * 100_003 + epoch)
                order = torch.randperm(len(targets), generator=generator).tolist()
                losses = []
                for frames, codes, lengths, part in train.batches(order, hparams["batch_size"], model.trained):
                    if len(part) < 2:  # BatchNorm needs two vectors
                        continue
                    loss = torch.nn.functional.cross_entropy(model(train, part, frames, codes, lengths), targets[part])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    losses.append(loss.item())
                score = accuracy(model, valid, classes, hparams["batch_size"])
                if score > best_score:
                    best_score = score
                    checkpointer.save_and_keep_only(meta={"accuracy": score, "epoch": epoch}, max_keys=["accuracy"],
                                                    num_to_keep=1, keep_recent=False)
                # verbose=False: a benchmark trains hundreds of heads; their epochs go to the file, not the console
                train_logger.log_stats({"fold": name, "epoch": epoch}, verbose=False, valid_stats={"accuracy": score},
                                       train_stats={"loss": float(np.mean(losses)) if losses else float("nan")})
            train_logger.close()
            best = checkpointer.find_checkpoint(max_key="accuracy")
            results[name] = {"valid_accuracy": best.meta["accuracy"], "best_epoch": best.meta["epoch"],
                             "seconds": round(time.time() - start, 1)}
        else:
            best = checkpointer.recover_if_possible(max_key="accuracy")
            if best is None:
                raise FileNotFoundError(f"no checkpoint in {folder}/save: run --mode train first")
            results[name] = {"accuracy": accuracy(model, test, classes, hparams["batch_size"]),
                             "valid_accuracy": best.meta["accuracy"], "best_epoch": best.meta["epoch"]}
    key = "accuracy" if mode == "test" else "valid_accuracy"
    return {key: float(np.mean([r[key] for r in results.values()])), "folds": results}


def run(hparams, mode):
    """One task, one pooling, one mode: the metrics (also written to <output_folder>/<mode>.json)."""
    if mode not in MODES:
        raise ValueError(f"unknown --mode {mode!r}; expected one of {', '.join(MODES)}")
    store = FeatureStore(hparams["features_folder"])
    info = store.info()
    path = os.path.join(hparams["output_folder"], f"{mode}.json")
    trained = os.path.join(hparams["output_folder"], "train.json")
    if mode == "test" and (not os.path.isfile(trained) or _read(trained).get("settings") != settings(hparams, info)):
        raise FileNotFoundError(f"no finished training with these settings in {hparams['output_folder']}: run "
                                "--mode train first (with the same settings)")
    if mode == "train" and os.path.isfile(path):  # finished: training again would select over more epochs
        done = _read(path)
        if done.get("settings") == settings(hparams, info):
            logger.info("%s holds a finished training with these settings; delete it to train again", path)
            return done
        raise ValueError(f"{path} holds a training with other settings ({done.get('settings')}); pass another "
                         "--output_folder, or delete that folder to train again")
    metrics = unsupervised(hparams, store, info) if mode == "unsupervised" else supervised(hparams, store, info, mode)
    metrics.update(task=hparams["task"], pooling=hparams["pooling"], mode=mode, upstream=info["upstream"],
                   settings=settings(hparams, info))
    write_json(path, metrics)
    return metrics


def _read(path):
    with open(path) as f:
        return json.load(f)


def settings(hparams, info):
    """What a result depends on besides the task and pooling: the extraction and the training settings."""
    keys = ("seed", "sif_a", "number_of_epochs", "lr", "weight_decay", "hidden_size", "dropout", "batch_size")
    return {"features": info, **{k: hparams[k] for k in keys if k in hparams}}


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    metrics = run(hparams, hparams["mode"])
    value = f"EER {metrics['eer']:.2f} %" if "eer" in metrics else \
        f"accuracy {metrics.get('accuracy', metrics.get('valid_accuracy')):.3f}"
    print(f"{hparams['task']} {hparams['pooling']} {hparams['mode']}: {value} -> {hparams['output_folder']}")


if __name__ == "__main__":
    main(sys.argv[1:])
