"""The small interface every labeller follows (registered or a user's own class).

A labeller turns a batch of crops into the targets of one worker:

- `kind`: "regression" or "classification";
- `level`: "frame" (targets `[B, T, dim]` on the encoder's frame grid, or `[B, T]`
  class indices) or "utterance" (`[B, dim]`, or `[B]` class indices);
- `dim`: output size (regression) or number of classes (classification);
- `default_loss()`: the loss a worker uses unless its YAML says otherwise.

A user class only needs these attributes and `__call__(batch)`; point a YAML at
it with `!new:my_module.MyLabeller`.
"""

from dataclasses import dataclass, field
from typing import Optional

import torch


@dataclass
class LabelBatch:
    """What a labeller sees of a batch.

    wavs: `[B, S]` crops; lengths: `[B]` relative lengths (SpeechBrain style);
    ids: manifest IDs; offsets: `[B]` start of each crop in its utterance, in
    samples; num_frames / hop_seconds: the encoder's frame grid for this batch;
    meta: manifest columns, one list per column.
    context_wavs / context_lengths / context_offsets: the clean audio around each
    crop, for labellers that compute targets from it (their `context` attribute
    says how much they need); context_offsets is where the crop starts in it, in
    samples. None when the recipe gives no context.
    cache: what labellers computed for this batch and share (e.g. one LLD table).
    fetched: what the loader workers fetched for labellers with a `fetch_key`, one dict per crop
    {fetch_key: fetch(...)}; None when the recipe fetches nothing (labellers then read for themselves).
    """

    wavs: torch.Tensor
    lengths: torch.Tensor
    ids: list
    offsets: torch.Tensor
    num_frames: int
    hop_seconds: float = 0.01
    sample_rate: int = 16000
    meta: dict = field(default_factory=dict)
    context_wavs: Optional[torch.Tensor] = None
    context_lengths: Optional[torch.Tensor] = None
    context_offsets: Optional[torch.Tensor] = None
    cache: dict = field(default_factory=dict)
    fetched: Optional[list] = None


class Labeller:
    """Base class: declares kind, level, dim and the default loss."""

    kind = "regression"
    level = "frame"
    dim = 1
    # audio around the crop this labeller needs, (left, right) seconds, left None = from the utterance start;
    # None: the crop itself is enough
    context = None
    # a labeller that reads per-utterance data (stored tracks) can have the recipe's loader workers read it:
    # `fetch_key` (a string, equal for labellers that read the same data) and
    # `fetch(utt_id, offset, num_samples, sample_rate)` -> what it needs for one crop, handed back in
    # `LabelBatch.fetched[i][fetch_key]`; None: nothing to fetch
    fetch_key = None

    def default_loss(self):
        if self.kind == "classification":
            return torch.nn.CrossEntropyLoss()
        return torch.nn.L1Loss()

    def __call__(self, batch):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(batch)")
