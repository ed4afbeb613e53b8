"""Frames of a frozen upstream computed once per utterance, and crops taken from frames rather than from audio.

A downstream head trains for many epochs on an encoder that does not change: running a CRDNN or PASE encoder on the
CPU over the same audio every epoch is most of a comparison's time (a 5-epoch x-vector on a frozen CRDNN spent
~24 of its ~25 minutes in the encoder). `FrameCache` keeps each utterance's frames (float16, CPU) after its first
pass and serves later batches from memory; every batch, first or later, gets the float16-rounded values, and every
path (cache on, off or full) zero padding, so results do not depend on whether a frame came from the encoder or the
cache (padding matters: a BiLSTM reads it, and a model trained with the upstream's own padding, Fbank of silence,
then tested with zeros lost half its accuracy). It steps aside when the upstream has trainable
parameters (fine-tuning, or a wav2vec2 layer mix) and once its memory budget is spent.

Random training crops are therefore cut from the frames of the whole utterance (`crop_frames`): the encoder sees the
utterance's full context, and its frames can be cached.
"""

import logging

import torch
from speechbrain.dataio.dataio import length_to_mask
from speechbrain.utils.data_utils import batch_pad_right

logger = logging.getLogger(__name__)


class FrameCache:
    """`cache(upstream, wavs, lengths, keys) -> (frames [B, T, D] float32, relative frame lengths [B])`.

    The upstream is passed at each call (`brain.modules.upstream`, which may be wrapped for DDP when trainable).

    Arguments
    ---------
    max_gb : float
        Memory budget of the cache; 0 turns it off.
    """

    def __init__(self, max_gb=4.0):
        self.enabled = max_gb > 0
        self.max_bytes, self.bytes, self.store = max_gb * 2 ** 30, 0, {}

    def __call__(self, upstream, wavs, lengths, keys=None):
        """`keys`: one hashable per utterance (None: no caching for this batch, e.g. augmented audio)."""
        if not self.enabled or keys is None or any(p.requires_grad for p in upstream.parameters()):
            frames = upstream(wavs, lengths).float()
            valid = length_to_mask(torch.round(lengths * frames.shape[1]), max_len=frames.shape[1],
                                   dtype=frames.dtype, device=frames.device)
            return frames * valid.unsqueeze(2), lengths  # zero padding here too, as the cached path gives
        if any(key not in self.store for key in keys):
            with torch.no_grad():
                frames = upstream(wavs, lengths)
            counts = torch.round(lengths * frames.shape[1]).long().clamp(min=1).tolist()
            rows = [frames[i, :n].half().cpu() for i, n in enumerate(counts)]
            for key, row in zip(keys, rows):
                self._keep(key, row)
        else:
            rows = [self.store[key] for key in keys]
        frames, counts = batch_pad_right(rows)  # zero-padded, relative lengths
        return frames.float().to(wavs.device), counts.to(wavs.device)

    def _keep(self, key, row):
        if key in self.store or not self.enabled:
            return
        size = row.numel() * row.element_size()
        if self.bytes + size > self.max_bytes:
            logger.warning("frame cache full (%.1f GB): later frames are computed every time; raise the budget "
                           "(cache_frames_gb) if memory allows", self.max_bytes / 2 ** 30)
            self.enabled = False
            return
        self.store[key] = row
        self.bytes += size


def crop_frames(frames, lengths, starts, sizes):
    """Cut one crop per utterance out of its frames.

    Arguments
    ---------
    frames : torch.Tensor [B, T, D]
    lengths : torch.Tensor [B], relative lengths of `frames`
    starts, sizes : torch.Tensor [B], in frames; a crop is clipped to the utterance's valid frames

    Returns
    -------
    (crops [B, Z, D] zero-padded, relative lengths [B]), Z the longest clipped crop.
    """
    valid = torch.round(lengths * frames.shape[1]).long()
    starts = torch.minimum(starts.long().to(valid.device), (valid - 1).clamp(min=0))
    sizes = torch.minimum(sizes.long().to(valid.device), valid - starts).clamp(min=1)
    width = int(sizes.max())
    offsets = torch.arange(width, device=frames.device)
    index = (starts[:, None] + offsets[None, :]).clamp(max=frames.shape[1] - 1)  # [B, Z]
    crops = frames.gather(1, index[:, :, None].expand(-1, -1, frames.shape[2]))
    crops = crops * length_to_mask(sizes, max_len=width, dtype=crops.dtype, device=crops.device).unsqueeze(2)
    return crops, sizes.float() / width


def sample_crops_to_frames(crops, hop_samples):
    """[B, 2] (start, size) in samples -> (starts, sizes) in frames of `hop_samples`."""
    return torch.div(crops[:, 0], hop_samples, rounding_mode="floor"), \
        torch.div(crops[:, 1], hop_samples, rounding_mode="floor")
