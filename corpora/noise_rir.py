"""MUSAN and RIRS_NOISES: manifests for SpeechBrain's AddNoise and AddReverb.

    prepare_noise_rir("data/embedded", "results/prep/noise_rir")

`data_folder` holds `musan/` and/or `RIRS_NOISES/`. Writes `noise.csv`,
`music.csv`, `babble.csv` (MUSAN noise/, music/, speech/) and `rir.csv`
(`RIRS_NOISES/simulated_rirs/*/RoomNNN/*.wav`), each with ID, duration, wav and
a `category` column (MUSAN folder or room size), in SpeechBrain's extended CSV
format (every column after duration with its `_format` and `_opts`), the one
AddNoise and AddReverb read (hparams/augment_noise_reverb.yaml).
"""

import glob
import os

from corpora.manifest import write_csv
from corpora.preparation import already_prepared, collect_rows, PrepareError, save_options

_MUSAN = {"noise": "noise", "music": "music", "babble": "speech"}


_EXTENDED = ["wav_format", "wav_opts", "category", "category_format", "category_opts"]


def _entry(name, path):
    stem, ext = os.path.splitext(os.path.basename(path))
    extended = {"wav_format": ext.lstrip("."), "wav_opts": "", "category_format": "string", "category_opts": ""}
    if name != "rir":
        return {"ID": stem, "wav": path, "category": name, **extended}
    room = os.path.basename(os.path.dirname(os.path.dirname(path)))  # smallroom/Room001/x.wav
    return {"ID": f"{room}-{stem}", "wav": path, "category": room, **extended}


def prepare_noise_rir(data_folder, save_folder, validate_audio=True, strict=False, skip_prep=False):
    """Writes noise.csv, music.csv, babble.csv and rir.csv."""
    if skip_prep:
        return
    options = dict(data_folder=os.path.abspath(data_folder), validate_audio=validate_audio, csv="extended")
    outputs = [os.path.join(save_folder, f"{n}.csv") for n in (*_MUSAN, "rir")]
    if already_prepared(save_folder, "noise_rir", options, outputs):
        return
    sources = {name: glob.glob(os.path.join(data_folder, "musan", sub, "**", "*.wav"), recursive=True)
               for name, sub in _MUSAN.items()}
    sources["rir"] = glob.glob(os.path.join(data_folder, "RIRS_NOISES", "simulated_rirs", "*", "*", "*.wav"))
    if not any(sources.values()):
        raise PrepareError(f"no musan/{{noise,music,speech}}/**/*.wav nor RIRS_NOISES/simulated_rirs/*/*/*.wav "
                           f"under {data_folder}")
    for name, paths in sources.items():
        entries = [_entry(name, p) for p in sorted(paths)]
        rows = collect_rows(entries, save_folder, name, validate=validate_audio, strict=strict)
        write_csv(os.path.join(save_folder, f"{name}.csv"), rows, _EXTENDED)
    save_options(save_folder, "noise_rir", options)
