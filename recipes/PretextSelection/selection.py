"""Glue of the selection run (see select_tasks.py): groups, cached K/L matrices, ranking, weights."""

import json
import logging
import os
import shutil
import time

import numpy as np
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import run_on_main
from tqdm import tqdm

import selection_outputs as out
from corpora.groups import log_mel_segments
from corpora.files import write_json
from kernel_files import k_path, write_group
from labellers.lld_store import LLDStore, save_array
from labellers.stored import LLD_ALIASES, alias_of
from lobes.hsic import GroupBuckets, cosine_kernel, gaussian_downsample, log_gaussian_kernel, optimize_weights

logger = logging.getLogger(__name__)


def resolve_labels(names, store):
    """Registry aliases (f0, hnr, ...) or stored column names -> (names, columns)."""
    columns = [LLD_ALIASES.get(n, n) for n in names]
    for c in columns:
        store.column_index(c)  # a KeyError naming the nearest columns on a typo
    return list(names), columns


def matrix_options(hparams, groups, columns, candidates):
    return {"groups": {g: [s["ID"] for s in segs] for g, segs in groups.items()},
            "lld_folder": os.path.abspath(hparams["lld_folder"]), "columns": columns,
            "candidates": candidates, "n_samples": hparams["n_samples"], "std_ratio": hparams["std_ratio"],
            "std_slope": hparams["std_slope"], "n_mels": hparams["n_mels"], "sigma": hparams["sigma"],
            "sample_rate": hparams["sample_rate"], "write_l_matrices": hparams["write_l_matrices"]}


def build_matrices(hparams, groups, store, columns, candidates, folder):
    """K and per-segment values of every group not cached yet; returns the build time in seconds."""
    options = matrix_options(hparams, groups, columns, candidates)
    options_file = os.path.join(folder, "options.json")
    if os.path.exists(options_file):
        with open(options_file) as f:
            if json.load(f) != options:
                logger.warning("%s was built with other options: rebuilding it", folder)
                shutil.rmtree(folder)
    os.makedirs(folder, exist_ok=True)
    write_json(options_file, options)
    k_dir, l_dir = os.path.join(folder, "K"), os.path.join(folder, "L")
    todo = [g for g in groups if not os.path.exists(k_path(k_dir, g))]
    start = time.time()
    cand_idx = [columns.index(c) for c in candidates]
    for group in tqdm(todo, desc="K/L matrices", unit="group", disable=not todo):
        segments = groups[group]
        feats = [None] * len(segments)
        for k, spec in log_mel_segments(segments, hparams["compute_fbank"], hparams["sample_rate"]):
            feats[k] = gaussian_downsample(spec, hparams["n_samples"], hparams["std_ratio"], hparams["std_slope"])
        values = np.stack([store.segment_mean(s["utt_id"], s["start"], s["end"], columns) for s in segments])
        k = cosine_kernel(torch.stack(feats))
        log_l = {}
        if hparams["write_l_matrices"]:
            z = torch.from_numpy(values[:, cand_idx]).double()
            log_l = {c: log_gaussian_kernel(z[:, p], hparams["sigma"]).numpy() for p, c in enumerate(candidates)}
        save_array(os.path.join(folder, "values", f"{group}.npy"), values.astype(np.float32))
        write_group(k_dir, l_dir, group, k.numpy(), log_l)
    return time.time() - start, len(todo)


def load_buckets(folder, groups, columns):
    """The cached groups, centred with the correct H and with the original scripts' H."""
    ks = [np.load(k_path(os.path.join(folder, "K"), g)) for g in groups]
    values = [np.load(os.path.join(folder, "values", f"{g}.npy")) for g in groups]
    return tuple(GroupBuckets(ks, values, columns, original_centering=o) for o in (False, True))


def rank(buckets, buckets_original, names, sigma, score="hsic"):
    scores = buckets.single_label_hsic(sigma, score=score)
    scores_original = buckets_original.single_label_hsic(sigma, score=score)
    order_original = {int(p): k + 1 for k, p in enumerate(torch.argsort(scores_original))}
    return [{"label": names[p], "hsic": float(scores[p]), "rank_original": order_original[int(p)],
             "hsic_original": float(scores_original[p])} for p in torch.argsort(scores).tolist()]


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(hparams["output_folder"], hyperparams_to_save=hparams_file,
                                   overrides=overrides)
    if not hparams["skip_prep"]:
        run_on_main(hparams["prepare"])
    groups = hparams["groups"]()
    store = LLDStore(hparams["lld_folder"])
    cand_names, cand_columns = resolve_labels(hparams["candidates"], store)
    rank_columns = store.columns if hparams["rank_labels"] == "all" else resolve_labels(hparams["rank_labels"],
                                                                                        store)[1]
    columns = list(dict.fromkeys(rank_columns + cand_columns))
    n = len(next(iter(groups.values())))
    logger.info("%d groups of %d segments, %d pseudo-labels ranked, %d weighted",
                len(groups), n, len(rank_columns), len(cand_columns))

    folder = os.path.join(hparams["output_folder"], "matrices")
    build_seconds, built = build_matrices(hparams, groups, store, columns, cand_columns, folder)
    names = [alias_of(col, cand_names) for col in columns]
    # the bandwidth of each label's kernel: one fixed sigma (the original), or the median heuristic per label
    # and group (values rescaled, sigma 1); the score: HSIC (the original) or its normalized form, CKA
    bandwidth, score = hparams.get("bandwidth", "fixed"), hparams.get("score", "hsic")
    sigma = hparams["sigma"] if bandwidth == "fixed" else 1.0
    buckets, buckets_original = (b.with_bandwidth(bandwidth) for b in load_buckets(folder, groups, columns))
    ranking = rank(buckets, buckets_original, names, sigma, score)
    ranking = [r for r in ranking if columns[names.index(r["label"])] in rank_columns]

    cand_idx = [columns.index(c) for c in cand_columns]
    cand_buckets = buckets.subset(cand_idx, cand_names)
    results, opt_seconds = {}, {}
    restarts = int(hparams.get("restarts", 1))
    for weighting in hparams["weightings"]:
        start = time.time()
        # from `restarts` initializations (seeds seed, seed + 1, ...), the weights of the lowest final objective:
        # sparsemax stops at a vertex, and which one depends on where it starts
        runs = [optimize_weights(
            cand_buckets, weighting, steps=hparams["steps"], lr=hparams["lr"], momentum=hparams["momentum"],
            noise=hparams["init_noise"], norm_penalty=hparams["norm_penalty"], sigma=sigma,
            seed=hparams["seed"] + r, groups_per_step=hparams["groups_per_step"], score=score,
            progress=lambda it, w=weighting, r=r: tqdm(it, desc=f"{w} weights ({r + 1}/{restarts})", unit="step"))
            for r in range(restarts)]
        results[weighting] = min(runs, key=lambda res: res["loss"][-1])
        results[weighting]["restart_losses"] = [res["loss"][-1] for res in runs]
        opt_seconds[weighting] = time.time() - start

    run = out.run_folder(hparams["output_folder"])
    out.write_ranking(run, ranking, set(cand_names))
    out.write_weights(run, cand_names, cand_columns, results)
    fragments = {}
    # the learned weights, and every candidate at equal weight (the baseline the selection must beat)
    uniform = torch.full((len(cand_names),), 1.0 / len(cand_names))
    for weighting, weights in [*((w, r["weights"]) for w, r in results.items()), ("uniform", uniform)]:
        path = os.path.join(run, f"workers_{weighting}.yaml")
        fragments[weighting] = out.write_fragment(path, cand_names, cand_columns, weights, LLD_ALIASES,
                                                  f"{hparams['task']}, {weighting}")
    top = [r["label"] for r in ranking]
    top_original = [r["label"] for r in sorted(ranking, key=lambda r: r["rank_original"])]
    write_json(os.path.join(run, "summary.json"), {
        "task": hparams["task"], "groups": len(groups), "segments_per_group": n,
        "bandwidth": bandwidth, "score": score,
        "ranked": len(ranking), "candidates": cand_names,
        "matrix_build_seconds": round(build_seconds, 2), "groups_built": built,
        "optimization_seconds": {w: round(s, 2) for w, s in opt_seconds.items()},
        "ranking_changes_with_original_centering": top != top_original,
        "top5": top[:5], "top5_original_centering": top_original[:5],
        "workers": fragments})
    print(f"{run}: {len(groups)} groups x {n} segments; best pseudo-labels {', '.join(top[:3])}; "
          + "; ".join(f"{w}: " + ", ".join(f"{nm} {float(x):.2f}" for nm, x in zip(cand_names, r["weights"])
                                            if float(x) > 1e-6) for w, r in results.items()))

