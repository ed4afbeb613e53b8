"""Frame codes: wav2vec 2.0's own quantizer through transformers, and the product quantizer on planted clusters."""

import numpy as np
import pytest
import torch

from lobes.frame_codes import ProductQuantizer, Wav2Vec2MeanCodes
from lobes.kmeans import nmi
from lobes.upstream import UpstreamError


def test_wav2vec2_codes_select_the_quantizers_own_codevectors(tmp_path, tiny_wav2vec2):
    """transformers' quantizer (eval mode: hard argmax) returns the codevectors our codes name, group by group;
    the frames are the mean of the model's hidden states."""
    upstream = Wav2Vec2MeanCodes(tiny_wav2vec2(tmp_path / "w2v"))
    wavs = torch.randn(2, 16000) * 0.1
    frames, codes = upstream(wavs)
    model = upstream.model
    with torch.no_grad():
        out = model.wav2vec2((wavs - wavs.mean(1, keepdim=True)) / (wavs.std(1, keepdim=True, unbiased=False) + 1e-7),
                             output_hidden_states=True)
        quantized, _ = model.quantizer(out.extract_features)
    book = model.quantizer.codevectors[0]  # [groups * 320, dim / groups]
    chosen = torch.cat([book[codes[..., g] + g * 320] for g in range(2)], dim=-1)
    assert codes.shape == (2, frames.shape[1], 2) and int(codes.max()) < 320
    torch.testing.assert_close(chosen, quantized)
    torch.testing.assert_close(frames, torch.stack(out.hidden_states).mean(0), rtol=1e-4, atol=1e-5)


def test_a_checkpoint_without_quantizer_is_named(tmp_path, tiny_wav2vec2):
    with pytest.raises(UpstreamError, match="no quantizer weights"):
        Wav2Vec2MeanCodes(tiny_wav2vec2(tmp_path / "w2v", pretraining=False))


def test_product_quantizer_recovers_planted_codes_per_half(tmp_path):
    """Frames whose first half sits on one of 3 centres and second half on one of 4: each group's codes recover its
    half's planted centre, independently of the other half; save/load keeps the codes."""
    rng = np.random.default_rng(0)
    first, second = rng.integers(0, 3, 600), rng.integers(0, 4, 600)
    centres_a, centres_b = rng.normal(size=(3, 5)) * 10, rng.normal(size=(4, 5)) * 10
    frames = np.concatenate([centres_a[first], centres_b[second]], axis=1) + rng.normal(size=(600, 10)) * 0.3
    pq = ProductQuantizer(groups=2, codebook_size=8, seed=0).fit([frames[:300], frames[300:]])
    codes = pq.encode(frames)
    # more codes than centres: each code must lie on one centre of its own half (a centre may be split, never two
    # merged), whatever the other half's centre
    for group, planted in ((0, first), (1, second)):
        assert all(len(set(planted[codes[:, group] == c])) == 1 for c in set(codes[:, group]))
        assert nmi(codes[:, group], planted) > 0.5
    pq.save(tmp_path / "pq.npz")
    np.testing.assert_array_equal(ProductQuantizer.load(tmp_path / "pq.npz").encode(frames), codes)


def test_product_quantizer_needs_enough_frames():
    with pytest.raises(ValueError, match="lower codebook_size"):
        ProductQuantizer(codebook_size=320).fit([np.zeros((100, 8))])
