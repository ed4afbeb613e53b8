"""Worker heads of multitask self-supervised pretraining (PASE-style).

A worker maps encoder features `[B, T, D]` to the target of one labeller:

- `Regressor`: `[B, T, output_size]` (frame level) or `[B, output_size]` (utterance
  level, mean over valid frames);
- `Classifier`: logits `[B, T, num_classes]` or `[B, num_classes]`.

Both are small MLPs (PReLU, as PASE's workers), so the encoder, not the head, has to
carry the information.
"""

import torch


def _mlp(input_size, output_size, hidden_size, num_layers, dropout):
    layers, size = [], input_size
    for _ in range(num_layers):
        layers += [torch.nn.Linear(size, hidden_size), torch.nn.PReLU(), torch.nn.Dropout(dropout)]
        size = hidden_size
    layers.append(torch.nn.Linear(size, output_size))
    return torch.nn.Sequential(*layers)


def masked_mean(x, lengths=None):
    """Mean over time of `[B, T, D]`, counting only the frames within each relative length."""
    if lengths is None:
        return x.mean(dim=1)
    frames = torch.arange(x.shape[1], device=x.device)[None, :]
    mask = (frames < (lengths[:, None] * x.shape[1]).round().clamp(min=1)).to(x.dtype)
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
