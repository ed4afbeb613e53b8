"""The tiny corpus is speaker-discriminative and its keywords are recognisable.

Thresholds measured on the tiny corpus (seed 0): speaker identification 0.90
(chance 0.067), Speech Commands words 0.40 (chance 0.029), asserted with margin.
"""

from corpora.manifest import read_csv
from corpora.sanity import nearest_centroid_accuracy
from corpora.speech_commands import prepare_speech_commands
from corpora.voxceleb import prepare_voxceleb


def test_speakers_are_identified_well_above_chance(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    prepare_voxceleb(root / "VoxCeleb/vox1", tmp_path)
    acc, chance = nearest_centroid_accuracy(read_csv(tmp_path / "iden_train.csv"),
                                            read_csv(tmp_path / "iden_test.csv"), "spk_id")
    assert chance < 0.1 and acc >= 0.7


def test_keywords_are_recognised_well_above_chance(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    prepare_speech_commands(root / "speech_commands_v0.02", tmp_path)
    test = read_csv(tmp_path / "valid.csv") + read_csv(tmp_path / "test.csv")
    acc, chance = nearest_centroid_accuracy(read_csv(tmp_path / "train.csv"), test, "command",
                                            segments=4)
    assert chance < 0.03 and acc >= 0.25
