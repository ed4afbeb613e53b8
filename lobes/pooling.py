"""Utterance pooling of frame features: the baselines, the VQ poolings and the trained attentive poolings.

Every pooler maps `(frames [B, T, D], codes [B, T, G] or None, lengths [B] relative) -> [B, output_size]`, batched and
length-aware (padded frames never weigh). `make_pooling(name, input_size)` builds one by name:

- parameter-free: `ap` (average), `sp` (mean and standard deviation), the VQ weightings of lobes.vq_pooling
  (`squash_and`, `squash_or`, `allsquash_and`, `allsquash_or`, `vq_lp`);
- fitted once on the training split (`pooler.fit(frames_list, codes_list)`): `whitening` (average pooling, then
  centring and PCA whitening with the training mean and covariance of the average-pooled vectors), `softdecay`
  (average pooling, then the singular values of the training matrix of pooled vectors mapped by the soft-decay
  function, α = -0.6), `vq_sif`, `vq_gp`, `vq_bp` (training-set code counts);
- trained with a head (`TRAINED`): `sap` (self-attentive: one attention weight per frame, weighted mean), `asp`
  (attentive statistics: the same weights, weighted mean and standard deviation), `vap` (vector-based attentive:
  one weight per frame and channel, SpeechBrain's `AttentiveStatisticsPooling` without global context).

Example
-------
>>> pool = make_pooling("vq_lp", input_size=4)
>>> frames, codes = torch.randn(2, 5, 4), torch.randint(0, 3, (2, 5, 2))
>>> pool(frames, codes, torch.tensor([1.0, 0.6])).shape
torch.Size([2, 4])
"""

import torch
from speechbrain.lobes.models.ECAPA_TDNN import AttentiveStatisticsPooling

from lobes import vq_pooling as vq

CODE_WEIGHTS = {
    "squash_and": lambda codes, mask, stats: vq.squash_weights(codes, mask, "and"),
    "squash_or": lambda codes, mask, stats: vq.squash_weights(codes, mask, "or"),
    "allsquash_and": lambda codes, mask, stats: vq.all_squash_weights(codes, mask, "and"),
    "allsquash_or": lambda codes, mask, stats: vq.all_squash_weights(codes, mask, "or"),
    "vq_lp": lambda codes, mask, stats: vq.local_count_weights(codes, mask),
    "vq_gp": lambda codes, mask, stats: vq.global_count_weights(codes, mask, stats),
    "vq_sif": lambda codes, mask, stats: vq.sif_weights(codes, mask, stats, stats.sif_a),
    "vq_bp": lambda codes, mask, stats: vq.both_count_weights(codes, mask, stats),
}
NEEDS_COUNTS = ("vq_gp", "vq_sif", "vq_bp")
TRAINED = ("sap", "asp", "vap")
POOLINGS = ("ap", "sp", "whitening", "softdecay", *CODE_WEIGHTS, *TRAINED)


def _average(frames, lengths):
    mask = vq.frame_mask(lengths, frames.shape[1])
    return vq.weighted_mean(frames, vq.normalize(mask.float(), mask)), mask


class AveragePooling(torch.nn.Module):
    needs_fit = False

    def __init__(self, input_size):
        super().__init__()
        self.output_size = input_size

    def forward(self, frames, codes=None, lengths=None):
        return _average(frames, _lengths(frames, lengths))[0]


class StatisticsPooling(AveragePooling):
    """Mean and unbiased standard deviation of the valid frames (SpeechBrain's StatisticsPooling loops over the
    utterances and adds random noise to the mean; this one is batched and deterministic)."""

    def __init__(self, input_size):
        super().__init__(input_size)
        self.output_size = 2 * input_size

    def forward(self, frames, codes=None, lengths=None):
        mask = vq.frame_mask(_lengths(frames, lengths), frames.shape[1])
        weights = vq.normalize(mask.float(), mask)
        mean = vq.weighted_mean(frames, weights)
        count = mask.sum(1, keepdim=True).float()
        # E[x²] - E[x]², unbiased: two matrix products instead of a masked [B, T, D] temporary per step
        variance = (vq.weighted_mean(frames.square(), weights) - mean.square()).clamp(min=0)
        return torch.cat([mean, (variance * count / (count - 1).clamp(min=1)).sqrt()], dim=1)


def _lengths(frames, lengths):
    return torch.ones(frames.shape[0], device=frames.device) if lengths is None else lengths


class Whitening(AveragePooling):
    """(AP - μ) W with W = U diag(1/sqrt(S + ε)): PCA whitening fitted on the training AP vectors. ε = 1e-5 × the
    largest eigenvalue keeps directions that the training vectors barely span (fewer vectors than dimensions)
    from being amplified without bound."""

    needs_fit = True

    def __init__(self, input_size):
        super().__init__(input_size)
        self.register_buffer("mean", torch.zeros(input_size))
        self.register_buffer("matrix", torch.eye(input_size))

    @torch.no_grad()
    def fit(self, frames_list, codes_list=None):
        pooled = torch.stack([torch.as_tensor(f, dtype=torch.float64).mean(0) for f in frames_list])
        centred = pooled - pooled.mean(0)
        values, vectors = torch.linalg.eigh(centred.T @ centred / len(pooled))
        values = values.clamp(min=0) + 1e-5 * values.max().clamp(min=1e-12)
        self.mean.copy_(pooled.mean(0).float())
        self.matrix.copy_((vectors / values.sqrt()).float())
        return self

    def forward(self, frames, codes=None, lengths=None):
        return (super().forward(frames, codes, lengths) - self.mean) @ self.matrix


class SoftDecay(AveragePooling):
    """AP mapped through the training AP matrix's singular directions with decayed singular values:
    A = U S Vᵀ (training vectors), s' = -log(1 - α(s + α)) / α rescaled to max(s') = max(s), x -> x V diag(s'/s) Vᵀ.

    Fitted once, so a vector does not depend on the batch it is pooled in (the original applies the decay to each
    batch of pooled vectors, an identity at its unsupervised batch size of 1)."""

    needs_fit = True

    def __init__(self, input_size, alpha=-0.6):
        super().__init__(input_size)
        self.alpha = alpha
        self.register_buffer("matrix", torch.eye(input_size))

    @torch.no_grad()
    def fit(self, frames_list, codes_list=None):
        pooled = torch.stack([torch.as_tensor(f, dtype=torch.float64).mean(0) for f in frames_list])
        _, values, vt = torch.linalg.svd(pooled, full_matrices=False)
        decayed = -torch.log(1 - self.alpha * (values + self.alpha) + 1e-7) / self.alpha
        decayed = decayed * values.max() / decayed.max()
        kept = values > 1e-6 * values.max()  # directions the training vectors span
        ratio = torch.where(kept, decayed / values.clamp(min=1e-300), torch.zeros_like(values))
        self.matrix.copy_(((vt.T * ratio) @ vt).float())
        return self

    def forward(self, frames, codes=None, lengths=None):
        return super().forward(frames, codes, lengths) @ self.matrix


class CodeWeightedPooling(AveragePooling):
    """Weighted mean of the frames with VQ-code weights (`method`, a key of CODE_WEIGHTS)."""

    def __init__(self, input_size, method, codebook_size=320, groups=2, sif_a=1e-3):
        super().__init__(input_size)
        self.method, self.weights_of = method, CODE_WEIGHTS[method]
        self.needs_fit = method in NEEDS_COUNTS
        self.statistics = vq.CodeStatistics(groups, codebook_size)
        self.statistics.sif_a = sif_a

    def fit(self, frames_list, codes_list):
        self.statistics.fit(codes_list)
        return self

    def weights(self, codes, lengths, max_len):
        return self.weights_of(codes.long(), vq.frame_mask(lengths, max_len), self.statistics)

    def forward(self, frames, codes, lengths=None):
        if codes is None:
            raise ValueError(f"pooling {self.method!r} needs the frames' VQ codes; extract them with the features")
        return vq.weighted_mean(frames, self.weights(codes, _lengths(frames, lengths), frames.shape[1]))


class SelfAttentivePooling(AveragePooling):
    """SAP (Cai et al., 2018): w_t = softmax_t(aᵀ tanh(W x_t + b)); weighted mean, or with `statistics` (ASP, Okabe et
    al., 2018) weighted mean and standard deviation."""

    def __init__(self, input_size, statistics=False):
        super().__init__(input_size)
        self.statistics = statistics
        self.output_size = input_size * (2 if statistics else 1)
        self.hidden = torch.nn.Linear(input_size, input_size)
        self.score = torch.nn.Linear(input_size, 1, bias=False)

    def forward(self, frames, codes=None, lengths=None):
        mask = vq.frame_mask(_lengths(frames, lengths), frames.shape[1])
        scores = self.score(torch.tanh(self.hidden(frames))).squeeze(2).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        mean = vq.weighted_mean(frames, weights)
        if not self.statistics:
            return mean
        variance = vq.weighted_mean(frames ** 2, weights) - mean ** 2
        return torch.cat([mean, variance.clamp(min=1e-5).sqrt()], dim=1)


class VectorAttentivePooling(AveragePooling):
    """VAP: one attention weight per frame and channel (SpeechBrain's AttentiveStatisticsPooling, no global context)."""

    def __init__(self, input_size, attention_channels=128):
        super().__init__(input_size)
        self.output_size = 2 * input_size
        self.pool = AttentiveStatisticsPooling(input_size, attention_channels, global_context=False)

    def forward(self, frames, codes=None, lengths=None):
        # SpeechBrain masks `arange(T) < lengths * T` without rounding (7/13 * 13 = 7.0000005 keeps frame 7): pass
        # lengths half a frame short of the valid count, so its mask is ours
        counts = vq.frame_mask(_lengths(frames, lengths), frames.shape[1]).sum(1)
        return self.pool(frames.transpose(1, 2), (counts - 0.5) / frames.shape[1]).squeeze(2)


def make_pooling(name, input_size, codebook_size=320, groups=2, sif_a=1e-3):
    """The pooler called `name` (one of POOLINGS)."""
    if name in CODE_WEIGHTS:
        return CodeWeightedPooling(input_size, name, codebook_size, groups, sif_a)
    builders = {"ap": AveragePooling, "sp": StatisticsPooling, "whitening": Whitening, "softdecay": SoftDecay,
                "sap": SelfAttentivePooling, "asp": lambda d: SelfAttentivePooling(d, statistics=True),
                "vap": VectorAttentivePooling}
    if name not in builders:
        raise ValueError(f"unknown pooling {name!r}; expected one of {', '.join(POOLINGS)}")
    return builders[name](input_size)
