"""Speech Commands v2: keyword manifests split by the official validation/testing lists.

    prepare_speech_commands("data/embedded/speech_commands_v0.02", "results/prep/speech_commands")

Writes `train.csv`, `valid.csv`, `test.csv` (ID, duration, wav, spk_id, command)
and `background_noise.csv` (ID, duration, wav) from `_background_noise_/`.
"""

import glob
import os

from corpora.manifest import write_csv
from corpora.preparation import already_prepared, collect_rows, PrepareError, require_path, save_options


def _read_list(path):
    with open(require_path(path, "a Speech Commands split list"), encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip()}


def prepare_speech_commands(data_folder, save_folder, words=None, validate_audio=True,
                            strict=False, skip_prep=False):
    """`words`: the commands to keep (default: every word folder found)."""
    if skip_prep:
        return
    options = dict(data_folder=os.path.abspath(data_folder), words=words, validate_audio=validate_audio)
    outputs = [os.path.join(save_folder, f"{s}.csv") for s in ("train", "valid", "test")]
    if already_prepared(save_folder, "speech_commands", options, outputs):
        return
    require_path(data_folder, "the Speech Commands root (word folders and *_list.txt)")
    valid = _read_list(os.path.join(data_folder, "validation_list.txt"))
    test = _read_list(os.path.join(data_folder, "testing_list.txt"))
    found = sorted(d for d in os.listdir(data_folder)
                   if os.path.isdir(os.path.join(data_folder, d)) and not d.startswith("_"))
    unknown = sorted(set(words or []) - set(found))
    if unknown:
        raise PrepareError(f"words {unknown} have no folder in {data_folder}; found {found}")
    splits = {"train": [], "valid": [], "test": []}
    for word in words or found:
        for path in sorted(glob.glob(os.path.join(data_folder, word, "*.wav"))):
            rel = f"{word}/{os.path.basename(path)}"
            split = "valid" if rel in valid else "test" if rel in test else "train"
            splits[split].append({"ID": rel[:-4].replace("/", "--"), "wav": path,
                                  "spk_id": os.path.basename(path).split("_nohash_")[0], "command": word})
    for split, entries in splits.items():
        rows = collect_rows(entries, save_folder, f"speech_commands_{split}", validate=validate_audio,
                            strict=strict)
        write_csv(os.path.join(save_folder, f"{split}.csv"), rows, ["spk_id", "command"])
    noise = [{"ID": os.path.basename(p)[:-4], "wav": p}
             for p in sorted(glob.glob(os.path.join(data_folder, "_background_noise_", "*.wav")))]
    write_csv(os.path.join(save_folder, "background_noise.csv"),
              collect_rows(noise, save_folder, "speech_commands_noise", validate=validate_audio,
                           strict=strict))
    save_options(save_folder, "speech_commands", options)
