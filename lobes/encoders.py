"""Encoders of the multitask self-supervised pretraining, on a 10 ms frame grid.

Both map waveforms `[B, samples]` (16 kHz) to features `[B, frames, output_size]`, one
frame per 10 ms, so OpenSMILE tracks (10 ms hop) align with the frames 1:1 and every
labeller gets `hop_seconds = 0.01`.

- `FbankCRDNN`: 80-d log-mel Fbank, per-utterance normalization, SpeechBrain's CRDNN
  (CNN blocks pooling frequency only, BiLSTM, DNN) as in the pretext-task selection work.
- `PASEEncoder`: PASE-style raw-waveform encoder, a SincNet front-end (SpeechBrain's
  SincConv) then strided 1-d conv blocks whose strides multiply to 160 samples (10 ms).

Defaults are small enough to train on 2 CPU cores; the paper-size settings are in the
recipe's `hparams/pretrain_paper.yaml`.
"""

import math

import speechbrain as sb
import torch
from speechbrain.lobes.features import Fbank
from speechbrain.lobes.models.CRDNN import CRDNN
from speechbrain.nnet.CNN import SincConv
from speechbrain.processing.features import InputNormalization


def constructor_args(args):
    """The arguments an encoder was built with (tuples as lists), to write it back as YAML."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in args.items() if k not in ("self", "__class__")}


class FbankCRDNN(torch.nn.Module):
    """Fbank + CRDNN; `output_size = dnn_neurons`."""

    hop_seconds = 0.01

    def __init__(self, n_mels=80, cnn_blocks=1, cnn_channels=(32,), rnn_layers=1, rnn_neurons=64,
                 rnn_bidirectional=True, dnn_blocks=1, dnn_neurons=128, dropout=0.1, sample_rate=16000,
                 normalization="sentence"):
        super().__init__()
        self.config = constructor_args(locals())
        if normalization not in ("sentence", "none"):
            raise ValueError(f"normalization must be 'sentence' or 'none', got {normalization!r}")
        if len(cnn_channels) != cnn_blocks:
            raise ValueError(f"cnn_channels needs one entry per CNN block ({cnn_blocks}), got {list(cnn_channels)}")
        self.fbank = Fbank(n_mels=n_mels, sample_rate=sample_rate, hop_length=self.hop_seconds * 1000)
        # per-utterance mean/variance normalization of the Fbank, or none (keeps the utterance's
        # spectral mean, i.e. speaker and channel information)
        self.normalize = InputNormalization(norm_type="sentence") if normalization == "sentence" else None
        self.crdnn = CRDNN(input_size=n_mels, cnn_blocks=cnn_blocks, cnn_channels=list(cnn_channels),
                           time_pooling=False, inter_layer_pooling_size=[2] * cnn_blocks,
                           rnn_class=sb.nnet.RNN.LSTM, rnn_layers=rnn_layers, rnn_neurons=rnn_neurons,
                           rnn_bidirectional=rnn_bidirectional, dnn_blocks=dnn_blocks,
                           dnn_neurons=dnn_neurons, dropout=dropout)
        self.output_size = dnn_neurons

    def forward(self, wavs, lengths=None):
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        with torch.autocast(device_type=wavs.device.type, enabled=False):  # features in float32
            feats = self.fbank(wavs.float())
            if self.normalize is not None:
                feats = self.normalize(feats, lengths)
        return self.crdnn(feats)


class PASEEncoder(torch.nn.Module):
    """SincConv front-end + strided conv blocks (BatchNorm, PReLU) + 1x1 projection to `output_size`."""

    hop_seconds = 0.01

    def __init__(self, sinc_channels=64, sinc_kernel=251, channels=(64, 64, 128, 128, 128),
                 kernels=(20, 11, 11, 11, 11), strides=(10, 2, 2, 2, 2), output_size=128, sample_rate=16000):
        super().__init__()
        self.config = constructor_args(locals())
        if not len(channels) == len(kernels) == len(strides):
            raise ValueError("channels, kernels and strides need one entry per conv block")
        hop = math.prod(strides)
        if hop != round(self.hop_seconds * sample_rate):
            raise ValueError(f"the conv strides multiply to {hop} samples; the 10 ms frame grid needs "
                             f"{round(self.hop_seconds * sample_rate)} at {sample_rate} Hz")
        self.hop = hop
        self.sinc = SincConv(out_channels=sinc_channels, kernel_size=sinc_kernel, input_shape=[None, None],
                             sample_rate=sample_rate, padding="same")
        blocks, size = [], sinc_channels
        for out, kernel, stride in zip(channels, kernels, strides):
            blocks += [torch.nn.Conv1d(size, out, kernel, stride=stride, padding=(kernel - stride + 1) // 2),
                       torch.nn.BatchNorm1d(out), torch.nn.PReLU(out)]
            size = out
        self.blocks = torch.nn.Sequential(*blocks)
        self.project = torch.nn.Conv1d(size, output_size, 1)
        self.output_size = output_size

    def forward(self, wavs, lengths=None):
        x = self.sinc(wavs).transpose(1, 2)  # [B, C, samples]
        x = self.project(self.blocks(x))
        frames = wavs.shape[1] // self.hop + 1  # the same count as a 10 ms Fbank with centred frames
        if x.shape[2] < frames:
            x = torch.nn.functional.pad(x, (0, frames - x.shape[2]), mode="replicate")
        return x[:, :, :frames].transpose(1, 2)
