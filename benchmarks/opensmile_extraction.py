"""OpenSMILE LLD extraction speed, in times real time.

    python benchmarks/opensmile_extraction.py --manifest results/prepared/embedded/common_voice/train.csv \
        --utterances 200 --workers 1 2

Reports (1) single-core speed of each feature set, with the stock ComParE_2016
configuration and with the LLD-only one, and (2) the whole extraction step of
the PseudoLabels recipe (both sets, mixing, raw arrays written) with 1 and N
processes, and the parallel efficiency speed(N) / (N * speed(1)).
"""

import argparse
import shutil
import tempfile
import time

from corpora.audio import load_audio
from corpora.manifest import read_csv
from labellers.lld_extraction import extract_shard
from labellers.opensmile_lld import _smile


def single_core(wavs, seconds, repeats=2):
    rows = []
    for label, name, lld_only in (("eGeMAPSv02", "eGeMAPSv02", True), ("GeMAPSv01b", "GeMAPSv01b", True),
                                  ("ComParE_2016 (stock config)", "ComParE_2016", False),
                                  ("ComParE_2016 (LLD-only config)", "ComParE_2016", True)):
        smile = _smile(name, lld_only)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for wav in wavs:
                smile.process_signal(wav, 16000)
            best = min(best, time.perf_counter() - start)
        rows.append((label, seconds / best))
    return rows


def parallel(rows, seconds, workers):
    results = []
    for n in workers:
        folder = tempfile.mkdtemp(prefix="lld_bench_")
        try:
            start = time.perf_counter()
            extract_shard(rows, set(), folder, ["eGeMAPSv02", "ComParE_2016"], num_workers=n)
            results.append((n, seconds / (time.perf_counter() - start)))
        finally:
            shutil.rmtree(folder)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--utterances", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    rows = read_csv(args.manifest)[: args.utterances]
    seconds = sum(r["duration"] for r in rows)
    wavs = [load_audio(r["wav"]).numpy() for r in rows]
    print(f"{len(rows)} utterances, {seconds / 60:.1f} min of audio\n")
    print("| feature set (LLD, one core) | x real time |\n|---|---:|")
    for label, speed in single_core(wavs, seconds):
        print(f"| {label} | {speed:.0f} |", flush=True)
    print("\n| recipe extraction (both sets, mixed) | x real time | parallel efficiency |\n|---|---:|---:|")
    base = None
    for n, speed in parallel(rows, seconds, args.workers):
        base = base or speed / n
        print(f"| {n} process{'es' if n > 1 else ''} | {speed:.0f} | {speed / (n * base):.0%} |", flush=True)


if __name__ == "__main__":
    main()
