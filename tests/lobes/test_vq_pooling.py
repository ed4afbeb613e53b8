"""Pooling weights against hand-computed values on short code sequences; padding never weighs."""

import numpy as np
import pytest
import torch

from lobes import vq_pooling as vq
from lobes.pooling import POOLINGS, TRAINED, make_pooling

# u1: (1,5) (1,5) (2,5) (2,6) (2,6) (3,7)
U1 = [(1, 5), (1, 5), (2, 5), (2, 6), (2, 6), (3, 7)]


def weights(function, sequence, *args):
    codes = torch.tensor([sequence])
    return function(codes, torch.ones(1, len(sequence), dtype=torch.bool), *args)[0].numpy()


@pytest.mark.parametrize("function, sequence, expected", [
    # runs (1,5)(1,5) | (2,5) | (2,6)(2,6) | (3,7): four runs, each 1/4 shared by its frames
    (lambda c, m: vq.squash_weights(c, m, "and"), U1, [1 / 8, 1 / 8, 1 / 4, 1 / 8, 1 / 8, 1 / 4]),
    # OR: a frame sharing either code with the previous one continues the run: frames 0-4 | 5
    (lambda c, m: vq.squash_weights(c, m, "or"), U1, [1 / 10] * 5 + [1 / 2]),
    # the same tuple apart: squash keeps two runs of (1,5) ...
    (lambda c, m: vq.squash_weights(c, m, "and"), [(1, 5), (2, 6), (1, 5), (1, 5)], [1 / 3, 1 / 3, 1 / 6, 1 / 6]),
    # ... all-squash one group of three frames
    (lambda c, m: vq.all_squash_weights(c, m, "and"), [(1, 5), (2, 6), (1, 5), (1, 5)], [1 / 6, 1 / 2, 1 / 6, 1 / 6]),
    # OR across the utterance: (1,5) and (2,5) share 5 though (3,7) lies between them
    (lambda c, m: vq.all_squash_weights(c, m, "or"), [(1, 5), (3, 7), (2, 5)], [1 / 4, 1 / 2, 1 / 4]),
    (lambda c, m: vq.squash_weights(c, m, "or"), [(1, 5), (3, 7), (2, 5)], [1 / 3, 1 / 3, 1 / 3]),
    # linked in a chain: (1,5)-(1,6) share code 1, (1,6)-(2,6) share code 6: one group
    (lambda c, m: vq.all_squash_weights(c, m, "or"), [(1, 5), (2, 6), (1, 6)], [1 / 3] * 3),
    # a code of group 1 is not the same code as that number in group 2
    (lambda c, m: vq.all_squash_weights(c, m, "or"), [(1, 2), (2, 1)], [1 / 2, 1 / 2]),
    # VQ-LP: counts (group 1: 1->2, 2->3, 3->1; group 2: 5->3, 6->2, 7->1) -> 5, 5, 6, 5, 5, 2
    (vq.local_count_weights, U1, np.array([1 / 5, 1 / 5, 1 / 6, 1 / 5, 1 / 5, 1 / 2]) / (4 / 5 + 1 / 6 + 1 / 2)),
])
def test_weights_by_hand(function, sequence, expected):
    np.testing.assert_allclose(weights(function, sequence), expected, rtol=1e-6)


@pytest.fixture
def statistics():
    # training codes: group 1 counts 1->3, 2->1; group 2 counts 5->3, 6->1; tuples (1,5) x2, (1,6), (2,5)
    return vq.CodeStatistics(groups=2, codebook_size=10).fit([np.array([(1, 5), (1, 6), (2, 5)]), np.array([(1, 5)])])


def test_global_counts_by_hand(statistics):
    # (1,5): 3+3 = 6; (2,6): 1+1 = 2; (9,9): never seen, counts as 1
    expected = np.array([1 / 6, 1 / 2, 1]) / (1 / 6 + 1 / 2 + 1)
    np.testing.assert_allclose(weights(vq.global_count_weights, [(1, 5), (2, 6), (9, 9)], statistics), expected,
                               rtol=1e-6)


def test_sif_by_hand(statistics):
    # p(1,5) = 1/2, p(1,6) = 1/4, p(3,3) = 0; a = 0.5: 0.5/1, 0.5/0.75, 1
    expected = np.array([0.5, 2 / 3, 1.0]) / (0.5 + 2 / 3 + 1)
    np.testing.assert_allclose(weights(vq.sif_weights, [(1, 5), (1, 6), (3, 3)], statistics, 0.5), expected,
                               rtol=1e-6)


def test_both_counts_by_hand(statistics):
    # local: (1,5) twice -> 2+2 = 4, (2,6) -> 1+1 = 2; global: 6, 6, 2
    local = np.array([1 / 4, 1 / 4, 1 / 2])
    glob = np.array([1 / 6, 1 / 6, 1 / 2])
    expected = (local / local.sum()) * (glob / glob.sum())
    np.testing.assert_allclose(weights(vq.both_count_weights, [(1, 5), (1, 5), (2, 6)], statistics),
                               expected / expected.sum(), rtol=1e-6)


def test_codes_outside_the_codebook_are_refused():
    with pytest.raises(ValueError, match="codebook_size"):
        vq.CodeStatistics(2, 4).fit([np.array([(1, 7)])])


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="'and'"):
        weights(lambda c, m: vq.squash_weights(c, m, "xor"), U1)


def fitted(name, dim, rng):
    pool = make_pooling(name, dim, codebook_size=8)
    if getattr(pool, "needs_fit", False):
        pool.fit([rng.normal(size=(int(rng.integers(3, 9)), dim)) for _ in range(30)],
                 [rng.integers(0, 8, size=(6, 2)) for _ in range(30)])
    return pool.eval()


@pytest.mark.parametrize("short, total", [(5, 9), (7, 13)])  # 7/13 * 13 is 7.0000005 in float32
@pytest.mark.parametrize("name", POOLINGS)
def test_padding_never_weighs(name, short, total):
    """An utterance pooled in a padded batch, padding filled with garbage frames and codes, equals it pooled alone."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    pool = fitted(name, 4, rng)
    frames = torch.randn(2, total, 4)
    codes = torch.randint(0, 8, (2, total, 2))
    frames[1, short:] = 1e3  # garbage where the second utterance is padded
    codes[1, short:] = codes[1, 0]  # padding codes equal to a real code must not add to its count
    with torch.no_grad():
        batched = pool(frames, codes, torch.tensor([1.0, short / total]))
        alone = pool(frames[1:, :short], codes[1:, :short], torch.tensor([1.0]))
    torch.testing.assert_close(batched[1:], alone, rtol=1e-5, atol=1e-5)
    assert batched.shape == (2, pool.output_size)


def test_statistics_pooling_matches_numpy():
    frames = torch.randn(2, 7, 3)
    pooled = make_pooling("sp", 3)(frames, None, torch.tensor([1.0, 4 / 7]))
    for row, n in ((0, 7), (1, 4)):
        x = frames[row, :n].numpy()
        np.testing.assert_allclose(pooled[row].numpy(), np.concatenate([x.mean(0), x.std(0, ddof=1)]), rtol=1e-5)


def test_whitening_gives_identity_covariance_on_training_vectors():
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(5, 5))
    train = [rng.normal(size=(6, 5)) @ mix + 3.0 for _ in range(400)]
    pool = make_pooling("whitening", 5).fit(train)
    out = torch.cat([pool(torch.tensor(f, dtype=torch.float32)[None]) for f in train]).numpy()
    # identity up to the ridge (1e-5 of the largest eigenvalue) added to every eigenvalue
    np.testing.assert_allclose(np.cov(out.T, bias=True), np.eye(5), atol=5e-3)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-4)


def test_soft_decay_maps_the_training_matrix_as_its_svd_says():
    """On the training vectors, x V diag(s'/s) Vᵀ must equal U diag(s') Vᵀ from numpy's SVD of that matrix."""
    rng = np.random.default_rng(2)
    train = [rng.normal(size=(4, 6)) * np.arange(1, 7) for _ in range(50)]
    pool = make_pooling("softdecay", 6).fit(train)
    pooled = np.stack([f.mean(0) for f in train])
    u, s, vt = np.linalg.svd(pooled, full_matrices=False)
    alpha = -0.6
    decayed = -np.log(1 - alpha * (s + alpha) + 1e-7) / alpha
    decayed *= s.max() / decayed.max()
    expected = u @ np.diag(decayed) @ vt
    out = torch.cat([pool(torch.tensor(f, dtype=torch.float32)[None]) for f in train]).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_code_poolings_need_codes():
    with pytest.raises(ValueError, match="VQ codes"):
        make_pooling("vq_lp", 3)(torch.randn(1, 4, 3), None)


def test_unknown_pooling_lists_the_known_ones():
    with pytest.raises(ValueError, match="vq_lp"):
        make_pooling("vq_xx", 3)


@pytest.mark.parametrize("name", TRAINED)
def test_trained_poolings_learn(name):
    """A planted task that average pooling cannot solve: the class is in which frames carry a marker channel."""
    torch.manual_seed(0)
    n, t, d = 64, 10, 4
    frames = torch.randn(n, t, d)
    labels = torch.randint(0, 2, (n,))
    frames[:, :, 0] = 3.0  # marker frames ...
    frames[:, ::2, 0] = -3.0  # ... in every other frame; the class sign sits in channel 1 of the marked frames
    frames[:, 1::2, 1] = torch.where(labels == 1, 2.0, -2.0)[:, None]
    frames[:, ::2, 1] = torch.where(labels == 1, -2.0, 2.0)[:, None]  # the opposite elsewhere: their mean is 0
    pool = make_pooling(name, d)
    head = torch.nn.Linear(pool.output_size, 2)
    optimizer = torch.optim.Adam([*pool.parameters(), *head.parameters()], lr=0.05)
    for _ in range(150):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(pool(frames, None, torch.ones(n))), labels)
        loss.backward()
        optimizer.step()
    accuracy = (head(pool(frames, None, torch.ones(n))).argmax(1) == labels).float().mean()
    assert accuracy > 0.95


def test_every_code_weighting_matches_a_pure_python_reference_on_random_codes():
    """Batched weights against per-utterance Python loops (groupby, Counter, union-find) on random padded batches."""
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "vq_pooling_speed.py")
    spec = importlib.util.spec_from_file_location("vq_pooling_speed", path)
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    rng = np.random.default_rng(3)
    codes = torch.from_numpy(rng.integers(0, 4, size=(6, 30, 2)))  # few codes: many repeats and links
    counts = rng.integers(1, 31, size=6)
    lengths = torch.from_numpy(counts / 30).float()
    mask = torch.arange(30)[None] < torch.from_numpy(counts)[:, None]
    for method in ("squash_and", "squash_or", "allsquash_and", "allsquash_or", "vq_lp", "vq_gp", "vq_sif", "vq_bp"):
        pool = make_pooling(method, 3, codebook_size=4)
        pool.fit(None, [rng.integers(0, 4, size=(10, 2)) for _ in range(5)])
        torch.testing.assert_close(pool.weights(codes, lengths, 30) * mask,
                                   reference.reference_weight_rows(method, pool, codes, counts), rtol=1e-5, atol=1e-7,
                                   msg=method)
