#!/usr/bin/env python3
"""Speed and memory of the pseudo-label weighting (recipes/PretextSelection), side by side.

    python benchmarks/pretext_weighting.py                 # 50 labels, 100 groups x 300, defaults
    python benchmarks/pretext_weighting.py --groups 20 --steps 5

Three implementations of one SGD step of the weighting (same synthetic K and labels):

- reference: the original algorithm, re-implemented here: every log L matrix held in
  float64, a Python loop over groups and labels, the clamped weighted sum, then
  tr((K H) (L H)) with three n x n matrix products per group;
- stored: this project's path for stored matrices (`exp_optimizing.py`): one einsum over
  float32 `[G, P, n, n]`, K centred once, the trace as an elementwise sum;
- values: this project's default (`select_tasks.py`): L_lambda rebuilt from the pseudo-label
  values as a weighted Gram matrix, no L matrices held at all.

Each runs in its own process (peak RSS = its memory). Step times are measured over
`--steps` steps after one warm-up step and scaled to the 1000 steps of a real run.
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from lobes.hsic import GroupBuckets, StoredLogKernels, center, log_gaussian_kernel, weighted_hsic


def synthetic(groups, n, labels, seed=0):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(groups, n, 800, generator=gen) + 2.0
    feats = feats / feats.norm(dim=-1, keepdim=True)
    ks = feats @ feats.transpose(1, 2)
    values = 0.4 * torch.randn(groups, n, labels, generator=gen)
    return ks.double(), values.double()


def reference_step_fn(ks, values, sigma=0.05):
    """The original loop: stored float64 log L per group and label."""
    log_ls = [[log_gaussian_kernel(values[g, :, p], sigma) for p in range(values.shape[2])]
              for g in range(values.shape[0])]
    n = ks.shape[1]
    h = torch.eye(n, dtype=torch.float64) - torch.ones(n, n, dtype=torch.float64) / n

    def loss(lam):
        total = torch.zeros((), dtype=torch.float64)
        for g in range(len(log_ls)):
            l_sum = torch.zeros(n, n, dtype=torch.float64)
            for p, log_l in enumerate(log_ls[g]):
                l_sum = l_sum + lam[p] * log_l.clamp(-10, 0)
            total = total + torch.trace((ks[g] @ h) @ (l_sum.exp() @ h)) / n**2
        return total / len(log_ls)
    return loss


def stored_step_fn(ks, values, sigma=0.05):
    kc = center(ks).float()
    log_l = torch.stack([log_gaussian_kernel(values[..., p].float(), sigma) for p in range(values.shape[2])], 1)
    kernels = StoredLogKernels({ks.shape[1]: kc}, {ks.shape[1]: log_l}, range(values.shape[2]))
    return lambda lam: weighted_hsic(kernels, lam)


def values_step_fn(ks, values, sigma=0.05):
    buckets = GroupBuckets(list(ks), list(values), range(values.shape[2]))
    return lambda lam: weighted_hsic(buckets, lam, sigma)


METHODS = {"reference": reference_step_fn, "stored": stored_step_fn, "values": values_step_fn}


def run_one(method, groups, n, labels, steps, threads):
    torch.set_num_threads(threads)
    base_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # the interpreter and torch
    ks, values = synthetic(groups, n, labels)
    start = time.perf_counter()
    loss_fn = METHODS[method](ks, values)
    setup = time.perf_counter() - start
    w = torch.nn.Parameter(torch.ones(labels, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=0.01, momentum=0.9)
    times, losses = [], []
    for step in range(steps + 1):
        start = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(torch.softmax(w, 0))
        loss.backward()
        opt.step()
        if step:
            times.append(time.perf_counter() - start)
        losses.append(loss.item())
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {"method": method, "setup_s": setup, "step_s": sum(times) / len(times), "peak_rss_gb": peak_gb, "base_rss_gb": base_gb,
            "losses": losses, "weights": torch.softmax(w.detach(), 0).tolist()}


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--segments", type=int, default=300)
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--method", choices=list(METHODS))
    args = parser.parse_args(argv)
    if args.method:
        print(json.dumps(run_one(args.method, args.groups, args.segments, args.labels, args.steps, args.threads)))
        return
    results = {}
    for method in METHODS:
        done = subprocess.run([sys.executable, __file__, "--method", method, "--groups", str(args.groups),
                               "--segments", str(args.segments), "--labels", str(args.labels),
                               "--steps", str(args.steps), "--threads", str(args.threads)],
                              capture_output=True, text=True, check=True)
        results[method] = json.loads(done.stdout.strip().splitlines()[-1])
    ref = results["reference"]
    print(f"{args.labels} pseudo-labels, {args.groups} groups x {args.segments} segments, "
          f"{args.threads} threads, {torch.__version__}")
    print("| implementation | setup (s) | step, fwd+bwd (s) | 1000 steps (min) | speed-up | peak RSS (GB) "
          "| above import (GB) | loss after the steps | max weight diff. vs reference |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for method, r in results.items():
        diff = max(abs(a - b) for a, b in zip(r["weights"], ref["weights"]))
        print(f"| {method} | {r['setup_s']:.1f} | {r['step_s']:.3f} | {r['step_s'] * 1000 / 60:.1f} "
              f"| {ref['step_s'] / r['step_s']:.1f}x | {r['peak_rss_gb']:.2f} | {r['peak_rss_gb'] - r['base_rss_gb']:.2f} | {r['losses'][-1]:.6g} | {diff:.1e} |")


if __name__ == "__main__":
    main(sys.argv[1:])
