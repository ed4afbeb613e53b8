"""Downstream groups for the pretext-task selection: segments that share a downstream label.

- ASR (LibriSpeech layout): a group is one word, its segments the word's occurrences in
  `<split>_words.csv` (written from the word alignments by `corpora.librispeech`);
- speaker tasks (VoxCeleb layout): a group is one speaker, its segments whole utterances.

Only groups with at least `min_occurrences` segments are kept, and exactly that many
segments (a seeded random choice) are taken from each, so every group has the same size.
"""

import random
import re

import torch

from corpora.audio import load_audio
from corpora.manifest import read_csv
from corpora.preparation import PrepareError


def _group_name(label):
    """File-name-safe group name without '_' (the original layout splits names on '_')."""
    return re.sub(r"[^A-Za-z0-9.'-]+", "-", str(label)).strip("-") or "group"


def _pick(by_label, min_occurrences, max_groups, seed, source):
    rng = random.Random(seed)
    kept = {label: rows for label, rows in sorted(by_label.items()) if len(rows) >= min_occurrences}
    if not kept:
        most = max((len(r) for r in by_label.values()), default=0)
        raise PrepareError(f"{source}: no group has {min_occurrences} segments (the largest has {most}); "
                           "lower min_occurrences")
    labels = sorted(kept, key=lambda lab: (-len(kept[lab]), lab))[:max_groups] if max_groups else sorted(kept)
    groups = {}
    for label in sorted(labels):
        rows = sorted(kept[label], key=lambda r: r["ID"])
        name = _group_name(label)
        if name in groups:
            raise PrepareError(f"{source}: labels {label!r} and another one map to the same group name {name!r}")
        groups[name] = sorted(rng.sample(rows, min_occurrences), key=lambda r: r["ID"])
    return groups


def word_groups(words_csv, min_occurrences, max_groups=None, seed=0, exclude=()):
    """{word: [segment]} from a `<split>_words.csv`; segment = {ID, utt_id, wav, start, end}."""
    by_word = {}
    excluded = {w.upper() for w in exclude}
    for row in read_csv(words_csv):
        if row["word"].upper() in excluded:
            continue
        by_word.setdefault(row["word"], []).append(
            {"ID": row["ID"], "utt_id": row["utt_id"], "wav": row["wav"],
             "start": float(row["start"]), "end": float(row["end"])})
    return _pick(by_word, min_occurrences, max_groups, seed, words_csv)


def speaker_groups(csv_files, min_occurrences, max_groups=None, seed=0):
    """{speaker: [segment]} from utterance manifests with a `spk_id` column (whole utterances)."""
    by_speaker = {}
    for path in csv_files:
        for row in read_csv(path):
            if "spk_id" not in row:
                raise PrepareError(f"{path}: no spk_id column; speaker groups need a manifest with speakers")
            by_speaker.setdefault(row["spk_id"], []).append(
                {"ID": row["ID"], "utt_id": row["ID"], "wav": row["wav"], "start": 0.0,
                 "end": float(row["duration"])})
    return _pick(by_speaker, min_occurrences, max_groups, seed, ", ".join(map(str, csv_files)))


def log_mel_segments(segments, compute_fbank, sample_rate=16000, hop_seconds=0.01):
    """`[frames, n_mels]` log-mel of each segment, the spectrogram of each utterance computed once.

    `compute_fbank` maps `[1, samples]` to `[1, frames, n_mels]` (SpeechBrain's Fbank).
    Yields (segment index, spectrogram) in utterance order.
    """
    by_utt = {}
    for k, seg in enumerate(segments):
        by_utt.setdefault(seg["wav"], []).append(k)
    for wav, indices in by_utt.items():
        signal = load_audio(wav, sample_rate)
        with torch.no_grad():
            spec = compute_fbank(signal[None])[0]
        for k in indices:
            seg = segments[k]
            first = min(int(seg["start"] / hop_seconds), spec.shape[0] - 1)
            last = max(first + 1, min(int(round(seg["end"] / hop_seconds)), spec.shape[0]))
            yield k, spec[first:last]
