"""VoxCeleb: speaker-labelled training manifests, verification trials, identification split.

    prepare_voxceleb("data/embedded/VoxCeleb/vox1", "results/prep/voxceleb",
                     vox2_folder="data/embedded/VoxCeleb/vox2/dev/wav")

`data_folder` is the VoxCeleb1 root holding `wav/idXXXXX/<video>/<utt>.wav`,
`veri_test2.txt` and `iden_split.txt`. Writes
- `train.csv`: VoxCeleb1 utterances of speakers in no trial list (+ VoxCeleb2 if given),
- `val.csv` / `test.csv`: utterances of the validation / test trial lists,
- `val_trials.txt` / `test_trials.txt`: the trial lists, checked against the audio,
- `iden_train.csv`, `iden_dev.csv`, `iden_test.csv`: the identification split,
- `vox2_train.csv` when `vox2_folder` is given (speaker labels kept for reference;
  self-supervised recipes ignore them).
Columns: ID, duration, wav, spk_id.

A recipe that trains on VoxCeleb2 alone can validate on VoxCeleb1 dev speakers as well
(`write_dev_validation`): real VoxCeleb ships no validation list, and VoxCeleb1 and 2 share no speaker.
"""

import glob
import logging
import os
import shutil
from collections import defaultdict

from corpora.files import atomic_write, file_sha1
from corpora.manifest import read_csv, write_csv
from corpora.preparation import already_prepared, collect_rows, PrepareError, require_path, save_options

logger = logging.getLogger(__name__)


def read_trials(path):
    """[(label, enrol_rel, test_rel)] of a VoxCeleb trial list, with a clear error if malformed."""
    trials = []
    with open(require_path(path, "a VoxCeleb trial list"), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3 or parts[0] not in ("0", "1"):
                raise PrepareError(f"{path}:{n}: expected '<0|1> <enrol.wav> <test.wav>', got {line.strip()!r}")
            trials.append((int(parts[0]), parts[1], parts[2]))
    return trials


def all_pair_trials(utts):
    """Trial lines `<1|0> <enrol> <test>` of every unordered pair of `utts` [(spk_id, rel)], by path.

    Small lists (the embedded corpus) need every pair: in a balanced list of a few hundred trials
    one error moves the EER by half a point.
    """
    utts = sorted(utts, key=lambda u: u[1])
    return [f"{int(spk_a == spk_b)} {rel_a} {rel_b}"
            for i, (spk_a, rel_a) in enumerate(utts) for spk_b, rel_b in utts[i + 1:]]


def _rel(row):
    """`idXXXXX/video/utt.wav` of a manifest row."""
    return "/".join(row["wav"].replace(os.sep, "/").split("/")[-3:])


def write_dev_validation(prepare_folder, speakers, utterances_per_speaker, csv_path, trials_path):
    """A validation manifest `csv_path` and trial list `trials_path` from a `prepare_voxceleb` folder: its
    validation list (`val.csv`, `val_trials.txt`, when there is one) and every pair among
    `utterances_per_speaker` utterances, spread over videos, of each of `speakers` speakers of `train.csv`,
    spread over its speaker IDs.

    For recipes that never train on `train.csv` (LGL trains on VoxCeleb2): its speakers are then as unseen as
    the test speakers, and a list of many speakers judges models better than the few of `val.csv`.
    """
    train = read_csv(require_path(os.path.join(prepare_folder, "train.csv"), "train.csv (run prepare_voxceleb)"))
    by_speaker = defaultdict(lambda: defaultdict(list))
    for row in sorted(train, key=_rel):
        by_speaker[row["spk_id"]][_rel(row).split("/")[1]].append(row)
    ids = sorted(by_speaker)
    if speakers > len(ids) or (speakers and utterances_per_speaker < 2):
        raise PrepareError(f"a validation list of {speakers} speakers of {prepare_folder}/train.csv "
                           f"({len(ids)} there) with {utterances_per_speaker} utterances each: ask for at most "
                           f"{len(ids)} speakers and at least 2 utterances (target trials need a pair)")
    chosen = [ids[i * len(ids) // speakers] for i in range(speakers)]  # spread over the (alphabetical) IDs
    rows = []
    for spk in chosen:
        videos = list(by_speaker[spk].values())
        picked = [v[k] for k in range(max(map(len, videos))) for v in videos if k < len(v)]  # one per video in turn
        if len(picked) < 2:
            raise PrepareError(f"speaker {spk} of {prepare_folder}/train.csv has one utterance: no target trial")
        rows += picked[:utterances_per_speaker]
    lines = all_pair_trials([(row["spk_id"], _rel(row)) for row in rows])
    val_csv, val_trials = (os.path.join(prepare_folder, f) for f in ("val.csv", "val_trials.txt"))
    if os.path.exists(val_trials):
        rows += read_csv(val_csv)
        lines += [f"{label} {a} {b}" for label, a, b in read_trials(val_trials)]
    if not lines:
        raise PrepareError(f"no validation trials: {val_trials} is missing (no veri_val.txt) and no train.csv "
                           "speaker was asked for")
    write_csv(csv_path, rows, ["spk_id"])
    atomic_write(trials_path, lambda f: f.writelines(line + "\n" for line in lines))


def _entry(root, rel):
    return {"ID": rel[:-4].replace("/", "--"), "wav": os.path.join(root, rel), "spk_id": rel.split("/")[0]}


def _scan(root):
    """Relative paths `idXXXXX/video/utt.wav` under a VoxCeleb wav folder."""
    rels = sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "id*", "*", "*.wav")))
    if not rels:
        m4a = glob.glob(os.path.join(root, "id*", "*", "*.m4a"))
        hint = " (found .m4a files: convert them to 16 kHz .wav first)" if m4a else ""
        raise PrepareError(f"no idXXXXX/<video>/<utt>.wav files under {root}{hint}")
    return rels


def _digests(data_folder, names):
    """{trial list: sha1 of its content}: an edited or regenerated list invalidates the manifests."""
    digests = {}
    for name in names:
        path = os.path.join(data_folder, name)
        if os.path.exists(path):
            digests[name] = file_sha1(path)
    return digests


def prepare_voxceleb(data_folder, save_folder, verification_file="veri_test2.txt",
                     validation_file="veri_val.txt", vox2_folder=None, validate_audio=True,
                     strict=False, skip_prep=False):
    """Writes the VoxCeleb manifests listed in the module docstring."""
    if skip_prep:
        return
    options = dict(data_folder=os.path.abspath(data_folder), verification_file=verification_file,
                   validation_file=validation_file, validate_audio=validate_audio,
                   vox2_folder=os.path.abspath(vox2_folder) if vox2_folder else None,
                   trial_lists=_digests(data_folder, (verification_file, validation_file)))
    outputs = [os.path.join(save_folder, f) for f in ("train.csv", "test.csv", "test_trials.txt")]
    if already_prepared(save_folder, "voxceleb", options, outputs):
        return
    wav_root = require_path(os.path.join(data_folder, "wav"), "the VoxCeleb1 wav/ folder")
    # Optional outputs of an earlier preparation go first: a stale val.csv would name validation speakers that the
    # new train.csv trains on, a stale vox2_train.csv would add a corpus no longer asked for.
    for stale in ("val.csv", "val_trials.txt", "vox2_train.csv", "iden_train.csv", "iden_dev.csv", "iden_test.csv"):
        if os.path.exists(os.path.join(save_folder, stale)):
            os.remove(os.path.join(save_folder, stale))
    rels = _scan(wav_root)
    rows = collect_rows([_entry(wav_root, r) for r in rels], save_folder, "voxceleb1",
                        validate=validate_audio, strict=strict)
    by_rel = {os.path.relpath(r["wav"], wav_root): r for r in rows}

    held_out = set()
    for name, trial_file in (("test", verification_file), ("val", validation_file)):
        path = os.path.join(data_folder, trial_file)
        if name == "val" and not os.path.exists(path):
            logger.warning("no validation trial list %s: model selection will have no held-out trials", path)
            continue
        trials = read_trials(path)
        missing = {r for _, a, b in trials for r in (a, b) if r not in by_rel}
        if missing:
            example = sorted(missing)[0]
            raise PrepareError(f"{path} refers to {len(missing)} files that are missing or unusable, "
                               f"e.g. {os.path.join(wav_root, example)} (files there but unusable are listed with "
                               f"the reason in {save_folder}/voxceleb1_failures.csv); restore those files, or use "
                               "a trial list without them")
        used = sorted({r for _, a, b in trials for r in (a, b)})
        held_out |= {r.split("/")[0] for r in used}
        write_csv(os.path.join(save_folder, f"{name}.csv"), [by_rel[r] for r in used], ["spk_id"])
        shutil.copyfile(path, os.path.join(save_folder, f"{name}_trials.txt"))

    write_csv(os.path.join(save_folder, "train.csv"),
              [r for rel, r in by_rel.items() if rel.split("/")[0] not in held_out], ["spk_id"])
    _write_identification(data_folder, save_folder, by_rel)
    if vox2_folder:
        require_path(vox2_folder, "the VoxCeleb2 dev wav folder (idXXXXX/<video>/<utt>.wav)")
        vox2 = collect_rows([_entry(vox2_folder, r) for r in _scan(vox2_folder)], save_folder,
                            "voxceleb2", validate=validate_audio, strict=strict)
        write_csv(os.path.join(save_folder, "vox2_train.csv"), vox2, ["spk_id"])
    save_options(save_folder, "voxceleb", options)


def _write_identification(data_folder, save_folder, by_rel):
    iden = os.path.join(data_folder, "iden_split.txt")
    if not os.path.exists(iden):
        logger.warning("no %s: identification manifests not written", iden)
        return
    splits = {"1": [], "2": [], "3": []}
    with open(iden, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[0] not in splits:
                raise PrepareError(f"{iden}:{n}: expected '<1|2|3> <idXXXXX/video/utt.wav>', got {line.strip()!r}")
            if parts[1] in by_rel:
                splits[parts[0]].append(by_rel[parts[1]])
            else:
                logger.warning("%s:%d: %s is missing or unusable, left out", iden, n, parts[1])
    for key, name in (("1", "train"), ("2", "dev"), ("3", "test")):
        write_csv(os.path.join(save_folder, f"iden_{name}.csv"), splits[key], ["spk_id"])
