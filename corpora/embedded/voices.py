"""Synthetic speakers: a fixed voice per speaker, with per-utterance variation.

A speaker is a fixed tuple (accent, eSpeak variant, base pitch, pitch range,
speaking rate, vocal-tract-length warp, spectral tilt and one EQ peak), so the
same speaker always sounds alike and speakers differ the way people do: in
pitch, timbre (formant scale, tilt, resonance) and rhythm.

The vocal-tract warp resamples the 22.05 kHz synthesis to `warp_rate` and reads
the result as 16 kHz: formants and pitch scale by 16000 / warp_rate. Warp rates
lie on a 100 Hz grid so polyphase resampling stays cheap.
"""

from dataclasses import dataclass, asdict
from math import gcd

import numpy as np
from scipy.signal import lfilter, resample_poly

SAMPLE_RATE = 16000

# eSpeak voice (accent) -> Common Voice style accent label.
ACCENTS = {
    "en-us": "us", "en-gb-x-rp": "england", "en-gb-scotland": "scotland", "en-029": "caribbean",
    "en-us-nyc": "newyork", "en-gb-x-gbclan": "lancashire", "en-gb-x-gbcwmd": "westmidlands",
}
MALE_VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "klatt", "klatt2", "klatt3",
                 "adam", "antonio", "benjamin", "david", "edward", "john", "max", "norbert",
                 "paul", "robert", "travis", "victor", "croak", "iven", "rob"]
FEMALE_VARIANTS = ["f1", "f2", "f3", "f4", "f5", "klatt4", "klatt6", "belinda", "linda",
                   "anika", "steph", "shelby", "aunty", "Andrea", "Annie", "Alicia"]
AGES = ["teens", "twenties", "thirties", "fourties", "fifties", "sixties"]

# Prosody of the IEMOCAP-style emotion classes: multipliers/offsets on the voice.
STYLE_PROSODY = {
    "neutral": dict(pitch=0, range=0, rate=1.0, volume=1.0, drive=0.0),
    "happy": dict(pitch=14, range=25, rate=1.15, volume=1.1, drive=0.0),
    "sad": dict(pitch=-12, range=-25, rate=0.78, volume=0.6, drive=0.0),
    "angry": dict(pitch=6, range=15, rate=1.1, volume=1.4, drive=2.5),
}


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker; `index` is unique in a corpus, the rest is its voice."""

    index: int
    gender: str
    accent: str
    variant: str
    age: str
    pitch: int
    pitch_range: int
    rate: int
    warp_rate: int
    tilt: float
    eq_freq: float
    eq_gain_db: float

    @property
    def voice(self):
        return f"{self.accent}+{self.variant}"

    def to_dict(self):
        return asdict(self)


def make_speakers(rng, count, first_index=0):
    """`count` speakers with voices drawn from `rng` (balanced genders)."""
    speakers = []
    for i in range(count):
        female = i % 2 == 1
        variants = FEMALE_VARIANTS if female else MALE_VARIANTS
        # Longer vocal tracts (higher warp rate = lower formants) for male voices.
        warp = rng.uniform(0.92, 1.1) if female else rng.uniform(0.86, 1.02)
        speakers.append(Speaker(
            index=first_index + i,
            gender="female" if female else "male",
            accent=list(ACCENTS)[rng.integers(len(ACCENTS))],
            variant=variants[rng.integers(len(variants))],
            age=AGES[rng.integers(len(AGES))],
            pitch=int(rng.integers(45, 80) if female else rng.integers(15, 50)),
            pitch_range=int(rng.integers(20, 90)),
            rate=int(rng.integers(135, 215)),
            warp_rate=int(round(SAMPLE_RATE / warp / 100.0) * 100),
            tilt=float(rng.uniform(-0.6, 0.6)),
            eq_freq=float(rng.uniform(400, 3500)),
            eq_gain_db=float(rng.uniform(-8, 8)),
        ))
    return speakers


def _peaking_eq(freq, gain_db, q=1.2, fs=SAMPLE_RATE):
    """Biquad peaking filter coefficients (RBJ audio EQ cookbook)."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / fs
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a])
    return b / den[0], den / den[0]


def _speaker_colour(wav, speaker):
    """Fixed spectral tilt (first-order) and one resonance peak of the speaker."""
    wav = lfilter([1.0, -0.5 * speaker.tilt], [1.0], wav) if speaker.tilt >= 0 else \
        lfilter([1.0], [1.0, 0.5 * speaker.tilt], wav) * (1 + 0.5 * speaker.tilt)
    b, a = _peaking_eq(speaker.eq_freq, speaker.eq_gain_db)
    return lfilter(b, a, wav)


def _with_pauses(text, rng, pause_prob):
    """Commas between some words make eSpeak pause there, as people do."""
    words = text.split()
    return " ".join(w + ("," if i < len(words) - 1 and rng.random() < pause_prob else "")
                    for i, w in enumerate(words))


def _word_ends(wav, starts, frame=160):
    """End of each word: last frame above an energy floor before the next word starts."""
    energy = np.sqrt(np.convolve(wav ** 2, np.ones(frame) / frame, mode="same") + 1e-12)
    floor = 0.05 * np.percentile(energy, 95)
    ends = []
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else len(wav)
        loud = np.nonzero(energy[start:stop] > floor)[0]
        ends.append(start + (int(loud[-1]) + 1 if len(loud) else stop - start))
    return ends


def render(tts, speaker, text, rng, style="neutral", pause_prob=0.1, noise_db=(-60, -45)):
    """Speaks `text` in the speaker's voice.

    Returns
    -------
    wav : np.ndarray, float32 `[T]` at 16 kHz, peak below 1
    words : list of (word, start_s, end_s) for every word of `text`
    """
    prosody = STYLE_PROSODY[style]
    wav, events = tts.synthesize(
        _with_pauses(text, rng, pause_prob), voice=speaker.voice,
        rate=speaker.rate * prosody["rate"] * rng.uniform(0.94, 1.06),
        pitch=np.clip(speaker.pitch + prosody["pitch"] + rng.integers(-4, 5), 0, 99),
        pitch_range=np.clip(speaker.pitch_range + prosody["range"], 0, 100),
        wordgap=int(rng.integers(0, 3)), seed=int(rng.integers(2**31)),
    )
    src = tts.sample_rate
    g = gcd(src, speaker.warp_rate)
    wav = resample_poly(wav.astype(np.float64), speaker.warp_rate // g, src // g)
    time_scale = speaker.warp_rate / src  # synthesis seconds -> output samples / 16000
    wav = _speaker_colour(wav, speaker)
    if prosody["drive"] > 0:  # tense, slightly saturated voice
        wav = np.tanh(prosody["drive"] * wav / (np.abs(wav).max() + 1e-9)) / np.tanh(prosody["drive"])
    lead, trail = (int(rng.uniform(0.1, 0.45) * SAMPLE_RATE) for _ in range(2))
    wav = np.concatenate([np.zeros(lead), wav, np.zeros(trail)])
    peak = np.abs(wav).max() + 1e-9
    wav = wav / peak * 0.5 * prosody["volume"] * rng.uniform(0.7, 1.0)
    wav = wav + rng.standard_normal(len(wav)) * 10 ** (rng.uniform(*noise_db) / 20)
    wav = np.clip(wav, -0.99, 0.99).astype(np.float32)
    starts = [lead + int(ev.start * src * time_scale) for ev in events]
    ends = _word_ends(wav, starts)
    words = [w.strip(",.").lower() for w in (ev.text for ev in events)]
    return wav, [(w, s / SAMPLE_RATE, e / SAMPLE_RATE) for w, s, e in zip(words, starts, ends)]
