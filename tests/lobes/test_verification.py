"""Verification scoring (lobes.verification): hand-computed EER/minDCF, bootstrap CI, PLDA on planted speakers."""

import numpy as np
import pytest
import torch
from speechbrain.utils.metric_stats import EER, minDCF

from lobes.verification import (PLDAScorer, as_norm_scores, bootstrap_weights, cosine_scores, eer, eer_ci,
                                eer_difference_ci, error_rates, min_dcf, plot_det, summarize)

# 4 target and 4 non-target trials. Accepting scores > t (SpeechBrain's convention):
#   t = 0.2: miss 0/4, false alarm 1/4 (0.6)      t = 0.3: miss 1/4 (0.3), false alarm 1/4 -> EER 25 %
#   t = 0.6: miss 1/4, false alarm 0/4            t = 0.9: miss 4/4, false alarm 0/4
TARGETS = [0.9, 0.8, 0.7, 0.3]
NONTARGETS = [0.6, 0.2, 0.1, 0.0]
SCORES = np.array(TARGETS + NONTARGETS)
LABELS = np.array([1] * 4 + [0] * 4)


def test_eer_of_a_hand_computed_list():
    assert eer(SCORES, LABELS) == pytest.approx(25.0)
    assert eer(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 1, 0, 0])) == 0.0  # separable
    # targets [0.9, 0.5, 0.4, 0.35] / non-targets [0.6, 0.45, 0.2, 0.1]: at t = 0.4, misses 0.4 and 0.35
    # (2/4), false alarms 0.6 and 0.45 (2/4) -> 50 %
    assert eer(np.array([0.9, 0.5, 0.4, 0.35, 0.6, 0.45, 0.2, 0.1]), LABELS) == pytest.approx(50.0)


def test_min_dcf_of_a_hand_computed_list():
    # p_target 0.01: cost = 0.01 p_miss + 0.99 p_fa; the best is t = 0.6: 0.01 * 1/4 = 0.0025,
    # normalized by min(0.01, 0.99) -> 0.25.
    assert min_dcf(SCORES, LABELS, normalized=False) == pytest.approx(0.0025)
    assert min_dcf(SCORES, LABELS) == pytest.approx(0.25)
    # p_target 0.5: 0.5 (p_miss + p_fa), best 0.5 * 1/4 (t = 0.2 or 0.6) -> normalized by 0.5: 0.25
    assert min_dcf(SCORES, LABELS, p_target=0.5, normalized=False) == pytest.approx(0.125)
    # c_miss 10 at p_target 0.01: t = 0.2 costs 0.99 / 4 = 0.2475, t = 0.6 costs 0.1 / 4 = 0.025
    assert min_dcf(SCORES, LABELS, c_miss=10.0, normalized=False) == pytest.approx(0.025)


@pytest.mark.parametrize("seed", range(4))
def test_sorted_rates_agree_with_speechbrain_metrics(seed):
    rng = np.random.default_rng(seed)
    labels = rng.random(400) < 0.2
    scores = rng.normal(size=400) + 1.2 * labels
    if seed % 2:
        scores = np.round(scores, 1)  # many ties
    pos, neg = torch.from_numpy(scores[labels]), torch.from_numpy(scores[~labels])
    for p_target in (0.01, 0.05):
        expected, _ = minDCF(pos, neg, p_target=p_target)
        assert min_dcf(scores, labels, p_target=p_target, normalized=False) == pytest.approx(expected, rel=1e-5)
    sb_eer, _ = EER(pos, neg)
    assert eer(scores, labels) == pytest.approx(100 * sb_eer)
    # the bootstrap's own EER (from the sorted rates) is the same number when every weight is 1
    p_miss, p_fa = error_rates(scores, labels)
    best = np.argmin(np.abs(p_fa - p_miss))
    assert 50 * (p_miss[best] + p_fa[best]) == pytest.approx(100 * sb_eer, abs=1e-4)


def test_weights_count_like_repeated_trials():
    weights = np.array([2, 1, 1, 3, 1, 1, 2, 1])
    repeated = np.repeat(np.arange(8), weights)
    for weighted, plain in zip(error_rates(SCORES, LABELS, weights), error_rates(SCORES[repeated], LABELS[repeated])):
        np.testing.assert_allclose(weighted, plain)


def speaker_trials(num_speakers, utts=6, separation=2.0, seed=0):
    """All pairs of `utts` utterances per speaker; target scores N(separation, 1), non-target N(0, 1)."""
    rng = np.random.default_rng(seed)
    spk = np.repeat(np.arange(num_speakers), utts)
    a, b = np.triu_indices(spk.size, k=1)
    labels = (spk[a] == spk[b]).astype(int)
    scores = rng.normal(size=labels.size) + separation * labels
    return scores, labels, spk[a], spk[b]


@pytest.mark.parametrize("by_speaker", [True, False])
def test_ci_contains_the_eer_and_shrinks_with_more_trials(by_speaker):
    widths = []
    for num_speakers in (6, 30):
        scores, labels, enrol, test = speaker_trials(num_speakers, utts=4, seed=num_speakers)
        spk = (enrol, test) if by_speaker else (None, None)
        low, high = eer_ci(scores, labels, *spk, num_resamples=200, seed=1)
        assert low <= eer(scores, labels) <= high
        widths.append(high - low)
    assert widths[1] < 0.6 * widths[0]  # 25x the trials: the width falls roughly 5x


def test_ci_is_reproducible_for_a_seed():
    scores, labels, enrol, test = speaker_trials(10)
    assert eer_ci(scores, labels, enrol, test, 200, seed=3) == eer_ci(scores, labels, enrol, test, 200, seed=3)
    summary = summarize(scores, labels, enrol, test, 200)
    assert summary["eer_ci95"][0] <= summary["eer"] <= summary["eer_ci95"][1]


def test_paired_difference_agrees_with_speechbrain_on_materialized_resamples():
    # each resample written out as a trial list (every trial repeated as often as it was drawn) and scored with
    # SpeechBrain's EER for both systems: the percentiles of those differences are the interval
    scores_a, labels, enrol, test = speaker_trials(5, utts=4, seed=7)
    scores_b = scores_a + np.random.default_rng(8).normal(scale=0.7, size=scores_a.size)
    differences = []
    for w in bootstrap_weights(60, labels, enrol, test, seed=2):
        kept = np.repeat(np.arange(labels.size), w)
        target = labels[kept].astype(bool)
        if target.all() or not target.any():
            continue
        sb = [EER(torch.from_numpy(s[kept][target]), torch.from_numpy(s[kept][~target]))[0]
              for s in (scores_a, scores_b)]
        differences.append(100 * (sb[0] - sb[1]))
    difference, interval = eer_difference_ci(scores_a, scores_b, labels, enrol, test, num_resamples=60, seed=2)
    assert difference == pytest.approx(eer(scores_a, labels) - eer(scores_b, labels))
    np.testing.assert_allclose(interval, np.percentile(differences, [2.5, 97.5]), atol=1e-4)


def test_paired_difference_of_a_planted_better_system():
    scores, labels, enrol, test = speaker_trials(30, utts=4, separation=1.0, seed=3)
    better = scores + 1.5 * labels  # every target trial raised: a lower EER on any resample
    difference, (lo, hi) = eer_difference_ci(scores, better, labels, enrol, test, num_resamples=300, seed=1)
    assert 0 < lo <= difference <= hi
    reverse, (r_lo, r_hi) = eer_difference_ci(better, scores, labels, enrol, test, num_resamples=300, seed=1)
    assert reverse == pytest.approx(-difference) and [r_lo, r_hi] == pytest.approx([-hi, -lo])
    assert eer_difference_ci(scores, scores, labels, enrol, test, num_resamples=50) == (0.0, [0.0, 0.0])
    with pytest.raises(ValueError, match="must be two vectors of one length"):
        eer_difference_ci(scores, better[:-1], labels, enrol, test)


def test_cosine_scores_by_hand():
    emb = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    np.testing.assert_allclose(cosine_scores(emb, [0, 0, 1], [1, 2, 2]), [0.0, 2 ** -0.5, 2 ** -0.5])


def planted_embeddings(num_speakers, utts, dim=16, nuisance=3.0, seed=0):
    """Speaker centres N(0, I); within-speaker noise 0.3 plus a strong shared nuisance on 4 dimensions."""
    rng = np.random.default_rng(seed)
    spk = np.repeat(np.arange(num_speakers), utts)
    noise = 0.3 * rng.normal(size=(spk.size, dim))
    noise[:, :4] *= nuisance / 0.3
    return rng.normal(size=(num_speakers, dim))[spk] + noise, spk


def test_plda_separates_planted_speakers():
    train, train_spk = planted_embeddings(40, 10, seed=0)
    test, test_spk = planted_embeddings(12, 6, seed=1)
    enrol, probe = np.triu_indices(test_spk.size, k=1)
    labels = (test_spk[enrol] == test_spk[probe]).astype(int)
    plda = PLDAScorer(rank_f=10).fit(train, train_spk).score(test, enrol, probe)
    assert plda.shape == labels.shape
    assert eer(plda, labels) < 15.0  # chance is 50 %
    # the nuisance dimensions dominate the cosine; PLDA learns they carry no speaker information
    assert eer(plda, labels) < eer(cosine_scores(test, enrol, probe), labels)


def test_plda_rejects_too_few_embeddings():
    emb, spk = planted_embeddings(3, 2, dim=16)
    with pytest.raises(ValueError, match="more embeddings than dimensions"):
        PLDAScorer().fit(emb, spk)


def test_det_plot_is_written(tmp_path):
    path = plot_det({"a": SCORES, "b": SCORES[::-1]}, LABELS, str(tmp_path / "det.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_as_norm_by_hand():
    emb = np.array([[1.0, 0.0], [0.6, 0.8]])
    cohort = np.array([[0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    got = as_norm_scores(emb, np.array([0]), np.array([1]), cohort, top_k=2)
    # utterance 0 against the cohort: 0, 0.7071, -1 -> top 2: 0.7071, 0; utterance 1: 0.8, 0.9899, -0.6 -> 0.9899, 0.8
    m0, s0 = (0.70710678 + 0) / 2, 0.70710678 / 2
    m1, s1 = (0.98994949 + 0.8) / 2, (0.98994949 - 0.8) / 2
    raw = 0.6
    assert got[0] == pytest.approx(0.5 * ((raw - m0) / s0 + (raw - m1) / s1), rel=1e-6)


def test_as_norm_removes_a_per_utterance_offset():
    """Planted: every utterance also carries a shared channel direction of random strength, which makes strong-channel
    utterances look alike whoever speaks; normalizing by the cohort (with channels of its own) removes most of it."""
    rng = np.random.default_rng(0)
    dim, speakers, per = 32, 20, 6
    voices = rng.standard_normal((speakers, dim))
    channel = rng.standard_normal(dim) * 3

    def utterances(n_speakers, voice_matrix):
        spk = np.repeat(np.arange(n_speakers), per)
        strength = rng.uniform(0, 1.5, spk.size)[:, None]
        return voice_matrix[spk] + 0.5 * rng.standard_normal((spk.size, dim)) + strength * channel, spk

    emb, spk = utterances(speakers, voices)
    cohort, _ = utterances(30, rng.standard_normal((30, dim)))
    enrol, test = np.triu_indices(spk.size, k=1)
    labels = (spk[enrol] == spk[test]).astype(int)
    raw = eer(cosine_scores(emb, enrol, test), labels)
    normed = eer(as_norm_scores(emb, enrol, test, cohort, top_k=50), labels)
    assert normed < 0.75 * raw, (raw, normed)  # 29.0 -> 17.7 % with this seed
