"""Labellers of OpenSMILE LLD tracks: stored by recipes/PseudoLabels, or computed on the fly.

- `lld`: any stored column by its OpenSMILE name, `column="F0final_sma"`;
- short aliases with the column fixed: `f0`, `alpharatio`, `loudness`, `hnr`, `zcr`,
  `voicing`, `rasta_l1`, `rms`;
- `lld_group`: several columns as one target (`columns=[...]`);
- `lld_bins`: a column quantized into `num_bins` classes (edges at quantiles of the
  standard normal, since stored tracks are normalized), for classifier workers.

Tracks are cut at each crop's own offset and put on the encoder's frame grid, each column read
at its rows' centres (labellers.lld_timing).
`backend: online` computes the descriptors from the clean audio instead of reading
them (labellers.online: the same values and normalization, for the columns that
labellers.lld_torch computes); `lld_folder` then only supplies the statistics.
"""

import functools
import math
import os

import torch

from labellers.base import Labeller
from labellers.frames import on_grid_by_centre
from labellers.lld_store import LLDStore
from labellers.online import OnlineTracks
from labellers.registry import register_factory, register_labeller

# seconds of stored rows fetched either side of a crop, beyond its frames' centres (an encoder hop of up to
# 0.1 s is covered; a coarser one reads the whole track in the training step)
FETCH_MARGIN = 0.1
LLD_ALIASES = {
    "f0": "F0final_sma", "alpharatio": "alphaRatio_sma3", "loudness": "Loudness_sma3",
    "hnr": "logHNR_sma", "zcr": "pcm_zcr_sma", "voicing": "voicingFinalUnclipped_sma",
    "rasta_l1": "audspecRasta_lengthL1norm_sma", "rms": "pcm_RMSenergy_sma",
}


def alias_of(column, among=None):
    """The registry alias of a stored column (only aliases in `among`, when given), else the column."""
    return next((a for a, c in LLD_ALIASES.items() if c == column and (among is None or a in among)), column)


@functools.lru_cache(maxsize=8)
def _store(folder):
    return LLDStore(folder)


@register_labeller("lld_group")
class StoredLLDGroup(Labeller):
    """Frame targets `[B, T, len(columns)]` from stored, normalized LLD columns."""

    kind, level = "regression", "frame"

    def __init__(self, lld_folder, columns, mode="interpolate", backend="stored", left_context_seconds=None):
        if backend not in ("stored", "online"):
            raise ValueError(f"backend must be 'stored' or 'online', got {backend!r}")
        self.columns = list(columns)
        self.dim = len(self.columns)
        self.mode = mode
        self.online = None
        if backend == "online":
            self.online = OnlineTracks(str(lld_folder), self.columns, mode, left_context_seconds)
            self.context = self.online.context
            return  # computed from the batch's audio: nothing to fetch
        self.store = _store(str(lld_folder))
        self.index = [self.store.column_index(c) for c in self.columns]  # fails early on a bad name
        self.centres = self.store.centres(self.columns)
        self.fetch_key = f"lld:{os.path.abspath(self.store.folder)}:{'|'.join(self.columns)}"

    def fetch(self, utt_id, offset, num_samples, sample_rate):
        """In a loader worker: the stored rows around a crop, {"first": their first row, "rows": [R, D],
        "total": the track's row count}; FETCH_MARGIN seconds either side cover the encoder's frames."""
        track = self.store.load(utt_id, self.columns)
        hop = self.store.hop_seconds
        first = int(max(0.0, (offset / sample_rate - max(self.centres) - FETCH_MARGIN) / hop))
        last = int(math.ceil(((offset + num_samples) / sample_rate - min(self.centres) + FETCH_MARGIN) / hop)) + 1
        first = min(first, len(track) - 1)
        return {"first": first, "rows": torch.from_numpy(track[first:max(last, first + 1)]), "total": len(track)}

    def _rows(self, batch, i, utt, offset):
        """(rows, index of the first) the targets of crop i are read from: fetched by the loader when they
        cover the crop's frames, else read here."""
        fetched = batch.fetched[i].get(self.fetch_key) if batch.fetched is not None else None
        if fetched is not None:
            first, total, rows = fetched["first"], fetched["total"], fetched["rows"]
            hop, start = self.store.hop_seconds, offset / batch.sample_rate
            low = (start - max(self.centres) - batch.hop_seconds) / hop
            high = (start + batch.num_frames * batch.hop_seconds - min(self.centres)) / hop + 1
            if (first == 0 or low >= first) and (first + len(rows) >= total or high <= first + len(rows) - 1):
                return rows.float(), first
        return torch.from_numpy(self.store.load(utt, self.columns)), 0

    def tracks(self, batch):
        if self.online is not None:
            return self.online.tracks(batch)
        out = []
        hop = self.store.hop_seconds
        for i, (utt, offset) in enumerate(zip(batch.ids, batch.offsets.tolist())):
            track, first = self._rows(batch, i, utt, offset)
            out.append(on_grid_by_centre(track, self.centres, hop, batch.hop_seconds, batch.num_frames,
                                         offset=offset / batch.sample_rate - first * hop, mode=self.mode))
        return torch.stack(out)

    def __call__(self, batch):
        return self.tracks(batch).to(batch.wavs.device)


@register_labeller("lld")
class StoredLLD(StoredLLDGroup):
    """One stored column as a `[B, T, 1]` regression target."""

    def __init__(self, lld_folder, column, mode="interpolate", backend="stored", left_context_seconds=None):
        super().__init__(lld_folder, [column], mode, backend, left_context_seconds)


@register_labeller("lld_bins")
class QuantizedLLD(StoredLLDGroup):
    """One stored column quantized into `num_bins` classes: `[B, T]` class indices."""

    kind = "classification"

    def __init__(self, lld_folder, column, num_bins=8, mode="interpolate", backend="stored",
                 left_context_seconds=None):
        super().__init__(lld_folder, [column], mode, backend, left_context_seconds)
        self.dim = num_bins
        probs = torch.arange(1, num_bins, dtype=torch.float64) / num_bins
        self.edges = torch.distributions.Normal(0.0, 1.0).icdf(probs).float()

    def __call__(self, batch):
        values = self.tracks(batch)[..., 0]
        return torch.bucketize(values, self.edges.to(values.device)).to(batch.wavs.device)


for _alias, _column in LLD_ALIASES.items():
    register_factory(_alias, functools.partial(StoredLLD, column=_column))
