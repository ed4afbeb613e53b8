"""Worker heads of multitask self-supervised pretraining (PASE-style).

A worker maps encoder features `[B, T, D]` to the target of one labeller:

- `Regressor`: `[B, T, output_size]` (frame level) or `[B, output_size]` (utterance
  level, mean over valid frames);
- `Classifier`: logits `[B, T, num_classes]` or `[B, num_classes]`.

Both are small MLPs (PReLU, as PASE's workers), so the encoder, not the head, has to
carry the information.
"""

import torch
from speechbrain.dataio.dataio import length_to_mask


def _mlp(input_size, output_size, hidden_size, num_layers, dropout):
    layers, size = [], input_size
    for _ in range(num_layers):
        layers += [torch.nn.Linear(size, hidden_size), torch.nn.PReLU(), torch.nn.Dropout(dropout)]
        size = hidden_size
    layers.append(torch.nn.Linear(size, output_size))
    return torch.nn.Sequential(*layers)


def valid_frames(lengths, num_frames):
    """`[B]` frames within each relative length (SpeechBrain style), at least one."""
    return (lengths * num_frames).round().clamp(min=1).long()


def frame_mask(lengths, num_frames):
    """`[B, T]` True on the frames within each relative length."""
    return length_to_mask(valid_frames(lengths, num_frames), num_frames, dtype=torch.bool)


def masked_mean(x, lengths=None):
    """Mean over time of `[B, T, D]`, counting only the frames within each relative length."""
    if lengths is None:
        return x.mean(dim=1)
    mask = frame_mask(lengths, x.shape[1]).to(x.dtype)
    return (x * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)


class _Worker(torch.nn.Module):
    def __init__(self, input_size, output_size, hidden_size=256, num_layers=1, level="frame", dropout=0.0):
        super().__init__()
        if level not in ("frame", "utterance"):
            raise ValueError(f"level must be 'frame' or 'utterance', got {level!r}")
        self.level = level
        self.net = _mlp(input_size, output_size, hidden_size, num_layers, dropout)

    def forward(self, feats, lengths=None):
        if self.level == "utterance":
            feats = masked_mean(feats, lengths)
        return self.net(feats)


class Regressor(_Worker):
    """Predicts `output_size` real values per frame or per utterance."""

    kind = "regression"


class Classifier(_Worker):
    """Predicts logits over `num_classes` per frame or per utterance."""

    kind = "classification"

    def __init__(self, input_size, num_classes, hidden_size=256, num_layers=1, level="frame", dropout=0.0):
        super().__init__(input_size, num_classes, hidden_size, num_layers, level, dropout)


class InfoMax(torch.nn.Module):
    """PASE's contrastive workers: scores a positive and a negative pair per utterance.

    mode "local" (LIM): anchor and positive are two random frames of the utterance, the
    negative a random frame of another utterance of the batch. "global" (GIM): means of
    the two halves of the crop vs a half of another utterance. "spc" (sequence predictive
    coding): the mean of a middle segment vs the segment after it (positive) and the one
    before it (negative). Output: logits `[B, 2]` (positive, negative), targets from the
    `lim`/`gim`/`spc` labellers.
    """

    level, kind = "utterance", "classification"

    def __init__(self, input_size, hidden_size=256, mode="local", segment_frames=10):
        super().__init__()
        if mode not in ("local", "global", "spc"):
            raise ValueError(f"mode must be 'local', 'global' or 'spc', got {mode!r}")
        self.mode, self.segment = mode, segment_frames
        # the pair as [x, y, x * y]: the product makes "same utterance" an easy function to learn
        self.score = _mlp(3 * input_size, 1, hidden_size, 1, 0.0)

    def _valid(self, feats, lengths):
        if lengths is None:
            return torch.full((feats.shape[0],), feats.shape[1], device=feats.device)
        return valid_frames(lengths, feats.shape[1])

    def _pairs(self, feats, lengths):
        batch, rows = feats.shape[0], torch.arange(feats.shape[0], device=feats.device)
        valid = self._valid(feats, lengths)
        other = torch.roll(rows, 1)  # another utterance of the batch
        if self.mode == "local":
            pick = lambda idx: (torch.rand(batch, device=feats.device) * valid[idx]).long()  # noqa: E731
            return feats[rows, pick(rows)], feats[rows, pick(rows)], feats[other, pick(other)]
        if self.mode == "global":
            frames = torch.arange(feats.shape[1], device=feats.device)[None, :]
            half = (valid // 2).clamp(min=1)[:, None]
            masks = [(frames < half), (frames >= half) & (frames < valid[:, None])]
            first, second = [(feats * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1) for m in masks]
            return first, second, first[other]
        seg = max(1, min(self.segment, int(valid.min()) // 3))
        start = torch.clamp(valid // 2 - seg // 2, min=seg)
        offsets = torch.arange(seg, device=feats.device)

        def segment_mean(first):
            idx = (first[:, None] + offsets[None, :]).clamp(max=feats.shape[1] - 1)
            return feats[rows[:, None], idx].mean(dim=1)
        return segment_mean(start), segment_mean(start + seg), segment_mean(start - seg)

    def forward(self, feats, lengths=None):
        anchor, positive, negative = self._pairs(feats, lengths)
        pos = self.score(torch.cat([anchor, positive, anchor * positive], dim=-1))
        neg = self.score(torch.cat([anchor, negative, anchor * negative], dim=-1))
        return torch.cat([pos, neg], dim=-1)
