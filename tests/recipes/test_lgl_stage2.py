"""recipes/LGL/Stage2 on the tiny corpus: the schedule carried across kills in every phase (training, gated,
between iterations, mid-clustering), the gate's kept fraction, the test list scored once with the best
validation checkpoint, the baseline without a gated phase."""

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from lobes.loss_gate import LGLSchedule

from recipe_support import torchrun

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "LGL")
TINY = ["--channels", "[16,16,16,16,48]", "--embedding_dim", "16", "--noprogressbar", "--val_dev_speakers", "4",
        "--val_dev_utterances", "2", "--device", "cpu"]  # CPU: runs compared to the last digit stay deterministic


def _run(stage, args, launcher=()):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([*(launcher or [sys.executable]), "train.py", *args], cwd=os.path.join(ROOT, stage),
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout + done.stderr


def _data_args(root, prep):
    return ["--prepare_folder", str(prep), "--data_folder", str(root / "VoxCeleb" / "vox1"),
            "--vox2_folder", str(root / "VoxCeleb" / "vox2" / "dev" / "wav"), "--noise_rir_data_folder", str(root)]


@pytest.fixture(scope="module")
def stage1(tiny_corpus, tmp_path_factory):
    root, _ = tiny_corpus
    base = tmp_path_factory.mktemp("lgl")
    _run("Stage1", ["hparams/contrastive.yaml", "--output_folder", str(base / "stage1"), "--number_of_epochs", "1",
                    "--batch_size", "8", "--segment_seconds", "0.8", *TINY, *_data_args(root, base / "prep")])
    return root, base, base / "stage1" / "save" / "embedder.ckpt"


def _stage2(stage1, yaml, out, max_epochs, *extra, clusters=6, launcher=()):
    root, base, embedder = stage1
    return _run("Stage2", [f"hparams/{yaml}", "--output_folder", str(out), "--stage1_embedder", str(embedder),
                           "--max_epochs", str(max_epochs), "--patience", "1", "--max_iterations", "2",
                           "--gates", "[3.0, 5.0]", "--n_clusters", str(clusters), "--batch_size", "8",
                           "--segment_seconds",
                           "1.0", *TINY, *_data_args(root, base / "prep"), *extra], launcher)


def _lines(out):
    pattern = r"epoch (\d+), iteration (\d+), phase (\w+), gate (\S+), loss \S+, kept ([0-9.]+), val EER ([0-9.]+)" \
              r", minDCF \S+, next (\w+)"
    return [re.match(pattern, line).groups() for line in (out / "score.txt").read_text().splitlines()]


def _follows(previous, line):
    """The phase and iteration of `line` are what the previous line's decision asked for."""
    _, iteration, phase, _, _, _, action = previous
    expected = {"continue": (iteration, phase), "gated": (iteration, "gated"),
                "recluster": (str(int(iteration) + 1), "train")}[action]
    return (line[1], line[2]) == expected


def test_lgl_resumes_its_schedule_after_a_kill_in_every_phase(stage1, tmp_path):
    out = tmp_path / "lgl"
    seen_phases = set()
    outputs = {}
    trained = []  # metrics.json's training time after each process: the whole run's, growing by an epoch each
    for stop in range(1, 9):  # one epoch per process: each run ends (as if killed) after one more epoch
        outputs[stop] = _stage2(stage1, "lgl.yaml", out, stop)
        trained.append(json.loads((out / "metrics.json").read_text())["train_seconds"])
        lines = _lines(out)
        assert [int(line[0]) for line in lines] == list(range(1, len(lines) + 1))
        seen_phases.add(lines[-1][2] if lines[-1][6] == "continue" else lines[-1][6])
        if lines[-1][6] == "stop":
            break
    assert {"train", "gated", "recluster"} <= seen_phases
    # the run killed after every epoch trained as an uninterrupted one: the random draws (loader workers' crops and
    # augmentations, the fresh heads) go on from each checkpoint, so every loss, kept fraction and EER is the same
    _stage2(stage1, "lgl.yaml", tmp_path / "uninterrupted", stop)
    assert (tmp_path / "uninterrupted" / "score.txt").read_text() == (out / "score.txt").read_text()
    lines = _lines(out)
    assert lines[0][1:3] == ("0", "train") and all(_follows(a, b) for a, b in zip(lines, lines[1:]))
    for line in lines:  # the gate: none in training phases, the iteration's own in gated ones
        gate = {"train": "None", "gated": ("3.0", "5.0")[int(line[1])]}[line[2]]
        assert line[3] == gate and (float(line[4]) == 1.0 if line[2] == "train" else True)
    # every run ended after one epoch: the run after a phase change resumed from the saved state and, before its
    # first epoch, went back to the best checkpoint of the iteration, as an uninterrupted run does
    for k, line in enumerate(lines):
        if line[6] in ("gated", "recluster") and int(line[0]) + 1 in outputs:
            so_far = [other for other in lines[:k + 1] if other[1] == line[1]]
            lowest = min(float(other[5]) for other in so_far)
            best = {other[0] for other in so_far if float(other[5]) == lowest}  # (EERs printed to 2 decimals)
            resumed = re.findall(r"continuing from the iteration's best checkpoint \(epoch (\d+)\)",
                                 outputs[int(line[0]) + 1])
            assert resumed and resumed[0] in best, (line, resumed)
    clusters = (out / "clusters.txt").read_text().splitlines()
    assert len(clusters) == 1 + sum(line[6] == "recluster" for line in lines[:-1])  # one clustering per iteration
    assert all(re.search(r"NMI 0\.\d+|NMI 1\.0", c) for c in clusters)
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    val = [float(line[5]) for line in lines]
    assert metrics["val_eer"] == pytest.approx(min(val), abs=0.01)
    # the test list was scored with the checkpoint of the best validation EER (the one loaded), not the latest
    assert val[metrics["scored_epoch"] - 1] == pytest.approx(min(val), abs=0.01)
    assert metrics["test_trials"] == len((out / "scores_test.txt").read_text().splitlines())
    assert metrics["stage1_sha1"] == hashlib.sha1(stage1[2].read_bytes()).hexdigest()  # the model it started from
    assert all(later > earlier for earlier, later in zip(trained, trained[1:]))
    _stage2(stage1, "lgl.yaml", out, stop)  # the finished run started again: nothing trained, the time kept
    assert json.loads((out / "metrics.json").read_text())["train_seconds"] == trained[-1] > 0


def test_a_kill_mid_clustering_reuses_the_embeddings(stage1, tmp_path):
    out = tmp_path / "mid"
    _stage2(stage1, "lgl.yaml", out, 1)
    first_epoch = (out / "score.txt").read_text()
    (embeddings,), (labels,) = (out / "clusters").glob("embeddings_0_*.npy"), (out / "clusters").glob("labels_0_*.json")
    stamp = os.path.getmtime(embeddings)

    def kill_before_the_first_checkpoint():
        (out / "score.txt").unlink()
        for ckpt in (out / "save").iterdir():
            if ckpt.name.startswith("CKPT"):
                shutil.rmtree(ckpt)

    labels.unlink()  # as if killed between the embeddings and the k-means
    kill_before_the_first_checkpoint()
    _stage2(stage1, "lgl.yaml", out, 1)
    assert os.path.getmtime(embeddings) == stamp and labels.exists()
    # the embedding pass it skipped drew nothing from the generator the head and the loader workers draw from:
    # the same epoch as when the embeddings were computed
    assert (out / "score.txt").read_text() == first_epoch
    kill_before_the_first_checkpoint()  # killed during the first epoch: embeddings and labels both on disk
    _stage2(stage1, "lgl.yaml", out, 1)
    assert (out / "score.txt").read_text() == first_epoch
    # another cluster count (or Stage-1 model) clusters afresh instead of reusing these files
    shutil.rmtree(out / "save")
    (out / "score.txt").unlink()
    _stage2(stage1, "lgl.yaml", out, 1, clusters=5)
    assert len(list((out / "clusters").glob("labels_0_*.json"))) == 2


def test_the_baseline_never_gates(stage1, tmp_path):
    out = tmp_path / "baseline"
    _stage2(stage1, "baseline.yaml", out, 6)
    lines = _lines(out)
    assert {line[2] for line in lines} == {"train"} and {line[4] for line in lines} == {"1.000"}
    assert any(line[6] == "recluster" for line in lines)


def _head_agreement(out):
    """The fraction of training utterances whose Stage-1 embedding the saved head scores highest for the cluster
    that the k-means gave it (the head as it started: trained with lr 0)."""
    import torch

    [embeddings_file] = (out / "clusters").glob("embeddings_0_*.npy")
    [labels_file] = (out / "clusters").glob("labels_0_*.json")
    labels = json.loads(labels_file.read_text())
    embeddings = np.load(embeddings_file)
    [ckpt] = [c for c in (out / "save").glob("CKPT*") if (c / "head.ckpt").exists()][:1]
    weight = torch.load(ckpt / "head.ckpt", map_location="cpu")["weight"].numpy()
    order = list(labels)  # the labels file lists the utterances in the embeddings' order
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    scores = unit @ (weight / np.maximum(np.linalg.norm(weight, axis=1, keepdims=True), 1e-12)).T
    return float(np.mean(np.argmax(scores, axis=1) == np.array([labels[uid] for uid in order])))


def test_the_centroid_head_starts_from_the_kmeans_assignment(stage1, tmp_path):
    common = ("--lr", "0.0")
    _stage2(stage1, "baseline.yaml", tmp_path / "centroids", 1, "--head_init", "centroids", *common)
    _stage2(stage1, "baseline.yaml", tmp_path / "random", 1, *common)
    assert _head_agreement(tmp_path / "centroids") == 1.0  # every utterance scored as faiss assigned it
    assert _head_agreement(tmp_path / "random") < 0.6      # a random head does not know the clusters


def test_two_gloo_processes_cluster_once_and_follow_one_schedule(stage1, tmp_path):
    """torchrun: each process embeds half of the training set (together: the one-process embeddings), the main
    process clusters once per iteration, and both processes take the same phase decisions."""
    _stage2(stage1, "lgl.yaml", tmp_path / "one", 1)
    out = tmp_path / "ddp"
    _stage2(stage1, "lgl.yaml", out, 6, "--distributed_backend", "gloo",
            launcher=torchrun())
    (alone,), (shared,) = (tmp_path / "one" / "clusters").glob("embeddings_0_*.npy"), (out / "clusters").glob(
        "embeddings_0_*.npy")
    assert np.allclose(np.load(shared), np.load(alone), atol=1e-5)  # same Stage-1 model, same order
    lines = _lines(out)
    assert [int(line[0]) for line in lines] == list(range(1, len(lines) + 1))  # one line per epoch: main only
    assert all(_follows(a, b) for a, b in zip(lines, lines[1:]))
    assert {"gated", "recluster"} <= {line[6] for line in lines}
    clusters = (out / "clusters.txt").read_text().splitlines()
    assert len(clusters) == 1 + sum(line[6] == "recluster" for line in lines[:-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == len(lines)


def test_the_true_speakers_replace_the_clusters_when_asked(stage1, tmp_path):
    """`pseudo_labels: speakers` (the upper bound): one class per speaker of the training CSV, every utterance
    of a speaker in its class, and a cluster count that is not the speaker count is refused by name."""
    import csv

    root, base, _ = stage1
    with open(base / "prep" / "vox2_train.csv") as f:
        speaker_of = {row["ID"]: row["spk_id"] for row in csv.DictReader(f)}
    n_speakers = len(set(speaker_of.values()))
    out = tmp_path / "speakers"
    _stage2(stage1, "baseline.yaml", out, 1, "--pseudo_labels", "speakers", clusters=n_speakers)
    [labels_file] = (out / "clusters").glob("speaker_labels_0_*.json")
    labels = json.loads(labels_file.read_text())
    assert set(labels) == set(speaker_of)
    classes = {}
    for uid, label in labels.items():
        classes.setdefault(speaker_of[uid], set()).add(label)
    assert all(len(c) == 1 for c in classes.values()) and len(set().union(*classes.values())) == n_speakers
    assert not list((out / "clusters").glob("embeddings_*.npy"))  # nothing was embedded for it
    assert "NMI 1.0000, purity 1.0000" in (out / "clusters.txt").read_text()
    with pytest.raises(AssertionError, match="--pseudo_labels speakers to resume it"):
        _stage2(stage1, "baseline.yaml", out, 2, clusters=n_speakers)  # never resumed on the clusters
    with pytest.raises(AssertionError, match=r"pseudo_labels: \\*'speaker\\*'; expected kmeans or speakers"):
        _stage2(stage1, "baseline.yaml", tmp_path / "typo", 1, "--pseudo_labels", "speaker")
    assert not (tmp_path / "typo" / "hyperparams.yaml").exists()  # refused before the experiment is set up
    with pytest.raises(AssertionError, match=f"has {n_speakers} speakers; pass --n_clusters {n_speakers}"):
        _stage2(stage1, "baseline.yaml", tmp_path / "wrong", 1, "--pseudo_labels", "speakers",
                clusters=n_speakers + 1)


def test_the_reload_of_the_best_epoch_rewinds_the_weights_not_the_random_draws(tmp_path):
    """A gated phase starts from the best epoch's weights; its crops and augmentations must not replay the ones
    drawn after that epoch (the checkpoint also holds the generator's state, for resuming)."""
    spec = importlib.util.spec_from_file_location("lgl_stage2_train", os.path.join(ROOT, "Stage2", "train.py"))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    with torch.random.fork_rng(devices=[]):  # the test process's generator left as it was
        _reload_the_best_epoch(train, tmp_path)


def _reload_the_best_epoch(train, tmp_path):
    layer = torch.nn.Linear(3, 3)
    checkpointer = Checkpointer(tmp_path, {"layer": layer, "rng_state": train.saveable_cpu_generator()})
    schedule = LGLSchedule(gates=[3.0], patience=1, max_iterations=1)
    schedule.clustered()
    schedule.evaluated(5.0, tag="epoch 1")
    torch.manual_seed(0)
    checkpointer.save_checkpoint(meta={"schedule": "{}", "tag": "epoch 1"})
    best = layer.weight.detach().clone()
    replayed = torch.rand(4)  # what the draws after the best epoch were
    with torch.no_grad():
        layer.weight.add_(1.0)  # later epochs changed the weights
    state = torch.get_rng_state()
    following = torch.rand(4)  # what an unbroken generator draws next
    torch.set_rng_state(state)
    train.load_best_of_iteration(checkpointer, schedule)
    assert torch.equal(layer.weight, best) and schedule.best_tag == "epoch 1"
    drawn = torch.rand(4)
    assert torch.equal(drawn, following) and not torch.equal(drawn, replayed)
