#!/usr/bin/env python3
"""Weights pseudo-labels from K and L matrices stored in the original scripts' layout.

    python exp_optimizing.py K_dir L_dir verbose out_dir [--weighting sparsemax|softmax]
        [--steps 1000] [--lr 0.01] [--seed 0] [--centering correct|original] [--norm_penalty 0]

    K_dir/K_matrix_<group>.npy
    L_dir/<feature>/L_matrix_<group>_<feature>.npy      (log L)

The positional arguments are those of the original `exp_optimizing.py`, so matrices
computed by the original scripts (or written by select_tasks.py under
`<output_folder>/matrices/{K,L}`) can be re-weighted here. The weighting function is an
option, not a source edit. Writes `out_dir/<date-time>/` (weights, ranking, plot, workers
fragment) and prints the weights.
"""

import argparse
import os
import sys

from tqdm import tqdm

import selection_outputs as out
from kernel_files import read_layout, stored_kernels
from labellers.stored import LLD_ALIASES, alias_of
from lobes.hsic import optimize_weights


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("K_dir")
    parser.add_argument("L_dir")
    parser.add_argument("verbose", type=int, help="1: print the loss and weights every 100 steps")
    parser.add_argument("out_dir")
    parser.add_argument("--weighting", choices=["sparsemax", "softmax"], default="sparsemax")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--init_noise", type=float, default=0.05)
    parser.add_argument("--norm_penalty", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--groups_per_step", type=int, default=None)
    parser.add_argument("--centering", choices=["correct", "original"], default="correct",
                        help="H = I - 11^T/n (correct) or I - 11^T/n^2 (as the original scripts)")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    groups, features, ks, log_ls = read_layout(args.K_dir, args.L_dir)
    kernels = stored_kernels(ks, log_ls, features, original_centering=args.centering == "original")
    print(f"{len(groups)} groups, {len(features)} pseudo-labels: {', '.join(features)}")
    names = [alias_of(f) for f in features]

    def report(step, loss, lam):
        if args.verbose and (step % 100 == 0 or step == 1):
            tqdm.write(f"step {step}: HSIC loss {loss:.6g}, weights "
                       + ", ".join(f"{n} {w:.3f}" for n, w in zip(names, lam.tolist())))

    result = optimize_weights(kernels, args.weighting, steps=args.steps, lr=args.lr, momentum=args.momentum,
                              noise=args.init_noise, norm_penalty=args.norm_penalty, seed=args.seed,
                              groups_per_step=args.groups_per_step, callback=report,
                              progress=lambda steps: tqdm(steps, desc=f"{args.weighting} weights", unit="step"))
    scores = kernels.single_label_hsic()
    order = scores.argsort().tolist()
    run = out.run_folder(args.out_dir)
    ranking = [{"label": names[p], "hsic": float(scores[p])} for p in order]
    out.write_ranking(run, ranking, set(names))
    out.write_weights(run, names, features, {args.weighting: result})
    out.write_fragment(os.path.join(run, f"workers_{args.weighting}.yaml"), names, features, result["weights"],
                       LLD_ALIASES, f"{args.K_dir}, {args.weighting}")
    print(f"{run}: loss {result['loss'][0]:.6g} -> {result['loss'][-1]:.6g}")
    for name, weight in zip(names, result["weights"].tolist()):
        print(f"  {name:40s} {weight:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
