"""The comparison's markdown table and bar chart, from {task: {encoder: {seed: metrics}}}.

A cell is the mean over the seeds that finished, ± their standard deviation when there are several;
with one seed an interval the recipe reports (the EER's 95 % bootstrap interval) follows in brackets.
Runs that failed are counted in the cell ("failed" when every seed did); "–" marks a run not made
(yet: `compare.py --table_only`).
"""

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# (task, metrics key, column header, 95 % interval key or None)
COLUMNS = [
    ("asr", "wer", "WER %", None),
    ("asr", "cer", "CER %", None),
    ("verification", "eer_cosine", "EER cosine %", "eer_cosine_ci95"),
    ("verification", "eer_plda", "EER PLDA %", "eer_plda_ci95"),
    ("verification", "min_dcf_cosine", "minDCF cosine", None),
    ("verification", "min_dcf_plda", "minDCF PLDA", None),
    ("speaker_id", "accuracy", "speaker ID accuracy", None),
]
# The chart: one panel per headline metric, and whether lower is better.
PANELS = [("asr", "wer", "WER % (lower is better)"), ("verification", "eer_cosine", "EER % cosine (lower is better)"),
          ("speaker_id", "accuracy", "speaker ID accuracy (higher is better)")]


def _decimals(value):
    return 3 if abs(value) < 1 else 1 if abs(value) < 100 else 0


def _number(value, like=None):
    """Three significant-ish digits; `like` gives a spread the decimals of its mean (5.3 ± 0.6, not ± 0.621)."""
    return f"{value:.{_decimals(value if like is None else like)}f}"


def cell(runs, key, interval_key=None):
    """The table text of one metric over the seeds of one (task, encoder)."""
    finished = [r for r in runs.values() if "failed" not in r and key in r]
    failed = sum("failed" in r for r in runs.values())
    if not finished:
        return "failed" if failed else "–"
    values = np.array([r[key] for r in finished], dtype=float)
    text = _number(values.mean())
    if len(values) > 1:
        text += f" ± {_number(values.std(ddof=1), like=values.mean())}"
    elif interval_key and interval_key in finished[0]:
        low, high = finished[0][interval_key]
        text += f" [{_number(low)}, {_number(high)}]"
    if failed:
        text += f" ({failed} failed)"
    return text


def train_minutes(results, name):
    """Mean training minutes per task of one encoder, summed over the tasks that finished."""
    total = 0.0
    for runs in results.values():
        seconds = [r["train_seconds"] for r in runs.get(name, {}).values() if "train_seconds" in r]
        total += np.mean(seconds) if seconds else 0.0
    return total / 60


def markdown_table(results, names, tasks):
    """One row per encoder, one column per metric of the tasks that ran, and the training time."""
    columns = [c for c in COLUMNS if c[0] in tasks]
    lines = ["| encoder | " + " | ".join(c[2] for c in columns) + " | training min |",
             "|---|" + "---:|" * (len(columns) + 1)]
    for name in names:
        cells = [cell(results[task][name], key, interval) for task, key, _, interval in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {train_minutes(results, name):.1f} |")
    return "\n".join(lines)


def chart(results, names, tasks, path):
    """Bars of the headline metrics (mean over seeds, standard deviation as error bars)."""
    panels = [p for p in PANELS if p[0] in tasks]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.2 * max(len(panels), 1), 3.6), squeeze=False)
    for ax, (task, key, title) in zip(axes[0], panels):
        means, errors = [], []
        for name in names:
            values = [r[key] for r in results[task][name].values() if "failed" not in r and key in r]
            means.append(np.mean(values) if values else np.nan)
            errors.append(np.std(values, ddof=1) if len(values) > 1 else 0.0)
        ax.bar(range(len(names)), means, yerr=errors, color=[f"C{i % 10}" for i in range(len(names))], capsize=3)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
