#!/usr/bin/env python3
"""The two Stage-1 speaker encoders alone, on the same waveforms: the original's ECAPA-TDNN (its log-mel inside)
against ours (lobes.speaker_ssl.SpeakerEmbedder: log-mel + SpeechBrain's ECAPA-TDNN), C = 512.

    python benchmarks/lgl_ecapa_step.py --original /tmp/lgl_original/Stage1                  # CPU, batch 32
    python benchmarks/lgl_ecapa_step.py --original /tmp/lgl_original/Stage1 --device cuda:0 --batch_size 300

What is timed, for each encoder in turn (interleaved, `--repeats` rounds after one warm-up step each):
- "train": a Stage-1 step's share of the encoder: three views of `--batch_size` x 1.8 s forward, one backward
  of a loss on the three embeddings (as both training loops do; no optimizer, no loss head);
- "embed": the same three forwards without autograd.
The original's module is imported from `--original` (the Stage1 folder of its repository), never copied here.
Reported: the fastest round and the median, in seconds and in seconds of audio per second (the three views'
audio). This separates the encoders' own cost from the loaders' and the mixing's, which
benchmarks/lgl_stage1_throughput.py times together.
"""

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import synchronize  # noqa: E402

RATE, SEGMENT = 16000, 28800  # 1.8 s, our segment, for both (the original trains on 29040 samples, 1.5 % more)


def timed(model, views, device, train):
    synchronize(device)
    start = time.perf_counter()
    with torch.set_grad_enabled(train):
        embeddings = [model(view) for view in views]
        if train:
            sum(e.float().square().sum() for e in embeddings).backward()
    synchronize(device)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--original", required=True, help="the original's Stage1 folder (holds encoder.py)")
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    original = os.path.abspath(args.original)
    if not os.path.exists(os.path.join(original, "encoder.py")):
        parser.error(f"{original}/encoder.py not found: --original is the original's Stage1 folder")
    sys.path.insert(0, original)
    import encoder as original_encoder

    from lobes.speaker_ssl import SpeakerEmbedder, make_frontend

    torch.manual_seed(0)
    encoders = {
        "original ECAPA-TDNN (its log-mel)": original_encoder.ECAPA_TDNN(C=512),
        "ours: log-mel + SpeechBrain ECAPA-TDNN": SpeakerEmbedder(
            frontend=make_frontend(spec="logmel", sample_rate=RATE), channels=[512] * 4 + [1536], embedding_dim=192),
    }
    views = [0.1 * torch.randn(args.batch_size, SEGMENT, device=args.device) for _ in range(3)]
    times = {(name, mode): [] for name in encoders for mode in ("train", "embed")}
    for model in encoders.values():
        model.to(args.device).train()
        timed(model, views, args.device, train=True)  # warm-up (allocations, kernel choices)
    for _ in range(args.repeats):
        for name, model in encoders.items():
            model.zero_grad(set_to_none=True)
            times[(name, "train")].append(timed(model, views, args.device, train=True))
            times[(name, "embed")].append(timed(model, views, args.device, train=False))

    where = torch.cuda.get_device_name(args.device) if str(args.device).startswith("cuda") else (
        f"CPU, {torch.get_num_threads()} threads")
    audio = 3 * args.batch_size * SEGMENT / RATE
    print(f"\n{where}, torch {torch.__version__}; 3 views of {args.batch_size} x 1.8 s, C = 512, float32, "
          f"{args.repeats} rounds\n")
    print("| encoder | parameters | step | fastest (s) | median (s) | s of audio/s (fastest) |")
    print("|---|---:|---|---:|---:|---:|")
    for (name, mode), seconds in times.items():
        params = sum(p.numel() for p in encoders[name].parameters()) / 1e6
        label = "3 forwards + backward" if mode == "train" else "3 forwards, no autograd"
        print(f"| {name} | {params:.2f}M | {label} | {min(seconds):.2f} | {statistics.median(seconds):.2f} | "
              f"{audio / min(seconds):.0f} |")


if __name__ == "__main__":
    main()
