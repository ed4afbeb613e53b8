"""Fixtures of the recipe tests."""

import os
import subprocess
import sys

import pytest

from recipe_support import RECIPES


@pytest.fixture(scope="session")
def tiny_cv(tiny_corpus, tmp_path_factory):
    """(folder, train.py arguments) of the tiny Common Voice layout with its stored pseudo-labels."""
    root, _ = tiny_corpus
    base = tmp_path_factory.mktemp("multitask")
    data, prep, lld = root / "CommonVoice" / "en", base / "prep", base / "lld"
    done = subprocess.run([sys.executable, "extract.py", "hparams/extract.yaml", "--data_folder", str(data),
                           "--prepare_folder", str(prep), "--output_folder", str(lld), "--num_workers", "2"],
                          cwd=os.path.join(RECIPES, "PseudoLabels"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return base, ["--data_folder", str(data), "--prepare_folder", str(prep), "--lld_folder", str(lld),
                  "--batch_size", "4", "--lr_update_interval", "1", "--decay_factor", "0.5",
                  "--noise_rir_data_folder", str(root), "--noise_rir_folder", str(base / "noise_rir")]
