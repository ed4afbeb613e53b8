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

from corpora.manifest import (PrepareError, already_prepared, collect_rows, require_path,
                              save_options, write_csv)

SPLITS = ("train", "valid", "test")
_COLUMNS = ("path", "speakerId", "transcription", "action", "object", "location")


def prepare_fluent_speech_commands(data_folder, save_folder, splits=SPLITS, validate_audio=True,
                                   strict=False, skip_prep=False):
    """Writes `<split>.csv` for each `data/<split>_data.csv`."""
    if skip_prep:
        return
    options = dict(data_folder=os.path.abspath(data_folder), splits=list(splits),
                   validate_audio=validate_audio)
    outputs = [os.path.join(save_folder, f"{s}.csv") for s in splits]
    if already_prepared(save_folder, "fluent_speech_commands", options, outputs):
        return
    for split in splits:
        path = require_path(os.path.join(data_folder, "data", f"{split}_data.csv"),
                            f"the Fluent Speech Commands {split} list")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise PrepareError(f"{path}: columns {missing} missing; header is {reader.fieldnames}")
            entries = [{
                "ID": os.path.splitext(os.path.basename(r["path"]))[0],
                "wav": os.path.join(data_folder, r["path"]), "spk_id": r["speakerId"],
                "transcript": r["transcription"], "action": r["action"], "object": r["object"],
                "location": r["location"], "intent": f'{r["action"]}|{r["object"]}|{r["location"]}',
            } for r in reader]
        rows = collect_rows(entries, save_folder, f"fsc_{split}", validate=validate_audio, strict=strict)
        write_csv(os.path.join(save_folder, f"{split}.csv"), rows,
                  ["spk_id", "transcript", "action", "object", "location", "intent"])
    save_options(save_folder, "fluent_speech_commands", options)
