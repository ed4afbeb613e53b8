"""Bad input to the pseudo-label extraction (labellers.lld_extraction, what recipes/PseudoLabels/extract.py runs):
a manifest of the tiny Common Voice training split, with rows whose audio went bad after prepare (or a manifest
made by hand). One extraction with the torch descriptors, in this process; each case checks its own row."""

import os
import re

import numpy as np
import pytest
import soundfile as sf

from bad_input_support import Case, cases_for, read_failures, rewrite
from corpora.common_voice import prepare_common_voice
from corpora.manifest import read_csv
from labellers.lld_extraction import extract_shard, reduce_shards
from labellers.lld_store import LLDStore

EXTRACTION = [
    Case("manifest row of a missing file", "lld_extraction", "skip", r"file not found", dict(damage="missing")),
    Case("zero-byte file", "lld_extraction", "skip", r"unreadable audio", dict(damage="zero-byte")),
    Case("file cut after prepare", "lld_extraction", "skip", r"truncated|where the manifest says",
         dict(damage="cut")),
    Case("file replaced by a shorter one", "lld_extraction", "skip", r"where the manifest says.*prepare it again",
         dict(damage="shorter")),
    Case("NaN samples", "lld_extraction", "skip", r"non-finite", dict(damage="nan")),
    Case("all-zero audio", "lld_extraction", "skip", r"digital silence", dict(damage="zeros")),
    Case("a clip of 30 ms", "lld_extraction", "skip", r"no frames .*shorter than 60 ms", dict(damage="30ms")),
    Case("stereo audio", "lld_extraction", "handled", data=dict(damage="stereo")),
    Case("48 kHz audio", "lld_extraction", "handled", data=dict(damage="48kHz")),
]


def _damage(row, damage, folder):
    """The row's audio as a damaged WAV copy in `folder` (the manifest keeps its duration)."""
    path = os.path.join(folder, f"{row['ID']}.wav")
    data, rate = sf.read(row["wav"], dtype="float32")
    if damage == "missing":
        return path
    if damage == "shorter":
        data = data[: len(data) // 2]
    if damage == "30ms":
        data = data[len(data) // 2: len(data) // 2 + 480]
    sf.write(path, data, rate)
    if damage not in ("shorter", "30ms"):
        rewrite(path, damage)
    return path


@pytest.fixture(scope="module")
def extracted(tiny_corpus, tmp_path_factory):
    base = tmp_path_factory.mktemp("bad_lld")
    prepare_common_voice(tiny_corpus[0] / "CommonVoice" / "en", base / "prep", splits=("train",))
    rows = read_csv(base / "prep" / "train.csv")[: len(EXTRACTION) + 3]  # three intact rows beside the bad ones
    os.makedirs(base / "audio")
    bad = {}
    for case, row in zip(EXTRACTION, rows):
        original = dict(row)
        if case.data["damage"] == "30ms":
            row["duration"] = 0.03  # a hand-made manifest that agrees with the file
        row["wav"] = _damage(row, case.data["damage"], base / "audio")
        bad[case] = (row, original)
    reference = base / "reference"  # the intact clips of the handled cases, extracted alone
    handled = [original for case, (_, original) in bad.items() if case.kind == "handled"]
    extract_shard(handled, {r["ID"] for r in handled}, str(reference), ["torch"])
    out = base / "out"
    extract_shard(rows, {r["ID"] for r in rows}, str(out), ["torch"])
    summary = reduce_shards(str(out), 1)
    reduce_shards(str(reference), 1)
    return bad, rows, out, reference, summary


@pytest.mark.parametrize(**cases_for(EXTRACTION))
def test_lld_extraction(case, extracted):
    bad, rows, out, reference, summary = extracted
    row, original = bad[case]
    store = LLDStore(str(out))
    if case.kind == "skip":
        reasons = read_failures(out / "failures.csv")
        assert re.search(case.fix, reasons[os.path.abspath(row["wav"])]), reasons  # listed with its reason
        assert not os.path.exists(out / "lld" / f"{row['ID']}.npy")  # no track
        usable = [r for r in rows if os.path.exists(out / "lld" / f"{r['ID']}.npy")]
        # the statistics are those of the extracted training tracks only
        assert summary["train_frames"] == sum(len(store.load(r["ID"])) for r in usable)
        assert summary["utterances"] == len(usable) == len(rows) - sum(c.kind == "skip" for c in EXTRACTION)
        return
    # the same descriptors as the intact 16 kHz mono clip (both normalized with their own statistics, so compared
    # through their correlation, column by column, on the frames both have)
    got, want = store.load(row["ID"]).astype(np.float64), LLDStore(str(reference)).load(row["ID"]).astype(np.float64)
    assert abs(len(got) - len(want)) <= 1 and abs(len(got) - 100 * row["duration"]) <= 8
    n = min(len(got), len(want))
    varying = [k for k in range(got.shape[1]) if want[:n, k].std() > 1e-3 and got[:n, k].std() > 1e-3]
    corr = [np.corrcoef(got[:n, k], want[:n, k])[0, 1] for k in varying]
    assert len(varying) > got.shape[1] // 2 and np.median(corr) > 0.95, sorted(corr)[:5]

