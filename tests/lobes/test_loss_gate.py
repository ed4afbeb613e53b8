"""Loss-gated learning, Stage 2: the gate, the phase schedule on scripted EER histories, k-means and NMI."""

import math

import numpy as np
import pytest
import torch

from lobes.kmeans import cluster_centroids, nmi, purity, spherical_kmeans
from lobes.loss_gate import LGLSchedule, gated_mean


def test_the_gate_keeps_exactly_the_samples_at_or_under_it():
    losses = torch.tensor([0.5, 3.0, 1.0, 7.0, 2.9], requires_grad=True)
    loss, kept = gated_mean(losses, 1.0)
    assert kept == pytest.approx(2 / 5)
    assert loss.item() == pytest.approx((0.5 + 1.0) / 2)
    loss.backward()  # only the kept samples get a gradient
    assert losses.grad.tolist() == [0.5, 0.0, 0.5, 0.0, 0.0]


def test_a_gate_above_every_loss_is_the_ungated_mean():
    losses = torch.rand(32) * 5
    gated, kept = gated_mean(losses, 100.0)
    plain, everything = gated_mean(losses, None)
    assert kept == everything == 1.0
    torch.testing.assert_close(gated, losses.mean())
    torch.testing.assert_close(plain, losses.mean())


def test_a_batch_with_no_sample_kept_gives_a_zero_loss_not_nan():
    losses = torch.tensor([4.0, 5.0], requires_grad=True)
    loss, kept = gated_mean(losses, 1.0)
    loss.backward()
    assert loss.item() == 0.0 and kept == 0.0 and losses.grad.abs().sum() == 0


def _run(schedule, eers_per_phase):
    """Feeds the schedule one scripted EER list per training phase, clustering when asked; returns the actions."""
    actions, phases = [], iter(eers_per_phase)
    assert schedule.clustered() == "train"
    for eers in phases:
        for eer in eers:
            action = schedule.evaluated(eer, tag=f"{schedule.iteration}-{schedule.phase}-{eer}")
            actions.append(action)
            if action == "recluster":
                schedule.clustered()
            if action != "continue":
                break
        else:
            raise AssertionError("a scripted phase ended without a decision")
        if action == "stop":
            break
    return actions


def test_train_then_gate_then_recluster_with_patience_4():
    schedule = LGLSchedule(gates=[1, 3, 3, 5, 6], patience=4, max_iterations=5)
    # iteration 0, train: best 8.0 at the 2nd evaluation, then 4 without improvement -> gated
    actions = _run(schedule, [[9.0, 8.0, 8.2, 8.0, 8.1, 8.3]])
    assert actions == ["continue"] * 5 + ["gated"]
    assert schedule.phase == "gated" and schedule.gate == 1 and schedule.best_tag == "0-train-8.0"
    # gated: must beat 8.0; 7.0 does, then 4 evaluations without -> recluster, iteration 1 trains without gate
    assert _run_more(schedule, [7.5, 7.0, 7.1, 7.2, 7.0, 7.3]) == ["continue"] * 5 + ["recluster"]
    assert schedule.best_tag == "0-gated-7.0"
    schedule.clustered()
    assert (schedule.iteration, schedule.phase, schedule.gate) == (1, "train", None)
    # the new labels restart the classifier: its first EER, however high, is the new best
    assert _run_more(schedule, [12.0]) == ["continue"]
    assert schedule.best_tag == "1-train-12.0"


def _run_more(schedule, eers):
    return [schedule.evaluated(eer, tag=f"{schedule.iteration}-{schedule.phase}-{eer}") for eer in eers]


def test_five_iterations_at_most_and_the_gates_in_order():
    schedule = LGLSchedule(gates=[1, 3, 3, 5, 6], patience=4, max_iterations=5)
    gates, stops = [], 0
    schedule.clustered()
    for _ in range(100):
        action = schedule.evaluated(10.0)  # never improves after the first evaluation of a phase
        if action == "gated":
            gates.append(schedule.gate)
        elif action == "recluster":
            schedule.clustered()
        elif action == "stop":
            stops += 1
            break
    assert gates == [1, 3, 3, 5, 6] and stops == 1 and schedule.phase == "done"
    # per iteration: 5 evaluations of training (1 best + 4 without) and 4 gated ones (none beats the best)
    assert len(schedule.state["history"]) == 5 * (5 + 4)


def test_the_baseline_has_no_gated_phase():
    schedule = LGLSchedule(patience=2, max_iterations=2, use_gate=False)
    schedule.clustered()
    assert _run_more(schedule, [5.0, 6.0, 6.0]) == ["continue", "continue", "recluster"]
    schedule.clustered()
    assert _run_more(schedule, [5.0, 6.0, 6.0]) == ["continue", "continue", "stop"]
    assert {h["phase"] for h in schedule.state["history"]} == {"train"}


def test_the_state_resumes_mid_phase():
    schedule = LGLSchedule(patience=3, max_iterations=2, gates=[1, 2])
    schedule.clustered()
    _run_more(schedule, [9.0, 9.5, 9.6])
    resumed = LGLSchedule(patience=3, max_iterations=2, gates=[1, 2])
    resumed.load_state_dict(schedule.state_dict())
    assert resumed.evaluated(9.7) == schedule.evaluated(9.7) == "gated"
    assert resumed.state == schedule.state
    with pytest.raises(ValueError, match="not an LGL schedule state"):
        resumed.load_state_dict({"phase": "train"})
    with pytest.raises(RuntimeError, match="phase 'gated'"):
        resumed.clustered()


def test_bad_schedules_are_named():
    with pytest.raises(ValueError, match="5 iterations need as many gates"):
        LGLSchedule(gates=[1, 3], max_iterations=5)
    assert math.isinf(LGLSchedule(gates=[], max_iterations=5, use_gate=False).state["best_eer"])


def test_kmeans_recovers_planted_speakers():
    rng = np.random.default_rng(3)
    directions = rng.normal(size=(12, 32))
    speakers = np.repeat(np.arange(12), 40)
    # embeddings of one speaker point one way, at any length (the clustering is on directions)
    points = directions[speakers] + 0.3 * rng.normal(size=(len(speakers), 32))
    points *= rng.uniform(0.5, 5.0, size=(len(points), 1))
    seeded = [nmi(spherical_kmeans(points, 12, seed=s), speakers) for s in range(6)]
    drawn = [nmi(spherical_kmeans(points, 12, seed=s, init="random"), speakers) for s in range(6)]
    # k-means++ finds the 12 speakers exactly from most seeds; faiss' random start from none of these
    assert sum(v > 0.999 for v in seeded) >= 5 and min(seeded) > 0.95
    assert max(drawn) < 0.999 and np.mean(drawn) < np.mean(seeded)
    labels = spherical_kmeans(points, 12, seed=0)
    assert all(len(set(speakers[labels == c])) == 1 for c in np.unique(labels))  # each cluster one speaker


def test_cluster_centroids_point_at_the_planted_speakers_and_rank_as_kmeans_assigns():
    rng = np.random.default_rng(5)
    directions = rng.normal(size=(6, 16))
    speakers = np.repeat(np.arange(6), 30)
    points = (directions[speakers] + 0.3 * rng.normal(size=(len(speakers), 16))) * rng.uniform(0.5, 5.0, (180, 1))
    labels = spherical_kmeans(points, 6, seed=0)
    centroids = cluster_centroids(points, labels, 7)  # one cluster more than there are: an empty one
    assert np.allclose(np.linalg.norm(centroids[:6], axis=1), 1.0, atol=1e-6) and not centroids[6].any()
    for c in range(6):  # each centroid is its speaker's direction, whatever the lengths of its points
        speaker = speakers[labels == c][0]
        truth = directions[speaker] / np.linalg.norm(directions[speaker])
        assert centroids[c] @ truth > 0.98
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    assert (np.argmax(unit @ centroids.T, axis=1) == labels).all()  # the faiss assignment, recovered
    with pytest.raises(ValueError, match="cluster ids"):
        cluster_centroids(points, labels, 3)


def test_nmi_against_a_hand_computed_case():
    # a = [0,0,1,1], b = [0,0,0,1]: I = 0.75 ln(4/3)... computed from the joint table by hand
    a, b = np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1])
    joint = {(0, 0): 0.5, (1, 0): 0.25, (1, 1): 0.25}
    pa, pb = {0: 0.5, 1: 0.5}, {0: 0.75, 1: 0.25}
    mutual = sum(p * math.log(p / (pa[i] * pb[j])) for (i, j), p in joint.items())
    h_a = math.log(2)
    h_b = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert nmi(a, b) == pytest.approx(mutual / ((h_a + h_b) / 2))
    assert nmi(a, a + 5) == pytest.approx(1.0)
    assert nmi(np.zeros(5), np.arange(5)) == pytest.approx(0.0)


def test_purity_counts_the_labels_a_majority_reading_gets_right():
    # clusters 7: speakers a a b -> 2 right; cluster 3: b c c c -> 3 right; cluster 9: d -> 1; 6 of 8
    clusters = [7, 7, 7, 3, 3, 3, 3, 9]
    speakers = ["a", "a", "b", "b", "c", "c", "c", "d"]
    assert purity(clusters, speakers) == pytest.approx(6 / 8)
    assert purity(speakers, speakers) == 1.0
    assert purity(np.zeros(4), ["a", "b", "c", "c"]) == pytest.approx(2 / 4)  # one cluster: the largest class
    with pytest.raises(ValueError, match="empty"):
        purity([], [])


def test_kmeans_refuses_bad_embeddings():
    with pytest.raises(ValueError, match="lower n_clusters"):
        spherical_kmeans(np.ones((3, 4)), 5)
    bad = np.ones((10, 4))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        spherical_kmeans(bad, 2)


def test_the_torch_backend_finds_the_same_planted_speakers():
    rng = np.random.default_rng(4)
    directions = rng.normal(size=(10, 24))
    speakers = np.repeat(np.arange(10), 30)
    points = directions[speakers] + 0.3 * rng.normal(size=(len(speakers), 24))
    by_faiss = spherical_kmeans(points, 10, seed=1, backend="faiss")
    by_torch = spherical_kmeans(points, 10, seed=1, backend="torch")
    assert nmi(by_torch, speakers) > 0.999 and nmi(by_torch, by_faiss) > 0.999
    with pytest.raises(ValueError, match="unknown k-means backend"):
        spherical_kmeans(points, 10, backend="sklearn")


def test_a_sample_left_out_with_an_infinite_loss_does_not_poison_the_mean():
    losses = torch.tensor([0.5, float("inf"), 0.7], requires_grad=True)
    loss, kept = gated_mean(losses, 1.0)
    assert loss.item() == pytest.approx(0.6) and kept == pytest.approx(2 / 3)
    loss.backward()
    assert torch.isfinite(losses.grad).all()
