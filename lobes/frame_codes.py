"""Frames with quantizer codes, for the VQ poolings (lobes.vq_pooling).

- `Wav2Vec2MeanCodes`: a local wav2vec 2.0 / XLS-R pretraining checkpoint (`Wav2Vec2ForPreTraining`, as
  `save_pretrained` writes it). Frames: the mean over its hidden states (the transformer's input and every layer's
  output: 13 states for a base model), "mean" in Park et al. (2023). Codes: per group, the argmax of the quantizer's
  projection of the normalized CNN features, the very input the quantizer reads in pretraining (2 groups × 320
  entries for the released models), without Gumbel noise.
- `ProductQuantizer`: codes for an upstream without a quantizer (our encoders, Fbank): the frames are standardized
  with training statistics, their dimensions split into `groups` contiguous parts, and each part quantized by a faiss
  k-means (L2) learned on training frames, so each frame gets one code per group, as wav2vec 2.0's two groups.

Example
-------
>>> rng = np.random.default_rng(0)
>>> pq = ProductQuantizer(groups=2, codebook_size=4).fit([rng.normal(size=(200, 6))])
>>> pq.encode(rng.normal(size=(3, 6))).shape
(3, 2)
"""

import json
import os

import numpy as np
import torch

from lobes.upstream import UpstreamError, normalized_waveforms, wants_normalized_waveforms


class Wav2Vec2MeanCodes(torch.nn.Module):
    """`(wavs [B, samples], lengths [B] relative) -> (frames [B, T, D], codes [B, T, G])`, 20 ms frames."""

    hop_seconds = 0.02

    def __init__(self, folder):
        super().__init__()
        from transformers import Wav2Vec2ForPreTraining

        if not os.path.isfile(os.path.join(folder, "config.json")):
            raise UpstreamError(f"{folder}/config.json not found: wav2vec2_vq:<folder> needs a local wav2vec 2.0 "
                                "pretraining checkpoint (config.json and weights, as save_pretrained writes them)")
        self.model, info = Wav2Vec2ForPreTraining.from_pretrained(folder, output_loading_info=True)
        missing = [k for k in info["missing_keys"] if k.startswith("quantizer.")]
        if missing:
            raise UpstreamError(f"{folder} has no quantizer weights ({missing[0]} missing): the codes need the "
                                "pretraining checkpoint (e.g. facebook/wav2vec2-base), not a fine-tuned one")
        self.model.requires_grad_(False).eval()
        config = self.model.config
        self.groups, self.codebook_size = config.num_codevector_groups, config.num_codevectors_per_group
        self.output_size = config.hidden_size
        self.normalize_wav = wants_normalized_waveforms(folder)

    def train(self, mode=True):
        super().train(mode)
        self.model.eval()  # frozen: no dropout, whatever the caller does
        return self

    @torch.no_grad()
    def forward(self, wavs, lengths=None):
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        wavs, valid = normalized_waveforms(wavs, lengths, self.normalize_wav)
        mask = valid.long() if self.model.config.feat_extract_norm == "layer" else None
        out = self.model.wav2vec2(wavs, attention_mask=mask, output_hidden_states=True)
        frames = torch.stack(out.hidden_states).mean(0)
        logits = self.model.quantizer.weight_proj(out.extract_features)
        codes = logits.view(*logits.shape[:2], self.groups, self.codebook_size).argmax(-1)
        return frames, codes


class ProductQuantizer:
    """Frames `[T, D]` -> codes `[T, groups]`, one faiss k-means per contiguous part of the standardized dimensions."""

    def __init__(self, groups=2, codebook_size=320, niter=25, seed=0, max_frames=200_000):
        self.groups, self.codebook_size, self.niter, self.seed = groups, codebook_size, niter, seed
        self.max_frames = max_frames
        self.mean = self.std = None
        self.centroids = []
        self.settings = {}  # what the caller fitted it with, stored alongside (a JSON-able dict)

    def parts(self, dim):
        if dim < self.groups:
            raise ValueError(f"{dim}-d frames cannot be split into {self.groups} quantizer groups")
        return np.array_split(np.arange(dim), self.groups)

    def fit(self, frames_list):
        """Learns from training frames (a list of `[T, D]` arrays), at most `max_frames` of them (a seeded draw)."""
        import faiss

        frames = np.concatenate([np.asarray(f, dtype=np.float32) for f in frames_list])
        if len(frames) > self.max_frames:
            frames = frames[np.random.default_rng(self.seed).choice(len(frames), self.max_frames, replace=False)]
        if len(frames) < self.codebook_size:
            raise ValueError(f"{len(frames)} training frames for {self.codebook_size} codes per group: lower "
                             "codebook_size or quantize a larger training split")
        self.mean, self.std = frames.mean(0), frames.std(0) + 1e-5
        x = (frames - self.mean) / self.std
        self.centroids = []
        for part in self.parts(x.shape[1]):
            kmeans = faiss.Kmeans(len(part), self.codebook_size, niter=self.niter, seed=self.seed,
                                  max_points_per_centroid=max(256, len(x) // self.codebook_size + 1))
            kmeans.train(np.ascontiguousarray(x[:, part]))
            self.centroids.append(kmeans.centroids.copy())
        return self

    def encode(self, frames):
        """Nearest centroid (L2) per group: int64 `[T, groups]`."""
        if self.mean is None:
            raise RuntimeError("the product quantizer is not fitted: call fit() or load()")
        x = (np.asarray(frames, dtype=np.float32) - self.mean) / self.std
        codes = []
        for part, centres in zip(self.parts(x.shape[1]), self.centroids):
            y = x[:, part]
            distances = (y ** 2).sum(1, keepdims=True) - 2 * y @ centres.T + (centres ** 2).sum(1)[None]
            codes.append(distances.argmin(1))
        return np.stack(codes, axis=1).astype(np.int64)

    def save(self, path):
        np.savez(path, mean=self.mean, std=self.std, groups=self.groups, codebook_size=self.codebook_size,
                 settings=json.dumps(self.settings), **{f"centroids_{g}": c for g, c in enumerate(self.centroids)})

    @classmethod
    def load(cls, path):
        stored = np.load(path)
        pq = cls(int(stored["groups"]), int(stored["codebook_size"]))
        pq.mean, pq.std = stored["mean"], stored["std"]
        pq.centroids = [stored[f"centroids_{g}"] for g in range(pq.groups)]  # parts may differ in width
        pq.settings = json.loads(str(stored["settings"])) if "settings" in stored else {}
        return pq
