"""Stage-1 pieces of loss-gated learning: the contrastive loss and the augmentation-adversarial term against
direct computations, the gradient reversal, the log-mel front-end on a tone."""

import math

import numpy as np
import pytest
import torch

from lobes.speaker_ssl import (AugmentationAdversary, ContrastiveLoss, LogMel, SpeakerEmbedder,
                               reverse_gradient)


def test_contrastive_loss_equals_a_direct_nt_xent():
    torch.manual_seed(0)
    first, second = torch.randn(5, 8), torch.randn(5, 8)
    loss, accuracy = ContrastiveLoss(init_w=10.0, init_b=-5.0)(first, second)
    views = [v / v.norm() for v in torch.cat([first, second])]
    total, correct = 0.0, 0
    for i in range(10):  # anchor i; its positive is the other view of its utterance
        positive = (i + 5) % 10
        logits = {j: 10.0 * float(views[i] @ views[j]) - 5.0 for j in range(10) if j != i}
        total += -logits[positive] + math.log(sum(math.exp(v) for v in logits.values()))
        correct += max(logits, key=logits.get) == positive
    assert loss.item() == pytest.approx(total / 10, rel=1e-5)
    assert accuracy.item() == pytest.approx(correct / 10)


def test_contrastive_loss_is_low_for_matching_views_and_trains_w():
    torch.manual_seed(1)
    base = torch.randn(16, 32)
    criterion = ContrastiveLoss()
    matched, accuracy = criterion(base, base + 0.01 * torch.randn(16, 32))
    shuffled, _ = criterion(base, torch.randn(16, 32))
    assert accuracy.item() == 1.0 and matched.item() < shuffled.item()
    matched.backward()
    assert criterion.w.grad is not None and criterion.w.grad.item() < 0  # sharper logits help matched views
    assert abs(criterion.b.grad.item()) < 1e-6  # a shift of every logit changes nothing


def test_gradient_reversal():
    x = torch.randn(4, 3, requires_grad=True)
    (reverse_gradient(x, 2.0) * torch.arange(3.0)).sum().backward()
    torch.testing.assert_close(x.grad, -2.0 * torch.arange(3.0).expand(4, 3))


def test_adversary_losses_reach_the_right_parameters():
    torch.manual_seed(2)
    adversary = AugmentationAdversary(embedding_dim=6, hidden=16)
    encoder = torch.nn.Linear(4, 6)
    views = [encoder(torch.randn(8, 4)) for _ in range(3)]
    loss, accuracy = adversary.discriminator_loss(*views)
    # the discriminator's cross-entropy, by hand: label 1 for (anchor, same), 0 for (anchor, other)
    adversary.eval()  # compare in eval mode (BatchNorm running statistics), same as the module then
    pairs = torch.cat([torch.cat([views[0], views[1]], 1), torch.cat([views[0], views[2]], 1)])
    direct = torch.nn.functional.cross_entropy(adversary.net(pairs), torch.tensor([1] * 8 + [0] * 8))
    assert adversary.discriminator_loss(*views)[0].item() == pytest.approx(direct.item(), rel=1e-5)
    adversary.train()
    loss.backward()
    assert encoder.weight.grad is None  # detached: the discriminator step leaves the encoder alone
    assert all(p.grad is not None for p in adversary.net.parameters())
    adversary.zero_grad()
    # the encoder's term: gradients reach the encoder reversed, and none reach the discriminator
    views = [encoder(torch.randn(8, 4)) for _ in range(3)]
    adversary.encoder_loss(*views).backward()
    assert encoder.weight.grad is not None
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in adversary.net.parameters())
    assert all(p.requires_grad for p in adversary.net.parameters())


def test_encoder_term_is_the_discriminator_loss_with_its_gradient_reversed():
    torch.manual_seed(3)
    adversary = AugmentationAdversary(embedding_dim=4, hidden=8).eval()
    views = [torch.randn(6, 4, requires_grad=True) for _ in range(3)]
    adversary.encoder_loss(*views).backward()
    reversed_grads = [v.grad.clone() for v in views]
    plain = [v.detach().clone().requires_grad_(True) for v in views]
    adversary._loss(*plain)[0].backward()
    for r, p in zip(reversed_grads, plain):
        torch.testing.assert_close(r, -p.grad)


def test_log_mel_of_a_tone_peaks_in_its_band_and_has_zero_mean():
    rate, freq = 16000, 1000.0
    tone = torch.sin(2 * math.pi * freq * torch.arange(rate) / rate)[None] * 0.5
    feats = LogMel()(tone)
    assert feats.shape == (1, 101, 80)  # centred frames: 1 + 16000 // 160
    np.testing.assert_allclose(feats.mean(1).numpy(), 0.0, atol=1e-4)
    # HTK mel scale between 20 and 7600 Hz, 80 triangles: the band centred nearest 1 kHz is the loudest
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    centres = 700 * (10 ** (np.linspace(mel(20), mel(7600), 82)[1:-1] / 2595) - 1)
    raw = LogMel(preemphasis=0.0).mel(tone).add(1e-6).log()[0, :, 50]
    loudest = int(raw.argmax())
    assert abs(loudest - int(np.abs(centres - freq).argmin())) <= 1


def test_embedder_shapes():
    model = SpeakerEmbedder(LogMel(), channels=(32, 32, 32, 32, 96), embedding_dim=16)
    out = model(torch.randn(3, 8000), torch.tensor([1.0, 0.8, 0.5]))
    assert out.shape == (3, 16) and torch.isfinite(out).all()
