"""LibriSpeech: manifests with transcripts, and word segments from word alignments.

    prepare_librispeech("data/embedded/LibriSpeech", "results/prep/librispeech")

Writes `<split>.csv` (ID, duration, wav, spk_id, wrd) per split and, where the
public word alignments (`<spk>-<chapter>.alignment.txt`, unpacked into the same
tree or into `alignment_folder`) are present, `<split>_words.csv` with one row
per spoken word (ID, duration, wav, utt_id, spk_id, word, start, end in seconds).
"""

import glob
import logging
import os

from corpora.manifest import write_csv
from corpora.preparation import already_prepared, collect_rows, PrepareError, require_path, save_options

logger = logging.getLogger(__name__)
SPLITS = ("train-clean-100", "dev-clean", "test-clean")


def parse_alignment_line(line):
    """`utt ",W1,,W2," "t1,t2,..."` -> (utt, [(word, start, end), ...]) without silences."""
    try:
        utt, labels, ends = line.split()
        labels = labels.strip('"').split(",")
        ends = [float(t) for t in ends.strip('"').split(",")]
    except ValueError as err:
        raise ValueError(f"malformed alignment line {line.strip()!r}: {err}") from err
    if len(labels) != len(ends):
        raise ValueError(f"alignment of {utt} has {len(labels)} labels but {len(ends)} times")
    words, start = [], 0.0
    for label, end in zip(labels, ends):
        if label:
            words.append((label, start, end))
        start = end
    return utt, words


def _read_split(split_dir, alignment_dir):
    entries, segments = [], []
    trans_files = sorted(glob.glob(os.path.join(split_dir, "*", "*", "*.trans.txt")))
    if not trans_files:
        raise PrepareError(f"no <speaker>/<chapter>/*.trans.txt under {split_dir}; is it a LibriSpeech split?")
    for trans in trans_files:
        chapter_dir = os.path.dirname(trans)
        with open(trans, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                utt, _, text = line.strip().partition(" ")
                entries.append({"ID": utt, "wav": os.path.join(chapter_dir, utt + ".flac"),
                                "spk_id": utt.split("-")[0], "wrd": text})
        rel = os.path.relpath(chapter_dir, split_dir)
        align = os.path.join(alignment_dir, rel, os.path.basename(trans).replace(".trans.txt",
                                                                                 ".alignment.txt"))
        if os.path.exists(align):
            with open(align, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        try:
                            segments.append(parse_alignment_line(line))
                        except ValueError as err:
                            raise PrepareError(f"{align}: {err}") from err
    return entries, dict(segments)


def prepare_librispeech(data_folder, save_folder, splits=SPLITS, alignment_folder=None,
                        validate_audio=True, strict=False, skip_prep=False):
    """Writes one manifest per split (and word segments where alignments exist)."""
    if skip_prep:
        return
    alignment_folder = alignment_folder or data_folder
    options = dict(data_folder=os.path.abspath(data_folder), splits=list(splits),
                   alignment_folder=os.path.abspath(alignment_folder), validate_audio=validate_audio)
    outputs = [os.path.join(save_folder, f"{s}.csv") for s in splits]
    if already_prepared(save_folder, "librispeech", options, outputs):
        return
    require_path(data_folder, "the LibriSpeech root (holding train-clean-100/, dev-clean/, ...)")
    for split in splits:
        split_dir = require_path(os.path.join(data_folder, split), f"LibriSpeech split {split!r}")
        entries, alignments = _read_split(split_dir, os.path.join(alignment_folder, split))
        rows = collect_rows(entries, save_folder, f"librispeech_{split}", validate=validate_audio,
                            strict=strict)
        write_csv(os.path.join(save_folder, f"{split}.csv"), rows, ["spk_id", "wrd"])
        if not alignments:
            logger.warning("no word alignments for %s under %s: %s_words.csv not written",
                           split, alignment_folder, split)
            continue
        words = []
        for row in rows:
            for k, (word, start, end) in enumerate(alignments.get(row["ID"], [])):
                words.append({"ID": f"{row['ID']}_{k:03d}", "duration": end - start, "wav": row["wav"],
                              "utt_id": row["ID"], "spk_id": row["spk_id"], "word": word,
                              "start": f"{start:.3f}", "end": f"{end:.3f}"})
        missing = sum(1 for row in rows if row["ID"] not in alignments)
        if missing:
            logger.warning("%d utterances of %s have no word alignment", missing, split)
        write_csv(os.path.join(save_folder, f"{split}_words.csv"), words,
                  ["utt_id", "spk_id", "word", "start", "end"])
    save_options(save_folder, "librispeech", options)
