"""LibriSpeech, VoxCeleb 1/2 and Common Voice layouts of the embedded corpus.

Each layout has `plan_*` (the jobs: which speaker says what, and where the file
goes) and `index_*` (the layout's own annotation files, written once every job
has rendered, from the jobs and their metadata).
"""

import os
import string
from collections import defaultdict

from corpora.embedded.jobs import Job
from corpora.embedded.text import sentence, short_phrase
from corpora.voxceleb import all_pair_trials


def _seed(rng):
    return int(rng.integers(2**31))


def _token(rng, n, alphabet=string.ascii_letters + string.digits + "-_"):
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), n))


def _write_lines(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


# --------------------------------------------------------------------------- LibriSpeech
def plan_librispeech(cfg, take_speakers, rng):
    """cfg: {split: [speakers, chapters per speaker, utterances per chapter]}."""
    jobs, used = [], set()
    for split, (n_spk, n_chap, n_utt) in cfg.items():
        for spk in take_speakers(n_spk):
            spk_id = int(rng.integers(10, 9000))
            while spk_id in used:
                spk_id = int(rng.integers(10, 9000))
            used.add(spk_id)
            for _ in range(n_chap):
                chapter = int(rng.integers(1000, 300000))
                for u in range(n_utt):
                    utt = f"{spk_id}-{chapter}-{u:04d}"
                    jobs.append(Job("librispeech", f"LibriSpeech/{split}/{spk_id}/{chapter}/{utt}.flac",
                                    "speech", _seed(rng), spk, sentence(rng),
                                    fields=dict(split=split, utt=utt, spk_id=spk_id, chapter=chapter)))
    return jobs


def _alignment_line(utt, words, duration):
    """Public LibriSpeech alignment format: segments (silence = empty word) and end times."""
    labels, ends, t = [], [], 0.0
    for w, start, end in words:
        if start > t + 1e-3:
            labels.append("")
            ends.append(start)
        labels.append(w.upper())
        ends.append(end)
        t = end
    if duration > t + 1e-3:
        labels.append("")
        ends.append(duration)
    return f'{utt} "{",".join(labels)}" "{",".join(f"{e:.3f}" for e in ends)}"'


def index_librispeech(root, jobs, meta, rng):
    chapters = defaultdict(list)
    speakers = {}
    for job in jobs:
        f = job.fields
        chapters[(f["split"], f["spk_id"], f["chapter"])].append(job)
        speakers[f["spk_id"]] = (job.speaker, f["split"])
    for (split, spk_id, chapter), chap_jobs in chapters.items():
        folder = os.path.join(root, "LibriSpeech", split, str(spk_id), str(chapter))
        _write_lines(os.path.join(folder, f"{spk_id}-{chapter}.trans.txt"),
                     [f'{j.fields["utt"]} {j.text.upper()}' for j in chap_jobs])
        _write_lines(os.path.join(folder, f"{spk_id}-{chapter}.alignment.txt"),
                     [_alignment_line(j.fields["utt"], meta[j.path]["words"], meta[j.path]["duration"])
                      for j in chap_jobs])
    minutes = defaultdict(float)
    for job in jobs:
        minutes[job.fields["spk_id"]] += meta[job.path]["duration"] / 60
    lines = [";ID  |SEX| SUBSET           |MINUTES| NAME"]
    for spk_id, (spk, split) in sorted(speakers.items()):
        lines.append(f"{spk_id:<5}| {spk.gender[0].upper()} | {split:<16} | {minutes[spk_id]:5.2f} | "
                     f"Synthetic {spk.voice}")
    _write_lines(os.path.join(root, "LibriSpeech", "SPEAKERS.TXT"), lines)


# --------------------------------------------------------------------------- VoxCeleb
def plan_voxceleb(cfg, take_speakers, rng):
    """VoxCeleb1 (dev, held-out validation and test speakers) and VoxCeleb2-dev-like."""
    jobs = []
    groups = [("vox1", "dev", cfg["dev"], 10001), ("vox1", "val", cfg["val"], 10001 + cfg["dev"]),
              ("vox1", "test", cfg["test"], 10270), ("vox2", "dev", cfg["vox2"], 12)]
    for corpus, role, count, first_id in groups:
        n_vid, n_utt = (cfg["vox2_videos"], cfg["vox2_utts"]) if corpus == "vox2" else \
            (cfg["videos"], cfg["utts"])
        for k, spk in enumerate(take_speakers(count)):
            spk_id = f"id{first_id + k:05d}"
            for v in range(n_vid):
                video = _token(rng, 11)
                for u in range(n_utt):
                    rel = f"{spk_id}/{video}/{u + 1:05d}.wav"
                    path = f"VoxCeleb/vox1/wav/{rel}" if corpus == "vox1" else \
                        f"VoxCeleb/vox2/dev/wav/{rel}"
                    jobs.append(Job(f"voxceleb_{corpus}", path, "speech", _seed(rng), spk,
                                    short_phrase(rng),
                                    fields=dict(role=role, spk_id=spk_id, rel=rel, video_index=v)))
    return jobs


def index_voxceleb(root, jobs, meta, rng):
    vox1 = [j for j in jobs if j.layout == "voxceleb_vox1"]
    base = os.path.join(root, "VoxCeleb", "vox1")
    for role, name in (("test", "veri_test2.txt"), ("val", "veri_val.txt")):
        utts = [(j.fields["spk_id"], j.fields["rel"]) for j in vox1 if j.fields["role"] == role]
        _write_lines(os.path.join(base, name), all_pair_trials(utts))
    # Identification split per speaker: last video for test, the one before for validation.
    n_vid = max(j.fields["video_index"] for j in vox1) + 1
    split = {n_vid - 1: 3, n_vid - 2: 2} if n_vid >= 3 else {n_vid - 1: 3}
    _write_lines(os.path.join(base, "iden_split.txt"),
                 [f'{split.get(j.fields["video_index"], 1)} {j.fields["rel"]}' for j in vox1])
    speakers = {j.fields["spk_id"]: (j.speaker, j.fields["role"]) for j in vox1}
    _write_lines(os.path.join(base, "vox1_meta.csv"),
                 ["VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet"] +
                 [f"{sid}\tSynthetic_{spk.index}\t{spk.gender[0]}\t{spk.accent}\t"
                  f"{'test' if role == 'test' else 'dev'}"
                  for sid, (spk, role) in sorted(speakers.items())])


# --------------------------------------------------------------------------- Common Voice
CV_COLUMNS = ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender",
              "accents", "variant", "locale", "segment"]


def plan_common_voice(cfg, take_speakers, rng):
    """cfg: {"train": speakers, "dev": speakers, "test": speakers, "utts": per speaker}."""
    jobs, clip = [], 0
    for split in ("train", "dev", "test"):
        for spk in take_speakers(cfg[split]):
            client = _token(rng, 128, "0123456789abcdef")
            for _ in range(cfg["utts"]):
                clip += 1
                name = f"common_voice_en_{20000000 + clip}.mp3"
                jobs.append(Job("common_voice", f"CommonVoice/en/clips/{name}", "speech", _seed(rng),
                                spk, sentence(rng), fields=dict(split=split, client=client, name=name)))
    return jobs


def index_common_voice(root, jobs, meta, rng):
    from corpora.embedded.voices import ACCENTS

    for split in ("train", "dev", "test"):
        rows = ["\t".join(CV_COLUMNS)]
        for j in (j for j in jobs if j.fields["split"] == split):
            s = j.speaker
            sentence_text = j.text[0].upper() + j.text[1:] + "."
            rows.append("\t".join([j.fields["client"], j.fields["name"], sentence_text, "2", "0",
                                   s.age, s.gender, ACCENTS[s.accent], "", "en", ""]))
        _write_lines(os.path.join(root, "CommonVoice", "en", f"{split}.tsv"), rows)
