"""Prepares every layout of an embedded corpus with the real datasets' prepare modules.

    python -m corpora.prepare_embedded data/embedded results/prepared

Writes one folder of manifests per dataset under the save folder (librispeech/,
voxceleb/, common_voice/, speech_commands/, fluent_speech_commands/, iemocap/,
noise_rir/). Each step skips itself when its manifests are up to date.
"""

import argparse
import logging
import os

from corpora.common_voice import prepare_common_voice
from corpora.fluent_speech_commands import prepare_fluent_speech_commands
from corpora.iemocap import prepare_iemocap
from corpora.librispeech import prepare_librispeech
from corpora.noise_rir import prepare_noise_rir
from corpora.speech_commands import prepare_speech_commands
from corpora.voxceleb import prepare_voxceleb


def prepare_embedded(root, save_folder, strict=False):
    """Returns {dataset: manifest folder}."""
    j = os.path.join
    steps = {
        "librispeech": lambda out: prepare_librispeech(j(root, "LibriSpeech"), out, strict=strict),
        "voxceleb": lambda out: prepare_voxceleb(j(root, "VoxCeleb", "vox1"), out, strict=strict,
                                                 vox2_folder=j(root, "VoxCeleb", "vox2", "dev", "wav")),
        "common_voice": lambda out: prepare_common_voice(j(root, "CommonVoice", "en"), out, strict=strict),
        "speech_commands": lambda out: prepare_speech_commands(j(root, "speech_commands_v0.02"), out,
                                                               strict=strict),
        "fluent_speech_commands": lambda out: prepare_fluent_speech_commands(
            j(root, "fluent_speech_commands_dataset"), out, strict=strict),
        "iemocap": lambda out: prepare_iemocap(j(root, "IEMOCAP_full_release"), out, strict=strict),
        "noise_rir": lambda out: prepare_noise_rir(root, out, strict=strict),
    }
    folders = {}
    for name, step in steps.items():
        folders[name] = j(save_folder, name)
        step(folders[name])
    return folders


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("root", help="embedded corpus folder (made by corpora.make_embedded)")
    parser.add_argument("save_folder")
    parser.add_argument("--strict", action="store_true", help="fail on any unusable audio file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for name, folder in prepare_embedded(args.root, args.save_folder, args.strict).items():
        print(f"{name:24s} {folder}")


if __name__ == "__main__":
    main()
