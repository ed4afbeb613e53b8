"""openSMILE's pitch smoother (cPitchSmootherViterbi) on batched pitch candidates, quirks included.

Six candidates per frame plus an unvoiced state; the costs as openSMILE computes them, including
three slips of its code that decide agreement: the octave-jump weight wTvvd is overwritten with wTvv
(10, not 5); unvoiced -> unvoiced costs 1 (its wTuu test, `i == j == 6`, never holds); the 'lastChange'
log-ratio is one global value that every evaluated (current, previous) pair updates in loop order,
whatever the path, so it is a function of the candidates alone and the transition matrices can be
built for all frames at once. The recursion then loops over frames only, batched over items and states.
"""

import torch

N_CANDIDATES = 6
UNVOICED = N_CANDIDATES  # the 7th state
VOICING_CUTOFF = float(torch.tensor(0.7, dtype=torch.float32))  # openSMILE compares in float32
# weights as openSMILE uses them (wTvvd is set from wTvv, wTuu is never read)
W_LOCAL, W_VV, W_VVD, W_VUV, W_THRESHOLD, W_RANGE = 2.0, 10.0, 10.0, 10.0, 4.0, 1.0
COST_UU, COST_IMPOSSIBLE = 1.0, 999.0


def viterbi(f0, voicing, clipped, counts):
    """cPitchSmootherViterbi on `[B, T, 6]` candidates: `(states [B, T], flushed [B])`.

    states: 0-5 the candidate, 6 unvoiced, from the cheapest final state (first on ties, and the lowest
    previous state on ties along the way). flushed: 1 + the last frame on which the paths of all 7 final
    states agree (0 if none), the first frame openSMILE leaves to its end-of-input flush. openSMILE decides
    online, each frame as soon as all paths agree on it, which equals this full-sequence Viterbi unless it
    forces a decision (30 or 40 frames undecided; never seen, not emulated).
    """
    local = _local_costs(f0, voicing, clipped)
    moves = _transition_costs(f0)  # [B, T, 7 current, 7 previous]
    batch, total = f0.shape[:2]
    cost = local[:, 0]
    costs, back = [cost], [torch.zeros_like(cost, dtype=torch.long)]
    for t in range(1, total):  # the one sequential part; every state at once
        cost, prev = (moves[:, t] + cost[:, None, :]).min(-1)
        cost = cost + local[:, t]
        costs.append(cost)
        back.append(prev)
    costs, back = torch.stack(costs, 1), torch.stack(back, 1)
    # backtrack the paths of all 7 final states of each item at once
    last = (counts - 1).clamp(min=0)[:, None]
    states7 = torch.arange(UNVOICED + 1, device=f0.device).expand(batch, -1)
    cur, paths = states7, [None] * total
    for t in range(total - 1, -1, -1):
        if t < total - 1:
            cur = torch.where(t >= last, states7, back[:, t + 1].gather(1, cur))
        paths[t] = cur
    paths = torch.stack(paths, 1)  # [B, T, 7]
    final = costs.gather(1, last[..., None].expand(-1, -1, UNVOICED + 1))[:, 0].argmin(-1)
    states = paths.gather(2, final[:, None, None].expand(-1, total, 1))[..., 0]
    steps = torch.arange(total, device=f0.device)[None]
    agree = (paths == paths[..., :1]).all(-1) & (steps < counts[:, None])
    flushed = torch.where(agree, steps + 1, 0).amax(-1)
    return states, flushed


def _local_costs(f0, voicing, clipped):
    """`[B, T, 7]`: -log voicing (+ a penalty below the cut-off) and a pitch-range weight per candidate;
    the unvoiced state pays the penalty when any candidate is voiced."""
    p = voicing.double().clamp(0.01, 1.0)
    f = f0.double()
    range_weight = torch.where(f <= 0, 2.0, torch.where(f < 100, 1.0 - f / 100.0, torch.where(
        f < 350, 0.0, torch.where(f < 600, (f - 350.0) / 250.0, 1.2))))
    voiced = (-torch.log(p) + torch.where(p < VOICING_CUTOFF, W_THRESHOLD, 0.0)) * W_LOCAL + range_weight * W_RANGE
    any_voiced = (voicing >= VOICING_CUTOFF).any(-1) | (clipped >= VOICING_CUTOFF)
    unvoiced = torch.where(any_voiced, W_LOCAL * W_THRESHOLD, 0.0)
    return torch.cat([voiced, unvoiced[..., None]], -1)


def _transition_costs(f0):
    """`[B, T, 7, 7]` cost of (current state i at frame t, previous state j at t - 1); frame 0 unused.

    openSMILE's 'lastChange' is a global that every evaluated pair updates in loop order (i, then j),
    whatever the path: the log-ratio of a voiced pair, 0 for a voiced-unvoiced pair. Each row i < 6 ends
    with the pair (i, unvoiced), and the unvoiced row sets it too, so a row starts at 0 (at 1.0 for row 0 of
    the first transition, the initial value) and sees the log-ratio of the last voiced pair before j.
    """
    batch, total = f0.shape[:2]
    cur, prev = f0[:, 1:, :, None], f0[:, :-1, None, :]
    both = (cur != 0) & (prev != 0)
    ratio = torch.log((cur / torch.where(prev != 0, prev, 1.0)).double())  # float32 ratio, as openSMILE
    j = torch.arange(N_CANDIDATES, device=f0.device)
    seen = torch.where(both, j, -1).cummax(-1).values  # last voiced pair up to and including j
    before = torch.nn.functional.pad(seen[..., :-1], (1, 0), value=-1)
    start = torch.zeros(total - 1, N_CANDIDATES, 1, dtype=torch.float64, device=f0.device)
    start[:1, :1] = 1.0
    last_change = torch.where(before >= 0, ratio.gather(-1, before.clamp(min=0)), start)
    voiced = torch.where(both, W_VV * ratio.abs() + W_VVD * (ratio - last_change).abs(), COST_IMPOSSIBLE)
    moves = f0.new_full((batch, total, N_CANDIDATES + 1, N_CANDIDATES + 1), W_VUV, dtype=torch.float64)
    moves[:, 1:, :N_CANDIDATES, :N_CANDIDATES] = voiced
    moves[:, :, UNVOICED, UNVOICED] = COST_UU
    return moves
