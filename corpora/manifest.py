"""Shared machinery of the prepare modules: skip-if-done, audio checks, CSV writing.

SpeechBrain CSV manifests have one row per utterance with `ID,duration,wav`
followed by task columns. Files that cannot be used are reported (file and
reason, in the log and in `<save_folder>/<name>_failures.csv`) and left out;
with `strict=True` the prepare step fails instead, after listing them all.
"""

import csv
import json
import logging
import os

from tqdm import tqdm

from corpora.audio import AudioError, audio_info, load_audio, require_signal

logger = logging.getLogger(__name__)


class PrepareError(RuntimeError):
    """A dataset layout problem: names what was expected and where."""


def require_path(path, what):
    """Raises PrepareError naming `what` was expected at `path` if it does not exist."""
    if not os.path.exists(path):
        raise PrepareError(f"expected {what} at {path}, found nothing; check `data_folder` "
                           "(it should point at the dataset root)")
    return path


def already_prepared(save_folder, name, options, outputs):
    """True when every output exists and was made with the same options."""
    opt_file = os.path.join(save_folder, f"{name}_options.json")
    if not all(os.path.exists(p) for p in outputs) or not os.path.exists(opt_file):
        return False
    with open(opt_file) as f:
        same = json.load(f) == json.loads(json.dumps(options))
    if same:
        logger.info("%s manifests in %s are up to date, skipping preparation", name, save_folder)
    return same


def save_options(save_folder, name, options):
    write_json(os.path.join(save_folder, f"{name}_options.json"), options)


def atomic_write(path, write):
    """Calls `write(f)` on a temporary text file, then renames it: no half file after a kill. The temporary
    file is the process's own, so processes writing the same file (DDP ranks) do not collide."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.part{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        write(f)
    os.replace(tmp, path)


def write_json(path, data, indent=2):
    atomic_write(path, lambda f: json.dump(data, f, indent=indent))


def write_text(path, text):
    """Writes `text` (newline-terminated) atomically; returns `path`."""
    atomic_write(path, lambda f: f.write(text if text.endswith("\n") else text + "\n"))
    return path


def write_failures(path, failures):
    """The failures CSV of a step: ID, wav, reason per unusable file."""
    def write(f):
        writer = csv.DictWriter(f, fieldnames=["ID", "wav", "reason"])
        writer.writeheader()
        writer.writerows(failures)

    atomic_write(path, write)


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


def check_audio(path, sample_rate=16000, validate=True):
    """Duration in seconds of a usable file; raises AudioError otherwise.

    `validate=True` reads the samples (finite, non-silent); False trusts the header,
    which is much faster on very large corpora.
    """
    rate, frames, _ = audio_info(path)
    if validate:
        require_signal(path, load_audio(path, sample_rate=sample_rate))
    return frames / rate


def _first_of_each_id(entries, name):
    """A dataset's list naming an utterance twice (a repeated TSV row or transcript line) would give a manifest that
    counts it twice: keep its first entry, and say so."""
    seen, kept = {}, []
    for entry in entries:
        if entry["ID"] in seen:
            differs = {k for k in entry if entry[k] != seen[entry["ID"]].get(k)}
            logger.warning("%s: %s is listed twice; the first entry is kept%s", name, entry["ID"],
                           f" (the second differs in {sorted(differs)})" if differs else "")
            continue
        seen[entry["ID"]] = entry
        kept.append(entry)
    return kept


def collect_rows(entries, save_folder, name, sample_rate=16000, validate=True, strict=False):
    """Checks the audio of `entries` (dicts with ID and wav) and adds `duration`.

    Returns the usable rows; unusable files are logged with the reason, listed in
    `<save_folder>/<name>_failures.csv`, and raise PrepareError if `strict`.
    """
    entries = _first_of_each_id(entries, name)
    rows, failures = [], []
    for entry in tqdm(entries, desc=f"checking {name} audio", unit="file", leave=False,
                      disable=len(entries) < 200):
        try:
            # Absolute paths: manifests are read from recipe folders, not from where prepare ran.
            wav = os.path.abspath(entry["wav"])
            rows.append({**entry, "wav": wav, "duration": check_audio(wav, sample_rate, validate)})
        except AudioError as err:
            logger.warning("skipping %s", err)
            failures.append({"ID": entry["ID"], "wav": entry["wav"], "reason": err.reason})
    fail_file = os.path.join(save_folder, f"{name}_failures.csv")
    if failures:
        write_failures(fail_file, failures)
        message = f"{len(failures)} of {len(entries)} {name} files unusable, listed in {fail_file}"
        if strict:
            raise PrepareError(message)
        logger.warning(message)
    elif os.path.exists(fail_file):
        os.remove(fail_file)
    return rows


def prepare_splits(name, data_folder, save_folder, splits, read_split, fields, validate_audio=True,
                   strict=False, failures_prefix=None):
    """The shape of a prepare step whose splits are independent file lists.

    Skips when `<split>.csv` of every split exists with the same options; else for
    each split checks the audio of `read_split(split)` (entries with ID and wav) and
    writes `<save_folder>/<split>.csv` with `fields` after ID, duration, wav.
    """
    options = dict(data_folder=os.path.abspath(data_folder), splits=list(splits),
                   validate_audio=validate_audio)
    outputs = [os.path.join(save_folder, f"{s}.csv") for s in splits]
    if already_prepared(save_folder, name, options, outputs):
        return
    for split, output in zip(splits, outputs):
        rows = collect_rows(read_split(split), save_folder, f"{failures_prefix or name}_{split}",
                            validate=validate_audio, strict=strict)
        write_csv(output, rows, fields)
    save_options(save_folder, name, options)


MANIFEST_COLUMNS = ("ID", "duration", "wav")


def check_audio_files(*paths):
    """Before any training: every `wav` of the manifests `paths` exists (a validation file missing would otherwise
    stop a run after a whole training epoch). Raises FileNotFoundError naming the manifest, how many files are
    missing and the first ones."""
    for path in paths:
        missing = [row["wav"] for row in read_csv(path) if not os.path.isfile(row["wav"])]
        if missing:
            raise FileNotFoundError(f"{path}: {len(missing)} audio files do not exist, e.g. {missing[:3]}; restore "
                                    "them or prepare the manifest again (delete it, or its prepare folder)")


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
                             "of seconds") from None
        if row["ID"] in seen:
            raise ValueError(f"{path}, line {line}: ID {row['ID']!r} is there twice; IDs must be unique "
                             "(prepare the manifest again)")
        seen.add(row["ID"])
    return rows
