"""Small downstream heads on encoder frames.

`UtteranceClassifier`: with `hidden_size > 0` a frame-level MLP layer first (PASE's speaker-ID
MLP works on frames), then statistics pooling (mean and standard deviation of the valid frames,
SpeechBrain's `StatisticsPooling`), a BatchNorm without affine parameters (so features of any
scale, Fbank dB or encoder activations, reach the classifier standardized) and a linear layer.
With `hidden_size: 0` it is a linear classifier of the pooled statistics.

Example
-------
>>> head = UtteranceClassifier(input_size=40, num_classes=5, hidden_size=16)
>>> head(torch.randn(3, 50, 40), torch.tensor([1.0, 0.8, 0.5])).shape
torch.Size([3, 5])
"""

import torch
from speechbrain.nnet.pooling import StatisticsPooling


class UtteranceClassifier(torch.nn.Module):
    """`(feats [B, T, D], lengths [B] relative) -> logits [B, num_classes]`."""

    def __init__(self, input_size, num_classes, hidden_size=0, dropout=0.1):
        super().__init__()
        self.frame_norm = torch.nn.BatchNorm1d(input_size, affine=False)
        self.frame_mlp = torch.nn.Sequential(torch.nn.Linear(input_size, hidden_size), torch.nn.LeakyReLU(),
                                             torch.nn.Dropout(dropout)) if hidden_size > 0 else None
        pooled_size = 2 * (hidden_size if hidden_size > 0 else input_size)
        self.pooling = StatisticsPooling()
        self.norm = torch.nn.BatchNorm1d(pooled_size, affine=False)
        self.classifier = torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(pooled_size, num_classes))
        self.num_classes = num_classes

    def forward(self, feats, lengths=None):
        feats = feats.float()
        if self.frame_mlp is not None:
            # frames standardized; padded frames enter the batch statistics (a small bias that depends on
            # the encoder's padding value, absent when batches hold utterances of similar length)
            feats = self.frame_mlp(self.frame_norm(feats.transpose(1, 2)).transpose(1, 2))
        pooled = self.pooling(feats, lengths).squeeze(1)
        return self.classifier(self.norm(pooled))
