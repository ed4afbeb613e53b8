"""The extraction's worker processes: one that dies (OpenSMILE is native code) must end the shard with an error
that says how to resume, not leave it waiting for the dead process's utterances forever."""

import os

import numpy as np
import pytest
import soundfile as sf

import labellers.lld_extraction as lld_extraction


def _dies(job):
    os._exit(1)


def test_a_dead_extraction_process_is_an_error_not_a_hang(tmp_path, monkeypatch):
    rows = []
    for k in range(4):
        path = tmp_path / f"tone{k}.wav"
        t = np.arange(16000) / 16000
        sf.write(path, (0.3 * np.sin(2 * np.pi * (150 + 40 * k) * t)).astype(np.float32), 16000)
        rows.append({"ID": f"tone{k}", "wav": str(path)})
    monkeypatch.setattr(lld_extraction, "_extract_one", _dies)  # looked up by name in the worker processes
    with pytest.raises(RuntimeError, match="process died in shard 0/1.*run the same command again"):
        lld_extraction.extract_shard(rows, {r["ID"] for r in rows}, str(tmp_path / "lld"), ["torch"],
                                     num_workers=2)
