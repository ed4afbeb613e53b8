"""The pooled pretraining manifest: every speech layout's training split, no test utterance, unique IDs."""

import os

import pytest

from corpora.common_voice import prepare_common_voice
from corpora.librispeech import prepare_librispeech
from corpora.manifest import read_csv, write_csv
from corpora.pooled import prepare_pooled
from corpora.preparation import PrepareError
from corpora.voxceleb import prepare_voxceleb


@pytest.fixture(scope="module")
def layouts(tiny_corpus, tmp_path_factory):
    root, _ = tiny_corpus
    out = tmp_path_factory.mktemp("layouts")
    prepare_librispeech(root / "LibriSpeech", out / "librispeech")
    prepare_voxceleb(root / "VoxCeleb/vox1", out / "voxceleb", vox2_folder=root / "VoxCeleb/vox2/dev/wav")
    prepare_common_voice(root / "CommonVoice/en", out / "common_voice")
    return out


def sources(out):
    return dict(train_csvs={"common_voice": str(out / "common_voice/train.csv"),
                            "librispeech": str(out / "librispeech/train-clean-100.csv"),
                            "voxceleb2": str(out / "voxceleb/vox2_train.csv")},
                valid_csvs={"common_voice": str(out / "common_voice/dev.csv")})


def test_pools_every_training_split_and_no_test_speaker(layouts, tmp_path):
    prepare_pooled(tmp_path / "pooled", **sources(layouts))
    train = read_csv(tmp_path / "pooled/train.csv")
    parts = {k: read_csv(v) for k, v in sources(layouts)["train_csvs"].items()}
    assert [r["ID"] for r in train] == [r["ID"] for rows in parts.values() for r in rows]
    assert {r["wav"] for r in train} == {r["wav"] for rows in parts.values() for r in rows}
    assert {r["spk_id"].split("/")[0] for r in train} == set(parts)
    # no speaker of a downstream test split is heard in pretraining (the corpus' own test manifests)
    tests = [layouts / "librispeech/test-clean.csv", layouts / "voxceleb/test.csv", layouts / "common_voice/test.csv"]
    test_speakers = {r["spk_id"] for path in tests for r in read_csv(path)}
    assert test_speakers and not test_speakers & {r["spk_id"].split("/", 1)[1] for r in train}
    assert [r["ID"] for r in read_csv(tmp_path / "pooled/dev.csv")] == \
        [r["ID"] for r in read_csv(layouts / "common_voice/dev.csv")]


def test_reused_until_a_source_changes(layouts, tmp_path):
    args = sources(layouts)
    copy = tmp_path / "cv_train.csv"
    rows = read_csv(args["train_csvs"]["common_voice"])
    write_csv(copy, rows, ["spk_id"])
    args["train_csvs"]["common_voice"] = str(copy)
    prepare_pooled(tmp_path / "pooled", **args)
    stamp = os.stat(tmp_path / "pooled/train.csv").st_mtime_ns
    prepare_pooled(tmp_path / "pooled", **args)
    assert os.stat(tmp_path / "pooled/train.csv").st_mtime_ns == stamp
    write_csv(copy, rows[:-1], ["spk_id"])
    prepare_pooled(tmp_path / "pooled", **args)
    assert len(read_csv(tmp_path / "pooled/train.csv")) == sum(
        len(read_csv(p)) for p in args["train_csvs"].values())


def test_bad_sources_are_named(layouts, tmp_path):
    args = sources(layouts)
    with pytest.raises(PrepareError, match="test-clean.csv is a downstream test manifest"):
        prepare_pooled(tmp_path / "a", train_csvs={"librispeech": str(layouts / "librispeech/test-clean.csv")},
                       valid_csvs=args["valid_csvs"], test_manifests=[layouts / "librispeech/test-clean.csv"])
    twice = dict(args["train_csvs"], again=args["train_csvs"]["librispeech"])
    with pytest.raises(PrepareError, match="is in .*train-clean-100.csv and in .*train-clean-100.csv"):
        prepare_pooled(tmp_path / "b", train_csvs=twice, valid_csvs=args["valid_csvs"])
    with pytest.raises(PrepareError, match="the voxceleb2 manifest .*nothing.csv is not there"):
        prepare_pooled(tmp_path / "c", train_csvs={"voxceleb2": str(tmp_path / "nothing.csv")},
                       valid_csvs=args["valid_csvs"])
    assert not (tmp_path / "b/train.csv").exists()
