"""Parallel, sharded, resumable extraction of normalized OpenSMILE LLD pseudo-labels.

Two steps, so that a corpus can be split across the machines of a cluster:
1. `extract_shard`: every utterance of shard i/n -> `raw/<ID>.npy` (float32), plus
   the shard's partial statistics over its training utterances and its failures.
   Finished utterances are skipped, so a killed run resumes where it stopped.
2. `reduce_shards`: merges the partial statistics into `stats.json`, writes the
   normalized float16 `lld/<ID>.npy` and removes the raw arrays, merges failures
   into `failures.csv`.
"""

import csv
import json
import logging
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import torch
from tqdm import tqdm

from corpora.audio import AudioError, load_audio, require_signal
from corpora.files import write_json
from corpora.manifest import write_failures
from labellers.lld_stats import FeatureStats, normalize
from labellers.lld_store import FEATURES_FILE, STATS_FILE, array_path, save_array
from labellers.lld_pitch import PitchLLD
from labellers.lld_timing import frame_seconds_of
from labellers.lld_torch import TorchLLD
from labellers.opensmile_lld import HOP_SECONDS, OpenSmileLLD

TORCH = "torch"  # the feature set name of the torch descriptors

logger = logging.getLogger(__name__)
_EXTRACTOR = None


def write_features_file(folder, feature_sets, sample_rate, columns, frame_seconds):
    """Writes features.json, or checks that an existing one describes the same extraction (one written
    before frame lengths were recorded gains them)."""
    import opensmile

    info = {"columns": columns, "hop_seconds": HOP_SECONDS, "feature_sets": list(feature_sets),
            "frame_seconds": frame_seconds,
            "opensmile_version": opensmile.__version__, "sample_rate": sample_rate,
            "dtype": "float16", "normalized": "per column with the training split's mean and std"}
    path = os.path.join(folder, FEATURES_FILE)
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        if {**old, "frame_seconds": frame_seconds} != info:
            raise RuntimeError(f"{path} was written by another extraction ({old['feature_sets']}, opensmile "
                               f"{old['opensmile_version']}); use another output_folder or delete {folder}")
        if old == info:
            return info
    write_json(path, info)
    return info


class TorchTable:
    """OpenSmileLLD's interface (`columns`, `extract`) over the torch descriptors (labellers.lld_torch and
    labellers.lld_pitch): the columns they compute, with openSMILE's values, on the rows of the mixed
    openSMILE table."""

    def __init__(self):
        self.modules = [TorchLLD(), PitchLLD()]
        self.columns = [c for m in self.modules for c in m.columns]
        self.frame_seconds = frame_seconds_of([(TORCH, self.columns)])

    def extract(self, wav, sample_rate):
        if sample_rate != 16000:
            raise ValueError(f"the torch descriptors are openSMILE's at 16 kHz, not {sample_rate} Hz")
        wav = torch.as_tensor(np.asarray(wav, np.float32))[None]
        with torch.no_grad():
            tables = [m(wav) for m in self.modules]
        rows = int(tables[0][1][0])
        if rows == 0:
            raise ValueError(f"no frames for {wav.shape[1] / sample_rate:.3f} s of audio (shorter than 60 ms)")
        return self.columns, torch.cat([t[0][0, :rows] for t in tables], -1).numpy()


def make_extractor(feature_sets):
    """`feature_sets: [torch]`: TorchTable; otherwise the openSMILE sets, mixed (OpenSmileLLD)."""
    if list(feature_sets) == [TORCH]:
        return TorchTable()
    if TORCH in feature_sets:
        raise ValueError(f"feature_sets {list(feature_sets)}: 'torch' stands alone (it replaces openSMILE)")
    return OpenSmileLLD(feature_sets)


def _init(feature_sets):
    global _EXTRACTOR
    _EXTRACTOR = make_extractor(feature_sets)


def _init_worker(feature_sets):
    torch.set_num_threads(1)  # one extraction process per core
    _init(feature_sets)


def _extract_one(args):
    folder, row, sample_rate = args
    try:
        wav = load_audio(row["wav"], sample_rate=sample_rate)
        require_signal(row["wav"], wav)  # a hand-made manifest may hold what prepare would have refused
        seconds = len(wav) / sample_rate
        if "duration" in row and abs(seconds - float(row["duration"])) > 0.1:  # decoders differ by a few ms
            raise AudioError(row["wav"], f"{seconds:.2f} s of audio where the manifest says {float(row['duration']):.2f}"
                                         " s: the file was cut or replaced since prepare (prepare it again)")
        _, frames = _EXTRACTOR.extract(wav.numpy(), sample_rate)
    except Exception as err:  # reported in failures.csv with the reason, never dropped
        return row["ID"], row["wav"], f"{type(err).__name__}: {err}"
    save_array(array_path(folder, row["ID"], "raw"), frames)
    return row["ID"], row["wav"], None


def _shard_file(folder, kind, i, n, ext):
    return os.path.join(folder, "shards", f"{kind}_{i}of{n}.{ext}")


def _columns():
    return _EXTRACTOR.columns, _EXTRACTOR.frame_seconds


def extract_shard(rows, train_ids, folder, feature_sets, shard=(0, 1), num_workers=1, sample_rate=16000):
    """Extracts shard `i/n` of `rows` (manifest dicts with ID and wav). Returns its failures."""
    i, n = shard
    mine = sorted(rows, key=lambda r: r["ID"])[i::n]
    todo = [r for r in mine if not os.path.exists(array_path(folder, r["ID"]))
            and not os.path.exists(array_path(folder, r["ID"], "raw"))]
    logger.info("shard %d/%d: %d utterances, %d to extract", i, n, len(mine), len(todo))
    jobs = [(folder, r, sample_rate) for r in todo]
    failures, pool = [], None
    if num_workers > 1:
        # Not a plain fork: OpenSMILE objects of this process may hold threads that a fork
        # copies mid-state (a deadlock). A fork server starts clean, imports this module
        # once and forks the workers from there, so they start fast.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        # an executor, not a Pool: a process that dies (OpenSMILE is native code) breaks it instead of hanging it
        pool = ProcessPoolExecutor(num_workers, mp_context=ctx, initializer=_init_worker, initargs=(feature_sets,))
        columns, frame_seconds = pool.submit(_columns).result()
        results = pool.map(_extract_one, jobs, chunksize=4)
    else:
        _init(feature_sets)
        (columns, frame_seconds), results = _columns(), map(_extract_one, jobs)
    try:
        write_features_file(folder, feature_sets, sample_rate, columns, frame_seconds)
        for utt, wav, error in tqdm(results, total=len(jobs), desc=f"LLDs shard {i}/{n}", unit="utt",
                                    file=sys.stderr):
            if error:
                logger.warning("failed %s (%s): %s", utt, wav, error)
                failures.append({"ID": utt, "wav": wav, "reason": error})
    except BrokenProcessPool as err:
        raise RuntimeError(f"an extraction process died in shard {i}/{n} of {folder}; the utterances extracted "
                           "so far are kept: run the same command again to resume (--num_workers 1 to find the "
                           "file that kills it)") from err
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    stats = FeatureStats(columns)
    for r in mine:
        raw = array_path(folder, r["ID"], "raw")
        if r["ID"] in train_ids and os.path.exists(raw):
            stats.update(np.load(raw))
    write_json(_shard_file(folder, "stats", i, n, "json"), stats.to_dict(), indent=1)
    write_failures(_shard_file(folder, "failures", i, n, "csv"), failures)
    return failures


def reduce_shards(folder, num_shards):
    """Merges shard statistics, writes the normalized float16 arrays; returns a summary dict."""
    stats_path = os.path.join(folder, STATS_FILE)
    if os.path.exists(stats_path):  # statistics are frozen once computed
        with open(stats_path) as f:
            stats = FeatureStats.from_dict(json.load(f))
    else:
        missing = [k for k in range(num_shards) if not os.path.exists(_shard_file(folder, "stats", k, num_shards, "json"))]
        if missing:
            raise RuntimeError(f"shards {missing} of {num_shards} have not finished in {folder}; run "
                               f"extract.py with --shard k/{num_shards} for each of them before --reduce")
        stats = None
        for k in range(num_shards):
            with open(_shard_file(folder, "stats", k, num_shards, "json")) as f:
                part = FeatureStats.from_dict(json.load(f))
            stats = part if stats is None else stats.merge(part)
        if stats.frames == 0:
            raise RuntimeError(f"no training utterance was extracted into {folder}: check train_csv and "
                               f"the reasons in {folder}/shards/failures_*.csv")
        write_json(stats_path, stats.to_dict(), indent=1)
    mean, std = stats.mean(), stats.std()
    raw_dir = os.path.join(folder, "raw")
    raws = sorted(os.listdir(raw_dir)) if os.path.isdir(raw_dir) else []
    for name in tqdm(raws, desc="normalizing", unit="utt", file=sys.stderr, disable=len(raws) < 100):
        if not name.endswith(".npy"):
            continue  # a temporary file of a killed run
        raw = os.path.join(raw_dir, name)
        save_array(os.path.join(folder, "lld", name), normalize(np.load(raw), mean, std).astype(np.float16))
        os.remove(raw)
    if os.path.isdir(raw_dir) and not os.listdir(raw_dir):
        os.rmdir(raw_dir)
    failures = []
    for k in range(num_shards):
        path = _shard_file(folder, "failures", k, num_shards, "csv")
        if os.path.exists(path):
            with open(path, newline="") as f:
                failures += list(csv.DictReader(f))
    write_failures(os.path.join(folder, "failures.csv"), failures)
    done = len([f for f in os.listdir(os.path.join(folder, "lld")) if f.endswith(".npy")]) \
        if os.path.isdir(os.path.join(folder, "lld")) else 0
    return {"utterances": done, "failures": len(failures), "train_frames": int(stats.frames),
            "nonfinite": {c: int(v) for c, v in zip(stats.columns, stats.nonfinite) if v}}

