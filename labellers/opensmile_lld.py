"""OpenSMILE low-level descriptors (LLDs) as one frame-aligned table per utterance.

Two feature sets (eGeMAPSv02 or GeMAPSv01b, and ComParE_2016), both at a 10 ms
hop, are extracted and **mixed**: rows are matched on frame start time and cut
to the frames both sets have, columns are concatenated under their OpenSMILE
names (`alphaRatio_sma3`, `F0final_sma`, `logHNR_sma`, ...).

Example
-------
>>> import numpy as np
>>> lld = OpenSmileLLD(["eGeMAPSv02", "ComParE_2016"])
>>> tone = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000).astype("float32")
>>> columns, frames = lld.extract(tone, 16000)
>>> frames.shape[1] == len(columns) == 90, "F0final_sma" in columns
(True, True)
"""

import hashlib
import os
import tempfile

import numpy as np

from labellers.lld_timing import frame_seconds_of

HOP_SECONDS = 0.01

# The stock ComParE_2016 configuration also computes deltas and functionals,
# which LLD extraction throws away. This one keeps only the LLD part of the same
# components: identical values, faster (see benchmarks/opensmile_extraction.py).
_COMPARE_LLD_ONLY = """[componentInstances:cComponentManager]
instance[dataMemory].type=cDataMemory
\\{\\cm[source{?}:include external source]}
\\{%s}
[componentInstances:cComponentManager]
instance[is13_lldconcat].type=cVectorConcat
[is13_lldconcat:cVectorConcat]
reader.dmLevel = is13_lld_nzsmo;is13_lldA_smo;is13_lldB_smo
writer.dmLevel = lld
includeSingleElementFields = 1
\\{\\cm[sink{?}:include external sink]}
"""


def _compare_lld_only_config():
    """Writes (once per installed opensmile) the LLD-only ComParE_2016 config; returns its path."""
    import opensmile

    include = os.path.join(os.path.dirname(opensmile.__file__), "core", "config", "compare",
                           "ComParE_2016_core.lld.conf.inc")
    text = _COMPARE_LLD_ONLY % include
    path = os.path.join(tempfile.gettempdir(),
                        f"ComParE_2016_lld_{hashlib.sha1(text.encode()).hexdigest()[:10]}.conf")
    if not os.path.exists(path):
        with open(f"{path}.part{os.getpid()}", "w") as f:
            f.write(text)
        os.replace(f"{path}.part{os.getpid()}", path)
    return path


def _smile(name, lld_only=True):
    import opensmile

    if name == "ComParE_2016" and lld_only:
        return opensmile.Smile(feature_set=_compare_lld_only_config(), feature_level="lld")
    try:
        feature_set = getattr(opensmile.FeatureSet, name)
    except AttributeError:
        known = [n for n in dir(opensmile.FeatureSet) if not n.startswith("_")]
        raise ValueError(f"unknown OpenSMILE feature set {name!r}; choose from {known}") from None
    return opensmile.Smile(feature_set=feature_set, feature_level=opensmile.FeatureLevel.LowLevelDescriptors)


class OpenSmileLLD:
    """Extracts and mixes the LLD tables of several OpenSMILE feature sets."""

    def __init__(self, feature_sets=("eGeMAPSv02", "ComParE_2016"), lld_only=True):
        if not feature_sets:
            raise ValueError("at least one OpenSMILE feature set is needed")
        self.feature_sets = list(feature_sets)
        self._smiles = [_smile(name, lld_only) for name in self.feature_sets]

    @property
    def columns(self):
        """Column names of the mixed table, in order (a name in two sets keeps the first)."""
        names = []
        for smile in self._smiles:
            names += [n for n in smile.feature_names if n not in names]
        return names

    @property
    def frame_seconds(self):
        """{column: length of its analysis frame in seconds} (labellers.lld_timing)."""
        return frame_seconds_of([(name, smile.feature_names) for name, smile in zip(self.feature_sets, self._smiles)])

    def extract(self, wav, sample_rate):
        """(columns, float32 array `[frames, columns]`) for a mono waveform.

        Frames of the different sets are matched on their start times; only frames
        present in every set are kept, so row k starts at k * 10 ms.
        """
        wav = np.asarray(wav, dtype=np.float32)
        tables = [smile.process_signal(wav, sample_rate) for smile in self._smiles]
        starts = [np.round(t.index.get_level_values("start").total_seconds() / HOP_SECONDS).astype(int)
                  for t in tables]
        common = set(starts[0]).intersection(*starts[1:])
        n = 0
        while n in common:  # the frames 0..n-1 that all sets share
            n += 1
        if n == 0:
            raise ValueError(f"OpenSMILE returned no frames for {len(wav) / sample_rate:.3f} s of audio "
                             "(too short?)")
        columns, blocks = [], []
        for table, start in zip(tables, starts):
            rows = np.searchsorted(start, np.arange(n))
            keep = [c for c in table.columns if c not in columns]
            columns += keep
            blocks.append(table[keep].to_numpy(dtype=np.float32)[rows])
        return columns, np.concatenate(blocks, axis=1)
