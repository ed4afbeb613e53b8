#!/usr/bin/env python3
"""Training throughput of the multitask pretraining, data pipeline and model step measured apart.

    python benchmarks/multitask_throughput.py                       # CPU, the recipe's YAMLs
    python benchmarks/multitask_throughput.py --device cuda:0 --batch_size 32 --num_workers 8
    python benchmarks/multitask_throughput.py --yamls hparams/pretrain_alpharatio.yaml --lld_backends stored online
    python benchmarks/multitask_throughput.py --yamls hparams/pretrain_paper.yaml --device cuda:0 --precision bf16 \
        --overrides "{selection_fragment: <fragment.yaml>, lld_folder: <pseudo-labels>}"

For each YAML of recipes/MultitaskSSL: (1) the data loader alone (audio reading, random
crops, padding) in batches/s; (2) the model step alone on one batch already in memory
(encoder + every worker's labeller, forward, backward, all optimizer steps); (3) both
together, as training runs. Throughput is in seconds of audio per second; "model share"
is the fraction of the combined time spent in the model step (the goal on a GPU: >= 80 %,
i.e. the data pipeline keeps the GPU busy). `--lld_backends stored online` measures the YAMLs that
have an `lld_backend` key once per backend: targets read from disk vs computed from the audio in the
model step (labellers.online).
"""

import argparse
import os
import sys
import time

import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataloader import make_dataloader

from timing import synchronize  # benchmarks/, this script's folder

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RECIPE = os.path.join(ROOT, "recipes", "MultitaskSSL")


def measure(yaml, args, backend=None):
    """Runs in the recipe folder (main changes into it): the YAML's relative paths start there."""
    import train  # the recipe's glue: build_all_workers, dataio_prepare, MultitaskBrain
    from lobes.multitask import WorkerHeads, label_context

    overrides = {**args.overrides, "batch_size": args.batch_size,
                 "output_folder": f"/tmp/multitask_bench/{os.path.basename(yaml)}"}
    if backend is not None:
        overrides["lld_backend"] = backend
    with open(yaml) as f:
        hparams = load_hyperpyyaml(f, overrides)

    workers = train.build_all_workers(hparams)
    datasets = train.dataio_prepare(hparams, label_context(workers))
    loader = make_dataloader(datasets["train"], batch_size=args.batch_size, num_workers=args.num_workers,
                             shuffle=True)
    brain = train.MultitaskBrain(modules={"encoder": hparams["encoder"],
                                          "heads": WorkerHeads({n: w.model for n, w in workers.items()})},
                                 hparams=hparams, run_opts={"device": args.device, "precision": args.precision})
    brain.workers = workers
    brain.init_optimizers()
    brain.modules.train()
    brain.on_stage_start(None)
    audio_per_batch = args.batch_size * hparams["chunk_size"] / hparams["sample_rate"]

    # the loader workers' start-up (once per epoch, amortized over a real corpus's thousands of batches) is
    # left out: each phase is timed from its first batch on
    batches = iter(loader)
    first = next(batches)
    start, count = time.perf_counter(), 0
    for _ in zip(range(args.batches), batches):
        count += 1
    data_s = (time.perf_counter() - start) / max(count, 1)

    fixed = first
    for _ in range(2):  # warm-up
        brain.fit_batch(fixed)
    synchronize(args.device)
    start = time.perf_counter()
    for _ in range(args.batches):
        brain.fit_batch(fixed)
    synchronize(args.device)
    model_s = (time.perf_counter() - start) / args.batches

    batches = iter(loader)
    brain.fit_batch(next(batches))
    synchronize(args.device)
    start, n = time.perf_counter(), 0
    for _, batch in zip(range(args.batches), batches):
        brain.fit_batch(batch)
        n += 1
    synchronize(args.device)
    both_s = (time.perf_counter() - start) / max(n, 1)
    name = os.path.basename(yaml) + (f" ({backend} targets)" if backend else "")
    return {"yaml": name, "workers": len(workers), "batches": min(count, n), "data_s": data_s, "model_s": model_s,
            "both_s": both_s, "audio_per_batch": audio_per_batch}


def yaml_mapping(text):
    import yaml
    value = yaml.safe_load(text)
    if not isinstance(value, dict):
        raise SystemExit(f"--overrides must be a YAML mapping such as '{{lld_folder: /exp/lld}}', got {text!r}")
    return value


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--yamls", nargs="+", default=["hparams/pretrain_alpharatio.yaml",
                                                       "hparams/pretrain_selected.yaml", "hparams/pretrain_pase.yaml"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--lld_backends", nargs="+", default=[None])
    parser.add_argument("--overrides", default="{}", help="YAML mapping of further overrides for every YAML")
    args = parser.parse_args(argv)
    args.overrides = yaml_mapping(args.overrides)
    sys.path.insert(0, RECIPE)
    os.chdir(RECIPE)
    rows = []
    for yaml in args.yamls:
        with open(yaml) as f:
            has_backend = any(line.startswith("lld_backend:") for line in f)
        rows += [measure(yaml, args, b if has_backend else None) for b in (args.lld_backends if has_backend else [None])]
    print(f"device {args.device}, precision {args.precision}, batch {args.batch_size} crops (each YAML's chunk_size), "
          f"{args.num_workers} loader workers, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| YAML | workers | timed batches | data only (s of audio/s) | model step only (s/s) | training (s/s) "
          "| model share |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        a = r["audio_per_batch"]
        print(f"| {r['yaml']} | {r['workers']} | {r['batches']} | {a / r['data_s']:.0f} | {a / r['model_s']:.0f} | "
              f"{a / r['both_s']:.0f} | {min(1.0, r['model_s'] / r['both_s']):.0%} |")


if __name__ == "__main__":
    main(sys.argv[1:])
