"""Writes what a selection run produces: ranking table, weights, bar chart, workers fragment."""

import csv
import datetime
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from corpora.files import atomic_write, write_json  # noqa: E402
from labellers.online import ONLINE_COLUMNS  # noqa: E402


def run_folder(output_folder):
    """`<output_folder>/<date-time>/`, plus a `latest` link to it."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    folder = os.path.join(output_folder, stamp)
    k = 1
    while os.path.exists(folder):
        folder = os.path.join(output_folder, f"{stamp}-{k}")
        k += 1
    os.makedirs(folder)
    link = os.path.join(output_folder, "latest")
    if os.path.islink(link) or os.path.exists(link):
        os.remove(link)
    os.symlink(os.path.basename(folder), link)
    return folder


def _write_csv(path, header, rows):
    def write(f):
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    atomic_write(path, write)


def write_ranking(folder, rows, candidates):
    """rows: dicts label, hsic and, when computed, rank_original, hsic_original (sorted, best first)."""
    both = all("rank_original" in r for r in rows)
    header = ["rank", "pseudo_label", "hsic"] + (["rank_original_centering", "hsic_original_centering"]
                                                 if both else []) + ["candidate"]
    table = [[k + 1, r["label"], f"{r['hsic']:.6g}"]
             + ([r["rank_original"], f"{r['hsic_original']:.6g}"] if both else [])
             + ["yes" if r["label"] in candidates else ""] for k, r in enumerate(rows)]
    _write_csv(os.path.join(folder, "ranking.csv"), header, table)
    extra = " rank with the original H |" if both else ""
    lines = [f"| rank | pseudo-label | HSIC (lower = better) |{extra} candidate |",
             "|---:|---|---:|" + ("---:|" if both else "") + ":---:|"]
    lines += ["| " + " | ".join(str(x) for x in (t[:4] + t[5:] if both else t)) + " |" for t in table]
    atomic_write(os.path.join(folder, "ranking.md"), lambda f: f.write("\n".join(lines) + "\n"))
    return lines


def write_weights(folder, names, columns, results):
    """results: {weighting: {"weights": tensor[P], "loss": [steps]}} -> weights.csv, weights.json, PNGs."""
    weightings = list(results)
    rows = [[name, col] + [f"{float(results[w]['weights'][p]):.4f}" for w in weightings]
            for p, (name, col) in enumerate(zip(names, columns))]
    _write_csv(os.path.join(folder, "weights.csv"), ["pseudo_label", "column"] + weightings, rows)
    write_json(os.path.join(folder, "weights.json"), {
        w: {"weights": dict(zip(names, [round(float(x), 6) for x in results[w]["weights"]])),
            "final_loss": results[w]["loss"][-1], "initial_loss": results[w]["loss"][0],
            "steps": len(results[w]["loss"]),
            "restart_final_losses": results[w].get("restart_losses", [results[w]["loss"][-1]])} for w in weightings})

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    width = 0.8 / len(weightings)
    for k, w in enumerate(weightings):
        axes[0].bar([p + k * width for p in range(len(names))], [float(x) for x in results[w]["weights"]],
                    width, label=w)
        axes[1].plot(results[w]["loss"], label=w)
    axes[0].set_xticks([p + width * (len(weightings) - 1) / 2 for p in range(len(names))])
    axes[0].set_xticklabels(names, rotation=30, ha="right")
    axes[0].set_ylabel("weight")
    axes[0].legend()
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("group-averaged score")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "weights.png"), dpi=110)
    plt.close(fig)
    return rows


def worker_name(name):
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def write_fragment(path, names, columns, weights, aliases, source, min_weight=1e-6):
    """YAML fragment with `{worker}_model`, `{worker}_labeller` and `workers_config: regressor:`.

    recipes/MultitaskSSL/hparams/pretrain_selected.yaml loads it (`selection_fragment`); a YAML
    can also include it (keys at the top are its inputs):

        selected: !include:<path>
            encoder_dim: !ref <encoder_dim>
            lld_folder: !ref <lld_folder>
            lld_backend: !ref <lld_backend>
            worker_lr_start: !ref <worker_lr_start>
        workers_config: !ref <selected[workers_config]>
    """
    kept = [(worker_name(n), n, c, float(w)) for n, c, w in zip(names, columns, weights) if float(w) > min_weight]
    out = [f"# Pretext workers weighted by recipes/PretextSelection ({source}).",
           "# One regressor per pseudo-label with a non-zero weight; the weight scales its loss.",
           "# Inputs (override them in the !include: mapping):",
           "encoder_dim: 256",
           "lld_folder: ../../results/pseudo_labels/common_voice",
           "lld_backend: stored      # or online: targets computed from the audio (labellers.online)",
           "worker_lr_start: 0.0005",
           "worker_hidden_size: 256", ""]
    for worker, name, column, _ in kept:
        labeller = [f"    name: {name}"] if aliases.get(name) == column else ["    name: lld", f"    column: {column}"]
        out += [f"{worker}_model: !new:lobes.workers.Regressor",
                "    input_size: !ref <encoder_dim>",
                "    output_size: 1",
                "    hidden_size: !ref <worker_hidden_size>",
                f"{worker}_labeller: !apply:labellers.registry.get_labeller",
                *labeller,
                "    lld_folder: !ref <lld_folder>",
                "    backend: !ref <lld_backend>" if column in ONLINE_COLUMNS else
                "    backend: stored   # not computed online (labellers/online.py)", ""]
    out += ["workers_config:", "    regressor:"]
    for worker, _, _, weight in kept:
        out += [f"        {worker}:",
                f"            model: !ref <{worker}_model>",
                f"            labeller: !ref <{worker}_labeller>",
                "            optimizer: !name:torch.optim.Adam",
                "                lr: !ref <worker_lr_start>",
                "            loss: !name:torch.nn.L1Loss",
                f"            weight: {weight:.4f}"]
    atomic_write(path, lambda f: f.write("\n".join(out) + "\n"))
    return [k[0] for k in kept]
