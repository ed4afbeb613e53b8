"""Augmentation material: coloured noise, synthetic music, room impulse responses.

Pure signal generation with numpy, deterministic from the given generator.
"""

import numpy as np

SAMPLE_RATE = 16000
NOISE_COLOURS = {"white": 0.0, "pink": -1.0, "brown": -2.0, "blue": 1.0}
RT60_RANGES = {"smallroom": (0.15, 0.4), "mediumroom": (0.4, 0.8), "largeroom": (0.8, 1.4)}


def coloured_noise(rng, seconds, colour="pink"):
    """Noise whose power spectrum falls as f^slope (pink: 1/f, brown: 1/f^2)."""
    n = int(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    freqs[0] = freqs[1]
    spectrum *= freqs ** (NOISE_COLOURS[colour] / 2)
    wav = np.fft.irfft(spectrum, n)
    return (0.3 * wav / (np.abs(wav).max() + 1e-9)).astype(np.float32)


def tone_music(rng, seconds):
    """Notes of a random pentatonic melody over a drone, with harmonics and decays."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    wav = 0.15 * np.sin(2 * np.pi * root * t)
    scale = np.array([0, 2, 4, 7, 9, 12, 14, 16])
    beat = rng.uniform(0.18, 0.45)
    for start in np.arange(0, seconds, beat):
        f0 = 2 * root * 2 ** (scale[rng.integers(len(scale))] / 12)
        s = int(start * SAMPLE_RATE)
        seg = t[: n - s][: int(beat * 2 * SAMPLE_RATE)]
        note = sum(np.sin(2 * np.pi * k * f0 * seg) / k ** 1.5 for k in range(1, 5))
        wav[s: s + len(seg)] += 0.3 * note * np.exp(-seg / (beat * 0.6))
    return (0.4 * wav / (np.abs(wav).max() + 1e-9)).astype(np.float32)


def room_impulse_response(rng, room="mediumroom"):
    """Direct path, sparse early reflections, then exponentially decaying noise.

    The decay reaches -60 dB at the room's RT60, drawn from `RT60_RANGES`.
    """
    rt60 = rng.uniform(*RT60_RANGES[room])
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    delay = int(rng.uniform(0.001, 0.01) * SAMPLE_RATE)
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * 0.3
    tail[: delay + int(0.002 * SAMPLE_RATE)] = 0.0
    for _ in range(8):
        k = delay + int(rng.uniform(0.002, 0.05) * SAMPLE_RATE)
        if k < n:
            tail[k] += rng.uniform(-0.6, 0.6)
    rir = np.zeros(n)
    rir[delay] = 1.0
    rir += tail
    return (rir / np.abs(rir).max()).astype(np.float32)
