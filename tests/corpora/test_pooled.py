"""The pooled pretraining manifest: every speech layout's training split, no test utterance, unique IDs."""

import os

import pytest

from corpora.manifest import read_csv, write_csv
from corpora.pooled import main, prepare_pooled
from corpora.preparation import PrepareError


@pytest.fixture(scope="module")
def layouts(prepared):
    return prepared[0]  # the tiny corpus in every layout (conftest.py)


def sources(out):
    return dict(train_csvs={"common_voice": str(out / "cv/train.csv"),
                            "librispeech": str(out / "ls/train-clean-100.csv"),
                            "voxceleb2": str(out / "vox/vox2_train.csv")},
                valid_csvs={"common_voice": str(out / "cv/dev.csv")})


def test_pools_every_training_split_and_no_test_speaker(layouts, tmp_path):
    prepare_pooled(tmp_path / "pooled", **sources(layouts))
    train = read_csv(tmp_path / "pooled/train.csv")
    parts = {k: read_csv(v) for k, v in sources(layouts)["train_csvs"].items()}
    assert [r["ID"] for r in train] == [r["ID"] for rows in parts.values() for r in rows]
    assert {r["wav"] for r in train} == {r["wav"] for rows in parts.values() for r in rows}
    assert {r["spk_id"].split("/")[0] for r in train} == set(parts)
    # no speaker of a downstream test split is heard in pretraining (the corpus' own test manifests)
    tests = [layouts / "ls/test-clean.csv", layouts / "vox/test.csv", layouts / "cv/test.csv"]
    test_speakers = {r["spk_id"] for path in tests for r in read_csv(path)}
    assert test_speakers and not test_speakers & {r["spk_id"].split("/", 1)[1] for r in train}
    assert [r["ID"] for r in read_csv(tmp_path / "pooled/dev.csv")] == \
        [r["ID"] for r in read_csv(layouts / "cv/dev.csv")]


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
        prepare_pooled(tmp_path / "a", train_csvs={"librispeech": str(layouts / "ls/test-clean.csv")},
                       valid_csvs=args["valid_csvs"], test_manifests=[layouts / "ls/test-clean.csv"])
    twice = dict(args["train_csvs"], again=args["train_csvs"]["librispeech"])
    with pytest.raises(PrepareError, match="is in .*train-clean-100.csv and in .*train-clean-100.csv"):
        prepare_pooled(tmp_path / "b", train_csvs=twice, valid_csvs=args["valid_csvs"])
    with pytest.raises(PrepareError, match="the voxceleb2 manifest .*nothing.csv is not there"):
        prepare_pooled(tmp_path / "c", train_csvs={"voxceleb2": str(tmp_path / "nothing.csv")},
                       valid_csvs=args["valid_csvs"])
    assert not (tmp_path / "b/train.csv").exists()


def test_the_command_pools_the_layouts_of_prepare_embedded(layouts, tmp_path, capsys):
    """`python -m corpora.pooled <prepared_root>` finds each layout in the folder prepare_embedded names it."""
    root = tmp_path / "prepared"
    for short, layout in (("cv", "common_voice"), ("ls", "librispeech"), ("vox", "voxceleb")):
        (root / layout).mkdir(parents=True)
        for csv in (layouts / short).glob("*.csv"):
            write_csv(root / layout / csv.name, read_csv(csv), ["spk_id"])
    main([str(root)])
    assert capsys.readouterr().out.strip() == str(root / "pooled" / "train.csv")
    parts = [read_csv(layouts / p) for p in ("cv/train.csv", "ls/train-clean-100.csv", "vox/vox2_train.csv")]
    assert [r["ID"] for r in read_csv(root / "pooled/train.csv")] == [r["ID"] for rows in parts for r in rows]
    (root / "voxceleb" / "vox2_train.csv").unlink()
    with pytest.raises(SystemExit, match="voxceleb2 manifest .*vox2_train.csv is not there"):
        main([str(root), "--save_folder", str(tmp_path / "other")])
