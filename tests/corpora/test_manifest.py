"""Reading manifests: a malformed CSV is refused with its path and what is wrong."""

import pytest

from corpora.manifest import check_audio_files, read_csv, write_csv


def test_a_manifest_round_trips(tmp_path):
    rows = [{"ID": "a", "duration": 1.5, "wav": "/x/a.wav", "spk_id": "s1"},
            {"ID": "b", "duration": 2.0, "wav": "/x/b.wav", "spk_id": "s2"}]
    write_csv(tmp_path / "m.csv", rows, ["spk_id"])
    assert read_csv(tmp_path / "m.csv") == rows


@pytest.mark.parametrize("text, message", [
    ("ID,wav\na,/x/a.wav\n", r"m\.csv: a manifest needs the columns.*missing \['duration'\]"),
    ("id,duration,path\na,1.0,/x/a.wav\n", r"missing \['ID', 'wav'\]"),
    ("ID,duration,wav\na,1.0,/x/a.wav\nb,long,/x/b.wav\n", r"m\.csv, line 3: duration 'long' of 'b'"),
    ("ID,duration,wav\na,1.0,/x/a.wav\na,2.0,/x/a2.wav\n", r"m\.csv, line 3: ID 'a' is there twice"),
])
def test_a_malformed_manifest_is_named(tmp_path, text, message):
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(ValueError, match=message):
        read_csv(tmp_path / "m.csv")


def test_missing_audio_files_are_found_before_training(tmp_path):
    present = tmp_path / "a.wav"
    present.write_bytes(b"RIFF")
    rows = [{"ID": "a", "duration": 1.0, "wav": str(present)}, {"ID": "b", "duration": 1.0, "wav": str(tmp_path / "b.wav")}]
    write_csv(tmp_path / "ok.csv", rows[:1])
    write_csv(tmp_path / "valid.csv", rows)
    check_audio_files(tmp_path / "ok.csv")
    with pytest.raises(FileNotFoundError, match=r"valid\.csv: 1 audio files do not exist, e\.g\. \['.*b\.wav'\]"):
        check_audio_files(tmp_path / "ok.csv", tmp_path / "valid.csv")
