"""Labellers: the targets pretext workers learn to predict, built by name from a registry.

    from labellers import get_labeller
    f0 = get_labeller("f0", lld_folder="results/pseudo_labels/common_voice")
"""

from labellers.base import LabelBatch, Labeller
from labellers.registry import available_labellers, get_labeller, register_labeller
from labellers import infomax, metadata, signal, stored  # noqa: F401  (they register their labellers)

__all__ = ["LabelBatch", "Labeller", "available_labellers", "get_labeller", "register_labeller"]
