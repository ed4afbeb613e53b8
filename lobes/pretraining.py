"""What the pretraining keeps besides models: the loss history and the exported encoder.

- `LossHistory`: per-epoch train/valid losses of every worker, checkpointed with the run
  (a resumed run continues the same history), written as CSV + PNG at the end.
- `export_encoder` / `load_pretrained_encoder`: the encoder as SpeechBrain's Pretrainer
  expects it, `encoder.ckpt` + `hyperparams.yaml` (the encoder's own `!new:` definition and a
  `pretrainer`), so a downstream recipe loads it from a local path.
"""

import csv
import json
import os

import matplotlib
import torch
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


def export_encoder(encoder, folder):
    """Writes `encoder.ckpt` and `hyperparams.yaml` for SpeechBrain's Pretrainer; returns the folder."""
    encoder = getattr(encoder, "module", encoder)
    config = getattr(encoder, "config", None)
    if config is None:
        raise ValueError(f"{type(encoder).__name__} does not record its constructor arguments (`config`); "
                         "only encoders of lobes.encoders can be exported")
    folder = os.path.abspath(folder)
    os.makedirs(folder, exist_ok=True)
    torch.save(encoder.state_dict(), os.path.join(folder, "encoder.ckpt"))
    cls = f"{type(encoder).__module__}.{type(encoder).__name__}"
    # No absolute path inside: the folder can be copied or moved and still loads (`folder` is given at load time).
    lines = ["# Encoder pretrained by recipes/MultitaskSSL. Load it with",
             "#   lobes.pretraining.load_pretrained_encoder(<this folder>)",
             "# or load_hyperpyyaml(<this file>, {'folder': <this folder>}) and call pretrainer.collect_files() /",
             "# load_collected(). Loading runs this file through hyperpyyaml, which can run code: from an untrusted",
             "# source, use lobes.upstream.load_encoder_folder(<folder>, architecture=<class name>) instead.",
             "folder: !PLACEHOLDER",
             f"encoder: !new:{cls}"]
    lines += [f"    {key}: {json.dumps(value)}" for key, value in config.items()]
    lines += ["pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer",
              "    collect_in: !ref <folder>/collected",
              "    loadables:",
              "        encoder: !ref <encoder>",
              "    paths:",
              "        encoder: !ref <folder>/encoder.ckpt"]
    with open(os.path.join(folder, "hyperparams.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return folder


def load_pretrained_encoder(folder, device="cpu"):
    """The exported encoder, weights checked and loaded through SpeechBrain's Pretrainer, in eval mode
    (`lobes.upstream.load_encoder_folder`, which also names a missing file or a mismatched key)."""
    from lobes.upstream import load_encoder_folder

    return load_encoder_folder(folder).to(device).eval()
