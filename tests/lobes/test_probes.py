"""The two classification probes of lobes.probes on features with known structure."""

import numpy as np

from lobes.probes import centroid_accuracy, linear_probe_accuracy


def _clusters(rng, classes=10, per_class=6, dim=32, spread=0.3, scale=None):
    centres = rng.standard_normal((classes, dim))
    y = np.repeat(np.arange(classes), per_class)
    x = centres[y] + spread * rng.standard_normal((len(y), dim))
    if scale is not None:
        x = x * scale
    return x, [f"c{c}" for c in y]


def test_both_probes_separate_clusters():
    rng = np.random.default_rng(0)
    x_train, y_train = _clusters(rng)
    x_test = x_train + 0.3 * rng.standard_normal(x_train.shape)
    for probe in (centroid_accuracy, linear_probe_accuracy):
        accuracy, chance = probe(x_train, y_train, x_test, y_train)
        assert chance == 0.1 and accuracy >= 0.95, probe.__name__


def test_linear_probe_finds_a_direction_that_centroids_drown():
    # class information in 2 of 32 dimensions, the other 30 are loud noise: nearest centroid
    # weighs every standardized dimension alike, a linear probe learns to ignore the noise
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(8), 40)
    angle = 2 * np.pi * y / 8
    signal = np.stack([np.cos(angle), np.sin(angle)], 1)

    def draw():
        return np.hstack([signal + 0.1 * rng.standard_normal(signal.shape), rng.standard_normal((len(y), 30))])

    labels = [str(c) for c in y]
    x_train, x_test = draw(), draw()
    linear, chance = linear_probe_accuracy(x_train, labels, x_test, labels)
    centroid, _ = centroid_accuracy(x_train, labels, x_test, labels)
    assert linear >= 0.75 and linear > centroid + 0.2 and chance == 0.125


def test_linear_probe_is_at_chance_on_unrelated_labels_and_deterministic():
    rng = np.random.default_rng(2)
    x_train, x_test = rng.standard_normal((200, 16)), rng.standard_normal((200, 16))
    y_train, y_test = list(rng.choice(list("abcd"), 200)), list(rng.choice(list("abcd"), 200))
    first = linear_probe_accuracy(x_train, y_train, x_test, y_test)
    assert first == linear_probe_accuracy(x_train, y_train, x_test, y_test)
    assert abs(first[0] - 0.25) < 0.12
