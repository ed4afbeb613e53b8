"""Putting a stored frame track on an encoder's frame grid, at a crop's own offset.

A stored track has row k centred at k * `src_hop` + `centre` seconds (`centre` is half the
row's analysis frame: labellers.lld_timing). An encoder with hop `dst_hop` seconds that sees a
crop starting at `offset` seconds has its frame j centred at offset + j * dst_hop (SpeechBrain's
Fbank centres its frames). The target of frame j is the track at that time, linearly interpolated
between row centres ("interpolate"), or, for an encoder coarser than the track ("average"), the
mean of the interpolated track at dst_hop / src_hop points spread evenly over the frame's hop
(centred on the frame like the frame itself: a ramp stays a ramp).

Example
-------
>>> import torch
>>> ramp = torch.arange(100.0)[:, None]          # value = row index
>>> track_on_grid(ramp, 0.01, 0.02, num_frames=3, offset=0.155).squeeze(1).tolist()
[15.5, 17.5, 19.5]
>>> track_on_grid(ramp, 0.01, 0.02, num_frames=3, offset=0.155, centre=0.01).squeeze(1).tolist()
[14.5, 16.5, 18.5]
"""

import torch


def _interpolate(track, pos):
    """The `[frames, D]` track at fractional row positions `pos` (any shape), edge rows past the ends."""
    last = track.shape[0] - 1
    pos = pos.clamp(0, last)
    low = pos.floor().long()
    high = (low + 1).clamp(max=last)
    frac = (pos - low).float()[..., None]
    return track[low] * (1 - frac) + track[high] * frac


def track_on_grid(track, src_hop, dst_hop, num_frames, offset=0.0, mode="interpolate", centre=0.0):
    """`[frames, D]` track -> `[num_frames, D]` targets."""
    if mode not in ("interpolate", "average"):
        raise ValueError(f"mode must be 'interpolate' or 'average', got {mode!r}")
    track = torch.as_tensor(track, dtype=torch.float32)
    # each frame's centre in the track's own time (that of its rows' starts)
    times = offset - centre + dst_hop * torch.arange(num_frames, dtype=torch.float64, device=track.device)
    if mode == "average" and dst_hop > src_hop:
        points = max(1, round(dst_hop / src_hop))
        spread = (torch.arange(points, dtype=torch.float64, device=track.device) + 0.5) * dst_hop / points
        return _interpolate(track, (times[:, None] + spread - dst_hop / 2) / src_hop).mean(1)
    return _interpolate(track, times / src_hop)


def on_grid_by_centre(track, centres, src_hop, dst_hop, num_frames, offset=0.0, mode="interpolate"):
    """track_on_grid for a `[frames, D]` track whose D columns have their own row `centres` (seconds)."""
    groups = {}
    for j, centre in enumerate(centres):
        groups.setdefault(round(float(centre), 6), []).append(j)
    out = torch.empty(num_frames, track.shape[1], device=track.device)
    for centre, index in groups.items():
        out[:, index] = track_on_grid(track[:, index], src_hop, dst_hop, num_frames, offset, mode, centre)
    return out
