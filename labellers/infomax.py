"""Targets of PASE's contrastive workers (LIM, GIM, SPC).

Their models (`lobes.workers.InfoMax`) score one positive and one negative pair per
utterance, so the target is the same for every batch: `[B, 2]` = (1, 0), trained with
`BCEWithLogitsLoss`.
"""

import torch

from labellers.base import Labeller
from labellers.registry import register_labeller


@register_labeller("infomax", "lim", "gim", "spc")
class PairTargets(Labeller):
    kind, level, dim = "classification", "utterance", 2

    def default_loss(self):
        return torch.nn.BCEWithLogitsLoss()

    def __call__(self, batch):
        target = torch.zeros(batch.wavs.shape[0], 2, device=batch.wavs.device)
        target[:, 0] = 1.0
        return target
