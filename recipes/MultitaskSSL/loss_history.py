"""The pretraining's loss history: per-epoch train/valid losses of every worker.

Checkpointed with the run (train.py adds it to the checkpointer's recoverables), so a resumed run
continues the same history; written at the end as `losses.csv` and `losses.png`. The YAMLs build it
with `!new:loss_history.LossHistory`: train.py's folder is on sys.path when it runs.
"""

import csv
import json
import os

import matplotlib
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@register_checkpoint_hooks
class LossHistory:
    """Rows of (epoch, stage, name, value)."""

    def __init__(self):
        self.rows = []

    def add(self, epoch, train_stats, valid_stats):
        self.rows = [r for r in self.rows if r[0] < epoch]  # an epoch redone after a kill replaces its rows
        for stage, stats in (("train", train_stats), ("valid", valid_stats)):
            self.rows += [(epoch, stage, name, float(value)) for name, value in stats.items()]

    @mark_as_saver
    def _save(self, path):
        with open(path, "w") as f:
            json.dump(self.rows, f)

    @mark_as_loader
    def _load(self, path, end_of_epoch=False):
        with open(path) as f:
            self.rows = [tuple(r) for r in json.load(f)]

    def series(self, stage, name):
        return [(e, v) for e, s, n, v in self.rows if s == stage and n == name]

    def write(self, folder):
        """`losses.csv` and `losses.png` (one curve per worker, train solid, valid dashed)."""
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "losses.csv"), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", "stage", "name", "loss"])
            writer.writerows(self.rows)
        names = sorted({n for _, _, n, _ in self.rows})
        fig, ax = plt.subplots(figsize=(7, 4))
        for k, name in enumerate(names):
            color = f"C{k % 10}"
            for stage, style in (("train", "-"), ("valid", "--")):
                points = self.series(stage, name)
                if points:
                    ax.plot(*zip(*points), style, color=color, label=f"{name} ({stage})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_yscale("log")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(os.path.join(folder, "losses.png"), dpi=110)
        plt.close(fig)
