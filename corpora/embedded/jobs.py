"""One job per generated file, and the function that renders it.

A job is fully described by its fields and its own seed, so any process can
render it in any order and the result is the same; this is what makes the
generator parallel, deterministic and resumable.
"""

from dataclasses import dataclass, field

import numpy as np

from corpora.embedded import material
from corpora.embedded.voices import SAMPLE_RATE, render


@dataclass
class Job:
    """A file to generate.

    kind: "speech" (text by `speaker`), "babble" (several `others` at once),
    "noise" (`colour`), "music" or "rir" (`room`).
    `fields` carries layout data (split, labels, ids) for the index writers.
    """

    layout: str
    path: str
    kind: str
    seed: int
    speaker: object = None
    text: str = ""
    style: str = "neutral"
    seconds: float = None
    fields: dict = field(default_factory=dict)


def _fit(wav, seconds, rng):
    """Crop or zero-pad to exactly `seconds` (a Speech Commands clip is 1 s)."""
    n = int(seconds * SAMPLE_RATE)
    if len(wav) >= n:
        start = (len(wav) - n) // 2
        return wav[start: start + n], -start / SAMPLE_RATE
    pad = int(rng.integers(0, n - len(wav) + 1))
    return np.pad(wav, (pad, n - len(wav) - pad)), pad / SAMPLE_RATE


def run_job(tts, job):
    """Renders a job: (float32 waveform at 16 kHz, metadata dict)."""
    rng = np.random.default_rng(job.seed)
    words = []
    if job.kind == "speech":
        wav, words = render(tts, job.speaker, job.text, rng, style=job.style)
        if job.seconds:
            wav, shift = _fit(wav, job.seconds, rng)
            words = [(w, s + shift, e + shift) for w, s, e in words]
    elif job.kind == "babble":
        voices = [render(tts, spk, text, rng)[0] for spk, text in job.fields["talkers"]]
        wav = np.zeros(max(len(v) for v in voices), np.float32)
        for v in voices:
            wav[: len(v)] += v / len(voices) ** 0.5
    elif job.kind == "noise":
        wav = material.coloured_noise(rng, job.seconds, job.fields["colour"])
    elif job.kind == "music":
        wav = material.tone_music(rng, job.seconds)
    elif job.kind == "rir":
        wav = material.room_impulse_response(rng, job.fields["room"])
    else:
        raise ValueError(f"unknown job kind {job.kind!r} for {job.path}")
    return wav, {"duration": len(wav) / SAMPLE_RATE,
                 "words": [[w, round(s, 3), round(e, 3)] for w, s, e in words]}
