"""Workers wired from YAML: the `workers_config` of the multitask pretraining.

    workers_config:
        regressor:
            alpharatio: {model: !ref <alpharatio_model>, labeller: !ref <alpharatio_labeller>,
                         optimizer: !name:torch.optim.Adam {lr: 0.001}, loss: !name:torch.nn.L1Loss,
                         weight: 1.0}
        classifier:
            gender: {...}

Every worker is built the same way, through the labeller interface (`kind`, `level`,
`dim`, `default_loss()`, `__call__(LabelBatch)`), so a new worker is a YAML edit. An
entry without `model` or `labeller` falls back to the top-level `{worker}_model` /
`{worker}_labeller` keys; anything missing or inconsistent stops the run before
training with the key to add or fix.
"""

from dataclasses import dataclass
from typing import Any, Callable

import torch

from labellers.metadata import IGNORE
from lobes.workers import frame_mask

SECTIONS = {"regressor": "regression", "classifier": "classification"}


class WorkerConfigError(ValueError):
    """A worker of `workers_config` cannot be built as written."""


ENTRY_KEYS = {"model", "labeller", "optimizer", "loss", "weight"}


def require_keys(hparams, keys, hparams_file):
    """Stops before any work when the YAML lacks a key the recipe reads (a key renamed or misspelled in the file
    would otherwise fail only where it is first read, after a whole epoch), with the close spellings it does have."""
    import difflib

    missing = [k for k in keys if k not in hparams]
    if missing:
        hints = {k: difflib.get_close_matches(k, list(hparams), n=1) for k in missing}
        raise WorkerConfigError(f"{hparams_file} lacks {', '.join(f'`{k}`' + (f' (it has `{hints[k][0]}`)' if hints[k] else '') for k in missing)}: "
                                "the recipe reads these keys; restore them in the YAML")


@dataclass
class Worker:
    name: str
    section: str
    model: torch.nn.Module
    labeller: Any
    optimizer: Callable
    loss: Callable
    weight: float = 1.0


def build_workers(workers_config, hparams=None, default_optimizer=None):
    """{name: Worker} from `workers_config` (+ top-level `{name}_model`/`{name}_labeller` keys)."""
    hparams = hparams or {}
    if not isinstance(workers_config, dict) or not workers_config:
        raise WorkerConfigError("workers_config must map 'regressor' and/or 'classifier' to workers")
    unknown = set(workers_config) - set(SECTIONS)
    if unknown:
        raise WorkerConfigError(f"workers_config has sections {sorted(unknown)}; expected 'regressor' and/or "
                                "'classifier'")
    workers = {}
    for section, entries in workers_config.items():
        for name, entry in (entries or {}).items():
            if name in workers:
                raise WorkerConfigError(f"worker {name!r} is listed twice in workers_config")
            entry = dict(entry or {})
            misspelled = set(entry) - ENTRY_KEYS
            if misspelled:  # a misspelled key (`wieght:`, `labeler:`) would otherwise be ignored silently
                raise WorkerConfigError(f"worker {name!r} (workers_config.{section}) has unknown keys "
                                        f"{sorted(misspelled)}; an entry takes {sorted(ENTRY_KEYS)}")
            parts = {}
            for part in ("model", "labeller"):
                value = entry.get(part, hparams.get(f"{name}_{part}"))
                if value is None:
                    raise WorkerConfigError(
                        f"worker {name!r} (workers_config.{section}) has no {part}: add a top-level "
                        f"`{name}_{part}:` key and `{part}: !ref <{name}_{part}>` in its entry")
                parts[part] = value
            labeller, model = parts["labeller"], parts["model"]
            expected = SECTIONS[section]
            if getattr(labeller, "kind", None) != expected:
                raise WorkerConfigError(
                    f"worker {name!r} is in workers_config.{section} but its labeller "
                    f"({type(labeller).__name__}) is of kind {getattr(labeller, 'kind', None)!r}; a {section} "
                    f"needs a {expected!r} labeller: move the worker or change `{name}_labeller`")
            model_level, label_level = getattr(model, "level", None), getattr(labeller, "level", None)
            if model_level and label_level and model_level != label_level:
                raise WorkerConfigError(
                    f"worker {name!r}: `{name}_model` works at {model_level} level but its labeller gives "
                    f"{label_level}-level targets; set `level: {label_level}` in `{name}_model`")
            optimizer = entry.get("optimizer", default_optimizer)
            if optimizer is None:
                raise WorkerConfigError(f"worker {name!r} (workers_config.{section}) has no optimizer")
            loss = entry.get("loss")
            loss = loss() if loss is not None else labeller.default_loss()
            workers[name] = Worker(name, section, model, labeller, optimizer, loss, float(entry.get("weight", 1.0)))
    return workers


class WorkerHeads(torch.nn.Module):
    """All worker models as one module (one forward, so DDP syncs every head)."""

    def __init__(self, models):
        super().__init__()
        self.heads = torch.nn.ModuleDict(models)

    def forward(self, feats, lengths=None):
        return {name: head(feats, lengths) for name, head in self.heads.items()}


def worker_loss(worker, pred, target, lengths):
    """The worker's loss on valid frames only (frame level), or on the batch (utterance level)."""
    if pred.ndim >= 3 and pred.shape[1] == target.shape[1] and target.ndim >= 2:
        mask = frame_mask(lengths, pred.shape[1])
        pred, target = pred[mask], target[mask]
    if worker.section == "regressor" and pred.shape != target.shape:
        raise WorkerConfigError(f"worker {worker.name!r}: the model predicts {tuple(pred.shape)} but the labeller "
                                f"gives {tuple(target.shape)}; set `output_size: {target.shape[-1]}` in "
                                f"`{worker.name}_model`")
    if worker.section == "regressor":
        target = target.to(pred.dtype)
    elif target.dtype == torch.long and not (target != IGNORE).any():
        # every label of the batch is missing (real Common Voice leaves age and accent empty for many clips):
        # cross-entropy would average over nothing (NaN) and stop the run; this batch teaches the worker nothing
        return pred.sum() * 0.0
    return worker.loss(pred, target)


def label_context(workers):
    """(left, right) seconds of clean audio around each crop that the workers' labellers need (a left of
    None: from the utterance start), or None when every labeller works on the crop alone."""
    wanted = [w.labeller.context for w in workers.values() if getattr(w.labeller, "context", None)]
    if not wanted:
        return None
    left = None if any(left is None for left, _ in wanted) else max(left for left, _ in wanted)
    return left, max(right for _, right in wanted)


def label_fetchers(workers):
    """{fetch_key: labeller} of the labellers whose per-utterance reads the loader workers can do
    (labellers.base.Labeller.fetch_key), one per key."""
    return {w.labeller.fetch_key: w.labeller for w in workers.values()
            if getattr(w.labeller, "fetch_key", None) is not None}
