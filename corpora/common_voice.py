"""Common Voice: manifests with transcripts and speaker metadata from the TSV files.

    prepare_common_voice("data/embedded/CommonVoice/en", "results/prep/common_voice")

`data_folder` holds `clips/*.mp3` and `train.tsv`, `dev.tsv`, `test.tsv`. Writes
`<split>.csv` with ID, duration, wav, spk_id, wrd, age, gender, accent (empty
metadata stays empty; older releases name the accent column `accent`, newer
`accents`: both are read).
"""

import csv
import os

from corpora.preparation import PrepareError, prepare_splits, require_path

SPLITS = ("train", "dev", "test")


def _read_tsv(path, clips):
    entries = []
    with open(require_path(path, "a Common Voice split file"), newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for needed in ("client_id", "path", "sentence"):
            if needed not in (reader.fieldnames or []):
                raise PrepareError(f"{path}: column {needed!r} missing; header is {reader.fieldnames}: a Common Voice "
                                  "split file is tab-separated with client_id, path and sentence columns (restore "
                                  "the release's own file)")
        for row in reader:
            entries.append({
                "ID": os.path.splitext(row["path"])[0], "wav": os.path.join(clips, row["path"]),
                "spk_id": row["client_id"], "wrd": row["sentence"].strip(),
                "age": row.get("age") or "", "gender": row.get("gender") or "",
                "accent": row.get("accents") or row.get("accent") or "",
            })
    return entries


def prepare_common_voice(data_folder, save_folder, splits=SPLITS, validate_audio=True,
                         strict=False, skip_prep=False):
    """Writes `<split>.csv` for each split TSV."""
    if skip_prep:
        return

    def read_split(split):
        clips = require_path(os.path.join(data_folder, "clips"), "the Common Voice clips/ folder")
        return _read_tsv(os.path.join(data_folder, f"{split}.tsv"), clips)

    prepare_splits("common_voice", data_folder, save_folder, splits, read_split,
                   ["spk_id", "wrd", "age", "gender", "accent"], validate_audio, strict)
