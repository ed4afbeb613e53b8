"""Clustering of speaker embeddings for pseudo-labels (loss-gated learning, Stage 2), with faiss.

`spherical_kmeans` L2-normalizes the embeddings and runs faiss' k-means with unit-norm centroids and
inner-product assignment (cosine, the similarity the embeddings are scored with), on the GPU when faiss
has one (`gpu=None`: if available). Where faiss has no GPU but torch has (the faiss-cpu package on a GPU
machine), `backend="auto"` runs the same Lloyd iterations in torch on the GPU instead (`backend="torch"`
forces it, on any device): assignments by the largest inner product, centroids the normalized sums, an empty
cluster keeping its centroid. faiss starts from centroids drawn at random among the points, which with
many clusters often leaves two on one speaker and one across two (planted test: NMI 0.89-0.97 over seeds);
`init="kmeans++"` (default) seeds them by greedy k-means++ on cosine distance over a sample of `init_sample`
points per cluster (torch, on `init_device`), which recovers planted speakers. `nmi` measures the clusters against true speakers where these are
known: a diagnostic, never used for a decision.

Example
-------
>>> import numpy as np
>>> centres = np.eye(4, 8, dtype=np.float32) * 10
>>> points = np.repeat(centres, 50, axis=0) + np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
>>> labels = spherical_kmeans(points, 4, seed=0)
>>> round(nmi(labels, np.repeat(np.arange(4), 50)), 3)
1.0
"""

import numpy as np


def spherical_kmeans(embeddings, n_clusters, niter=20, seed=0, nredo=1, init="kmeans++", init_sample=50,
                     init_device=None, gpu=None, verbose=False, backend="auto"):
    """Cluster ids `[N]` (int64) of the L2-normalized `embeddings [N, D]`; `nredo` runs from as many seeds and
    keeps the best objective (random init only)."""
    import faiss

    x = np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32))
    if x.ndim != 2 or len(x) < n_clusters:
        raise ValueError(f"k-means of {x.shape} embeddings into {n_clusters} clusters: need a 2-d array with at "
                         "least one row per cluster (lower n_clusters for a small corpus)")
    if not np.isfinite(x).all():
        raise ValueError("embeddings with NaN or infinite values: the model that produced them diverged")
    faiss.normalize_L2(x)
    if backend not in ("auto", "faiss", "torch"):
        raise ValueError(f"unknown k-means backend {backend!r}; expected auto, faiss or torch")
    if backend == "torch" or (backend == "auto" and gpu is not False and faiss.get_num_gpus() == 0 and _cuda()):
        if init != "kmeans++":
            raise ValueError("the torch backend starts from k-means++ seeds only (init='kmeans++')")
        device = init_device or ("cuda" if _cuda() else "cpu")
        seeds = kmeans_plus_plus(x, n_clusters, seed, init_sample * n_clusters, device)
        return torch_lloyd(x, seeds, niter, device)
    use_gpu = faiss.get_num_gpus() > 0 if gpu is None else bool(gpu)
    kmeans = faiss.Kmeans(x.shape[1], n_clusters, niter=niter, seed=seed, nredo=nredo, spherical=True, gpu=use_gpu,
                          verbose=verbose, max_points_per_centroid=max(256, len(x) // n_clusters + 1))
    if init == "kmeans++":
        kmeans.train(x, init_centroids=kmeans_plus_plus(x, n_clusters, seed, init_sample * n_clusters, init_device))
    elif init == "random":
        kmeans.train(x)
    else:
        raise ValueError(f"unknown k-means init {init!r}; expected kmeans++ or random")
    index = faiss.IndexFlatIP(x.shape[1])  # cosine to the unit-norm centroids
    index.add(kmeans.centroids)
    _, assigned = index.search(x, 1)
    return assigned[:, 0].astype(np.int64)


def _cuda():
    import torch
    return torch.cuda.is_available()


def torch_lloyd(x, centroids, niter, device="cpu", chunk=65536):
    """Spherical Lloyd iterations in torch (float32 matrix products, no TF32) from `centroids`: cluster ids `[N]`."""
    import torch

    points = torch.from_numpy(x).to(device)
    centres = torch.from_numpy(np.ascontiguousarray(centroids, dtype=np.float32)).to(device)
    saved_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        for step in range(niter + 1):
            assigned = torch.cat([(part @ centres.T).argmax(1) for part in points.split(chunk)])
            if step == niter:
                break
            sums = torch.zeros_like(centres).index_add_(0, assigned, points)
            counts = torch.bincount(assigned, minlength=len(centres))
            centres = torch.where((counts > 0)[:, None], torch.nn.functional.normalize(sums, dim=1), centres)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved_tf32
    return assigned.cpu().numpy().astype(np.int64)


def kmeans_plus_plus(x, n_clusters, seed=0, sample=None, device=None):
    """k-means++ seeds `[n_clusters, D]` among (a sample of `sample` rows of) the unit-norm `x [N, D]`: each next
    seed drawn with probability proportional to its cosine distance to the nearest seed so far."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    generator = np.random.default_rng(seed)
    rows = np.arange(len(x)) if sample is None or sample >= len(x) else \
        np.sort(generator.choice(len(x), size=sample, replace=False))
    points = torch.from_numpy(x[rows]).to(device)
    torch_generator = torch.Generator(device=device).manual_seed(seed)
    chosen = [int(generator.integers(len(points)))]
    nearest = (1.0 - points @ points[chosen[0]]).clamp(min=0.0)
    tries = 2 + int(np.log(n_clusters))  # greedy k-means++: the best of a few draws per seed (as scikit-learn)
    for _ in range(n_clusters - 1):
        if float(nearest.sum()) <= 0:  # fewer distinct points than clusters: any point will do
            chosen.append(int(generator.integers(len(points))))
            continue
        candidates = torch.multinomial(nearest, tries, replacement=True, generator=torch_generator)
        after = torch.minimum(nearest[None], (1.0 - points[candidates] @ points.T).clamp(min=0.0))  # [tries, N]
        best = int(after.sum(1).argmin())
        chosen.append(int(candidates[best]))
        nearest = after[best]
    return points[chosen].cpu().numpy()


def cluster_centroids(embeddings, labels, n_clusters):
    """Unit-norm mean direction `[n_clusters, D]` of the L2-normalized `embeddings [N, D]` of each cluster id in
    `labels [N]` (a row of zeros for a cluster with no member), so that the cosine to the centroids ranks the
    clusters as the spherical k-means assignment does."""
    x = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if x.ndim != 2 or labels.shape != (len(x),):
        raise ValueError(f"centroids of {x.shape} embeddings with {labels.shape} labels: need [N, D] and [N]")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_clusters):
        raise ValueError(f"cluster ids in [{labels.min()}, {labels.max()}] for {n_clusters} clusters")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sums = np.zeros((n_clusters, x.shape[1]))
    np.add.at(sums, labels, x)
    return (sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _contingency(labels, truth):
    """Counts `[cluster, class]` of two labelings of the same items."""
    if len(labels) == 0:
        raise ValueError("an empty labelling")
    _, a = np.unique(np.asarray(labels), return_inverse=True)
    _, b = np.unique(np.asarray(truth), return_inverse=True)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    return joint


def nmi(labels, truth):
    """Normalized mutual information of two labelings (arithmetic-mean normalization, as scikit-learn's
    default); 1.0 when both are a single cluster."""
    joint = _contingency(labels, truth)
    joint /= joint.sum()
    pa, pb = joint.sum(1), joint.sum(0)
    nz = joint > 0
    mutual = (joint[nz] * np.log(joint[nz] / np.outer(pa, pb)[nz])).sum()
    entropy = lambda p: -(p[p > 0] * np.log(p[p > 0])).sum()  # noqa: E731
    norm = (entropy(pa) + entropy(pb)) / 2
    return 1.0 if norm == 0 else float(mutual / norm)


def purity(labels, truth):
    """The fraction of items whose cluster's most frequent true class is their own: 1 - purity of them carry a
    wrong label under the cluster-to-class majority reading (what a classifier trained on the clusters sees)."""
    joint = _contingency(labels, truth)
    return float(joint.max(axis=1).sum() / joint.sum())
