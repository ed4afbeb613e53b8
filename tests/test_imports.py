"""The packages import, from the repository and from any other folder (editable install)."""

import os
import subprocess
import sys

import pytest

MODULES = [
    "lobes", "labellers", "corpora", "corpora.audio", "corpora.files", "corpora.manifest", "corpora.preparation",
    "corpora.make_embedded", "lobes.probes",
    "corpora.librispeech", "corpora.voxceleb", "corpora.common_voice", "corpora.speech_commands",
    "corpora.fluent_speech_commands", "corpora.iemocap", "corpora.noise_rir",
    "corpora.embedded.espeak", "corpora.embedded.voices", "corpora.prepare_embedded", "corpora.describe",
    "labellers.registry", "labellers.stored", "labellers.frames", "labellers.lld_extraction",
    "labellers.opensmile_lld", "labellers.signal", "labellers.metadata", "labellers.infomax", "corpora.groups",
    "lobes.hsic", "lobes.workers", "lobes.encoders", "lobes.multitask", "lobes.encoder_folder",
    "lobes.upstream", "lobes.heads", "lobes.asr", "lobes.verification", "lobes.train_logging",
]


@pytest.mark.parametrize("module", MODULES)
def test_module_imports(module):
    __import__(module)


def test_packages_import_outside_the_repository(tmp_path):
    recipes = os.path.join(os.path.dirname(__file__), "..", "recipes")
    for cwd in [tmp_path] + [os.path.join(recipes, d) for d in os.listdir(recipes)
                             if os.path.isdir(os.path.join(recipes, d))]:
        out = subprocess.run([sys.executable, "-c", "import lobes, labellers, corpora; print(corpora.__file__)"],
                             cwd=cwd, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "corpora" in out.stdout
