"""Speaker-verification scoring: cosine and PLDA scores, EER, minDCF, bootstrap CI, DET curve.

A trial list is `labels [N]` (1 target, 0 non-target) with `enrol [N]` and `test [N]` indices
into one embedding matrix `[M, D]`. Scores are higher for "same speaker".

- `cosine_scores`: cosine similarity of the L2-normalized embeddings; `as_norm_scores`: the same with adaptive
  symmetric score normalization against a cohort of training embeddings;
- `PLDAScorer`: SpeechBrain's PLDA (`speechbrain.processing.PLDA_LDA`), trained on training
  embeddings with speaker labels (centred and length-normalized first, as is usual for
  x-vectors), scored with its `Ndx` / `fast_PLDA_scoring`;
- `eer`: SpeechBrain's `EER` rule (in %); `min_dcf`: SpeechBrain's `minDCF` criterion, normalized (NIST)
  unless asked otherwise; both from one sort of the scores (SpeechBrain's own loop over every threshold, or
  build a thresholds x trials matrix, 3 GB at 18k trials);
- `eer_ci`: a percentile bootstrap interval of the EER, resampling speakers (default; the
  trials of one speaker are correlated) or trials, every resample one weighted pass; `eer_difference_ci` the same
  for the difference of two systems on one trial list, both weighted by the same resamples (paired);
- `plot_det`: DET curves on probit axes.

Example
-------
>>> labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
>>> scores = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.1, 0.0])
>>> eer(scores, labels)
25.0
"""

import numpy as np
from scipy.stats import norm
from speechbrain.processing.PLDA_LDA import PLDA, Ndx, StatObject_SB, fast_PLDA_scoring


def _split(scores, labels):
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must be two vectors of one length")
    if labels.all() or not labels.any():
        raise ValueError("a trial list needs target (1) and non-target (0) trials")
    return scores, labels


def error_rates(scores, labels, weights=None):
    """Miss and false-alarm rates at every distinct score used as threshold (accept if score > t).

    scores, labels: [N]; weights: [N] or [B, N] trial weights (bootstrap counts), None = 1.
    Returns (p_miss, p_fa), each [K] or [B, K] for the K distinct scores, thresholds ascending:
    p_miss(t) = P(target score <= t), p_fa(t) = P(non-target score > t), as in SpeechBrain.
    """
    scores, labels = _split(scores, labels)
    order = np.argsort(scores, kind="stable")
    sorted_scores, target = scores[order], labels[order]
    w = np.ones_like(sorted_scores) if weights is None else np.asarray(weights, dtype=np.float64)[..., order]
    group_end = np.append(sorted_scores[1:] != sorted_scores[:-1], True)  # ties share one threshold
    miss = np.cumsum(w * target, axis=-1)[..., group_end]
    kept = np.cumsum(w * ~target, axis=-1)[..., group_end]  # non-targets at or below t (rejected)
    with np.errstate(invalid="ignore", divide="ignore"):
        return miss / miss[..., -1:], 1.0 - kept / kept[..., -1:]


def _eer_from_rates(p_miss, p_fa):
    """SpeechBrain's rule: the first threshold minimizing |FAR - FRR|; EER = (FAR + FRR) / 2."""
    best = np.argmin(np.abs(p_fa - p_miss), axis=-1)[..., None]
    return 50.0 * (np.take_along_axis(p_miss, best, -1) + np.take_along_axis(p_fa, best, -1))[..., 0]


def eer(scores, labels):
    """Equal error rate in %, SpeechBrain's `EER` rule from one sort of the scores: SpeechBrain's own loops over
    every threshold (quadratic: 42 s at 120k trials, against 0.02 s here; the test checks both agree)."""
    return float(_eer_from_rates(*error_rates(scores, labels)))


def min_dcf(scores, labels, p_target=0.01, c_miss=1.0, c_fa=1.0, normalized=True):
    """Minimum detection cost over thresholds, SpeechBrain's `minDCF` criterion
    `c_miss p_miss p_target + c_fa p_fa (1 - p_target)`; `normalized` divides it by the cost of
    the best trivial system, min(c_miss p_target, c_fa (1 - p_target)), as NIST does (0..1)."""
    p_miss, p_fa = error_rates(scores, labels)
    cost = float(np.min(c_miss * p_miss * p_target + c_fa * p_fa * (1 - p_target)))
    return cost / min(c_miss * p_target, c_fa * (1 - p_target)) if normalized else cost


def bootstrap_weights(num_resamples, labels, enrol_speakers=None, test_speakers=None, seed=0):
    """[B, N] trial weights of `num_resamples` bootstrap resamples.

    With speakers (any hashable labels per trial): speakers are drawn with replacement (counts
    m_s); a target trial of s then counts m_s times, a non-target trial of (a, b) m_a * m_b times
    (every copy of a against every copy of b). Without: trials are drawn with replacement.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels).astype(bool)
    if enrol_speakers is None:
        return rng.multinomial(labels.size, np.full(labels.size, 1.0 / labels.size), size=num_resamples)
    names, codes = np.unique(np.concatenate([np.asarray(enrol_speakers), np.asarray(test_speakers)]),
                             return_inverse=True)
    a, b = codes[: labels.size], codes[labels.size:]
    counts = rng.multinomial(names.size, np.full(names.size, 1.0 / names.size), size=num_resamples)
    return np.where(labels, counts[:, a], counts[:, a] * counts[:, b])


def _resampled_eers(scores, labels, weights, chunk=100):
    """EER in % of each bootstrap resample (rows of `weights` [B, N]); NaN where a resample kept no target or no
    non-target trial (rare with > 3 speakers). Validity depends on the labels and weights alone, so two systems
    scored on one trial list with the same weights are valid on the same resamples."""
    values = np.full(len(weights), np.nan)
    for start in range(0, len(weights), chunk):  # bounded memory: chunk x N per pass
        p_miss, p_fa = error_rates(scores, labels, weights[start:start + chunk])
        ok = np.isfinite(p_miss[:, -1]) & np.isfinite(p_fa[:, 0])
        values[start:start + chunk][ok] = _eer_from_rates(p_miss[ok], p_fa[ok])
    return values


def _interval(values, level):
    """[lo, hi] percentiles of the finite values (the central `level` of them)."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("no bootstrap resample kept both target and non-target trials")
    lo, hi = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return [float(lo), float(hi)]


def eer_ci(scores, labels, enrol_speakers=None, test_speakers=None, num_resamples=500, level=0.95,
           seed=0, chunk=100):
    """[lo, hi] percentile bootstrap interval of the EER in % (see `bootstrap_weights`).

    Resamples without a target or without a non-target trial are dropped (rare with > 3 speakers).
    """
    scores, labels = _split(scores, labels)
    weights = bootstrap_weights(num_resamples, labels, enrol_speakers, test_speakers, seed)
    return _interval(_resampled_eers(scores, labels, weights, chunk), level)


def eer_difference_ci(scores_a, scores_b, labels, enrol_speakers=None, test_speakers=None, num_resamples=1000,
                      level=0.95, seed=0, chunk=100):
    """Paired bootstrap of EER(a) - EER(b), in points of %, for two systems scored on one trial list.

    Returns (difference, [lo, hi]): the difference on the full list and its percentile interval over resamples
    that weight both systems' trials alike (speakers drawn with replacement by default: see `bootstrap_weights`).
    Pairing removes the list's own difficulty, which two separate intervals would count twice: a 95 % interval
    excluding 0 says the list ranks the two systems the same way in at least 97.5 % of its speaker resamples
    (with few speakers a percentile bootstrap is, if anything, a little too narrow).
    """
    scores_a, labels = _split(scores_a, labels)
    scores_b, _ = _split(scores_b, labels)  # one length: the same trial list
    weights = bootstrap_weights(num_resamples, labels, enrol_speakers, test_speakers, seed)
    differences = _resampled_eers(scores_a, labels, weights, chunk) - _resampled_eers(scores_b, labels, weights, chunk)
    return eer(scores_a, labels) - eer(scores_b, labels), _interval(differences, level)


def _unit_rows(x):
    """Rows scaled to unit L2 norm (float64)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def cosine_scores(embeddings, enrol, test):
    """embeddings [M, D], enrol/test [N] indices -> [N] cosine similarities."""
    emb = _unit_rows(embeddings)
    return np.einsum("nd,nd->n", emb[enrol], emb[test])


def as_norm_scores(embeddings, enrol, test, cohort, top_k=100):
    """Cosine scores with adaptive symmetric normalization (AS-norm, Matejka et al. 2017).

    Each side of a trial is scored against the `cohort` [K, D] (embeddings of training speakers, none of them in the
    trials); the mean and standard deviation of its `top_k` highest cohort scores normalize the trial score, and the
    two sides are averaged: 0.5 * ((s - mu_e) / sd_e + (s - mu_t) / sd_t). It removes each utterance's own score
    offset (an embedding close to everyone), which a single threshold cannot.
    """
    emb = _unit_rows(embeddings)
    k = min(int(top_k), len(cohort))
    against = np.sort(emb @ _unit_rows(cohort).T, axis=1)[:, -k:]  # [M, k]: each utterance's closest cohort scores
    mean, std = against.mean(axis=1), np.clip(against.std(axis=1), 1e-12, None)
    raw = np.einsum("nd,nd->n", emb[enrol], emb[test])
    return 0.5 * ((raw - mean[enrol]) / std[enrol] + (raw - mean[test]) / std[test])


def _stat_object(embeddings, models, segments):
    n = embeddings.shape[0]
    return StatObject_SB(modelset=np.asarray(models, dtype="|O"), segset=np.asarray(segments, dtype="|O"),
                         start=np.array([None] * n), stop=np.array([None] * n),
                         stat0=np.ones((n, 1)), stat1=embeddings)


class PLDAScorer:
    """SpeechBrain's PLDA on centred, length-normalized embeddings.

    Arguments
    ---------
    rank_f : int
        Rank of the speaker subspace; capped at (training speakers - 1) and the embedding size.
    nb_iter : int
        EM iterations.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.normal(size=(10, 8))
    >>> speakers = np.repeat(np.arange(10), 6)
    >>> emb = centres[speakers] + 0.3 * rng.normal(size=(60, 8))
    >>> plda = PLDAScorer(rank_f=5).fit(emb, speakers)
    >>> s = plda.score(emb, np.array([0, 0]), np.array([1, 59]))
    >>> bool(s[0] > s[1])
    True
    """

    def __init__(self, rank_f=100, nb_iter=10):
        self.rank_f, self.nb_iter = rank_f, nb_iter

    def _normalize(self, embeddings):
        return _unit_rows(np.asarray(embeddings, dtype=np.float64) - self.mean)

    def fit(self, embeddings, speakers):
        """embeddings [M, D] with speakers [M] (any labels); needs more embeddings than dimensions."""
        embeddings = np.asarray(embeddings, dtype=np.float64)
        speakers = np.asarray([str(s) for s in speakers])
        num_speakers = np.unique(speakers).size
        if num_speakers < 2 or embeddings.shape[0] <= embeddings.shape[1]:
            raise ValueError(f"PLDA needs >= 2 speakers and more embeddings than dimensions; got "
                             f"{embeddings.shape[0]} embeddings of size {embeddings.shape[1]} from "
                             f"{num_speakers} speakers (use a smaller embedding size)")
        self.mean = embeddings.mean(axis=0)
        rank = min(self.rank_f, num_speakers - 1, embeddings.shape[1])
        self.plda = PLDA(rank_f=rank, nb_iter=self.nb_iter)
        self.plda.plda(_stat_object(self._normalize(embeddings), speakers,
                                    [f"seg{i}" for i in range(len(speakers))]))
        return self

    def score(self, embeddings, enrol, test):
        """embeddings [M, D], enrol/test [N] indices -> [N] PLDA log-likelihood ratios."""
        emb = self._normalize(embeddings)
        ids = np.array([f"utt{i}" for i in range(emb.shape[0])], dtype="|O")
        stats = _stat_object(emb, ids, ids)
        # All pairs in one matrix product; the Ndx only names its rows and columns here.
        scores = fast_PLDA_scoring(stats, stats, Ndx(models=ids, testsegs=ids), self.plda.mean,
                                   self.plda.F, self.plda.Sigma, check_missing=False)
        return scores.scoremat[np.asarray(enrol), np.asarray(test)]


def summarize(scores, labels, enrol_speakers, test_speakers, num_resamples=500, seed=0):
    """{"eer", "eer_ci95", "min_dcf"} of one score list (EER in %, normalized minDCF at p_target 0.01)."""
    return {"eer": eer(scores, labels),
            "eer_ci95": eer_ci(scores, labels, enrol_speakers, test_speakers, num_resamples, seed=seed),
            "min_dcf": min_dcf(scores, labels)}


def plot_det(curves, labels, path, title="DET"):
    """DET curves (miss vs false-alarm probability, probit axes) of {name: scores [N]} to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ticks = np.array([0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4])
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, scores in curves.items():
        p_miss, p_fa = error_rates(scores, labels)
        clip = np.clip(np.stack([p_fa, p_miss]), 1e-4, 1 - 1e-4)  # probit(0) is -inf
        ax.plot(norm.ppf(clip[0]), norm.ppf(clip[1]), label=f"{name} (EER {eer(scores, labels):.2f} %)")
    ax.plot(norm.ppf([1e-4, 0.5]), norm.ppf([1e-4, 0.5]), ":", color="grey", linewidth=0.8)
    ax.set_xticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_xlim(norm.ppf(0.0005), norm.ppf(0.5))
    ax.set_ylim(norm.ppf(0.0005), norm.ppf(0.5))
    ax.set_xlabel("false-alarm probability (%)")
    ax.set_ylabel("miss probability (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
