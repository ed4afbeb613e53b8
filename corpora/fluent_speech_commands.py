"""Fluent Speech Commands: intent manifests (action, object, location).

    prepare_fluent_speech_commands("data/embedded/fluent_speech_commands_dataset",
                                   "results/prep/fsc")

Reads `data/{train,valid,test}_data.csv` and writes `<split>.csv` with ID,
duration, wav, spk_id, transcript, action, object, location, intent (the three
slots joined by `|`, one class per combination, as intent-classification
recipes use it).
"""

import csv
import os

from corpora.preparation import prepare_splits, PrepareError, require_path

SPLITS = ("train", "valid", "test")
_COLUMNS = ("path", "speakerId", "transcription", "action", "object", "location")


def prepare_fluent_speech_commands(data_folder, save_folder, splits=SPLITS, validate_audio=True,
                                   strict=False, skip_prep=False):
    """Writes `<split>.csv` for each `data/<split>_data.csv`."""
    if skip_prep:
        return

    def read_split(split):
        path = require_path(os.path.join(data_folder, "data", f"{split}_data.csv"),
                            f"the Fluent Speech Commands {split} list")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise PrepareError(f"{path}: columns {missing} missing; header is {reader.fieldnames}")
            return [{
                "ID": os.path.splitext(os.path.basename(r["path"]))[0],
                "wav": os.path.join(data_folder, r["path"]), "spk_id": r["speakerId"],
                "transcript": r["transcription"], "action": r["action"], "object": r["object"],
                "location": r["location"], "intent": f'{r["action"]}|{r["object"]}|{r["location"]}',
            } for r in reader]

    prepare_splits("fluent_speech_commands", data_folder, save_folder, splits, read_split,
                   ["spk_id", "transcript", "action", "object", "location", "intent"], validate_audio,
                   strict, failures_prefix="fsc")
