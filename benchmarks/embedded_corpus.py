"""Generation speed of the embedded corpus, in times real time, for 1 and N processes.

    python benchmarks/embedded_corpus.py --size small --workers 1 2

Each run generates into a fresh temporary folder; the figure is seconds of
audio generated per wall-clock second. Parallel efficiency = speed(N) / (N * speed(1)).
"""

import argparse
import shutil
import tempfile
import time

from corpora.make_embedded import make_embedded


def measure(size, workers, seed=0):
    folder = tempfile.mkdtemp(prefix="embedded_bench_")
    try:
        start = time.perf_counter()
        summary = make_embedded(folder, size=size, seed=seed, num_workers=workers)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(folder)
    audio = 3600 * sum(s["hours"] for s in summary.values())
    return audio, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--size", default="small")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print("| size | processes | audio (h) | wall (s) | x real time | parallel efficiency |")
    print("|---|---:|---:|---:|---:|---:|")
    base = None
    for n in args.workers:
        audio, seconds = measure(args.size, n)
        speed = audio / seconds
        base = base or speed / n
        print(f"| {args.size} | {n} | {audio / 3600:.2f} | {seconds:.1f} | {speed:.0f} | "
              f"{speed / (n * base):.0%} |", flush=True)


if __name__ == "__main__":
    main()
