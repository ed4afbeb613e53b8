"""Bad input to the recipes' start-up: each run must stop with the name and the fix BEFORE any training (no
checkpoint, no epoch in the log). The scripts' main() runs in this process (no interpreter start per case)."""

import os
import shutil

import pytest

from bad_input_support import ROOT, Case, assert_clear_error, cases_for, no_training_happened, shared_include
from corpora.common_voice import prepare_common_voice
from corpora.manifest import read_csv, write_csv
from corpora.voxceleb import prepare_voxceleb
from labellers.lld_extraction import extract_shard, reduce_shards

PRETRAIN = "recipes/MultitaskSSL/train.py"
SPEAKER_ID = "recipes/Downstream/SpeakerID/train.py"
ALPHARATIO = os.path.join(ROOT, "recipes", "MultitaskSSL", "hparams", "pretrain_alpharatio.yaml")
SPEAKER_ID_YAML = os.path.join(ROOT, "recipes", "Downstream", "SpeakerID", "hparams", "speaker_id.yaml")


@pytest.fixture(scope="module")
def pretraining_inputs(tiny_corpus, tmp_path_factory):
    """(base folder, train.py arguments): the tiny Common Voice manifests and pseudo-labels of a few clips."""
    base = tmp_path_factory.mktemp("bad_pretrain")
    prepare_common_voice(tiny_corpus[0] / "CommonVoice" / "en", base / "prep", splits=("train", "dev"))
    rows = read_csv(base / "prep" / "train.csv")[:3]
    extract_shard(rows, {r["ID"] for r in rows}, str(base / "lld"), ["torch"])
    reduce_shards(str(base / "lld"), 1)
    return base, {"--lld_folder": base / "lld", "--skip_prep": "True", "--train_csv": base / "prep" / "train.csv",
                  "--valid_csv": base / "prep" / "dev.csv", "--noise_rir_folder": base / "noise_rir",
                  "--number_of_epochs": "1"}


def _renamed_key(text, _):
    return text.replace("ckpt_save_interval:", "ckpt_save_intervall:"), [], ["`ckpt_save_interval`"]


def _unknown_override(text, _):
    return text, ["--ckpt_save_intervall", "2"], ["`ckpt_save_intervall`"]


def _misspelled_entry_key(text, _):
    return text.replace("            weight: 1.0", "            wieght: 1.0"), [], ["'alpharatio'", "'wieght'"]


def _no_labeller(text, _):
    text = text.replace("            labeller: !ref <alpharatio_labeller>\n", "")
    return text.replace("alpharatio_labeller:", "alpharatio_target:"), [], ["'alpharatio'"]


def _unknown_labeller(text, _):
    return text.replace("    name: alpharatio\n", "    name: alpharatoi\n"), [], ["'alpharatoi'"]


def _wrong_section(text, _):
    return text.replace("workers_config:\n    regressor:", "workers_config:\n    classifier:"), [], ["'alpharatio'"]


def _missing_valid_file(text, base):
    rows = read_csv(base / "prep" / "dev.csv")
    rows[1]["wav"] = str(base / "gone" / os.path.basename(rows[1]["wav"]))
    write_csv(base / "dev_gone.csv", rows, [k for k in rows[0] if k not in ("ID", "duration", "wav")])
    return text, ["--valid_csv", base / "dev_gone.csv"], [base / "dev_gone.csv", rows[1]["wav"]]


def _not_a_pseudo_label_folder(text, base):
    os.makedirs(base / "empty_lld", exist_ok=True)
    return text, ["--lld_folder", base / "empty_lld"], [base / "empty_lld" / "features.json"]


PRETRAINING = [
    Case("key renamed in the YAML (ckpt_save_intervall)", "MultitaskSSL/train.py", "error",
         r"it has `ckpt_save_intervall`.*restore them in the YAML", dict(edit=_renamed_key)),
    Case("override of a key the YAML lacks", "MultitaskSSL/train.py", "error",
         r"did you mean `ckpt_save_interval`", dict(edit=_unknown_override)),
    Case("unknown key in a worker entry (wieght)", "MultitaskSSL/train.py", "error", r"an entry takes .*'weight'",
         dict(edit=_misspelled_entry_key)),
    Case("worker without a labeller", "MultitaskSSL/train.py", "error",
         r"add a top-level `alpharatio_labeller:` key", dict(edit=_no_labeller)),
    Case("unknown labeller name", "MultitaskSSL/train.py", "error", r"Did you mean 'alpharatio'",
         dict(edit=_unknown_labeller)),
    Case("regression labeller under classifier", "MultitaskSSL/train.py", "error",
         r"move the worker or change `alpharatio_labeller`", dict(edit=_wrong_section)),
    Case("valid manifest row of a missing file", "MultitaskSSL/train.py", "error",
         r"restore them or prepare the manifest again", dict(edit=_missing_valid_file)),
    Case("lld_folder without pseudo-labels", "MultitaskSSL/train.py", "error",
         r"run `python extract.py hparams/extract.yaml`", dict(edit=_not_a_pseudo_label_folder)),
]


@pytest.mark.parametrize(**cases_for(PRETRAINING))
def test_pretraining_start_up(case, pretraining_inputs, run_recipe, tmp_path):
    base, args = pretraining_inputs
    text, extra, names = case.data["edit"](open(ALPHARATIO).read(), base)
    args = {**args, **dict(zip(extra[::2], extra[1::2]))}  # a case's own value replaces the default one
    yaml = tmp_path / "pretrain.yaml"
    yaml.write_text(shared_include(text))
    out = tmp_path / "run"
    with pytest.raises(Exception) as caught:
        run_recipe(PRETRAIN, [yaml, "--output_folder", out, *(x for item in args.items() for x in item)])
    assert_clear_error(caught.value, names, case.fix)
    assert no_training_happened(out)


@pytest.fixture(scope="module")
def speaker_id_layout(tiny_corpus, tmp_path_factory):
    base = tmp_path_factory.mktemp("bad_sid")
    shutil.copytree(tiny_corpus[0] / "VoxCeleb" / "vox1", base / "vox1")
    prepare_voxceleb(base / "vox1", base / "prep")
    return base


def _dev_file_gone(base, tmp_path):
    """The layout is shared by the module's cases: the file is moved away and put back after the run."""
    gone = read_csv(base / "prep" / "iden_dev.csv")[0]["wav"]
    shutil.move(gone, tmp_path / "gone.wav")
    return [], [base / "prep" / "iden_dev.csv", gone], lambda: shutil.move(tmp_path / "gone.wav", gone)


def _misspelled_encoder(base, tmp_path):
    return ["--encoder", "pretrainde:/some/folder"], ["'pretrainde:/some/folder'"]


def _empty_encoder_folder(base, tmp_path):
    os.makedirs(tmp_path / "encoder")
    return ["--encoder", f"pretrained:{tmp_path / 'encoder'}"], [tmp_path / "encoder" / "hyperparams.yaml"]


SPEAKER_ID_CASES = [
    Case("encoder spec of an unknown kind", "SpeakerID/train.py", "error", r"expected one of fbank, mfcc",
         dict(edit=_misspelled_encoder)),
    Case("encoder folder without its files", "SpeakerID/train.py", "error",
         r"as written by recipes/MultitaskSSL/train.py", dict(edit=_empty_encoder_folder)),
    Case("dev audio file deleted after prepare", "SpeakerID/train.py", "error",
         r"restore them or prepare the manifest again", dict(edit=_dev_file_gone)),
]


@pytest.mark.parametrize(**cases_for(SPEAKER_ID_CASES))
def test_speaker_id_start_up(case, speaker_id_layout, run_recipe, tmp_path):
    base = speaker_id_layout
    extra, names, *put_back = case.data["edit"](base, tmp_path)
    out = tmp_path / "run"
    try:
        with pytest.raises(Exception) as caught:
            run_recipe(SPEAKER_ID, [SPEAKER_ID_YAML, "--data_folder", base / "vox1", "--prepare_folder",
                                    base / "prep", "--output_folder", out, "--number_of_epochs", "1", "--batch_size",
                                    "8", *extra])
    finally:
        for undo in put_back:
            undo()
    assert_clear_error(caught.value, names, case.fix)
    assert no_training_happened(out)
