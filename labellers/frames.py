"""Putting a stored frame track on an encoder's frame grid, at a crop's own offset.

A stored track has row k at time k * `src_hop` seconds. An encoder with hop
`dst_hop` seconds that sees a crop starting at `offset` seconds has its frame j
at time offset + j * dst_hop. The target of frame j is the track at that time:
linear interpolation between rows ("interpolate"), or the mean of the rows that
fall in [t, t + dst_hop) ("average", for an encoder coarser than the track).

Example
-------
>>> import torch
>>> ramp = torch.arange(100.0)[:, None]          # value = row index
>>> track_on_grid(ramp, 0.01, 0.02, num_frames=3, offset=0.155).squeeze(1).tolist()
[15.5, 17.5, 19.5]
"""

import torch


def track_on_grid(track, src_hop, dst_hop, num_frames, offset=0.0, mode="interpolate"):
    """`[frames, D]` track -> `[num_frames, D]` targets (edge rows repeat past the ends)."""
    if mode not in ("interpolate", "average"):
        raise ValueError(f"mode must be 'interpolate' or 'average', got {mode!r}")
    track = torch.as_tensor(track, dtype=torch.float32)
    last = track.shape[0] - 1
    device = track.device
    if mode == "interpolate" or dst_hop <= src_hop:
        pos = (offset + dst_hop * torch.arange(num_frames, dtype=torch.float64, device=device)) / src_hop
        pos = pos.clamp(0, last)
        low = pos.floor().long()
        high = (low + 1).clamp(max=last)
        frac = (pos - low).float()[:, None]
        return track[low] * (1 - frac) + track[high] * frac
    # Average the rows whose start lies in each destination frame.
    starts = offset + dst_hop * torch.arange(num_frames + 1, dtype=torch.float64, device=device)
    bounds = (starts / src_hop).round().long().clamp(0, last + 1)
    cumsum = torch.cat([torch.zeros(1, track.shape[1], device=device), track.cumsum(0)])
    counts = (bounds[1:] - bounds[:-1]).clamp(min=1)
    sums = cumsum[bounds[1:].clamp(min=1)] - cumsum[bounds[:-1].clamp(max=last)]
    empty = bounds[1:] <= bounds[:-1]
    out = sums / counts[:, None].float()
    out[empty] = track[bounds[:-1].clamp(max=last)[empty]]
    return out
