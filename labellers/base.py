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

import torch


@dataclass
class LabelBatch:
    """What a labeller sees of a batch.

    wavs: `[B, S]` crops; lengths: `[B]` relative lengths (SpeechBrain style);
    ids: manifest IDs; offsets: `[B]` start of each crop in its utterance, in
    samples; num_frames / hop_seconds: the encoder's frame grid for this batch;
    meta: manifest columns, one list per column.
    """

    wavs: torch.Tensor
    lengths: torch.Tensor
    ids: list
    offsets: torch.Tensor
    num_frames: int
    hop_seconds: float = 0.01
    sample_rate: int = 16000
    meta: dict = field(default_factory=dict)


class Labeller:
    """Base class: declares kind, level, dim and the default loss."""

    kind = "regression"
    level = "frame"
    dim = 1

    def default_loss(self):
        if self.kind == "classification":
            return torch.nn.CrossEntropyLoss()
        return torch.nn.L1Loss()

    def __call__(self, batch):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(batch)")
