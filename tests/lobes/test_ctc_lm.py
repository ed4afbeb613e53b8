"""Lexicon + n-gram CTC decoding on planted emissions, with a real character SentencePiece model."""

import types

import pytest
import sentencepiece as spm
import torch

from lobes.ctc_lm import LexiconLMDecoder

SENTENCES = ["THE CAT SAT", "THE CAT SAT DOWN", "THE DOG RAN", "A DOG RAN DOWN", "THE CAT RAN"] * 4


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("sp") / "char"
    # as the recipe's SpeechBrain wrapper trains it: id 0 = <unk> (the CTC blank), no <s> / </s>
    spm.SentencePieceTrainer.train(sentence_iterator=iter(SENTENCES), model_prefix=str(prefix), model_type="char",
                                   vocab_size=14, character_coverage=1.0, bos_id=-1, eos_id=-1, unk_id=0,
                                   minloglevel=2)
    return types.SimpleNamespace(sp=spm.SentencePieceProcessor(model_file=f"{prefix}.model"))


def _emissions(tokenizer, frames):
    """Log-probabilities [1, T, V]: each frame a {piece: probability} dict (the rest shares 1e-3), blanks between."""
    vocab = tokenizer.sp.vocab_size()
    rows = []
    for frame in frames:
        for dist in (frame, {"<unk>": 1.0}):
            row = torch.full((vocab,), 1e-3)
            for piece, p in dist.items():
                row[tokenizer.sp.piece_to_id(piece)] = p
            rows.append(row / row.sum())
    return torch.log(torch.stack(rows)).unsqueeze(0)


def _spelled(text):
    return [{"▁": 1.0}] + [{c: 1.0} if c != " " else {"▁": 1.0} for c in text]


def test_a_misspelling_is_snapped_to_the_lexicon(tokenizer, tmp_path):
    decoder = LexiconLMDecoder(SENTENCES, tokenizer, str(tmp_path), order=2, lm_weight=0.0)
    log_probs = _emissions(tokenizer, _spelled("THE CAT SAR"))  # greedy reads "SAR", not a training word
    assert decoder(log_probs, torch.ones(1)) == ["THE CAT SAT"]
    lexicon = (tmp_path / "lexicon.txt").read_text().splitlines()
    assert "CAT C A T" in lexicon and len(lexicon) == 7  # THE CAT SAT DOWN DOG RAN A, spelled without the boundary


def test_the_language_model_settles_what_the_acoustics_leave_open(tokenizer, tmp_path):
    # the third word sounds a little more like `heard` than like `meant`: S/R, then A, then T/N
    def sentence(start, heard):
        s_or_r, t_or_n = {"S": 0.45, "R": 0.45, heard[0]: 0.55}, {"T": 0.45, "N": 0.45, heard[2]: 0.55}
        return _emissions(tokenizer, _spelled(start) + [{"▁": 1.0}, s_or_r, {"A": 1.0}, t_or_n])

    for lm_weight, dog, cat in [(0.0, "SAT", "RAN"), (1.0, "RAN", "SAT")]:  # without, then with the LM
        decoder = LexiconLMDecoder(SENTENCES, tokenizer, str(tmp_path), order=2, lm_weight=lm_weight)
        assert decoder(sentence("THE DOG", heard="SAT"), torch.ones(1)) == [f"THE DOG {dog}"]  # no "DOG SAT" seen
        assert decoder(sentence("THE CAT", heard="RAN"), torch.ones(1)) == [f"THE CAT {cat}"]  # 8 SAT, 4 RAN


def test_relative_lengths_cut_the_padding(tokenizer, tmp_path):
    decoder = LexiconLMDecoder(SENTENCES, tokenizer, str(tmp_path), order=2, lm_weight=0.5)
    short, long = _emissions(tokenizer, _spelled("A DOG")), _emissions(tokenizer, _spelled("THE DOG RAN DOWN"))
    padded = torch.cat([torch.cat([short, long[:, short.shape[1]:]], dim=1), long])  # padding spells "RAN DOWN"
    assert decoder(padded, torch.tensor([short.shape[1] / long.shape[1], 1.0])) == ["A DOG", "THE DOG RAN DOWN"]


def test_a_tokenizer_without_word_boundaries_is_refused(tmp_path):
    pieces = ["<unk>", "A", "B"]  # e.g. a model trained with split_by_whitespace off: no "▁" piece
    sp = types.SimpleNamespace(vocab_size=lambda: len(pieces), id_to_piece=lambda i: pieces[i])
    with pytest.raises(ValueError, match="no '▁' piece"):
        LexiconLMDecoder(["A B"], types.SimpleNamespace(sp=sp), str(tmp_path))
