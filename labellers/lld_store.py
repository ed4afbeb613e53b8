"""Stored, normalized OpenSMILE LLD tracks: one float16 array per utterance.

Layout of a pseudo-label folder (written by `recipes/PseudoLabels/extract.py`):

    features.json   column names, hop, feature sets, each column's frame length, opensmile version
    stats.json      per-column mean/std of the training split, non-finite counts
    lld/<ID>.npy    float16 `[frames, columns]`, normalized, row k starts at k * hop and is
                    centred half a frame later (labellers.lld_timing)

Example
-------
>>> store = LLDStore("results/pseudo_labels/common_voice")  # doctest: +SKIP
>>> store.load("common_voice_en_20000001", ["F0final_sma"]).shape  # doctest: +SKIP
(442, 1)
"""

import difflib
import json
import math
import os

import numpy as np

from labellers.lld_timing import stored_frame_seconds

FEATURES_FILE = "features.json"
STATS_FILE = "stats.json"


def _safe_name(utt_id):
    return str(utt_id).replace(os.sep, "__")


def array_path(folder, utt_id, stage="lld"):
    """Where the array of `utt_id` lives: stage "lld" (final) or "raw" (before normalization)."""
    return os.path.join(folder, stage, _safe_name(utt_id) + ".npy")


def save_array(path, array):
    """np.save through a temporary file and a rename: a killed run leaves no half file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.part{os.getpid()}"
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)


def nearest_names(name, names, n=3):
    return difflib.get_close_matches(name, names, n=n, cutoff=0.4)


class LLDStore:
    """Reads the tracks of a pseudo-label folder, by utterance ID and column name."""

    def __init__(self, folder):
        self.folder = folder
        for name in (FEATURES_FILE, STATS_FILE):
            if not os.path.exists(os.path.join(folder, name)):
                raise FileNotFoundError(
                    f"{os.path.join(folder, name)} not found: {folder} is not a finished pseudo-label "
                    "folder; run `python extract.py hparams/extract.yaml` in recipes/PseudoLabels first")
        with open(os.path.join(folder, FEATURES_FILE)) as f:
            self.features = json.load(f)
        with open(os.path.join(folder, STATS_FILE)) as f:
            self.stats = json.load(f)
        self.columns = self.features["columns"]
        self.hop_seconds = self.features["hop_seconds"]
        self.frame_seconds = stored_frame_seconds(self.features)

    def centres(self, columns):
        """Seconds from a row's start to its centre, per column (half its analysis frame)."""
        return [self.frame_seconds[c] / 2 for c in columns]

    def column_index(self, name):
        try:
            return self.columns.index(name)
        except ValueError:
            close = nearest_names(name, self.columns)
            raise KeyError(f"no LLD column {name!r} in {self.folder}"
                           + (f"; did you mean {close}?" if close else "")) from None

    def load(self, utt_id, columns=None):
        """float32 `[frames, len(columns)]` (all columns when None)."""
        path = array_path(self.folder, utt_id)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no pseudo-labels for utterance {utt_id!r} ({path}); was it in the "
                                    f"manifests given to extract.py, or listed in {self.folder}/failures.csv?")
        array = np.load(path).astype(np.float32)
        if columns is None:
            return array
        return array[:, [self.column_index(c) for c in columns]]

    def segment_mean(self, utt_id, start, end, columns=None):
        """Mean of each column over the rows centred in [start, end) seconds (`[len(columns)]`).

        A segment shorter than one hop still gets the row nearest its start."""
        columns = self.columns if columns is None else list(columns)
        array = self.load(utt_id, columns)
        out = np.empty(len(columns), dtype=np.float32)
        for j, centre in enumerate(self.centres(columns)):
            first = min(max(int(math.ceil((start - centre) / self.hop_seconds - 1e-6)), 0), len(array) - 1)
            last = max(first + 1, min(int(math.ceil((end - centre) / self.hop_seconds - 1e-6)), len(array)))
            out[j] = array[first:last, j].mean()
        return out
