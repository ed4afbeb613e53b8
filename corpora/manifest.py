"""SpeechBrain CSV manifests: writing, reading with checks, and the failures list of a step.

A manifest has one row per utterance with `ID,duration,wav` followed by task columns.
"""

import csv
import logging
import os

from corpora.files import atomic_write

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("ID", "duration", "wav")


def write_csv(path, rows, extra_fields=()):
    """Writes rows (dicts with ID, duration, wav and `extra_fields`) as a SpeechBrain CSV."""
    fields = ["ID", "duration", "wav", *extra_fields]

    def write(f):
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "duration": f"{row['duration']:.3f}"})

    atomic_write(path, write)
    logger.info("wrote %s (%d rows)", path, len(rows))


def write_failures(path, failures):
    """The failures CSV of a step: ID, wav, reason per unusable file."""
    def write(f):
        writer = csv.DictWriter(f, fieldnames=["ID", "wav", "reason"])
        writer.writeheader()
        writer.writerows(failures)

    atomic_write(path, write)


def read_csv(path):
    """Rows of a manifest as dicts (the reverse of `write_csv`, duration as float). A manifest without the
    ID, duration and wav columns, with a duration that is not a number, or with an ID twice is refused with
    its path and what is wrong (a repeated ID would count an utterance twice, or overwrite its outputs)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = reader.fieldnames or []
    missing = [c for c in MANIFEST_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{path}: a manifest needs the columns {list(MANIFEST_COLUMNS)}; it has {columns}, "
                         f"missing {missing} (write it with corpora.manifest.write_csv, or a prepare function)")
    seen = set()
    for line, row in enumerate(rows, start=2):
        try:
            row["duration"] = float(row["duration"])
        except (TypeError, ValueError):
            raise ValueError(f"{path}, line {line}: duration {row['duration']!r} of {row['ID']!r} is not a number "
                             "of seconds; correct that line, or prepare the manifest again") from None
        if row["ID"] in seen:
            raise ValueError(f"{path}, line {line}: ID {row['ID']!r} is there twice; IDs must be unique "
                             "(prepare the manifest again)")
        seen.add(row["ID"])
    return rows


def check_audio_files(*paths):
    """Before any training: every `wav` of the manifests `paths` exists (a validation file missing would otherwise
    stop a run after a whole training epoch). Raises FileNotFoundError naming the manifest, how many files are
    missing and the first ones."""
    for path in paths:
        missing = [row["wav"] for row in read_csv(path) if not os.path.isfile(row["wav"])]
        if missing:
            raise FileNotFoundError(f"{path}: {len(missing)} audio files do not exist, e.g. {missing[:3]}; restore "
                                    "them or prepare the manifest again (delete it, or its prepare folder)")


def parse_shard(text):
    """'i/n' -> (i, n) with 0 <= i < n: process i of n takes every n-th row of a sorted manifest (a job array)."""
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ValueError(f"shard must look like 'i/n' (e.g. 0/4), got {text!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"shard {text!r}: need 0 <= i < n")
    return i, n
