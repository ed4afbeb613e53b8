"""One encoder interface for every downstream recipe (s3prl's upstream, SpeechBrain's lobes).

A downstream YAML names its encoder with one string, so the comparison of encoders is a
command-line override (`--encoder mfcc`, `--encoder pretrained:/path/to/pretrained_encoder`):

- `fbank`: 80-d log-mel filterbank (SpeechBrain's `Fbank`), 10 ms;
- `mfcc`: 13 MFCCs with deltas and delta-deltas (SpeechBrain's `MFCC`), 39-d, 10 ms;
- `pretrained:<folder>`: an encoder exported by recipes/MultitaskSSL (`encoder.ckpt` +
  `hyperparams.yaml`), weights loaded through SpeechBrain's Pretrainer;
- `random:<folder>`: the same architecture with seeded random weights; call `calibrate()`
  with training audio to re-estimate its BatchNorm statistics (a fresh BatchNorm in eval mode
  normalizes with mean 0 / variance 1, which would handicap a random conv encoder unfairly);
- `wav2vec2:<folder>`: a local `transformers` wav2vec 2.0 / HuBERT-style checkpoint, its hidden
  layers combined by a learnable softmax-weighted sum (SUPERB), 20 ms.

Every upstream maps `(wavs [B, samples], lengths [B] relative) -> [B, T, output_size]`, one frame
per `hop_seconds`, and is frozen unless built with `freeze=False`.

Example
-------
>>> up = load_upstream("mfcc")
>>> up(torch.randn(2, 16000), torch.tensor([1.0, 0.5])).shape, up.output_size, up.hop_seconds
(torch.Size([2, 101, 39]), 39, 0.01)
"""

import json
import os
import random

import torch
from speechbrain.dataio.dataio import length_to_mask
from speechbrain.lobes.features import MFCC, Fbank
from tqdm import tqdm

from lobes.encoder_folder import UpstreamError, load_encoder_folder

KINDS = ("fbank", "mfcc", "pretrained:<folder>", "random:<folder>", "wav2vec2:<folder>")


class FeatureUpstream(torch.nn.Module):
    """Fbank or MFCC: no parameters, so nothing to freeze."""

    hop_seconds = 0.01

    def __init__(self, kind, sample_rate=16000):
        super().__init__()
        if kind == "fbank":
            self.features, self.output_size = Fbank(n_mels=80, sample_rate=sample_rate), 80
        elif kind == "mfcc":
            self.features = MFCC(n_mfcc=13, n_mels=40, deltas=True, context=False, sample_rate=sample_rate)
            self.output_size = 39
        else:
            raise UpstreamError(f"unknown feature kind {kind!r}; expected fbank or mfcc")
        self.freeze = True

    def forward(self, wavs, lengths=None):
        with torch.autocast(device_type=wavs.device.type, enabled=False):
            return self.features(wavs.float())

    def calibrate(self, wav_batches):
        """Nothing to estimate."""


class EncoderUpstream(torch.nn.Module):
    """A lobes.encoders encoder (pretrained or random), frozen unless `freeze=False`."""

    def __init__(self, encoder, freeze=True):
        super().__init__()
        self.encoder, self.freeze = encoder, freeze
        self.output_size, self.hop_seconds = encoder.output_size, encoder.hop_seconds
        if freeze:
            self.encoder.requires_grad_(False)
            self.encoder.eval()

    def train(self, mode=True):
        super().train(mode)
        if self.freeze:  # a frozen encoder keeps its BatchNorm statistics and no dropout
            self.encoder.eval()
        return self

    def forward(self, wavs, lengths=None):
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            return self.encoder(wavs, lengths)

    @torch.no_grad()
    def calibrate(self, wav_batches):
        """Re-estimates every BatchNorm's running mean/variance on `wav_batches` ([1, samples] each).

        The statistics are the plain average over the batches (momentum None); the other layers
        stay in eval mode, so dropout does not disturb the estimate.
        """
        norms = [m for m in self.encoder.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return
        saved = [m.momentum for m in norms]
        self.encoder.eval()
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        device = next(self.encoder.parameters()).device
        for wav in wav_batches:
            self.encoder(wav.to(device), torch.ones(wav.shape[0], device=device))
        for m, momentum in zip(norms, saved):
            m.momentum = momentum
        self.train(self.training)


class LayerMix(torch.nn.Module):
    """Softmax-weighted sum of hidden layers (SUPERB); starts as their plain average."""

    def __init__(self, num_layers):
        super().__init__()
        self.weights = torch.nn.Parameter(torch.zeros(num_layers))

    def forward(self, hidden):
        weights = torch.softmax(self.weights, 0)
        return sum(w * h for w, h in zip(weights, hidden))


def wants_normalized_waveforms(folder):
    """The checkpoint's `do_normalize` (preprocessor_config.json; True when absent, as for wav2vec 2.0 base)."""
    preprocessor = os.path.join(folder, "preprocessor_config.json")
    if not os.path.isfile(preprocessor):
        return True
    with open(preprocessor) as f:
        return json.load(f).get("do_normalize", True)


def normalized_waveforms(wavs, lengths, normalize=True):
    """(wavs scaled to zero mean and unit variance over each utterance's own samples when `normalize`, as the
    transformers feature extractor does, padding zeroed; valid-sample mask [B, samples])."""
    valid = length_to_mask(lengths * wavs.shape[1], wavs.shape[1], dtype=torch.bool)
    if normalize:
        count = valid.sum(1, keepdim=True).clamp(min=1)
        mean = (wavs * valid).sum(1, keepdim=True) / count
        std = (((wavs - mean) * valid) ** 2).sum(1, keepdim=True).div(count).sqrt()
        wavs = (wavs - mean) / (std + 1e-7) * valid
    return wavs, valid


class Wav2Vec2Upstream(torch.nn.Module):
    """A local transformers checkpoint; SUPERB's softmax-weighted sum of all hidden states."""

    hop_seconds = 0.02

    def __init__(self, folder, freeze=True, freeze_feature_extractor=True):
        super().__init__()
        from transformers import AutoModel

        if not os.path.isfile(os.path.join(folder, "config.json")):
            raise UpstreamError(f"{folder}/config.json not found: wav2vec2:<folder> needs a local transformers "
                                "checkpoint (config.json and model weights, as save_pretrained writes them)")
        try:
            self.model = AutoModel.from_pretrained(folder)
        except OSError as err:  # config.json without the weights beside it
            raise UpstreamError(f"{folder}: {err} wav2vec2:<folder> needs the model weights beside config.json: "
                                "copy the whole folder that save_pretrained wrote") from err
        self.model.config.output_hidden_states = True
        self.freeze = freeze
        if freeze:
            self.model.requires_grad_(False)
            self.model.eval()
        elif freeze_feature_extractor:
            self.model.feature_extractor.requires_grad_(False)
        self.normalize_wav = wants_normalized_waveforms(folder)
        self.layer_mix = LayerMix(self.model.config.num_hidden_layers + 1)
        self.output_size = self.model.config.hidden_size

    def train(self, mode=True):
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self

    def forward(self, wavs, lengths=None):
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        wavs, valid = normalized_waveforms(wavs, lengths, self.normalize_wav)
        mask = valid.long() if self.model.config.feat_extract_norm == "layer" else None
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            hidden = self.model(wavs, attention_mask=mask).hidden_states
        return self.layer_mix(hidden)

    def calibrate(self, wav_batches):
        """Nothing to estimate: wav2vec 2.0 has no BatchNorm running statistics in use."""


def load_upstream(spec, freeze=True, seed=0, sample_rate=16000):
    """The upstream named by `spec` (see the module docstring)."""
    kind, _, folder = str(spec).partition(":")
    if kind in ("fbank", "mfcc") and not folder:
        return FeatureUpstream(kind, sample_rate)
    if kind in ("pretrained", "random", "wav2vec2") and folder:
        if not os.path.isdir(folder):
            raise UpstreamError(f"encoder folder {folder} (from {spec!r}) does not exist; for pretrained: and "
                                "random:, pass the folder recipes/MultitaskSSL/train.py exported "
                                "(<save_folder>/pretrained_encoder)")
        if kind == "wav2vec2":
            return Wav2Vec2Upstream(folder, freeze=freeze)
        upstream = EncoderUpstream(load_encoder_folder(folder, pretrained=kind == "pretrained", seed=seed), freeze)
        upstream.needs_calibration = kind == "random"
        return upstream
    raise UpstreamError(f"unknown encoder spec {spec!r}; expected one of {', '.join(KINDS)}")


def calibration_batches(rows, count=64, max_seconds=3.0, seed=0, sample_rate=16000):
    """`count` training utterances (a seeded draw), each cropped to `max_seconds`, as [1, samples] tensors."""
    from corpora.audio import load_audio

    rows = random.Random(seed).sample(list(rows), min(count, len(rows)))
    for row in tqdm(rows, desc="BatchNorm statistics of the random encoder", unit="utt", leave=False):
        yield load_audio(row["wav"], sample_rate)[: int(max_seconds * sample_rate)][None]


def prepare_upstream(upstream, train_csv, seed=0, count=64):
    """Calibrates a random twin on training audio (a no-op for every other upstream)."""
    if getattr(upstream, "needs_calibration", False):
        from corpora.manifest import read_csv

        upstream.calibrate(calibration_batches(read_csv(train_csv), count=count, seed=seed))
    return upstream


def recoverables(upstream):
    """What a downstream checkpoint must hold of the upstream: all of it when fine-tuned, the layer
    weights of a frozen wav2vec 2.0, nothing for a frozen encoder (it is rebuilt identically)."""
    if not upstream.freeze:
        return {"upstream": upstream}
    if hasattr(upstream, "layer_mix"):
        return {"upstream_layer_mix": upstream.layer_mix}
    return {}


def optimizer_groups(upstream, heads, encoder_lr):
    """Parameter groups: the downstream `heads` (and a frozen upstream's layer weights) at the
    optimizer's own learning rate, the fine-tuned upstream weights at `encoder_lr`."""
    upstream = getattr(upstream, "module", upstream)  # DDP-wrapped under torchrun
    heads = [getattr(h, "module", h) for h in heads]
    mix = list(upstream.layer_mix.parameters()) if hasattr(upstream, "layer_mix") else []
    fine_tuned = [p for p in upstream.parameters() if p.requires_grad and all(p is not m for m in mix)]
    head = [p for module in heads for p in module.parameters() if p.requires_grad] + mix
    groups = [{"params": head}]
    if fine_tuned:
        groups.append({"params": fine_tuned, "lr": encoder_lr})
    return groups


def claim_output_folder(folder, spec):
    """Records which encoder a run folder belongs to; stops a run of another encoder from resuming
    (and overwriting) it, as it would when two encoders share a YAML's default `output_folder`."""
    path = os.path.join(folder, "encoder.txt")
    if os.path.exists(path):
        with open(path) as f:
            owner = f.read().strip()
        if owner != str(spec):
            raise UpstreamError(f"{folder} holds a run of encoder {owner!r}, not {spec!r}: pass another "
                                "--output_folder (or delete that folder to start over)")
        return
    os.makedirs(folder, exist_ok=True)
    with open(path, "w") as f:
        f.write(f"{spec}\n")
