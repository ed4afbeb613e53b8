"""Shared machinery of the prepare modules: skip-if-done, audio checks, the split skeleton.

Files that cannot be used are reported (file and reason, in the log and in `<save_folder>/<name>_failures.csv`) and
left out; with `strict=True` the prepare step fails instead, after listing them all.
"""

import json
import logging
import os

from tqdm import tqdm

from corpora.audio import AudioError, audio_info, scan_audio
from corpora.files import write_json
from corpora.manifest import write_csv, write_failures

logger = logging.getLogger(__name__)


class PrepareError(RuntimeError):
    """A dataset layout problem: names what was expected and where."""


def require_path(path, what):
    """Raises PrepareError naming `what` was expected at `path` if it does not exist."""
    if not os.path.exists(path):
        raise PrepareError(f"expected {what} at {path}, found nothing; check `data_folder` "
                           "(it should point at the dataset root)")
    return path


# The version of the audio checks behind a manifest, saved with its options: manifests written before a stricter
# check (2: compressed files cut short are refused, as load_audio now refuses them in training) are made again
# instead of reused with files that would stop a run mid-epoch.
AUDIO_CHECKS = 2


def already_prepared(save_folder, name, options, outputs):
    """True when every output exists and was made with the same options and audio checks."""
    opt_file = os.path.join(save_folder, f"{name}_options.json")
    if not all(os.path.exists(p) for p in outputs) or not os.path.exists(opt_file):
        return False
    with open(opt_file) as f:
        same = json.load(f) == json.loads(json.dumps({**options, "audio_checks": AUDIO_CHECKS}))
    if same:
        logger.info("%s manifests in %s are up to date, skipping preparation", name, save_folder)
    return same


def save_options(save_folder, name, options):
    write_json(os.path.join(save_folder, f"{name}_options.json"), {**options, "audio_checks": AUDIO_CHECKS})


def check_audio(path, validate=True):
    """Duration in seconds of a usable file; raises AudioError otherwise.

    `validate=True` decodes the samples block by block (finite, non-silent, as long as the header says; memory
    bounded however long the file) and returns the decoded duration; False trusts the header, which is much
    faster on very large corpora.
    """
    rate, frames, _ = audio_info(path)
    if validate:
        frames = scan_audio(path)
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


def collect_rows(entries, save_folder, name, validate=True, strict=False):
    """Checks the audio of `entries` (dicts with ID and wav) and adds `duration`.

    Returns the usable rows; unusable files are logged with the reason, listed in
    `<save_folder>/<name>_failures.csv`, and raise PrepareError if `strict` (or if none is usable).
    """
    entries = _first_of_each_id(entries, name)
    rows, failures = [], []
    for entry in tqdm(entries, desc=f"checking {name} audio", unit="file", leave=False,
                      disable=len(entries) < 200):
        try:
            # Absolute paths: manifests are read from recipe folders, not from where prepare ran.
            wav = os.path.abspath(entry["wav"])
            rows.append({**entry, "wav": wav, "duration": check_audio(wav, validate)})
        except AudioError as err:
            logger.warning("skipping %s", err)
            failures.append({"ID": entry["ID"], "wav": entry["wav"], "reason": err.reason})
    fail_file = os.path.join(save_folder, f"{name}_failures.csv")
    if failures:
        write_failures(fail_file, failures)
        message = f"{len(failures)} of {len(entries)} {name} files unusable, listed in {fail_file} with the reason"
        if strict:
            raise PrepareError(f"{message}; repair or remove them, or prepare without strict to leave them out")
        if not rows:  # an empty manifest would train on nothing, or score nothing, without a word
            raise PrepareError(f"{message}: none is usable; check `data_folder` and the reasons in that file")
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
