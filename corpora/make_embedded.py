"""Generates the embedded corpus: synthetic speech written in the real corpora's layouts.

    python -m corpora.make_embedded data/embedded --size small [--seed 0] [--num_workers 2]

Deterministic from `--seed`; a rerun with the same arguments does nothing, and a
killed run resumes where it stopped (each file is written atomically together
with its metadata, and only missing files are rendered).
"""

import argparse
import glob
import json
import logging
import multiprocessing
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
from tqdm import tqdm

from corpora.audio import write_audio
from corpora.files import write_json
from corpora.embedded import speech_layouts as sl
from corpora.embedded import task_layouts as tl
from corpora.embedded.voices import SAMPLE_RATE, make_speakers

# 2: trial lists hold every pair of the validation/test utterances (audio unchanged since 1)
GENERATOR_VERSION = 2
SAME_AUDIO_SINCE = 1
# A rendering process that dies (the speech engine is native code) breaks the pool; the files written so far are
# kept and a fresh pool renders the rest, this many times in all.
RENDER_ATTEMPTS = 3
logger = logging.getLogger(__name__)

LAYOUTS = {
    "librispeech": (sl.plan_librispeech, sl.index_librispeech),
    "voxceleb": (sl.plan_voxceleb, sl.index_voxceleb),
    "common_voice": (sl.plan_common_voice, sl.index_common_voice),
    "speech_commands": (tl.plan_speech_commands, tl.index_speech_commands),
    "fluent_speech_commands": (tl.plan_fluent_speech_commands, tl.index_fluent_speech_commands),
    "iemocap": (tl.plan_iemocap, tl.index_iemocap),
    "noise_rir": (tl.plan_noise_rir, tl.index_noise_rir),
}

SIZES = {
    "tiny": {
        "librispeech": {"train-clean-100": [6, 1, 5], "dev-clean": [2, 1, 3], "test-clean": [2, 1, 3]},
        "voxceleb": dict(dev=8, val=3, test=4, videos=3, utts=2, vox2=4, vox2_videos=2, vox2_utts=2),
        "common_voice": dict(train=6, dev=2, test=2, utts=3),
        "speech_commands": dict(train=6, validation=1, test=1, repeats=1, background_seconds=5),
        "fluent_speech_commands": dict(train=4, valid=1, test=1, utts=6),
        "iemocap": dict(sessions=5, dialogs=1, turns=4),
        "noise_rir": dict(noise=2, music=2, babble=2, babble_speakers=4, seconds=5, rirs=2),
    },
    "small": {
        "librispeech": {"train-clean-100": [30, 2, 20], "dev-clean": [6, 1, 12],
                        "test-clean": [6, 1, 12]},
        "voxceleb": dict(dev=40, val=8, test=16, videos=3, utts=4, vox2=40, vox2_videos=3, vox2_utts=3),
        "common_voice": dict(train=50, dev=8, test=8, utts=8),
        "speech_commands": dict(train=14, validation=3, test=3, repeats=1, background_seconds=30),
        "fluent_speech_commands": dict(train=16, valid=3, test=3, utts=14),
        "iemocap": dict(sessions=5, dialogs=3, turns=10),
        "noise_rir": dict(noise=12, music=12, babble=12, babble_speakers=12, seconds=20, rirs=12),
    },
}


def plan_corpus(size, seed):
    """Every job of the corpus, in a fixed order; speakers are never shared by two layouts."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {sorted(SIZES)}")
    pool = iter(make_speakers(np.random.default_rng([seed, 0]), 2000))
    take = lambda n: [next(pool) for _ in range(n)]  # noqa: E731
    jobs = {}
    for i, (name, (plan, _)) in enumerate(LAYOUTS.items()):
        jobs[name] = plan(SIZES[size][name], take, np.random.default_rng([seed, i + 1]))
    return jobs


_TTS = None


def _init_worker():
    global _TTS
    from corpora.embedded.espeak import Espeak

    _TTS = Espeak()


def _check_tts():
    """Checks here that the speech engine can be found: a pool whose initializer fails would only report broken
    processes. (Only found, not started: an engine started in this process would be inherited by the workers
    and change what they render.)"""
    try:
        import espeakng_loader

        library = espeakng_loader.get_library_path()
    except ImportError as error:
        raise RuntimeError(f"the embedded corpus speaks with eSpeak NG through the espeakng-loader package, which "
                           f"failed to load ({error}); install the pinned requirements.txt "
                           "(pip install -r requirements.txt)") from error
    if not os.path.exists(library):
        raise RuntimeError(f"espeakng-loader names {library}, which does not exist; reinstall espeakng-loader "
                           "(pip install --force-reinstall -r requirements.txt)")


def _meta_path(root, job):
    return os.path.join(root, ".embedded", "meta", job.path + ".json")


def _render(args):
    """Renders one job unless its audio and metadata already exist (resume)."""
    from corpora.embedded.jobs import run_job

    root, job = args
    out, meta_file = os.path.join(root, job.path), _meta_path(root, job)
    if os.path.exists(out) and os.path.exists(meta_file):
        with open(meta_file) as f:
            return job.path, json.load(f)
    wav, meta = run_job(_TTS, job)
    write_audio(out, wav, SAMPLE_RATE)
    write_json(meta_file, meta, indent=None)
    return job.path, meta


def _remove_partial_files(root, jobs):
    """The temporary files (`<name>.part<pid>...`, corpora.audio and corpora.files) that processes killed while
    writing these jobs left behind."""
    for job in jobs:
        for target in (os.path.splitext(os.path.join(root, job.path))[0], _meta_path(root, job)):
            for partial in glob.glob(glob.escape(target) + ".part*"):
                os.remove(partial)


def _render_all(flat, meta, num_workers, desc, root):
    """Renders every (root, job) of `flat` into `meta` (path -> metadata). A process pool hangs for good when one
    of its processes dies; an executor breaks instead, and the jobs it had not returned go to a fresh one."""
    ctx = multiprocessing.get_context("fork")
    for attempt in range(1, RENDER_ATTEMPTS + 1):
        todo = [item for item in flat if item[1].path not in meta]
        try:
            with ProcessPoolExecutor(num_workers, mp_context=ctx, initializer=_init_worker) as pool:
                for path, m in tqdm(pool.map(_render, todo, chunksize=4), total=len(flat), initial=len(meta),
                                    desc=desc, unit="file", file=sys.stderr):
                    meta[path] = m
            return
        except BrokenProcessPool as error:
            _remove_partial_files(root, [job for _, job in todo if job.path not in meta])
            if attempt == RENDER_ATTEMPTS:
                raise RuntimeError(f"a speech-synthesis process died {attempt} times while rendering {root}; "
                                   f"{len(meta)} of {len(flat)} files are written and kept: run the same command "
                                   "again to resume (--num_workers 1 to render one file at a time)") from error
            logger.warning("a speech-synthesis process died (attempt %d of %d); %d of %d files are done, "
                           "rendering the rest in a fresh pool", attempt, RENDER_ATTEMPTS, len(meta), len(flat))


def summarize(jobs, meta):
    """Per layout: files, hours of audio, speakers, and files per split."""
    summary = {}
    for name, layout_jobs in jobs.items():
        splits = defaultdict(int)
        for j in layout_jobs:
            splits[str(j.fields.get("split", j.fields.get("role", j.fields.get("category", "all"))))] += 1
        speakers = {j.speaker.index for j in layout_jobs if j.speaker is not None}
        summary[name] = {
            "files": len(layout_jobs),
            "hours": round(sum(meta[j.path]["duration"] for j in layout_jobs) / 3600, 4),
            "speakers": len(speakers),
            "splits": dict(splits),
        }
    return summary


def make_embedded(root, size="tiny", seed=0, num_workers=None):
    """Generates (or completes) the corpus under `root`; returns the summary dict."""
    options = {"size": size, "seed": seed, "version": GENERATOR_VERSION}
    done_file = os.path.join(root, ".embedded", "done.json")
    if os.path.exists(done_file):
        with open(done_file) as f:
            done = json.load(f)
        if done["options"] == options:
            return done["summary"]
        older = dict(done["options"], version=GENERATOR_VERSION)
        if not (older == options and done["options"]["version"] >= SAME_AUDIO_SINCE):
            raise RuntimeError(f"{root} already holds an embedded corpus made with {done['options']}, "
                               f"not {options}; pick another folder or delete {root}")
        # same audio, newer annotation files: the rendering below reuses every file
    jobs = plan_corpus(size, seed)
    flat = [(root, j) for layout_jobs in jobs.values() for j in layout_jobs]
    num_workers = num_workers or os.cpu_count() or 1
    _check_tts()
    meta = {}
    start = time.time()
    _render_all(flat, meta, num_workers, f"embedded corpus ({size})", root)
    for name, (_, index) in LAYOUTS.items():
        index(root, jobs[name], meta, np.random.default_rng([seed, 100 + len(name)]))
    summary = summarize(jobs, meta)
    write_json(os.path.join(root, "summary.json"), summary)
    write_json(done_file, {"options": options, "summary": summary, "seconds": round(time.time() - start, 1)})
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("root", help="output folder, e.g. data/embedded")
    parser.add_argument("--size", default="small", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_workers", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    start = time.time()
    summary = make_embedded(args.root, args.size, args.seed, args.num_workers)
    total = sum(s["hours"] for s in summary.values())
    print(f"{args.root}: {total:.2f} h of audio in {sum(s['files'] for s in summary.values())} files "
          f"({time.time() - start:.1f} s)")


if __name__ == "__main__":
    main()
