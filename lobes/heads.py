"""Small downstream heads on encoder frames.

`UtteranceClassifier`: statistics pooling (mean and standard deviation of the valid frames,
SpeechBrain's `StatisticsPooling`), a BatchNorm without affine parameters (so features of any
scale, Fbank dB or encoder activations, reach the classifier standardized), then a linear layer or,
with `hidden_size > 0`, a one-hidden-layer MLP. This is the speaker-ID head of the PASE recipe.

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
        self.pooling = StatisticsPooling()
        self.norm = torch.nn.BatchNorm1d(2 * input_size, affine=False)
        if hidden_size > 0:
            self.classifier = torch.nn.Sequential(
                torch.nn.Linear(2 * input_size, hidden_size), torch.nn.LeakyReLU(), torch.nn.Dropout(dropout),
                torch.nn.Linear(hidden_size, num_classes))
        else:
            self.classifier = torch.nn.Sequential(torch.nn.Dropout(dropout),
                                                  torch.nn.Linear(2 * input_size, num_classes))
        self.num_classes = num_classes

    def forward(self, feats, lengths=None):
        pooled = self.pooling(feats.float(), lengths).squeeze(1)
        return self.classifier(self.norm(pooled))
