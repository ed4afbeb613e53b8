"""The tiny corpus prepared in every layout, for the tests of the prepare modules."""

import pytest

from corpora.common_voice import prepare_common_voice
from corpora.fluent_speech_commands import prepare_fluent_speech_commands
from corpora.iemocap import prepare_iemocap
from corpora.librispeech import prepare_librispeech
from corpora.noise_rir import prepare_noise_rir
from corpora.speech_commands import prepare_speech_commands
from corpora.voxceleb import prepare_voxceleb


@pytest.fixture(scope="module")
def prepared(tiny_corpus, tmp_path_factory):
    root, summary = tiny_corpus
    out = tmp_path_factory.mktemp("prepared")
    prepare_librispeech(root / "LibriSpeech", out / "ls")
    prepare_voxceleb(root / "VoxCeleb/vox1", out / "vox", vox2_folder=root / "VoxCeleb/vox2/dev/wav")
    prepare_common_voice(root / "CommonVoice/en", out / "cv")
    prepare_speech_commands(root / "speech_commands_v0.02", out / "sc")
    prepare_fluent_speech_commands(root / "fluent_speech_commands_dataset", out / "fsc")
    prepare_iemocap(root / "IEMOCAP_full_release", out / "iemocap")
    prepare_noise_rir(root, out / "nr")
    return out, summary
