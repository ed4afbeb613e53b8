"""Interpolated Kneser-Ney: hand-computed probabilities on a toy corpus, and proper distributions."""

import math

import pytest

from lobes.ngram import EOS, KneserNeyLM

# Bigram counts of  <s> a b </s> / <s> a c </s> / <s> b c </s>:  (a b) 1, (a c) 1, (b c) 1, (b </s>) 1, ...
# Unigram continuation counts: a 1 (only after <s>), b 2 (after a, <s>), c 2 (after a, b), </s> 2 (after b, c); sum 7.
TOY = [["a", "b"], ["a", "c"], ["b", "c"]]


def test_hand_computed_bigram_probabilities():
    lm = KneserNeyLM(TOY, order=2, discount=0.5)
    p_c = (2 - 0.5) / 7 + 0.5 * 4 / 7 * (1 / 4)  # continuation unigram, interpolated with uniform over 4 words
    assert p_c == pytest.approx(2 / 7)
    assert lm.prob(["a"], "c") == pytest.approx((1 - 0.5) / 2 + 0.5 * 2 / 2 * p_c)
    assert lm.prob(["b"], "a") == pytest.approx(0.5 * 2 / 2 * (1 / 7))  # unseen bigram: all from the backoff
    assert lm.prob([], "a") == pytest.approx((2 - 0.5) / 3 + 0.5 * 2 / 3 * (1 / 7))  # after <s>: raw counts a 2, b 1
    assert lm.prob(["c"], "c") == pytest.approx(0.5 * 1 / 2 * p_c)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_context_gives_a_distribution(order):
    sentences = [s.split() for s in ["the cat sat", "the dog sat down", "a cat ran", "the cat ran down the road"]]
    lm = KneserNeyLM(sentences, order=order, discount=0.7)
    for context in [[], ["the"], ["the", "cat"], ["road", "the"], ["unseen", "words"], ["cat", "sat", "down"]]:
        total = sum(lm.prob(context, w) for w in lm.vocab)
        assert total == pytest.approx(1.0, abs=1e-12), context
    # seen continuations are more likely than unseen ones, and log_prob is the natural log
    assert lm.prob(["the"], "cat") > lm.prob(["the"], "sat")
    assert lm.log_prob(["sat"], EOS) == pytest.approx(math.log(lm.prob(["sat"], EOS)))


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="discount"):
        KneserNeyLM(TOY, discount=1.5)
    with pytest.raises(ValueError, match="no words"):
        KneserNeyLM([[]])
