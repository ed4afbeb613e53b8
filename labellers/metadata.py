"""Utterance-level classification targets from manifest columns (gender, age, accent, ...).

The label set is learned from the training manifest (sorted distinct non-empty
values), so class indices are the same in every run. An utterance whose value is
empty or unseen in training gets -100, which `CrossEntropyLoss` ignores.
"""

import torch

from corpora.manifest import read_csv
from labellers.base import Labeller
from labellers.registry import register_factory, register_labeller

IGNORE = -100


@register_labeller("metadata")
class MetadataClass(Labeller):
    kind, level = "classification", "utterance"

    def __init__(self, column, train_csv):
        rows = read_csv(train_csv)
        if rows and column not in rows[0]:
            raise KeyError(f"{train_csv} has no column {column!r}; columns: {sorted(rows[0])}")
        self.column = column
        self.classes = sorted({r[column] for r in rows if r[column]})
        if len(self.classes) < 2:
            raise ValueError(f"column {column!r} of {train_csv} has {len(self.classes)} distinct values; "
                             "a classifier needs at least 2")
        self.index = {c: k for k, c in enumerate(self.classes)}
        self.dim = len(self.classes)

    def __call__(self, batch):
        if self.column not in batch.meta:
            raise KeyError(f"the batch carries no {self.column!r} column; add it to the data pipeline's "
                           "output keys")
        labels = [self.index.get(v, IGNORE) for v in batch.meta[self.column]]
        return torch.tensor(labels, dtype=torch.long, device=batch.wavs.device)


for _name in ("gender", "age", "accent"):
    register_factory(_name, lambda train_csv, _column=_name: MetadataClass(_column, train_csv))
