#!/usr/bin/env python3
"""Runs the downstream recipes for each encoder and writes one table and one chart.

    python compare.py --encoders fbank mfcc \\
        random=random:../../results/multitask_ssl/embedded/pase/save/pretrained_encoder \\
        pase=pretrained:../../results/multitask_ssl/embedded/pase/save/pretrained_encoder \\
        --tasks asr verification speaker_id --seeds 0 1 2 --settings small \\
        --data ../../data/embedded --prepared ../../results/prepared/embedded \\
        --out ../../results/downstream/compare

Each encoder is `[name=]spec` with a spec of lobes.upstream (fbank, mfcc, pretrained:<folder>,
random:<folder>, wav2vec2:<folder>). Every (task, encoder, seed) run goes to
`<out>/<task>/<name>/<seed>/` and is skipped when its `metrics.json` exists, so a killed comparison
resumes. A run that fails is reported as failed (its log is kept) and the others still run.
`--jobs N` runs N recipes at once, each on one thread (on a 2-core CPU, two one-thread runs finish
sooner than two two-thread runs one after the other). Writes
`<out>/compare.md`, `compare.json` and `compare.png`; with `--report DIR` also the pipeline report
fragment `DIR/07_downstream.md`.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from comparison_table import chart, markdown_table  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# recipe folder, YAML, data sub-folder of the embedded corpus, manifest folder name
TASKS = {
    "asr": ("ASR", "ctc.yaml", "LibriSpeech", "librispeech"),
    # without VoxCeleb2: not the pipeline's voxceleb/ folder, which is prepared with it
    "verification": ("SpeakerVerification", "xvector.yaml", "VoxCeleb/vox1", "voxceleb_downstream"),
    "speaker_id": ("SpeakerID", "speaker_id.yaml", "VoxCeleb/vox1", "voxceleb_downstream"),
}

# Overrides of each recipe for the settings named by --settings ("full": the YAML as it is).
SETTINGS = {
    "small": {
        "asr": ["--augment_prob", "0", "--number_of_epochs", "15"],
        "verification": ["--number_of_epochs", "5", "--wav_augment", "null"],
        "speaker_id": ["--number_of_epochs", "15"],
    },
    "debug": {
        "asr": ["--number_of_epochs", "1"],
        "verification": ["--number_of_epochs", "1"],
        "speaker_id": ["--number_of_epochs", "1"],
    },
    "full": {},
}


def parse_encoder(text):
    """`name=spec` or `spec` -> (name, spec); a bare spec is named after its kind and folder.

    A folder is made absolute here, since each recipe runs from its own folder.
    """
    name, _, spec = text.rpartition("=") if "=" in text.split(":", 1)[0] else ("", "", text)
    kind, _, folder = spec.partition(":")
    if not folder:
        return name or kind, spec
    parts = [p for p in os.path.normpath(folder).split(os.sep) if p not in ("save", "pretrained_encoder")]
    return name or f"{kind}_{parts[-1]}", f"{kind}:{os.path.abspath(folder)}"


def run_one(task, name, spec, seed, args):
    """Runs one recipe; returns its metrics dict, or {"failed": reason, "log": path}."""
    folder, yaml, data_sub, prepared_sub = TASKS[task]
    out = os.path.abspath(os.path.join(args.out, task, name, str(seed)))
    metrics_path = os.path.join(out, "metrics.json")
    if os.path.exists(metrics_path):
        with open(metrics_path) as f:
            return json.load(f)
    if args.table_only:
        return {}
    os.makedirs(out, exist_ok=True)
    log = os.path.join(out, "compare_log.txt")
    cmd = [sys.executable, "train.py", f"hparams/{yaml}", "--encoder", spec, "--seed", str(seed),
           "--output_folder", out, "--data_folder", os.path.abspath(os.path.join(args.data, data_sub)),
           "--prepare_folder", os.path.abspath(os.path.join(args.prepared, prepared_sub)),
           *SETTINGS[args.settings].get(task, []), *args.extra.get(task, [])]
    print(f"== {task} / {name} / seed {seed}: {' '.join(cmd[1:])}", flush=True)
    env = dict(os.environ)
    if args.jobs > 1:
        env.setdefault("OMP_NUM_THREADS", "1")
    start = time.time()
    with open(log, "w") as f:
        done = subprocess.run(cmd, cwd=os.path.join(HERE, folder), stdout=f, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0 or not os.path.exists(metrics_path):
        print(f"   failed after {time.time() - start:.0f} s (exit {done.returncode}); log: {log}", flush=True)
        return {"failed": f"exit {done.returncode}", "log": log}
    with open(metrics_path) as f:
        metrics = json.load(f)
    print(f"   done in {time.time() - start:.0f} s", flush=True)
    return metrics


def parse_extra(items):
    """`task:--key=value` items -> {task: ["--key", "value", ...]}."""
    extra = {}
    for item in items or []:
        task, _, override = item.partition(":")
        if task not in TASKS or not override.startswith("--"):
            raise SystemExit(f"--extra expects <task>:--key=value with a task of {sorted(TASKS)}, got {item!r}")
        extra.setdefault(task, []).extend(override.split("=", 1))
    return extra


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoders", nargs="+", default=["fbank", "mfcc"])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--settings", default="small", choices=list(SETTINGS))
    parser.add_argument("--extra", nargs="*", help="per-task overrides, e.g. asr:--batch_size=4")
    parser.add_argument("--data", default=os.path.join(HERE, "..", "..", "data", "embedded"))
    parser.add_argument("--prepared", default=os.path.join(HERE, "..", "..", "results", "prepared", "embedded"))
    parser.add_argument("--out", default=os.path.join(HERE, "..", "..", "results", "downstream", "compare"))
    parser.add_argument("--jobs", type=int, default=1, help="recipes run at once (each on one thread)")
    parser.add_argument("--table_only", action="store_true",
                        help="run nothing: the table of the runs that have finished (others shown as –)")
    parser.add_argument("--report", help="also write the pipeline report fragment 07_downstream.md here")
    args = parser.parse_args(argv)
    args.extra = parse_extra(args.extra)
    encoders = [parse_encoder(e) for e in args.encoders]
    names = [n for n, _ in encoders]
    if len(set(names)) != len(names):
        raise SystemExit(f"two encoders share a name in {names}: name them with name=spec")
    runs = [(task, name, spec, seed) for task in args.tasks for name, spec in encoders for seed in args.seeds]
    # Each task's runs one at a time until one succeeds: it prepares the manifests (and the ASR tokenizer) that
    # the runs after it share, so parallel runs never write them at the same time (nor all fail together).
    done = {}
    for task in args.tasks:
        for i in (i for i, run in enumerate(runs) if run[0] == task):
            done[i] = run_one(*runs[i], args)
            if "failed" not in done[i]:
                break
    with concurrent.futures.ThreadPoolExecutor(max(args.jobs, 1)) as pool:
        rest = [i for i in range(len(runs)) if i not in done]
        done.update(zip(rest, pool.map(lambda i: run_one(*runs[i], args), rest)))
    results = {task: {name: {} for name, _ in encoders} for task in args.tasks}
    for i, (task, name, _, seed) in enumerate(runs):
        results[task][name][seed] = done[i]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "compare.json"), "w") as f:
        json.dump({"encoders": dict(encoders), "settings": args.settings, "results": results}, f, indent=1)
    table = markdown_table(results, names, args.tasks)
    chart(results, names, args.tasks, os.path.join(args.out, "compare.png"))
    with open(os.path.join(args.out, "compare.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    if args.report:
        write_report(args, encoders, table)
    failed = sum("failed" in r for task in results.values() for runs in task.values() for r in runs.values())
    return 1 if failed == sum(len(runs) for task in results.values() for runs in task.values()) else 0


def write_report(args, encoders, table):
    """The report fragment: settings, the table and the chart (copied beside the fragment)."""
    import shutil

    os.makedirs(args.report, exist_ok=True)
    shutil.copyfile(os.path.join(args.out, "compare.png"), os.path.join(args.report, "downstream_compare.png"))
    specs = "\n".join(f"- `{name}`: `{spec}`" for name, spec in encoders)
    text = (f"## Downstream comparison\n\nSettings `{args.settings}`, seeds {' '.join(map(str, args.seeds))} "
            f"(mean ± standard deviation over seeds; with one seed the EER's 95 % interval in brackets). "
            f"Encoders frozen; each task trains its own head.\n\n{specs}\n\n{table}\n\n"
            "![downstream comparison](downstream_compare.png)\n")
    with open(os.path.join(args.report, "07_downstream.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
