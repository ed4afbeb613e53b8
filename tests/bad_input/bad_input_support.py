"""The table shape of the bad-input suite, and the checks every case of it shares.

A case is one bad input fed to one entry point, with the outcome it must get:
- "error": an exception whose message names the thing (the file, the key, the folder) and says the fix;
- "skip": the input is left out and reported (listed with its reason in the step's failures CSV, or in a log
  line), the rest of the work done;
- "handled": the input is used correctly (checked against what the right result is: a duration, a rate).
Anything else (a silent wrong result, a bare traceback, an error that names neither) fails the case.
"""

import contextlib
import csv
import importlib.util
import logging
import os
import re
import sys
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf

KINDS = ("error", "skip", "handled")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RATE = 16000


@dataclass(frozen=True)
class Case:
    """`input` fed to `entry`; `kind` is the outcome it must get; `fix` (errors and skips): a regular expression
    of what the message or the listed reason must say; `data`: what the case's test needs to build its input."""

    input: str
    entry: str
    kind: str
    fix: str = ""
    data: dict = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self):
        assert self.kind in KINDS, self.kind

    def __str__(self):
        return f"{self.entry}: {self.input}"


def cases_for(cases):
    """pytest.mark.parametrize arguments of a table: the case as `case`, its text as the test id."""
    return dict(argnames="case", argvalues=cases, ids=[str(c) for c in cases])


def assert_clear_error(error, names, fix):
    """The message of `error` names every one of `names` (a path, a key) and says the fix (`fix`, a regex)."""
    message = str(error.args[0]) if error.args else str(error)
    for name in names:
        assert str(name) in message, f"{type(error).__name__} does not name {name}: {message}"
    assert re.search(fix, message, re.S), f"{type(error).__name__} says no fix (/{fix}/): {message}"


def read_failures(path):
    """{wav: reason} of a failures CSV (ID, wav, reason)."""
    with open(path, newline="") as f:
        return {os.path.abspath(row["wav"]): row["reason"] for row in csv.DictReader(f)}


@contextlib.contextmanager
def logged(name="", level=logging.WARNING):
    """The messages logged under logger `name` (and its children) inside the block."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler, logger = Keep(level), logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def tone(seconds=1.0, rate=RATE, freq=220.0, channels=1):
    t = np.arange(int(round(seconds * rate))) / rate
    wav = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wav] * channels, axis=1) if channels > 1 else wav


def cut(path, fraction=0.5):
    """Keeps the first `fraction` of the file's bytes: a copy or a download stopped midway."""
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: int(len(data) * fraction)])


def rewrite(path, kind):
    """Replaces the audio file `path` (any format soundfile writes) with a bad or unusual version of its own
    content, in its own format: the damage a real corpus shows. Returns what the file holds afterwards as
    (seconds, rate) for the kinds that keep audio, else None."""
    fmt = sf.info(path).format
    data, rate = sf.read(path, dtype="float32")
    seconds = len(data) / rate
    if kind == "zero-byte":
        open(path, "wb").close()
    elif kind == "empty":
        sf.write(path, np.zeros(0, np.float32), rate, format=fmt)
    elif kind == "cut":
        cut(path)
    elif kind in ("nan", "inf"):
        data[len(data) // 3: len(data) // 3 + 50] = np.nan if kind == "nan" else np.inf
        sf.write(path, data, rate, subtype="FLOAT")
    elif kind == "zeros":
        sf.write(path, np.zeros_like(data), rate, format=fmt)
    elif kind == "stereo":
        sf.write(path, np.stack([data, 0.5 * data], axis=1), rate, format=fmt)
        return seconds, rate
    elif kind.endswith("kHz"):
        import torch
        import torchaudio.functional as AF

        new_rate = int(kind[:-3]) * 1000
        sf.write(path, AF.resample(torch.from_numpy(data), rate, new_rate).numpy(), new_rate, format=fmt)
        return seconds, new_rate
    else:
        raise ValueError(kind)
    return None


def import_recipe(relative):
    """A recipe script (e.g. recipes/MultitaskSSL/train.py) as a module of its own name, so that two train.py
    files do not share one entry of sys.modules."""
    path = os.path.join(ROOT, relative)
    name = "recipe_" + re.sub(r"\W", "_", relative[:-3])
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def shared_include(yaml_text):
    """A recipe YAML written outside its hparams/ folder: its `!include:` of the shared fragments by absolute path."""
    return yaml_text.replace("!include:../../../hparams/", f"!include:{os.path.join(ROOT, 'hparams')}/")


def no_training_happened(output_folder):
    """True when a run stopped before its first epoch: no checkpoint, no epoch in the training log."""
    save = os.path.join(output_folder, "save")
    ckpts = [d for d in os.listdir(save) if d.startswith("CKPT")] if os.path.isdir(save) else []
    log = os.path.join(output_folder, "train_log.txt")
    return not ckpts and (not os.path.exists(log) or "epoch" not in open(log).read())
