#!/usr/bin/env python3
"""Loss-gated learning, Stage 2: k-means pseudo-labels, AAM-softmax classification, the loss gate.

    python train.py hparams/lgl.yaml --stage1_embedder ../Stage1/<output>/save/embedder.ckpt
    python train.py hparams/baseline.yaml ...      # the same schedule without the gate

Per iteration (lobes.loss_gate.LGLSchedule; at most `max_iterations`):
  cluster  embed every training utterance (clean, whole) with the best model of the last iteration (Stage 1's at first),
           spherical k-means into `n_clusters` (lobes.kmeans) -> labels; NMI and purity against the true
           speakers are logged when the manifest has them (never used for a decision);
  train    the Stage-1 embedder and a fresh cosine head, AAM-softmax on 3 s augmented segments, until the
           validation EER has not improved for `patience` evaluations;
  gated    from that phase's best checkpoint, only the samples whose loss is at most the iteration's gate
           count (the fraction kept is logged per epoch), again until `patience` evaluations bring nothing;
           then the next iteration clusters with the best model.
Every decision reads the validation trials (held-out speakers); the test trials are scored once, at the end,
with the checkpoint of the best validation EER. The schedule's state rides in each checkpoint's meta and the
clustering writes its embeddings and labels to files: a run killed in any phase resumes there.

Under `torchrun` each process embeds its share of the training set for the clustering, the main process runs the
k-means and writes the labels that every process then reads, the classifier trains with DDP, and every process takes
the same phase decisions from the main process's validation EER.
"""

import hashlib
import json
import logging
import os
import sys
import time

import numpy as np
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.distributed import ddp_barrier, ddp_broadcast, if_main_process
from tqdm import tqdm

from corpora.audio import load_audio
from corpora.files import atomic_write, file_sha1, write_json
from corpora.manifest import read_csv
from lobes.kmeans import cluster_centroids, nmi, purity, spherical_kmeans
from lobes.loss_gate import LGLSchedule, gated_mean
from lobes.wave_augment import DrawCollate, mix

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lgl_common import EmbeddingBrain, prepare_data, saveable_cpu_generator, score_test, whole_utterances  # noqa: E402

logger = logging.getLogger(__name__)


class GatedBrain(EmbeddingBrain):
    """TRAIN: AAM-softmax on cluster labels, averaged over the samples the gate keeps."""

    def train_forward(self, batch):
        segments = batch.segment.data.to(self.device)
        draws = [t.to(self.device, non_blocking=True) for t in batch.draw]  # padded by DrawCollate
        return self.modules.embedder(mix(segments, *draws))

    def train_objectives(self, outputs, batch):
        labels = batch.label.data[:, 0].to(self.device)
        with torch.autocast(self.device_type, enabled=False):  # the gate compares these losses: float32
            cosines = self.modules.head(outputs.float()[:, None]).squeeze(1)  # [B, clusters]
            logits = self.hparams.aam(cosines, torch.nn.functional.one_hot(labels, cosines.shape[-1]).float())
            losses = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
        loss, kept = gated_mean(losses, self.schedule.gate)
        self.kept.append(kept)
        return loss

    def on_fit_start(self):
        """`fit` runs one epoch at a time here: the optimizer and the resume are main()'s (SpeechBrain's default
        would rebuild the optimizer and reload the latest checkpoint before every epoch)."""
        if not getattr(self, "_wrapped", False):
            self._compile()
            self._wrap_distributed()
            self._wrapped = True

    def on_stage_start(self, stage, epoch=None):
        self.embeddings, self.kept = {}, []

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss, "kept": float(np.mean(self.kept)) if self.kept else 1.0}
        elif stage == sb.Stage.VALID:
            self.valid_stats = self.validation_metrics()

    def embed_training_set(self, dataset, path):
        """Embeddings `[N, D]` of `dataset` (clean, whole utterances) in its order, cached in `path` (.npy); under
        torchrun every process embeds every world-size-th utterance and the main process alone gets the matrix
        (the others get None)."""
        if ddp_broadcast(os.path.exists(path)):
            return np.load(path) if if_main_process() else None
        rank, world = _rank_and_world()
        share = torch.utils.data.Subset(dataset, range(rank, len(dataset), world))
        loader = sb.dataio.dataloader.make_dataloader(share, batch_size=1, collate_fn=PaddedBatch)
        self.modules.eval()
        out = []
        # forked: iterating a loader draws from torch's generator, and a resumed run that finds this file skips it
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            for batch in tqdm(loader, desc="embedding the training set", disable=self.noprogressbar):
                out.append(self.compute_forward(batch, sb.Stage.TEST).float().cpu().numpy()[0])
        shares = [out]
        if world > 1:  # to the main process only: at VoxCeleb2 scale the matrix is about 1 GB
            shares = [None] * world if rank == 0 else None
            torch.distributed.gather_object(out, shares, dst=0)
        if not if_main_process():
            return None
        dim = next(len(vectors[0]) for vectors in shares if vectors)
        embeddings = np.empty((len(dataset), dim), dtype=np.float32)
        for r, vectors in enumerate(shares):
            embeddings[r::world] = np.reshape(vectors, (-1, dim))
        np.save(path + ".part.npy", embeddings)
        os.replace(path + ".part.npy", path)
        return embeddings


def _rank_and_world():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def cluster_files(hparams, iteration):
    """The embeddings (.npy) and labels (.json) files of an iteration's clustering, named after what decides
    them, so that another Stage-1 model, cluster count or seed never reuses stale ones."""
    folder = os.path.join(hparams["output_folder"], "clusters")
    os.makedirs(folder, exist_ok=True)
    source = os.stat(hparams["stage1_embedder"])
    key = hashlib.sha1(json.dumps([os.path.abspath(hparams["stage1_embedder"]), source.st_size, source.st_mtime_ns,
                                   hparams["n_clusters"], hparams["seed"]]).encode()).hexdigest()[:10]
    labels = "labels" if _label_source(hparams) == "kmeans" else "speaker_labels"
    return (os.path.join(folder, f"embeddings_{iteration}_{key}.npy"),
            os.path.join(folder, f"{labels}_{iteration}_{key}.json"))


def _label_source(hparams):
    source = hparams.get("pseudo_labels", "kmeans")
    if source not in ("kmeans", "speakers"):
        raise ValueError(f"pseudo_labels: {source!r}; expected kmeans or speakers")
    return source


def cluster(brain, hparams, datasets, iteration):
    """Labels `{utterance ID: cluster}` of this iteration: embeddings and labels cached in files, so a killed run
    resumes mid-clustering."""
    embeddings_file, labels_file = cluster_files(hparams, iteration)
    if not ddp_broadcast(os.path.exists(labels_file)):
        full = datasets["train_full"]
        start = time.time()
        embeddings = None  # the true speakers need no embedding
        if _label_source(hparams) == "kmeans":
            embeddings = brain.embed_training_set(full, embeddings_file)
        if if_main_process():
            write_clusters(hparams, full, embeddings, iteration, labels_file, start)
        ddp_barrier()  # the labels are on disk for every process
    with open(labels_file) as f:
        return json.load(f)


def speaker_labels(speakers, n_clusters, train_csv):
    """`pseudo_labels: speakers`: the true speaker of each utterance as its class (an upper bound for what the
    clustering can give, never the recipe's result)."""
    if not all(speakers):
        raise ValueError(f"pseudo_labels: speakers needs a spk_id for every row of {train_csv}")
    names = sorted(set(speakers))
    if len(names) != n_clusters:
        raise ValueError(f"pseudo_labels: speakers: {train_csv} has {len(names)} speakers; pass --n_clusters "
                         f"{len(names)}")
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[s] for s in speakers])


def write_clusters(hparams, full, embeddings, iteration, labels_file, start):
    rows = {r["ID"]: r for r in read_csv(hparams["train_csv"])}
    ids = [full.data_ids[i] for i in range(len(full))]
    speakers = [rows[uid].get("spk_id") for uid in ids]
    if _label_source(hparams) == "speakers":
        labels = speaker_labels(speakers, hparams["n_clusters"], hparams["train_csv"])
    else:
        labels = spherical_kmeans(embeddings, hparams["n_clusters"], niter=hparams["kmeans_iterations"],
                                  seed=hparams["seed"] + iteration)
    mapping = {uid: int(c) for uid, c in zip(ids, labels)}
    # diagnostics only, never a decision: NMI and purity against the true speakers, when the manifest has them
    against = f"NMI {nmi(labels, speakers):.4f}, purity {purity(labels, speakers):.4f}" if all(speakers) else "NMI n/a"
    logger.info("iteration %d: %d utterances into %d clusters in %.1f s; against the true speakers: %s",
                iteration, len(ids), hparams["n_clusters"], time.time() - start, against)
    with open(os.path.join(hparams["output_folder"], "clusters.txt"), "a") as f:
        f.write(f"iteration {iteration}: {len(ids)} utterances, {hparams['n_clusters']} clusters, {against}\n")
    atomic_write(labels_file, lambda f: json.dump(mapping, f))


def dataio_prepare(hparams, labels=None):
    rate, samples = hparams["sample_rate"], int(hparams["segment_seconds"] * hparams["sample_rate"])
    draw = hparams["noise_draw"]

    @sb.utils.data_pipeline.takes("wav", "id")
    @sb.utils.data_pipeline.provides("segment", "draw", "label")
    def train_pipeline(wav, uid):
        rng = np.random.default_rng(int(torch.randint(2 ** 62, ())))
        signal = load_audio(wav, rate).numpy()
        if len(signal) < samples:
            signal = np.pad(signal, (0, samples - len(signal)), mode="wrap")
        start = int(rng.integers(0, len(signal) - samples + 1))
        yield torch.from_numpy(signal[start:start + samples].copy())
        yield draw(samples, rng)
        yield torch.tensor([labels[uid]])

    datasets = {name: whole_utterances(hparams[csv], rate)
                for name, csv in (("train_full", "train_csv"), ("val", "val_csv"), ("test", "test_csv"))}
    if labels is not None:
        train = DynamicItemDataset.from_csv(hparams["train_csv"])
        train.add_dynamic_item(train_pipeline)
        train.set_output_keys(["id", "segment", "draw", "label"])
        datasets["train"] = train
    return datasets


def load_stage1(brain, hparams):
    """Into the module itself (`hparams`), not its DDP wrapper in `brain.modules`."""
    hparams["embedder"].load_state_dict(torch.load(hparams["stage1_embedder"], map_location=brain.device))


def start_iteration(brain, hparams, datasets, labels):
    """The classifier restarts from the Stage-1 embedder, with a fresh head and optimizer state. The head is
    random (`head_init: random`, the original's), or each cluster's weight is the mean direction of its
    members' Stage-1 embeddings (`centroids`), so that the first steps already score the clusters as the
    k-means did, instead of sending a random head's gradients into the Stage-1 encoder."""
    load_stage1(brain, hparams)
    head = hparams["head"]
    for layer in head.modules():
        if hasattr(layer, "reset_parameters") and layer is not head:
            layer.reset_parameters()
    torch.nn.init.xavier_uniform_(head.weight)
    head_init = hparams.get("head_init", "random")
    if head_init == "centroids":
        full = datasets["train_full"]
        # iteration 0 clustered the Stage-1 embeddings (cached; embedded again with the Stage-1 weights just
        # loaded if the file is gone): later iterations' labels, in the space the encoder restarts from
        stage1_embeddings = brain.embed_training_set(full, cluster_files(hparams, 0)[0])
        if if_main_process():
            ids = [labels[full.data_ids[i]] for i in range(len(full))]
            centroids = cluster_centroids(stage1_embeddings, ids, hparams["n_clusters"])
            if tuple(head.weight.shape) != centroids.shape:
                raise ValueError(f"head_init: centroids needs a head on the embedding itself (lin_blocks: 0): its "
                                 f"weight is {tuple(head.weight.shape)}, the centroids {centroids.shape}")
            head.weight.data.copy_(torch.from_numpy(centroids).to(head.weight.device))
    elif head_init != "random":
        raise ValueError(f"head_init: {head_init!r}; expected random or centroids")
    if _rank_and_world()[1] > 1:  # DDP copied the weights at wrapping only: every process starts from the main's
        for parameter in head.parameters():
            torch.distributed.broadcast(parameter.data, src=0)
    brain.optimizer.state.clear()


def _epoch_end(ckpt):
    """The checkpoints this loop saves (not SpeechBrain's intra-epoch ones, which carry no schedule)."""
    return "schedule" in ckpt.meta


def load_best_of_iteration(checkpointer, schedule):
    """The weights (and optimizer state) of the iteration's best epoch, the schedule kept as it is now."""
    best = checkpointer.find_checkpoint(ckpt_predicate=lambda c: _epoch_end(c) and c.meta["tag"] == schedule.best_tag)
    if best is None:
        raise RuntimeError(f"the checkpoint of {schedule.best_tag!r} (the iteration's best) is missing from "
                           f"{checkpointer.checkpoints_dir}; the run cannot go on from its best model")
    state, draws = schedule.state_dict(), torch.get_rng_state()
    checkpointer.load_checkpoint(best)
    schedule.load_state_dict(state)
    torch.set_rng_state(draws)  # the weights go back to the best epoch, the random draws go on
    logger.info("continuing from the iteration's best checkpoint (%s)", schedule.best_tag)


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    sb.utils.distributed.ddp_init_group(run_opts)  # torchrun: one process per device (or CPU core group)
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    _label_source(hparams)  # a bad value stops here, before any preparation
    sb.create_experiment_directory(hparams["output_folder"], hyperparams_to_save=hparams_file, overrides=overrides)
    if not os.path.isfile(hparams["stage1_embedder"]):
        raise FileNotFoundError(f"{hparams['stage1_embedder']} not found: run Stage 1 first (recipes/LGL/Stage1), "
                                "or pass --stage1_embedder <its save/embedder.ckpt>")
    prepare_data(hparams)
    schedule = LGLSchedule(gates=hparams["gates"], patience=hparams["patience"],
                           max_iterations=hparams["max_iterations"], use_gate=hparams["use_gate"])
    modules = {"embedder": hparams["embedder"], "head": hparams["head"]}
    checkpointer = hparams["checkpointer"]
    checkpointer.add_recoverables(modules)
    # resumed, a run draws the crops and augmentations an uninterrupted one would (older checkpoints: a warning)
    checkpointer.add_recoverable("rng_state", saveable_cpu_generator(), optional_load=True)
    brain = GatedBrain(modules=modules, opt_class=hparams["opt_class"], hparams=hparams, run_opts=run_opts,
                       checkpointer=checkpointer)
    brain.schedule = schedule
    brain.init_optimizers()  # before any checkpoint is loaded: the optimizer is a recoverable too
    checkpointer.add_recoverables({"optimizer": brain.optimizer})

    # the most recent end-of-epoch checkpoint: its meta holds the schedule and the epoch
    latest = checkpointer.find_checkpoint(ckpt_predicate=_epoch_end)
    epoch, trained_before = 0, 0.0  # metrics.json reports the whole run's training time, across resumptions
    if latest is not None:
        resumed_labels = latest.meta.get("pseudo_labels", "kmeans")  # runs before the option: the clusters
        if resumed_labels != _label_source(hparams):
            raise ValueError(f"{hparams['output_folder']} was trained on pseudo_labels: {resumed_labels}, this run "
                             f"asks for {_label_source(hparams)}: give another --output_folder, or "
                             f"--pseudo_labels {resumed_labels} to resume it")
        checkpointer.load_checkpoint(latest)
        schedule.load_state_dict(json.loads(latest.meta["schedule"]))
        epoch = int(latest.meta["epoch"])
        trained_before = float(latest.meta.get("train_seconds", 0.0))
        logger.info("resuming after epoch %d, iteration %d, phase %s", epoch, schedule.iteration, schedule.phase)
        if latest.meta.get("from_best"):  # killed between a phase's end and its best model's reload
            load_best_of_iteration(checkpointer, schedule)
    else:
        load_stage1(brain, hparams)  # the first clustering embeds with the Stage-1 model
    datasets = dataio_prepare(hparams)
    labels = None
    loader = dict(hparams["dataloader_options"])
    segment_samples = int(hparams["segment_seconds"] * hparams["sample_rate"])
    start_time = time.time()
    while schedule.phase != "done" and epoch < hparams["max_epochs"]:
        if schedule.phase == "cluster":
            labels = cluster(brain, hparams, datasets, schedule.iteration)
            start_iteration(brain, hparams, datasets, labels)
            schedule.clustered()
            datasets = dataio_prepare(hparams, labels)
        elif labels is None:  # resumed in a training phase: this iteration's labels are on disk
            labels = cluster(brain, hparams, datasets, schedule.iteration)
            datasets = dataio_prepare(hparams, labels)
        epoch += 1
        train_loader = brain.make_dataloader(datasets["train"], sb.Stage.TRAIN, ckpt_prefix=None, **loader,
                                             collate_fn=DrawCollate(segment_samples, "draw"))
        brain.fit(range(epoch, epoch + 1), train_loader, datasets["val"], valid_loader_kwargs={"batch_size": 1})
        eer = brain.valid_stats["EER"]
        phase, gate, iteration = schedule.phase, schedule.gate, schedule.iteration
        action = schedule.evaluated(eer, tag=f"epoch {epoch}")
        hparams["train_logger"].log_stats({"epoch": epoch, "iteration": iteration, "phase": phase, "gate": gate},
                                          train_stats=brain.train_stats, valid_stats=brain.valid_stats)
        if if_main_process():
            with open(os.path.join(hparams["output_folder"], "score.txt"), "a") as f:
                f.write(f"epoch {epoch}, iteration {iteration}, phase {phase}, gate {gate}, loss "
                        f"{brain.train_stats['loss']:.4f}, kept {brain.train_stats['kept']:.3f}, val EER {eer:.2f}, "
                        f"minDCF {brain.valid_stats['minDCF']:.4f}, next {action}\n")
        from_best = action in ("gated", "recluster")  # the next phase starts from the iteration's best model
        meta = {"EER": eer, "epoch": epoch, "iteration": iteration, "tag": f"epoch {epoch}",
                "schedule": json.dumps(schedule.state_dict()), "from_best": from_best,
                "train_seconds": trained_before + time.time() - start_time,
                "pseudo_labels": _label_source(hparams)}
        trained_before, start_time = meta["train_seconds"], time.time()
        best_tag = schedule.best_tag  # the schedule's own choice among ties, not the checkpointer's
        checkpointer.save_and_keep_only(  # the latest, the best overall and the best of this iteration
            meta=meta, num_to_keep=1, keep_recent=True, ckpt_predicate=_epoch_end, importance_keys=[
                lambda c: -c.meta["EER"], lambda c: c.meta["tag"] == best_tag])
        if from_best:
            load_best_of_iteration(checkpointer, schedule)
        if action == "recluster":
            labels = None
    train_seconds = trained_before  # the run's training time up to its last epoch, as saved with it

    brain.evaluate(datasets["test"], min_key="EER", test_loader_kwargs={"batch_size": 1})  # once, best val
    if not if_main_process():
        return
    best = brain.scored_checkpoint
    out = hparams["output_folder"]
    metrics = score_test(hparams, brain.embeddings,
                         f"LGL Stage 2 ({'loss gate' if hparams['use_gate'] else 'baseline'}): test trials")
    metrics.update({"val_eer": float(best.meta["EER"]), "scored_epoch": int(best.meta["epoch"]),
                    "best_iteration": int(best.meta["iteration"]), "epochs": epoch, "iterations": schedule.iteration,
                    "train_seconds": train_seconds, "use_gate": hparams["use_gate"], "seed": hparams["seed"],
                    # which Stage-1 model this run started from: stage2_seeds.py pairs it only with that one
                    "stage1_sha1": file_sha1(hparams["stage1_embedder"])})
    write_json(os.path.join(out, "metrics.json"), metrics)
    print(f"Stage 2 ({'LGL' if hparams['use_gate'] else 'baseline'}): test EER {metrics['eer']:.2f} %, minDCF "
          f"{metrics['min_dcf']:.4f} (best validation EER {metrics['val_eer']:.2f} % at epoch {metrics['scored_epoch']}, "
          f"iteration {metrics['best_iteration']}); outputs in {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
