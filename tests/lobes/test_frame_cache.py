"""FrameCache serves a frozen upstream's frames from memory; crop_frames cuts crops out of padded frames."""

import pytest
import torch

from lobes.frame_cache import FrameCache, crop_frames


class CountingUpstream(torch.nn.Module):
    """Frames = the waveform in blocks of 4 samples (frame t of utterance i holds its samples 4t..4t+3)."""

    def __init__(self, trainable=False):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()), requires_grad=trainable)
        self.calls = 0

    def forward(self, wavs, lengths):
        self.calls += 1
        return self.scale * wavs.reshape(wavs.shape[0], -1, 4)


def _batch():
    wavs = torch.randn(3, 40)
    wavs[1, 20:] = 0  # utterance 1: 20 samples = 5 frames, utterance 2: 8 samples = 2 frames
    wavs[2, 8:] = 0
    return wavs, torch.tensor([1.0, 0.5, 0.2])


def test_second_pass_comes_from_memory_and_equals_the_first():
    up = CountingUpstream()
    cache = FrameCache()
    wavs, lengths = _batch()
    first, first_lens = cache(up, wavs, lengths, ["a", "b", "c"])
    assert up.calls == 1 and first.shape == (3, 10, 4)
    assert torch.allclose(first, wavs.reshape(3, 10, 4).half().float())  # float16-rounded, padding zero
    # the same utterances, another order and batch: no encoder call, same frames and lengths
    again, again_lens = cache(up, wavs[[2, 1]], lengths[[2, 1]] * 2, ["c", "b"])  # (their relative lengths in a new batch)
    assert up.calls == 1
    assert again.shape == (2, 5, 4) and torch.equal(again[1], first[1, :5]) and torch.equal(again[0, :2], first[2, :2])
    assert torch.allclose(again_lens, torch.tensor([0.4, 1.0])) and torch.allclose(first_lens, lengths)


def test_no_cache_for_trainable_upstreams_unkeyed_batches_or_past_the_budget(caplog):
    wavs, lengths = _batch()
    trainable = CountingUpstream(trainable=True)
    cache = FrameCache()
    cache(trainable, wavs, lengths, ["a", "b", "c"]), cache(trainable, wavs, lengths, ["a", "b", "c"])
    assert trainable.calls == 2 and not cache.store
    up = CountingUpstream()
    cache = FrameCache()
    wavs[1, 20:] = 7.0  # padding that is not silent: it must not come out
    uncached, _ = cache(up, wavs, lengths, None)  # e.g. augmented audio
    cached, _ = cache(up, wavs, lengths, ["a", "b", "c"])
    assert up.calls == 2 and torch.all(uncached[1, 5:] == 0) and torch.allclose(uncached, cached, rtol=1e-3)
    small = FrameCache(max_gb=100 / 2 ** 30)  # 100 bytes: utterance a (80 bytes) fits, b does not
    small(up, wavs, lengths, ["a", "b", "c"])
    assert list(small.store) == ["a"] and "frame cache full" in caplog.text
    small(up, wavs, lengths, ["a", "b", "c"])
    assert up.calls == 4  # from then on everything is computed again, correctly


def test_crops_match_a_loop_over_utterances():
    frames = torch.arange(2 * 6 * 3, dtype=torch.float).reshape(2, 6, 3) + 1
    lengths = torch.tensor([1.0, 4 / 6])  # utterance 1 has 4 valid frames
    starts, sizes = torch.tensor([1, 2]), torch.tensor([3, 3])  # the second crop runs past its 4 frames: 2 kept
    crops, crop_lens = crop_frames(frames, lengths, starts, sizes)
    assert crops.shape == (2, 3, 3)
    assert torch.equal(crops[0], frames[0, 1:4]) and torch.equal(crops[1, :2], frames[1, 2:4])
    assert torch.all(crops[1, 2] == 0)  # padding, not utterance 1's padded frame 4
    assert torch.allclose(crop_lens, torch.tensor([1.0, 2 / 3]))
    whole, whole_lens = crop_frames(frames, lengths, torch.zeros(2), torch.full((2,), 100))
    assert torch.equal(whole[0], frames[0]) and torch.allclose(whole_lens, lengths)
