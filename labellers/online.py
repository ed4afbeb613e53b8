"""LLD targets computed on the fly from the clean audio (the `online` backend of the LLD labellers).

The values are those `recipes/PseudoLabels` stores (labellers.lld_torch reproduces openSMILE),
normalized with the same statistics (`stats.json` of the pseudo-label folder), on the same frame grid:
the descriptors are computed over the clean context audio the recipe hands over
(`LabelBatch.context_wavs`, by default from the utterance start to just past the crop), then cut at the
crop's position exactly as stored tracks are. With context from the utterance start the targets equal
the stored ones; without context (a recipe that gives none) they are computed on the crop alone and
differ in the first frames (the RASTA filter's warm-up, the smoothing's edge) and in the last
60 ms (no frame reaches past the crop).

One table is computed per batch, on the batch's device, and shared by all the online labellers of
the batch (`LabelBatch.cache`): every energy and spectral descriptor (labellers.lld_torch, cheap) and
the pitch descriptors (labellers.lld_pitch) that any online labeller built so far asked for.
"""

import json
import logging
import os

import torch

from labellers.frames import track_on_grid
from labellers.lld_store import FEATURES_FILE, STATS_FILE, nearest_names
from labellers.lld_pitch import PITCH_COLUMNS, PitchLLD
from labellers.lld_torch import COLUMNS, HOP, LONG_FRAME, TorchLLD

logger = logging.getLogger(__name__)
# past the crop's last encoder frame: one 60 ms frame and the smoothing's next frame
RIGHT_CONTEXT_SECONDS = (LONG_FRAME + 2 * HOP) / 16000
# pitch: the Viterbi decides a frame once the paths agree on it (40 frames at the most) and the frames
# left to the end of the audio come out differently (and with openSMILE's end-of-input artefact), so the
# audio goes on until the crop's frames are decided as in the whole utterance
PITCH_RIGHT_CONTEXT_SECONDS = RIGHT_CONTEXT_SECONDS + 45 * HOP / 16000
_TABLE = "lld_torch"
ONLINE_COLUMNS = COLUMNS + PITCH_COLUMNS
_PITCH_WANTED = set()  # the pitch columns online labellers asked for, computed together once per batch


class OnlineTracks:
    """`tracks(batch) -> [B, num_frames, len(columns)]`, normalized as the stored tracks of `lld_folder`."""

    def __init__(self, lld_folder, columns, mode="interpolate", left_context_seconds=None):
        unsupported = [c for c in columns if c not in ONLINE_COLUMNS]
        if unsupported:
            raise ValueError(f"the online backend does not compute {unsupported}; it computes {ONLINE_COLUMNS}. "
                             "Use `backend: stored` for these labellers")
        stats_path, features_path = (os.path.join(lld_folder, f) for f in (STATS_FILE, FEATURES_FILE))
        for path in (stats_path, features_path):
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path} not found: the online backend normalizes with the statistics of "
                                        "a pseudo-label folder; run `python extract.py hparams/extract.yaml` in "
                                        "recipes/PseudoLabels first (or point lld_folder at one)")
        with open(stats_path) as f:
            stats = json.load(f)
        with open(features_path) as f:
            hop = json.load(f)["hop_seconds"]
        missing = [c for c in columns if c not in stats["columns"]]
        if missing:
            raise KeyError(f"no statistics for {missing} in {stats_path}"
                           f"; did you mean {nearest_names(missing[0], stats['columns'])}?")
        if abs(hop - HOP / 16000) > 1e-9:
            raise ValueError(f"{features_path}: tracks at a {hop} s hop; the online backend computes 10 ms frames")
        index = [stats["columns"].index(c) for c in columns]
        self.mean = torch.tensor([stats["mean"][i] for i in index], dtype=torch.float32)
        self.std = torch.tensor([stats["std"][i] for i in index], dtype=torch.float32)
        self.columns = list(columns)
        _PITCH_WANTED.update(c for c in columns if c in PITCH_COLUMNS)
        self.mode = mode
        pitch = any(c in PITCH_COLUMNS for c in columns)
        self.context = (left_context_seconds, PITCH_RIGHT_CONTEXT_SECONDS if pitch else RIGHT_CONTEXT_SECONDS)
        self._lld, self._pitch = TorchLLD(), None
        self._warned = False

    def _table(self, batch):
        """(table [B, rows, names], rows [B], crop offsets in the audio [B], names) for this batch, computed once."""
        if _TABLE not in batch.cache:
            if batch.sample_rate != 16000:
                raise ValueError(f"the online LLD backend computes openSMILE's descriptors at 16 kHz; this batch is "
                                 f"at {batch.sample_rate} Hz (set sample_rate: 16000, audio is resampled on loading)")
            if batch.context_wavs is not None:
                wavs, lengths, offsets = batch.context_wavs, batch.context_lengths, batch.context_offsets
            else:
                if not self._warned:
                    logger.warning("no context audio in the batch: online LLD targets are computed on the crops "
                                   "alone and differ from the stored ones near the crop edges")
                    self._warned = True
                wavs, lengths, offsets = batch.wavs, batch.lengths, torch.zeros(len(batch.ids))
            names = COLUMNS + [c for c in PITCH_COLUMNS if c in _PITCH_WANTED]
            with torch.no_grad():
                table, rows = self._lld.to(wavs.device)(wavs, lengths)
                if len(names) > len(COLUMNS):
                    if self._pitch is None or self._pitch.columns != names[len(COLUMNS):]:
                        self._pitch = PitchLLD(names[len(COLUMNS):])
                    table = torch.cat([table, self._pitch.to(wavs.device)(wavs, lengths)[0]], -1)
            batch.cache[_TABLE] = (table, rows.tolist(), torch.as_tensor(offsets).tolist(), names)
        return batch.cache[_TABLE]

    def tracks(self, batch):
        table, rows, offsets, names = self._table(batch)
        position = [names.index(c) for c in self.columns]
        values = (table[..., position] - self.mean.to(table.device)) / self.std.to(table.device)
        values = torch.where(torch.isfinite(values), values, torch.zeros_like(values))
        out = []
        for i, (n, offset) in enumerate(zip(rows, offsets)):
            if n == 0:  # audio shorter than one 60 ms frame: openSMILE gives no row either; the mean
                out.append(values.new_zeros(batch.num_frames, len(self.columns)))
                continue
            out.append(track_on_grid(values[i, :n], HOP / 16000, batch.hop_seconds, batch.num_frames,
                                     offset=offset / batch.sample_rate, mode=self.mode))
        return torch.stack(out)
