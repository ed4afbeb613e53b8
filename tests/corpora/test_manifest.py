"""Reading manifests: a malformed CSV is refused with its path and what is wrong."""

import pytest

from corpora.manifest import read_csv, write_csv


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
