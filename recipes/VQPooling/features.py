"""The per-utterance cache of frames and codes that extract.py writes and train.py reads.

    <features_folder>/features.json             upstream, frame size, hop, code groups and codebook size
    <features_folder>/<dataset>/<ID>.feats.npy  frames [T, D], float16
    <features_folder>/<dataset>/<ID>.codes.npy  codes [T, G], int16
    <features_folder>/quantizer.npz             the product quantizer (upstreams without their own)

Each file is written under a temporary name and renamed, so a run killed mid-write leaves no half file and the next
run recomputes only what is missing.
"""

import json
import os

import numpy as np


class FeatureStore:
    def __init__(self, folder):
        self.folder = folder

    def path(self, dataset, utt_id, kind):
        return os.path.join(self.folder, dataset, f"{utt_id}.{kind}.npy")

    def has(self, dataset, utt_id, kind):
        return os.path.isfile(self.path(dataset, utt_id, kind))

    def save(self, dataset, utt_id, kind, array):
        path = self.path(dataset, utt_id, kind)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        dtype = np.float16 if kind == "feats" else np.int16
        with open(path + ".tmp", "wb") as f:
            np.save(f, np.asarray(array).astype(dtype))
        os.replace(path + ".tmp", path)

    def load(self, dataset, utt_id, kind):
        path = self.path(dataset, utt_id, kind)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found: extract the features of {dataset} first "
                                    f"(python extract.py hparams/extract_*.yaml, writing {self.folder})")
        return np.load(path)

    @property
    def info_path(self):
        return os.path.join(self.folder, "features.json")

    def info(self):
        if not os.path.isfile(self.info_path):
            raise FileNotFoundError(f"{self.info_path} not found: {self.folder} holds no finished extraction "
                                    "(python extract.py hparams/extract_*.yaml)")
        with open(self.info_path) as f:
            return json.load(f)
