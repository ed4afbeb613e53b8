"""HSIC ranking and weighting of pseudo-labels (lobes.hsic) on planted data."""

import numpy as np
import pytest
import torch

from lobes.hsic import (GroupBuckets, center, cka, cosine_kernel, gaussian_downsample, hsic, hsic_reference,
                        log_gaussian_kernel, median_bandwidth_values, optimize_weights)


def planted_groups(num_groups=12, n=24, dim=6, seed=0):
    """Per group: data x, K from x; 'func' is a function of x within the group, 'noise' is not."""
    rng = np.random.default_rng(seed)
    ks, values = [], []
    for _ in range(num_groups):
        x = rng.normal(size=(n, dim)) + 3.0
        func = 0.4 * np.tanh(x[:, 0] - 3.0)
        noise = 0.4 * np.tanh(rng.normal(size=n))
        ks.append(cosine_kernel(torch.from_numpy(x)).numpy())
        values.append(np.stack([func, noise], axis=1))
    return ks, values


def test_hsic_matches_a_direct_numpy_reference():
    rng = np.random.default_rng(1)
    for n in (3, 7):
        k = cosine_kernel(torch.from_numpy(rng.normal(size=(n, 4)))).numpy()
        l_mat = np.exp(log_gaussian_kernel(torch.from_numpy(rng.normal(size=n)), 0.05).numpy())
        for original in (False, True):
            h = np.eye(n) - (1.0 / n**2 if original else 1.0 / n) * np.ones((n, n))
            expected = np.trace(k @ h @ l_mat @ h) / n**2
            kc = center(torch.from_numpy(k), original)
            assert float(hsic(kc, torch.from_numpy(l_mat))) == pytest.approx(expected, rel=1e-10, abs=1e-15)
            assert float(hsic_reference(torch.from_numpy(k), torch.from_numpy(l_mat), original)) == \
                pytest.approx(expected, rel=1e-10, abs=1e-15)
        # the correct H centres: HKH has zero row sums
        assert np.allclose(center(torch.from_numpy(k)).sum(1).numpy(), 0.0, atol=1e-12)


def test_ranking_puts_the_label_determined_by_the_data_last():
    ks, values = planted_groups()
    scores = GroupBuckets(ks, values, ["func", "noise"], dtype=torch.float64).single_label_hsic()
    assert scores[1] < 0.5 * scores[0]  # noise: independent of the speech given the group


def test_sparsemax_selects_exactly_and_softmax_stays_dense():
    ks, values = planted_groups()
    buckets = GroupBuckets(ks, values, ["func", "noise"])
    sparse = optimize_weights(buckets, "sparsemax", steps=150, lr=5.0)
    assert float(sparse["weights"].sum()) == pytest.approx(1.0, abs=1e-6)
    assert sparse["weights"].tolist() == [0.0, 1.0]  # exact zero on the dependent label
    assert sparse["loss"][-1] < sparse["loss"][0]
    dense = optimize_weights(buckets, "softmax", steps=150, lr=5.0)
    assert (dense["weights"] > 0).all() and float(dense["weights"].sum()) == pytest.approx(1.0, abs=1e-6)
    assert dense["weights"][1] > dense["weights"][0]
    assert dense["loss"][-1] < dense["loss"][0]
    with pytest.raises(ValueError, match="sparsemax' or 'softmax"):
        optimize_weights(buckets, "entmax15", steps=1)


def test_combined_kernel_from_values_equals_the_weighted_sum_of_log_kernels():
    ks, values = planted_groups(num_groups=3, n=9)
    buckets = GroupBuckets(ks, values, ["func", "noise"], dtype=torch.float64)
    lam = torch.tensor([0.3, 0.7], dtype=torch.float64)
    z = buckets.values[9]
    expected = sum(lam[p] * log_gaussian_kernel(z[..., p], 0.05, floor=None) for p in range(2))
    assert torch.allclose(buckets.combined_log_kernel(9, lam, 0.05), expected, atol=1e-9)


def test_groups_of_different_sizes_are_averaged_together():
    ks, values = planted_groups(num_groups=2, n=10)
    ks2, values2 = planted_groups(num_groups=1, n=6, seed=3)
    mixed = GroupBuckets(ks + ks2, values + values2, ["func", "noise"], dtype=torch.float64)
    single = [GroupBuckets([k], [v], ["func", "noise"], dtype=torch.float64).single_label_hsic()
              for k, v in zip(ks + ks2, values + values2)]
    assert torch.allclose(mixed.single_label_hsic(), torch.stack(single).mean(0))
    with pytest.raises(ValueError, match="do not match"):
        GroupBuckets([ks[0]], [values[0][:, :1]], ["func", "noise"])


def test_gaussian_downsample_shapes_and_values():
    spec = torch.arange(40, dtype=torch.float32)[:, None].repeat(1, 3)  # a ramp in time
    down = gaussian_downsample(spec, 10)
    assert down.shape == (10, 3)
    assert (down[1:, 0] > down[:-1, 0]).all()  # keeps the time order
    assert torch.allclose(gaussian_downsample(torch.full((7, 2), 2.5), 10), torch.full((10, 2), 2.5))
    with pytest.raises(ValueError, match="frames > 0"):
        gaussian_downsample(torch.zeros(0, 80), 10)


def _planted_groups(seed=0, groups=20, n=12, dims=3):
    """Groups of segments whose K sees `dims` features: label 0 is a function of what K sees with a small
    spread (0.02), label 1 pure noise with a large spread (1): dependence and spread disagree."""
    gen = torch.Generator().manual_seed(seed)
    direction = torch.randn(dims, generator=gen)
    ks, values = [], []
    for _ in range(groups):
        x = 1 + 0.5 * torch.randn(n, dims, generator=gen)
        ks.append(cosine_kernel(x))
        dependent = 0.02 * (x / x.norm(dim=1, keepdim=True)) @ direction
        values.append(torch.stack([dependent, torch.randn(n, generator=gen)], 1))
    return GroupBuckets(ks, values, ["dependent", "noise"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_median_bandwidth_and_cka_score_dependence_not_spread(seed):
    buckets = _planted_groups(seed)
    # the original (sigma fixed at 0.05): the dependent label, which varies little, looks the most independent
    fixed = buckets.single_label_hsic(0.05)
    assert fixed[0] < fixed[1] / 10
    median = buckets.with_bandwidth("median")
    for score in ("hsic", "cka"):
        scores = median.single_label_hsic(1.0, score=score)
        assert scores[0] > 2 * scores[1], (score, scores)
    # the weights follow: sparsemax puts (nearly) everything on the noise label, the better pretext task
    weights = optimize_weights(median, "sparsemax", steps=300, lr=0.5, sigma=1.0, score="cka")["weights"]
    assert weights[1] > 0.9, weights
    with pytest.raises(ValueError, match="bandwidth must be"):
        buckets.with_bandwidth("silverman")
    with pytest.raises(ValueError, match="score must be one of"):  # ranking, before any weights are learned
        buckets.single_label_hsic(0.05, score="kca")


def test_median_bandwidth_is_the_median_distance_per_group_and_label():
    values = torch.tensor([[[0.0, 5.0], [1.0, 5.0], [3.0, 5.0]]])  # distances 1, 3, 2 (median 2); a constant label
    scaled = median_bandwidth_values(values)
    assert torch.allclose(scaled[0, :, 0], torch.tensor([0.0, 0.5, 1.5])) and torch.equal(scaled[0, :, 1], values[0, :, 1])
    # CKA is HSIC normalized: equal to it divided by the two kernels' own HSIC, numpy reference
    k = cosine_kernel(torch.rand(6, 4, generator=torch.Generator().manual_seed(0)))
    l_matrix = torch.exp(-torch.rand(6, 6, generator=torch.Generator().manual_seed(1)))
    l_matrix = (l_matrix + l_matrix.T) / 2
    h = np.eye(6) - 1.0 / 6
    kn, ln = k.numpy(), l_matrix.double().numpy()
    ref = np.trace(kn @ h @ ln @ h) / np.sqrt(np.trace(kn @ h @ kn @ h) * np.trace(ln @ h @ ln @ h))
    assert float(cka(center(k), l_matrix.double())) == pytest.approx(ref, rel=1e-9)
