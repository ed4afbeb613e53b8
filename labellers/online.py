"""LLD targets computed on the fly from the clean audio (the `online` backend of the LLD labellers).

The values are those `recipes/PseudoLabels` stores (labellers.lld_torch and labellers.lld_pitch
reproduce openSMILE), normalized with the same statistics (`stats.json` of the pseudo-label folder), on
the same frame grid: the descriptors are computed over the clean context audio the recipe hands over
(`LabelBatch.context_wavs`, by default from the utterance start to just past the crop, starting on the
10 ms grid), then cut at the crop's position exactly as stored tracks are. With context from the
utterance start the targets equal the stored ones. Without context (a recipe that gives none) they are
computed on the crop alone: for a crop that starts on the utterance's 10 ms grid they differ in the
first frames (the RASTA filter's warm-up: about a second) and the last 15; for any other crop, frames
fall between the stored rows and every target differs from the interpolated stored one.

Each batch computes, on its device and once for all its online labellers (`LabelBatch.cache`), every
energy and spectral descriptor (cheap), and the pitch columns its labellers ask for, in float32/64
whatever the autocast precision of the training step.
"""

import logging

import torch

from labellers.frames import on_grid_by_centre
from labellers.lld_store import LLDStore
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


class OnlineTracks:
    """`tracks(batch) -> [B, num_frames, len(columns)]`, normalized as the stored tracks of `lld_folder`."""

    def __init__(self, lld_folder, columns, mode="interpolate", left_context_seconds=None):
        unsupported = [c for c in columns if c not in ONLINE_COLUMNS]
        if unsupported:
            raise ValueError(f"the online backend does not compute {unsupported}; it computes {ONLINE_COLUMNS}. "
                             "Use `backend: stored` for these labellers")
        store = LLDStore(lld_folder)  # features.json and stats.json, with the errors that name the fix
        if abs(store.hop_seconds - HOP / 16000) > 1e-9:
            raise ValueError(f"{lld_folder}: tracks at a {store.hop_seconds} s hop; the online backend computes "
                             "10 ms frames")
        index = [store.column_index(c) for c in columns]
        self.centres = store.centres(columns)
        self.mean = torch.tensor([store.stats["mean"][i] for i in index], dtype=torch.float32)
        self.std = torch.tensor([store.stats["std"][i] for i in index], dtype=torch.float32)
        self.columns = list(columns)
        self.mode = mode
        pitch = [c for c in columns if c in PITCH_COLUMNS]
        self.context = (left_context_seconds, PITCH_RIGHT_CONTEXT_SECONDS if pitch else RIGHT_CONTEXT_SECONDS)
        self._lld, self._pitch = TorchLLD(), PitchLLD(pitch) if pitch else None
        self._warned = False

    def _table(self, batch):
        """This batch's descriptors: {"tracks": {column: [B, rows]}, "rows": [B], "offsets": [B] (where the crops
        start in the audio, samples)}, computed at the first online labeller's call, the pitch columns each
        labeller needs added at its own (a labeller of F0 and one of HNR both run the F0 chain)."""
        if _TABLE not in batch.cache:
            if batch.sample_rate != 16000:
                raise ValueError(f"the online LLD backend computes openSMILE's descriptors at 16 kHz; this batch is "
                                 f"at {batch.sample_rate} Hz (set sample_rate: 16000, audio is resampled on loading)")
            if batch.context_wavs is None and not self._warned:
                logger.warning("no context audio in the batch: online LLD targets are computed on the crops alone "
                               "and differ from the stored ones (labellers/online.py says where)")
                self._warned = True
            batch.cache[_TABLE] = {"tracks": {}}
            self._compute(batch, self._lld)
        if self._pitch is not None and any(c not in batch.cache[_TABLE]["tracks"] for c in self._pitch.columns):
            self._compute(batch, self._pitch)
        return batch.cache[_TABLE]

    @staticmethod
    def _compute(batch, module):
        if batch.context_wavs is not None:
            wavs, lengths, offsets = batch.context_wavs, batch.context_lengths, batch.context_offsets
        else:
            wavs, lengths, offsets = batch.wavs, batch.lengths, torch.zeros(len(batch.ids))
        # descriptors are not trained: no graph, and no reduced precision from the step's autocast
        with torch.no_grad(), torch.autocast(wavs.device.type, enabled=False):
            table, rows = module.to(wavs.device)(wavs.float(), lengths)
        entry = batch.cache[_TABLE]
        entry["tracks"].update({c: table[..., j] for j, c in enumerate(module.columns)})
        entry["rows"], entry["offsets"] = rows.tolist(), torch.as_tensor(offsets).tolist()

    def tracks(self, batch):
        entry = self._table(batch)
        table, rows, offsets = torch.stack([entry["tracks"][c] for c in self.columns], -1), entry["rows"], \
            entry["offsets"]
        values = (table - self.mean.to(table.device)) / self.std.to(table.device)
        values = torch.where(torch.isfinite(values), values, torch.zeros_like(values))
        out = []
        for i, (n, offset) in enumerate(zip(rows, offsets)):
            if n == 0:  # audio shorter than one 60 ms frame: openSMILE gives no row either; the mean
                out.append(values.new_zeros(batch.num_frames, len(self.columns)))
                continue
            out.append(on_grid_by_centre(values[i, :n], self.centres, HOP / 16000, batch.hop_seconds,
                                         batch.num_frames, offset=offset / batch.sample_rate, mode=self.mode))
        return torch.stack(out)
