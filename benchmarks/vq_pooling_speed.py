#!/usr/bin/env python3
"""Pooling cost per utterance: lobes.pooling (batched) against per-utterance Python loops written the way the
original implementation (Park et al., 2023) pools, in the same process, on the same frames and codes.

    python benchmarks/vq_pooling_speed.py                       # 1000 frames, batch 64, 768-d, CPU
    python benchmarks/vq_pooling_speed.py --frames 200 --repeats 5

The reference loops follow the original's structure: codes turned into Python lists, `itertools.groupby` for runs,
`collections.Counter` per utterance and codebook for local counts, per-frame lookups of global counts, a Python
union-find for linked codes, then the weights written row by row into a tensor and one batched weighted sum. They use
this project's semantics where the two differ (squash OR compares consecutive frames; padding never counts), and
every method's output is checked against ours before it is timed.
"""

import argparse
import collections
import itertools
import os
import sys

import numpy as np
import torch

from lobes.pooling import POOLINGS, TRAINED, make_pooling

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also when imported by a test
from timing import best_time  # noqa: E402


def _runs(row, rule):
    """Lengths of the runs of consecutive frames with equal codes (groupby over consecutive pairs)."""
    if rule == "and":
        return [len(list(group)) for _, group in itertools.groupby(row, key=tuple)]
    lengths = [1]
    for previous, current in zip(row, row[1:]):
        if any(a == b for a, b in zip(previous, current)):
            lengths[-1] += 1
        else:
            lengths.append(1)
    return lengths


def _linked_groups(row):
    """Group id per frame: frames linked by a shared code of the same codebook (union-find over codes)."""
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for frame in row:
        nodes = [(g, c) for g, c in enumerate(frame)]
        for node in nodes[1:]:
            parent[find(node)] = find(nodes[0])
    return [find((0, frame[0])) for frame in row]


def reference_weights(method, row, statistics=None, sif_a=1e-3):
    """Weights (a list summing to 1) of one utterance's codes `row` (a list of code tuples), in pure Python."""
    n = len(row)
    if method in ("squash_and", "squash_or"):
        lengths = _runs(row, method[-3:].strip("_"))
        return [w for length in lengths for w in [1.0 / (len(lengths) * length)] * length]
    if method in ("allsquash_and", "allsquash_or"):
        keys = [tuple(r) for r in row] if method == "allsquash_and" else _linked_groups(row)
        counts = collections.Counter(keys)
        return [1.0 / (len(counts) * counts[k]) for k in keys]
    if method in ("vq_lp", "vq_bp"):
        counters = [collections.Counter(column) for column in zip(*row)]
        local = [1.0 / sum(counter[c] for counter, c in zip(counters, frame)) for frame in row]
        local = [w / sum(local) for w in local]
        if method == "vq_lp":
            return local
    if method in ("vq_gp", "vq_bp"):
        marginal = statistics.marginal.tolist()
        glob = [1.0 / max(sum(marginal[g][c] for g, c in enumerate(frame)), 1.0) for frame in row]
        glob = [w / sum(glob) for w in glob]
        if method == "vq_gp":
            return glob
        both = [a * b for a, b in zip(local, glob)]
        return [w / sum(both) for w in both]
    if method == "vq_sif":
        table = dict(zip(statistics.tuples.tolist(), statistics.tuple_counts.tolist()))
        total = float(statistics.tuple_counts.sum())
        size = statistics.codebook_size
        weights = [sif_a / (sif_a + table.get(frame[0] * size + frame[1], 0.0) / total) for frame in row]
        return [w / sum(weights) for w in weights]
    return [1.0 / n] * n  # ap (and the pooled vector whitening / soft-decay transform)


def reference_weight_rows(method, pooling, codes, counts):
    """[B, T] weights, one utterance at a time: codes to Python lists, weights written row by row."""
    statistics = getattr(pooling, "statistics", None)
    weights = torch.zeros(codes.shape[:2])
    for i, n in enumerate(counts):
        row = codes[i, :n].tolist()
        weights[i, :n] = torch.tensor(reference_weights(method, row, statistics, getattr(statistics, "sif_a", 1e-3)))
    return weights


def reference_pool(method, pooling, frames, codes, counts):
    """One utterance at a time, as the original: Python weights, written row by row, one weighted sum."""
    weights = reference_weight_rows(method, pooling, codes, counts)
    stds = [frames[i, :n].std(0) for i, n in enumerate(counts)] if method == "sp" else []
    pooled = (frames * weights[..., None]).sum(1)
    if method == "sp":
        return torch.cat([pooled, torch.stack(stds)], dim=1)
    if method == "whitening":
        return (pooled - pooling.mean) @ pooling.matrix
    if method == "softdecay":
        return pooled @ pooling.matrix
    return pooled


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--codebook_size", type=int, default=320)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    frames = torch.randn(args.batch, args.frames, args.dim)
    # codes with runs, as speech gives: a new code pair every ~3 frames, from a skewed distribution
    starts = torch.rand(args.batch, args.frames) < 0.35
    draws = torch.from_numpy(rng.zipf(1.5, size=(args.batch, args.frames, 2)) % args.codebook_size)
    codes = draws.gather(1, (starts.long().cumsum(1) - 1).clamp(min=0)[..., None].expand(-1, -1, 2))
    counts = rng.integers(args.frames // 2, args.frames + 1, size=args.batch)
    counts[0] = args.frames
    lengths = torch.from_numpy(counts / args.frames).float()
    train_frames = [rng.normal(size=(args.frames // 4, args.dim)) for _ in range(64)]
    train_codes = [rng.zipf(1.5, size=(args.frames // 4, 2)) % args.codebook_size for _ in range(64)]
    print(f"{args.batch} utterances of up to {args.frames} frames ({args.dim}-d, 2 x {args.codebook_size} codes), "
          f"CPU, {torch.get_num_threads()} threads; best of {args.repeats}")
    print("| pooling | ours (µs/utt) | per-utterance loops (µs/utt) | speed-up | weights only: ours | loops | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    mask = torch.arange(args.frames)[None] < torch.from_numpy(counts)[:, None]
    for method in [m for m in POOLINGS if m not in TRAINED]:
        pooling = make_pooling(method, args.dim, codebook_size=args.codebook_size)
        if getattr(pooling, "needs_fit", False):
            pooling.fit(train_frames, train_codes)
        with torch.no_grad():
            ours = pooling(frames, codes, lengths)
            reference = reference_pool(method, pooling, frames, codes, counts)
            torch.testing.assert_close(ours, reference, rtol=1e-3, atol=1e-4)
            fast = best_time(lambda: pooling(frames, codes, lengths), args.repeats, warmup=True)
            slow = best_time(lambda: reference_pool(method, pooling, frames, codes, counts), args.repeats, warmup=True)
        line = f"| {method} | {1e6 * fast / args.batch:.1f} | {1e6 * slow / args.batch:.1f} | {slow / fast:.0f}× |"
        if hasattr(pooling, "weights"):  # the VQ part alone: codes -> weights [B, T]
            fast_w = best_time(lambda: pooling.weights(codes, lengths, args.frames), args.repeats, warmup=True)
            slow_w = best_time(lambda: reference_weight_rows(method, pooling, codes, counts), args.repeats, warmup=True)
            torch.testing.assert_close(pooling.weights(codes, lengths, args.frames) * mask,
                                       reference_weight_rows(method, pooling, codes, counts), rtol=1e-3, atol=1e-6)
            line += f" {1e6 * fast_w / args.batch:.1f} | {1e6 * slow_w / args.batch:.1f} | {slow_w / fast_w:.0f}× |"
        else:
            line += " – | – | – |"
        print(line, flush=True)

if __name__ == "__main__":
    main()
