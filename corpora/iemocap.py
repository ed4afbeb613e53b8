"""IEMOCAP: emotion manifests with a leave-sessions-out split.

    prepare_iemocap("data/embedded/IEMOCAP_full_release", "results/prep/iemocap")

Reads `SessionN/dialog/EmoEvaluation/*.txt` (the `[start - end] turn emotion
[V, A, D]` lines) and `SessionN/sentences/wav/<dialog>/<turn>.wav`. Keeps the
four usual classes (neu, hap, sad, ang; `exc` counts as hap when
`merge_excited`), writes `train.csv`, `valid.csv`, `test.csv` (ID, duration, wav,
spk_id, emo) with `test_session` and `valid_session` held out.
"""

import glob
import os
import re

from corpora.manifest import write_csv
from corpora.preparation import already_prepared, collect_rows, PrepareError, require_path, save_options

_LINE = re.compile(r"^\[(\d+\.?\d*) - (\d+\.?\d*)\]\s+(\S+)\s+(\S+)\s+\[")
CLASSES = ("neu", "hap", "sad", "ang")


def read_emotions(eval_file, merge_excited=True):
    """{turn: emotion} of one EmoEvaluation file, only the kept classes."""
    labels = {}
    with open(eval_file, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = _LINE.match(line)
            if not m:
                continue
            emotion = "hap" if merge_excited and m.group(4) == "exc" else m.group(4)
            if emotion in CLASSES:
                labels[m.group(3)] = emotion
    return labels


def prepare_iemocap(data_folder, save_folder, test_session=5, valid_session=4, merge_excited=True,
                    validate_audio=True, strict=False, skip_prep=False):
    """Writes train/valid/test manifests, holding out whole sessions."""
    if skip_prep:
        return
    options = dict(data_folder=os.path.abspath(data_folder), test_session=test_session,
                   valid_session=valid_session, merge_excited=merge_excited, validate_audio=validate_audio)
    outputs = [os.path.join(save_folder, f"{s}.csv") for s in ("train", "valid", "test")]
    if already_prepared(save_folder, "iemocap", options, outputs):
        return
    require_path(data_folder, "the IEMOCAP root (Session1/ ... Session5/)")
    sessions = sorted(int(d[7:]) for d in os.listdir(data_folder) if re.fullmatch(r"Session\d+", d))
    if test_session not in sessions or valid_session not in sessions:
        raise PrepareError(f"sessions {test_session} (test) and {valid_session} (valid) must exist in "
                           f"{data_folder}; found {sessions}")
    splits = {"train": [], "valid": [], "test": []}
    for session in sessions:
        split = "test" if session == test_session else "valid" if session == valid_session else "train"
        base = os.path.join(data_folder, f"Session{session}")
        for eval_file in sorted(glob.glob(os.path.join(base, "dialog", "EmoEvaluation", "*.txt"))):
            dialog = os.path.basename(eval_file)[:-4]
            for turn, emotion in read_emotions(eval_file, merge_excited).items():
                # The speaker is the session plus the gender letter of the turn (Ses01F_impro01_F000).
                spk = f"Ses{session:02d}{turn.rsplit('_', 1)[1][0]}"
                splits[split].append({"ID": turn, "emo": emotion, "spk_id": spk,
                                      "wav": os.path.join(base, "sentences", "wav", dialog, turn + ".wav")})
    for split, entries in splits.items():
        rows = collect_rows(entries, save_folder, f"iemocap_{split}", validate=validate_audio, strict=strict)
        write_csv(os.path.join(save_folder, f"{split}.csv"), rows, ["spk_id", "emo"])
    save_options(save_folder, "iemocap", options)
