"""Conditional-independence estimate of pseudo-labels given a downstream task (HSIC).

Within one downstream group (one word for ASR, one speaker for speaker tasks):

- K: cosine similarity of the segments' downsampled log-mel spectrograms;
- L: Gaussian kernel of one pseudo-label averaged over each segment,
  `L[i, j] = exp(-(z_i - z_j)^2 / (2 sigma))`, handled as log L clamped to [-10, 0];
- HSIC(K, L) = tr(K H L H) / n^2 with H the centering matrix.

Averaged over groups, a low HSIC says the pseudo-label is close to conditionally
independent of the speech given the downstream label: a good pretext task.

Every group is kept centered once (`Kc = H K H`): since H is symmetric and L too,
`tr(K H L H) = sum(Kc * L)`, an elementwise sum instead of three n x n products.
Groups of equal size are stacked into one `[G, n, n]` bucket, so a step over all
groups is a few batched tensor operations.

Weighting: lambda = softmax(W) or sparsemax(W), combined kernel
`L_lambda = exp(sum_i lambda_i log L_i)` (a product of Gaussian kernels), and W
minimizes the group-averaged HSIC(K, L_lambda) by SGD.

Beyond the original (options; the original's choices are the defaults):
- bandwidth "median": sigma per label and group, the squared median distance between
  the group's values (the median heuristic), instead of one fixed sigma for all. With a
  fixed sigma, HSIC mostly measures a label's spread within a group: a label that is a
  function of the speech but varies little scores as "independent";
- score "cka": HSIC normalized by the norms of the centred kernels (centred kernel
  alignment), HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), which a label's spread does not scale.
"""

import math

import torch
from entmax import sparsemax

LOG_L_FLOOR = -10.0


def gaussian_downsample(spec, n_samples, std_ratio=0.07, std_slope=0.1):
    """`[T, F]` -> `[n_samples, F]`: Gaussian-weighted averages at evenly spaced centres.

    The filter of each centre has std `std_ratio * T + std_slope * d` frames, d the
    centre's distance (in frames) to the nearer edge of the segment: wider in the
    middle, sharper near the edges, so short and long segments give comparable shapes.
    """
    spec = torch.as_tensor(spec, dtype=torch.float32)
    if spec.ndim != 2 or spec.shape[0] == 0:
        raise ValueError(f"expected a [frames, bins] spectrogram with frames > 0, got shape {tuple(spec.shape)}")
    frames = spec.shape[0]
    t = torch.arange(frames, dtype=torch.float32) + 0.5
    centres = (torch.arange(n_samples, dtype=torch.float32) + 0.5) * frames / n_samples
    edge = torch.minimum(centres, frames - centres)
    std = std_ratio * frames + std_slope * edge
    weights = torch.exp(-0.5 * ((t[None, :] - centres[:, None]) / std[:, None]) ** 2)
    weights = weights / weights.sum(dim=1, keepdim=True)
    return weights @ spec


def cosine_kernel(features):
    """`[n, ...]` -> `[n, n]`: K[i, j] = <A_i, A_j>_F / (|A_i| |A_j|)."""
    flat = torch.as_tensor(features).flatten(1).double()
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return flat @ flat.T


def log_gaussian_kernel(values, sigma=0.05, floor=LOG_L_FLOOR):
    """`[..., n]` -> `[..., n, n]`: log L = -(z_i - z_j)^2 / (2 sigma), clamped at `floor` (None: no clamp)."""
    diff = values[..., :, None] - values[..., None, :]
    log_l = -diff.pow(2) / (2 * sigma)
    return log_l.clamp(min=floor) if floor is not None else log_l


def centering_matrix(n, original=False, dtype=torch.float64):
    """H = I - (1/n) 11^T; `original=True` gives the I - (1/n^2) 11^T of the original scripts."""
    scale = 1.0 / n**2 if original else 1.0 / n
    return torch.eye(n, dtype=dtype) - scale * torch.ones(n, n, dtype=dtype)


def center(k, original=False):
    """`[..., n, n]` -> H K H."""
    h = centering_matrix(k.shape[-1], original, k.dtype)
    return h @ k @ h


def hsic(k_centered, l_matrix):
    """(1/n^2) tr(K H L H) for stacked groups: `[..., n, n]` x `[..., n, n]` -> `[...]`."""
    n = k_centered.shape[-1]
    return (k_centered * l_matrix).sum(dim=(-1, -2)) / n**2


def cka(k_centered, l_matrix):
    """HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) for stacked groups (0 where L is constant)."""
    l_centered = l_matrix - l_matrix.mean(-1, keepdim=True) - l_matrix.mean(-2, keepdim=True) \
        + l_matrix.mean((-1, -2), keepdim=True)
    norms = k_centered.pow(2).sum((-1, -2)).sqrt() * l_centered.pow(2).sum((-1, -2)).sqrt()
    return (k_centered * l_matrix).sum(dim=(-1, -2)) / norms.clamp_min(1e-12)


SCORES = {"hsic": hsic, "cka": cka}


def _score(name):
    if name not in SCORES:
        raise ValueError(f"score must be one of {sorted(SCORES)}, got {name!r}")
    return SCORES[name]


def median_bandwidth_values(values, floor=1e-6):
    """`[G, n, P]` values divided by the median distance between the group's values, per group and label:
    with sigma = 1 their Gaussian kernel is the median heuristic's, exp(-d^2 / (2 median(d)^2)).
    A label constant within a group stays constant."""
    n = values.shape[1]
    pairs = torch.triu_indices(n, n, offset=1)
    dist = (values[:, pairs[0], :] - values[:, pairs[1], :]).abs()  # [G, n(n-1)/2, P]
    median = dist.median(dim=1, keepdim=True).values
    return values / torch.where(median > floor, median, torch.ones_like(median))


def hsic_reference(k, l_matrix, original=False):
    """The original formula, three matrix products, for one group (tests and benchmarks)."""
    n = k.shape[-1]
    h = centering_matrix(n, original, k.dtype)
    return torch.trace((k @ h) @ (l_matrix @ h)) / n**2


def stack_by_size(ks, tables, original_centering=False, dtype=torch.float32):
    """Centres every K and stacks groups of equal size: ({n: [G_n, n, n]}, {n: [G_n, ...tables]}).

    `tables[g]` is whatever goes with group g (segment values `[n, P]`, or log L `[P, n, n]`)."""
    if len(ks) != len(tables) or not ks:
        raise ValueError(f"need one table per K matrix, got {len(ks)} K and {len(tables)} tables")
    by_size = {}
    for k, table in zip(ks, tables):
        k = torch.as_tensor(k, dtype=torch.float64)
        centred, stacked = by_size.setdefault(k.shape[0], ([], []))
        centred.append(center(k, original_centering))
        stacked.append(torch.as_tensor(table, dtype=torch.float64))
    return ({n: torch.stack(kk).to(dtype) for n, (kk, _) in by_size.items()},
            {n: torch.stack(tt).to(dtype) for n, (_, tt) in by_size.items()})


class _GroupKernels:
    """Groups stacked by size with their centred K (`k_centered[n]`), over pseudo-labels `labels`."""

    def label_log_kernel(self, n, p, sigma, floor):
        """`[G_n, n, n]`: log L of pseudo-label p, clamped at `floor`."""
        raise NotImplementedError(f"{type(self).__name__} must define label_log_kernel")

    def single_label_hsic(self, sigma=0.05, floor=LOG_L_FLOOR, score="hsic"):
        """`[P]`: group-averaged HSIC(K, L_p) (or CKA) of every pseudo-label on its own."""
        total = torch.zeros(len(self.labels), dtype=torch.float64)
        for n, kc in self.k_centered.items():
            for p in range(len(self.labels)):
                total[p] += _score(score)(kc, self.label_log_kernel(n, p, sigma, floor).exp()).double().sum()
        return total / self.num_groups


class GroupBuckets(_GroupKernels):
    """Groups stacked by size: `k_centered[n]` `[G_n, n, n]`, `values[n]` `[G_n, n, P]`.

    `values` are the pseudo-labels averaged per segment (columns in `labels`).
    """

    def __init__(self, ks, values, labels, original_centering=False, dtype=torch.float32):
        self.labels = list(labels)
        for k, v in zip(ks, values):
            k_shape, v_shape = tuple(torch.as_tensor(k).shape), tuple(torch.as_tensor(v).shape)
            if len(k_shape) != 2 or k_shape[0] != k_shape[1] or v_shape != (k_shape[0], len(self.labels)):
                raise ValueError(f"K {k_shape} and values {v_shape} do not match "
                                 f"(expected [n, n] and [n, {len(self.labels)}])")
        self.k_centered, self.values = stack_by_size(ks, values, original_centering, dtype)
        self.num_groups = len(ks)

    def subset(self, index, labels):
        """The same groups with only the pseudo-labels at `index` (named `labels`)."""
        sub = object.__new__(GroupBuckets)
        sub.labels, sub.num_groups, sub.k_centered = list(labels), self.num_groups, self.k_centered
        sub.values = {n: v[..., list(index)] for n, v in self.values.items()}
        return sub

    def with_bandwidth(self, bandwidth):
        """These groups for `bandwidth` "fixed" (as they are), or "median": values rescaled per group and label
        (median_bandwidth_values), to be used with sigma = 1."""
        if bandwidth == "fixed":
            return self
        if bandwidth != "median":
            raise ValueError(f"bandwidth must be 'fixed' or 'median', got {bandwidth!r}")
        out = self.subset(range(len(self.labels)), self.labels)
        out.values = {n: median_bandwidth_values(v) for n, v in self.values.items()}
        return out

    def label_log_kernel(self, n, p, sigma, floor):
        return log_gaussian_kernel(self.values[n][..., p], sigma, floor)

    def combined_log_kernel(self, n, lam, sigma=0.05, groups=None):
        """sum_p lam_p log L_p = -|sqrt(lam) o (z_i - z_j)|^2 / (2 sigma), from the values.

        Built as a weighted Gram matrix (no square root, so exact zeros of sparsemax keep
        a finite gradient). Unlike the stored matrices, each label's log L is not clamped
        at -10: the product kernel is exact (entries below exp(-10) differ).
        """
        z = self.values[n] if groups is None else self.values[n][groups]
        sq = ((z * z) @ lam) / (2 * sigma)
        # one fused batched product: -(sq_i + sq_j) + (z diag(lam) z^T)_ij / sigma
        return torch.baddbmm(-(sq[:, :, None] + sq[:, None, :]), z * lam, z.transpose(1, 2), alpha=1.0 / sigma)


class StoredLogKernels(_GroupKernels):
    """Stored log L matrices `[G_n, P, n, n]` per size (the original scripts' layout),
    combined as the clamped weighted sum the original does."""

    def __init__(self, k_centered, log_l, labels):
        self.k_centered, self.log_l, self.labels = k_centered, log_l, list(labels)
        self.num_groups = sum(k.shape[0] for k in k_centered.values())

    def label_log_kernel(self, n, p, sigma, floor):
        return self.log_l[n][:, p].clamp(floor, 0.0)  # sigma is in the stored matrices

    def combined_log_kernel(self, n, lam, sigma=None, groups=None):
        log_l = self.log_l[n] if groups is None else self.log_l[n][groups]
        return torch.einsum("gpij,p->gij", log_l.clamp(LOG_L_FLOOR, 0.0), lam)


def _weights(name):
    if name == "sparsemax":
        return lambda w: sparsemax(w, dim=-1)
    if name == "softmax":
        return lambda w: torch.softmax(w, dim=-1)
    raise ValueError(f"weighting must be 'sparsemax' or 'softmax', got {name!r}")


def weighted_hsic(kernels, lam, sigma=0.05, groups_per_step=None, generator=None, score="hsic"):
    """Group-averaged HSIC(K, L_lambda) (or CKA); with `groups_per_step`, over a random subset of each size."""
    total, count = 0.0, 0
    for n, kc in kernels.k_centered.items():
        groups = None
        if groups_per_step and groups_per_step < kc.shape[0]:
            groups = torch.randperm(kc.shape[0], generator=generator)[:groups_per_step]
            kc = kc[groups]
        log_l = kernels.combined_log_kernel(n, lam.to(kc.dtype), sigma, groups)
        total = total + _score(score)(kc, log_l.exp()).sum()
        count += kc.shape[0]
    return total / count


def optimize_weights(kernels, weighting="sparsemax", steps=1000, lr=0.01, momentum=0.9, noise=0.05,
                     norm_penalty=0.0, sigma=0.05, seed=0, groups_per_step=None, progress=None,
                     callback=None, score="hsic"):
    """Learns lambda over `kernels.labels`; returns {"weights": [P], "loss": [steps], "init": [P]}.

    Starts as the original: sparsemax from 1 + noise * N(0, 1) (near uniform), softmax
    from N(0, 1). SGD with momentum; optional `norm_penalty * |lambda|_2`.
    `callback(step, loss, lam)` is called after every step (logging). `score`: "hsic" or "cka".
    """
    _score(score)  # a bad name fails before the first step
    to_weights = _weights(weighting)
    gen = torch.Generator().manual_seed(seed)
    num = len(kernels.labels)
    init = (1.0 + noise * torch.randn(num, generator=gen)) if weighting == "sparsemax" \
        else torch.randn(num, generator=gen)
    w = torch.nn.Parameter(init.clone().double())
    opt = torch.optim.SGD([w], lr=lr, momentum=momentum)
    losses = []
    steps_iter = progress(range(steps)) if progress else range(steps)
    for _ in steps_iter:
        opt.zero_grad()
        lam = to_weights(w)
        loss = weighted_hsic(kernels, lam, sigma, groups_per_step, gen, score)
        if norm_penalty:
            loss = loss + norm_penalty * lam.norm()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if callback:
            callback(len(losses), losses[-1], lam.detach())
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(f"the {weighting} weighting diverged at step {len(losses)}: "
                                     "lower the learning rate")
    with torch.no_grad():
        weights = to_weights(w).detach()
    return {"weights": weights, "loss": losses, "init": init}
