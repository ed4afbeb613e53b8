"""Self-supervised speaker embeddings (loss-gated learning, Stage 1): front-end, encoder and losses.

- `LogMel`: the original's features: pre-emphasis 0.97, 80 mel bands of the power spectrum (512-point FFT,
  25 ms Hamming window, 10 ms hop, 20-7600 Hz, torchaudio's `MelSpectrogram`), log(x + 1e-6), the mean over
  time subtracted; float32 whatever the autocast.
- `SpeakerEmbedder`: frames (a `LogMel`, or any upstream of `lobes.upstream`, e.g. a multitask-pretrained
  encoder) into SpeechBrain's ECAPA-TDNN, `(wavs [B, S], lengths [B]) -> [B, D]`.
- `ContrastiveLoss`: NT-Xent over both views of B utterances: logits `w cos + b` (w, b learnable, initially
  10 and -5) between each of the 2B embeddings and the 2B - 1 others, the other view of the same utterance
  the positive, averaged over the 2B anchors. (b shifts every logit of an anchor alike, so it does not change
  the loss; it is kept to match the original's parameters.)
- `AugmentationAdversary`: the augmentation-adversarial term: a discriminator tells whether two embeddings
  of the same utterance's segments share their augmentation (label 1) or not (label 0); it learns on detached
  embeddings, while the encoder gets its cross-entropy through a gradient reversal, so that the embeddings
  forget the channel.
"""

import torch
import torchaudio
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN


class LogMel(torch.nn.Module):
    output_size = 80
    hop_seconds = 0.01

    def __init__(self, n_mels=80, sample_rate=16000, preemphasis=0.97):
        super().__init__()
        self.preemphasis, self.output_size = preemphasis, n_mels
        self.mel = torchaudio.transforms.MelSpectrogram(sample_rate=sample_rate, n_fft=512, win_length=400,
                                                        hop_length=160, f_min=20, f_max=7600,
                                                        window_fn=torch.hamming_window, n_mels=n_mels)

    def forward(self, wavs, lengths=None):
        with torch.no_grad(), torch.autocast(wavs.device.type, enabled=False):
            x = wavs.float()
            x = torch.cat([x[:, :1] * (1 - self.preemphasis), x[:, 1:] - self.preemphasis * x[:, :-1]], 1)
            feats = (self.mel(x) + 1e-6).log()  # [B, mels, frames]
            return (feats - feats.mean(-1, keepdim=True)).transpose(1, 2)


class SpeakerEmbedder(torch.nn.Module):
    """`frontend` frames -> ECAPA-TDNN (`channels`, `embedding_dim`) -> `[B, embedding_dim]`."""

    def __init__(self, frontend, channels=(512, 512, 512, 512, 1536), embedding_dim=192):
        super().__init__()
        self.frontend = frontend
        self.ecapa = ECAPA_TDNN(frontend.output_size, channels=list(channels), lin_neurons=embedding_dim)
        self.embedding_dim = embedding_dim

    def forward(self, wavs, lengths=None):
        frames = self.frontend(wavs, lengths)
        return self.ecapa(frames, lengths).squeeze(1)


class ContrastiveLoss(torch.nn.Module):
    def __init__(self, init_w=10.0, init_b=-5.0):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(float(init_w)))
        self.b = torch.nn.Parameter(torch.tensor(float(init_b)))

    def forward(self, first, second):
        """NT-Xent of two views `[B, D]`: (loss, accuracy of picking the other view among the 2B - 1)."""
        with torch.autocast(first.device.type, enabled=False):  # float32 similarities under a bf16/fp16 step
            x = torch.nn.functional.normalize(torch.cat([first, second]).float(), dim=-1)
            logits = self.w * (x @ x.T) + self.b
            n = first.shape[0]
            logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=x.device), float("-inf"))
            target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(x.device)
            loss = torch.nn.functional.cross_entropy(logits, target)
        accuracy = (logits.argmax(-1) == target).float().mean()
        return loss, accuracy


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


def reverse_gradient(x, scale=1.0):
    """Identity forward; the gradient multiplied by `-scale` backward."""
    return _Reverse.apply(x, scale)


class AugmentationAdversary(torch.nn.Module):
    """Discriminator on pairs of embeddings `[B, 2D]`: BN-ReLU-Linear(2D, hidden)-BN-ReLU-Linear(hidden, 2)."""

    def __init__(self, embedding_dim=192, hidden=512, reversal_scale=1.0):
        super().__init__()
        self.reversal_scale = reversal_scale
        self.net = torch.nn.Sequential(
            torch.nn.BatchNorm1d(2 * embedding_dim), torch.nn.ReLU(), torch.nn.Linear(2 * embedding_dim, hidden),
            torch.nn.BatchNorm1d(hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))

    def _loss(self, anchor, same, other):
        pairs = torch.cat([torch.cat([anchor, same], 1), torch.cat([anchor, other], 1)]).float()
        labels = torch.cat([torch.ones(len(anchor)), torch.zeros(len(anchor))]).long().to(pairs.device)
        with torch.autocast(pairs.device.type, enabled=False):  # float32, as its own optimizer steps it
            logits = self.net(pairs)
            loss = torch.nn.functional.cross_entropy(logits, labels)
        return loss, (logits.argmax(-1) == labels).float().mean()

    def discriminator_loss(self, anchor, same, other):
        """The discriminator's own objective, on detached embeddings: (loss, accuracy)."""
        return self._loss(anchor.detach(), same.detach(), other.detach())

    def encoder_loss(self, anchor, same, other):
        """The cross-entropy the encoder receives through the gradient reversal (its gradient makes the
        discriminator's task harder); the discriminator's parameters get no gradient from it."""
        reversed_ = [reverse_gradient(e, self.reversal_scale) for e in (anchor, same, other)]
        for p in self.net.parameters():
            p.requires_grad_(False)
        try:
            return self._loss(*reversed_)[0]
        finally:
            for p in self.net.parameters():
                p.requires_grad_(True)


def make_frontend(spec="logmel", sample_rate=16000, freeze=True):
    """`logmel` (the original's features) or any encoder spec of `lobes.upstream.load_upstream` (fbank, mfcc,
    pretrained:<folder>, ...), whose frames are then mean-normalized over time as the log-mel ones."""
    if spec == "logmel":
        return LogMel(sample_rate=sample_rate)
    from lobes.upstream import load_upstream
    return MeanNormalized(load_upstream(spec, freeze=freeze, sample_rate=sample_rate))


class MeanNormalized(torch.nn.Module):
    """An upstream's frames minus their mean over time."""

    def __init__(self, upstream):
        super().__init__()
        self.upstream, self.output_size = upstream, upstream.output_size

    def forward(self, wavs, lengths=None):
        frames = self.upstream(wavs, lengths)
        return frames - frames.mean(1, keepdim=True)
