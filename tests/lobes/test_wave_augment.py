"""Batched reverberation and noise (lobes.wave_augment) against scipy's convolution and hand-computed SNRs,
and the draws from the embedded MUSAN/RIR manifests."""

import numpy as np
import pytest
import torch
from scipy.signal import fftconvolve

from corpora.noise_rir import prepare_noise_rir
from lobes.wave_augment import DrawCollate, NoiseDraw, batch_draws, mix, reverberate


def test_reverberation_equals_scipy_full_convolution_cut_to_length():
    rng = np.random.default_rng(0)
    wavs, rirs = rng.normal(size=(3, 4000)), rng.normal(size=(3, 700)) * np.exp(-np.arange(700) / 100)
    ours = reverberate(torch.from_numpy(wavs).float(), torch.from_numpy(rirs).float()).numpy()
    for i in range(3):
        np.testing.assert_allclose(ours[i], fftconvolve(wavs[i], rirs[i], mode="full")[:4000], atol=1e-4)


def test_each_noise_lands_at_its_snr_below_the_segment():
    rng = np.random.default_rng(1)
    speech = torch.from_numpy(rng.normal(size=(2, 16000)) * [[0.3], [0.01]]).float()
    noises = torch.from_numpy(rng.normal(size=(2, 2, 16000)) * 0.2).float()
    snrs = torch.tensor([[5.0, 15.0], [0.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    out = mix(speech, torch.zeros(2, 1), torch.tensor([False, False]), noises, snrs, mask)
    # take the noise back out: the added part of row 1 is its first noise alone, at 0 dB
    added = (out - speech).numpy()
    level = lambda x: 10 * np.log10(np.mean(x ** 2) + 1e-4)  # noqa: E731  the original's level
    scale = np.sqrt(10 ** ((level(speech[1].numpy()) - level(noises[1, 0].numpy()) - 0.0) / 10))
    np.testing.assert_allclose(added[1], scale * noises[1, 0].numpy(), rtol=1e-4, atol=1e-7)
    # row 0: two noises, each scaled to its own SNR against the clean segment
    scales = [np.sqrt(10 ** ((level(speech[0].numpy()) - level(noises[0, k].numpy()) - s) / 10))
              for k, s in enumerate((5.0, 15.0))]
    np.testing.assert_allclose(added[0], scales[0] * noises[0, 0].numpy() + scales[1] * noises[0, 1].numpy(),
                               rtol=1e-4, atol=1e-6)
    # measured without the level floor, the SNR is what was asked (the floor moves it by < 0.01 dB here)
    power = lambda x: 10 * np.log10(np.mean(x ** 2))  # noqa: E731
    assert power(speech[0].numpy()) - power(scales[0] * noises[0, 0].numpy()) == pytest.approx(5.0, abs=0.01)


def test_reverberation_comes_before_the_noise_level():
    rng = np.random.default_rng(2)
    speech, rir = torch.from_numpy(rng.normal(size=(1, 8000))).float(), torch.zeros(1, 50)
    rir[0, 0], rir[0, 49] = 0.6, 0.8  # unit energy already; doubles the echo power of white noise... roughly
    noise = torch.from_numpy(rng.normal(size=(1, 1, 8000))).float()
    out = mix(speech, rir, torch.tensor([True]), noise, torch.tensor([[10.0]]))
    wet = reverberate(speech, rir)
    added = out - wet
    power = lambda x: 10 * torch.log10(x.square().mean())  # noqa: E731
    assert float(power(wet) - power(added)) == pytest.approx(10.0, abs=0.01)


@pytest.fixture(scope="module")
def noise_folder(tiny_corpus, tmp_path_factory):
    root, _ = tiny_corpus
    folder = tmp_path_factory.mktemp("noise_rir")
    prepare_noise_rir(str(root), str(folder))
    return folder


def _shares(draws):
    reverb = np.array([len(d["rir"]) > 0 for d in draws])
    noisy = np.array([len(d["snrs"]) > 0 for d in draws])
    return [(~reverb & ~noisy).mean(), (reverb & ~noisy).mean(), (~reverb & noisy).mean(), (reverb & noisy).mean()]


def test_stage1_draws_follow_the_profiles_and_categories(noise_folder):
    draw = NoiseDraw(str(noise_folder))  # Stage 1: never clean; reverberation 25 %, noise 25 %, both 50 %
    rng = np.random.default_rng(0)
    draws = [draw(9000, rng) for _ in range(400)]
    # binomial spread of 400 draws: about 2.2 % (25 %) and 2.5 % (50 %)
    np.testing.assert_allclose(_shares(draws), [0.0, 0.25, 0.25, 0.5], atol=0.07)
    categories = {d["choice"]["category"] for d in draws if d["choice"]["category"]}
    assert categories == {"noise", "speech", "music"}
    for d in draws:
        assert d["noises"].shape == (len(d["snrs"]), 9000) and d["noises"].dtype == np.float32
        assert len(d["snrs"]) in (0, 1)  # one recording per noise in Stage 1
        low, high = {"noise": (0, 15), "speech": (13, 20), "music": (5, 15), None: (0, 0)}[d["choice"]["category"]]
        assert ((d["snrs"] >= low) & (d["snrs"] <= high)).all()
        if len(d["rir"]):  # unit energy times a gain of 10^(g/10), g in [-7, 3]
            assert 10 ** -0.7 - 1e-4 <= np.sqrt((d["rir"].astype(np.float64) ** 2).sum()) <= 10 ** 0.3 + 1e-4
    rirs, flags, noises, snrs, mask = batch_draws(draws[:16], 9000)
    assert noises.shape[0] == 16 and flags.tolist() == [len(d["rir"]) > 0 for d in draws[:16]]
    assert mask.sum().item() == sum(len(d["snrs"]) for d in draws[:16])
    out = mix(torch.randn(16, 9000) * 0.1, rirs, flags, noises, snrs, mask)
    assert out.shape == (16, 9000) and torch.isfinite(out).all()


def test_stage2_draws_babble_and_clean_segments(noise_folder):
    draw = NoiseDraw(str(noise_folder), profiles=(0.25, 0.25, 0.25, 0.25), rir_gain_db=None,
                     talkers={"speech": (3, 8)})
    rng = np.random.default_rng(1)
    draws = [draw(4000, rng) for _ in range(400)]
    np.testing.assert_allclose(_shares(draws), [0.25] * 4, atol=0.07)
    babble = [len(d["snrs"]) for d in draws if d["choice"]["category"] == "speech"]
    assert babble and min(babble) >= 3 and max(babble) <= 8 and len(set(babble)) > 2
    assert all(np.sqrt((d["rir"].astype(np.float64) ** 2).sum()) == pytest.approx(1.0, abs=1e-4)
               for d in draws if len(d["rir"]))


def test_again_repeats_the_draw_with_new_noise_crops(noise_folder):
    draw = NoiseDraw(str(noise_folder), profiles=(0.0, 0.0, 0.0, 1.0))
    rng = np.random.default_rng(2)
    first = draw(8000, rng)
    second = draw.again(first["choice"], 8000, rng)
    np.testing.assert_array_equal(first["rir"], second["rir"])
    np.testing.assert_array_equal(first["snrs"], second["snrs"])
    assert first["choice"] == second["choice"] and not np.array_equal(first["noises"], second["noises"])


def test_a_missing_manifest_is_named(tmp_path):
    with pytest.raises(ValueError, match="noise.csv.*prepare_noise_rir"):
        NoiseDraw(str(tmp_path))
    with pytest.raises(ValueError, match="four probabilities"):
        NoiseDraw(str(tmp_path), profiles=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="unknown noise categories.*'babble'"):
        NoiseDraw(str(tmp_path), snr={"babble": (1, 2)})


def test_draw_collate_pads_the_draws_in_the_worker(noise_folder):
    draw = NoiseDraw(str(noise_folder))
    rng = np.random.default_rng(5)
    items = [{"id": f"u{i}", "segments": torch.zeros(2, 500), "draws": [draw(500, rng), draw(500, rng)]}
             for i in range(4)]
    expected = [batch_draws([item["draws"][v] for item in items], 500) for v in range(2)]
    batch = DrawCollate(500, "draws")([dict(item) for item in items])
    assert batch.id == ["u0", "u1", "u2", "u3"] and batch.segments.data.shape == (4, 2, 500)
    for view, tensors in zip(expected, batch.draws):  # one tuple of padded tensors per view, nothing per item
        assert all(torch.equal(a, b) for a, b in zip(view, tensors))
    single = DrawCollate(500, "draw")([{"id": "a", "draw": items[0]["draws"][0]}])
    assert all(torch.equal(a, b) for a, b in zip(batch_draws([items[0]["draws"][0]], 500), single.draw))
