"""The downstream ASR head and its error rates (recipes/Downstream/ASR).

`CTCHead` maps upstream frames `[B, T, input_size]` at any hop (10 ms Fbank/MFCC, 20 ms
wav2vec 2.0) to CTC log-probabilities `[B, T', output_neurons]` at one common frame rate
(`frame_seconds`), so the same YAML serves every encoder: strided 1-D convolutions bring the
upstream's hop to that rate, a bidirectional LSTM and a dense block follow (SpeechBrain layers).

`ErrorRates` keeps word and character error rates side by side (SpeechBrain's
`ErrorRateStats`, characters with `split_tokens=True`) for hypotheses and references given
as plain strings.

Example
-------
>>> head = CTCHead(input_size=80, hop_seconds=0.01, output_neurons=32, rnn_neurons=16,
...                conv_channels=16, dnn_neurons=16)
>>> head(torch.randn(2, 101, 80)).shape
torch.Size([2, 51, 32])
>>> rates = ErrorRates()
>>> rates.append(["u1"], ["THE CAT SAT"], ["THE CAT SAT DOWN"])
>>> rates.summarize()
{'WER': 25.0, 'CER': 31.25}
"""

import torch
from speechbrain.nnet.CNN import Conv1d
from speechbrain.nnet.linear import Linear
from speechbrain.nnet.normalization import LayerNorm
from speechbrain.nnet.RNN import LSTM
from speechbrain.utils.metric_stats import ErrorRateStats


def conv_strides(total, layers):
    """Per-layer strides whose product is `total` (2s first, what is left in the last layer).

    >>> conv_strides(4, 2), conv_strides(2, 2), conv_strides(1, 2), conv_strides(8, 2), conv_strides(6, 2)
    ([2, 2], [2, 1], [1, 1], [2, 4], [2, 3])
    """
    if total < 1 or layers < 1:
        raise ValueError(f"conv_strides needs total >= 1 and layers >= 1, got total={total}, layers={layers}")
    strides, left = [], total
    for _ in range(layers - 1):
        step = 2 if left % 2 == 0 else 1
        strides.append(step)
        left //= step
    return strides + [left]


class CTCHead(torch.nn.Module):
    """Conv (time striding) -> BiLSTM -> dense -> linear to `output_neurons` (tokens + blank).

    Arguments
    ---------
    input_size : int
        Feature size of the upstream frames.
    hop_seconds : float
        The upstream's frame hop; the convolutions stride by `frame_seconds / hop_seconds`.
    output_neurons : int
        Output classes (the tokenizer's vocabulary, blank included).
    frame_seconds : float
        Frame hop of the CTC outputs: 20 ms suits characters (about 12 per second of speech,
        and CTC needs a blank between repeated letters); 40 ms suits longer word pieces.

    forward(feats [B, T, input_size]) -> log-probabilities [B, ceil(T / stride), output_neurons];
    relative lengths are unchanged by the striding (padding is at the end).
    """

    def __init__(self, input_size, hop_seconds, output_neurons, frame_seconds=0.02, conv_layers=2,
                 conv_channels=256, kernel_size=5, rnn_layers=2, rnn_neurons=256, dnn_neurons=256,
                 dropout=0.15):
        super().__init__()
        ratio = frame_seconds / hop_seconds
        if ratio < 1 or abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(f"frame_seconds={frame_seconds} must be a whole multiple of the upstream's "
                             f"hop ({hop_seconds} s); set frame_seconds in the YAML accordingly")
        self.stride = round(ratio)
        layers, size = [], input_size
        for stride in conv_strides(self.stride, conv_layers):
            layers += [Conv1d(out_channels=conv_channels, kernel_size=kernel_size, in_channels=size,
                              stride=stride, padding="valid" if stride > 1 else "same"),
                       LayerNorm(input_size=conv_channels), torch.nn.LeakyReLU(), torch.nn.Dropout(dropout)]
            size = conv_channels
        self.conv = torch.nn.ModuleList(layers)
        self.kernel_size = kernel_size
        self.rnn = LSTM(hidden_size=rnn_neurons, input_size=size, num_layers=rnn_layers, dropout=dropout,
                        bidirectional=True)
        self.dnn = torch.nn.Sequential(Linear(n_neurons=dnn_neurons, input_size=2 * rnn_neurons),
                                       LayerNorm(input_size=dnn_neurons), torch.nn.LeakyReLU(),
                                       torch.nn.Dropout(dropout))
        self.out = Linear(n_neurons=output_neurons, input_size=dnn_neurons)

    def forward(self, feats):
        """`feats` [B, T, D] -> log-probabilities [B, T', V].

        The BiLSTM runs over the padding too (its backward pass starts there), so the padding must hold the same
        values in training and testing: `lobes.frame_cache.FrameCache` zeroes it. Packing the sequences instead
        (`lengths` to SpeechBrain's LSTM) made CPU training 3x slower per epoch on the embedded corpus.
        """
        x = feats
        for layer in self.conv:
            if isinstance(layer, Conv1d) and layer.stride > 1:
                # centre the strided kernel: pad so that T' = ceil(T / stride)
                pad_total = max(0, (-(-x.shape[1] // layer.stride) - 1) * layer.stride + self.kernel_size
                                - x.shape[1])
                x = torch.nn.functional.pad(x, (0, 0, pad_total // 2, pad_total - pad_total // 2))
            x = layer(x)
        x, _ = self.rnn(x)
        return torch.log_softmax(self.out(self.dnn(x)), dim=-1)


class ErrorRates:
    """Word and character error rates of string hypotheses against string references."""

    def __init__(self):
        self.words = ErrorRateStats()
        self.chars = ErrorRateStats(split_tokens=True, space_token=" ")

    def append(self, ids, hypotheses, references):
        """`hypotheses` and `references`: lists of strings (words separated by spaces)."""
        hyps = [h.split() for h in hypotheses]
        refs = [r.split() for r in references]
        self.words.append(ids, hyps, refs)
        self.chars.append(ids, hyps, refs)

    def summarize(self):
        """{"WER": %, "CER": %}."""
        return {"WER": self.words.summarize("error_rate"), "CER": self.chars.summarize("error_rate")}

    def write(self, path):
        """Per-utterance word alignments, then the character-level summary, into `path`."""
        with open(path, "w", encoding="utf-8") as f:
            self.words.write_stats(f)
            f.write("\nCharacter error rate (spaces count as characters)\n")
            self.chars.write_stats(f)
