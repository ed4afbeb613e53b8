"""Shared by the MultitaskSSL recipe tests: paths, and running the recipe's scripts."""

import os
import re
import sys
import subprocess

RECIPES = os.path.join(os.path.dirname(__file__), "..", "..", "recipes")
RECIPE = os.path.join(RECIPES, "MultitaskSSL")
ALPHARATIO = os.path.join(RECIPE, "hparams", "pretrain_alpharatio.yaml")


def train_recipe(yaml, out, data_args, *extra, launcher=(), env=None, check=True):
    cmd = [*(launcher or [sys.executable]), "train.py", str(yaml), "--output_folder", str(out), *data_args,
           *map(str, extra)]
    done = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, env=env)
    if check:
        assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done


def from_recipe(module, name):
    """`name` from one of the recipe's scripts (train.py, probe.py), imported from its folder."""
    sys.path.insert(0, RECIPE)
    try:
        return getattr(__import__(module), name)
    finally:
        sys.path.remove(RECIPE)


def log_epochs(out):
    text = (out / "train_log.txt").read_text()
    return [(int(e), float(lr)) for e, lr in re.findall(r"epoch: (\d+), lr_encoder: ([0-9.e+-]+)", text)]
