"""k-means of LGL Stage 2 (lobes.kmeans.spherical_kmeans) at VoxCeleb2 scale: time and recovered speakers.

    python benchmarks/lgl_kmeans.py --points 1000000 --clusters 6000            # the paper's scale (GPU)
    python benchmarks/lgl_kmeans.py --points 100000 --clusters 1000 --backends faiss

Planted data: `clusters` random unit directions in 192 dimensions ("speakers"), each point one of them plus
Gaussian noise (cosine to its speaker about 0.7, about the spread of real speaker embeddings), so the NMI
against the planted speakers says whether the clustering is right as well as fast. Rows: the k-means++ seeding
(torch, on the GPU when there is one) and the Lloyd iterations, with faiss (its CPU index on every core, or its
GPU index where faiss has a GPU) and with torch (`backend="torch"`, what runs on a GPU machine that only has
faiss-cpu).
"""

import argparse
import time

import numpy as np
import torch

from lobes.kmeans import kmeans_plus_plus, nmi, spherical_kmeans, torch_lloyd


def planted(points, clusters, dim, seed=0):
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(clusters, dim)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    truth = rng.integers(clusters, size=points)
    x = directions[truth] + rng.normal(scale=0.075, size=(points, dim)).astype(np.float32)
    return np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32), truth


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=6000)
    parser.add_argument("--dim", type=int, default=192)
    parser.add_argument("--niter", type=int, default=25)
    parser.add_argument("--backends", nargs="+", default=["faiss", "torch"])
    args = parser.parse_args()
    import faiss

    x, truth = planted(args.points, args.clusters, args.dim)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"{args.points} x {args.dim} into {args.clusters} clusters, {args.niter} iterations; torch on {device}, "
          f"faiss {faiss.__version__} with {faiss.get_num_gpus()} GPUs, {faiss.omp_get_max_threads()} threads\n")
    start = time.perf_counter()
    seeds = kmeans_plus_plus(x, args.clusters, 0, 50 * args.clusters, device)
    seeding = time.perf_counter() - start
    print("| step | seconds | NMI against the planted speakers |\n|---|---:|---:|")
    print(f"| greedy k-means++ seeds (torch, {device}) | {seeding:.1f} | |", flush=True)
    for backend in args.backends:
        start = time.perf_counter()
        if backend == "torch":
            labels = torch_lloyd(x, seeds, args.niter, device)
            where = f"torch, {device}"
        else:  # the library path as the recipe calls it, seeding included
            labels = spherical_kmeans(x, args.clusters, niter=args.niter, backend="faiss", init_device=device)
            where = "faiss GPU index" if faiss.get_num_gpus() else "faiss CPU, every core"
        seconds = time.perf_counter() - start
        label = "Lloyd iterations" if backend == "torch" else "seeds + Lloyd iterations"
        print(f"| {label} ({where}) | {seconds:.1f} | {nmi(labels, truth):.4f} |", flush=True)


if __name__ == "__main__":
    main()
