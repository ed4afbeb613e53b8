"""Speech Commands v2, Fluent Speech Commands, IEMOCAP, MUSAN and RIRS_NOISES layouts.

Same contract as `speech_layouts`: `plan_*` lists the jobs, `index_*` writes the
annotation files once the audio exists.
"""

import os
from collections import defaultdict

from corpora.embedded.jobs import Job
from corpora.embedded.speech_layouts import _seed, _token, _write_lines
from corpora.embedded.text import EMOTION_STYLES, INTENTS, SPEECH_COMMANDS, sentence
from corpora.embedded.material import RT60_RANGES

SC_ROOT = "speech_commands_v0.02"
FSC_ROOT = "fluent_speech_commands_dataset"
SC_BACKGROUND = {"white_noise.wav": "white", "pink_noise.wav": "pink",
                 "brown_noise.wav": "brown", "running_tap.wav": "blue"}


# --------------------------------------------------------------------------- Speech Commands
def plan_speech_commands(cfg, take_speakers, rng):
    """cfg: speakers per split, `repeats` per word and speaker, `background_seconds`."""
    jobs = []
    for split in ("train", "validation", "test"):
        for spk in take_speakers(cfg[split]):
            spk_hash = _token(rng, 8, "0123456789abcdef")
            for word in SPEECH_COMMANDS:
                for k in range(cfg["repeats"]):
                    rel = f"{word}/{spk_hash}_nohash_{k}.wav"
                    jobs.append(Job("speech_commands", f"{SC_ROOT}/{rel}", "speech", _seed(rng), spk,
                                    word, seconds=1.0, fields=dict(split=split, rel=rel, word=word)))
    for name, colour in SC_BACKGROUND.items():
        jobs.append(Job("speech_commands", f"{SC_ROOT}/_background_noise_/{name}", "noise", _seed(rng),
                        seconds=cfg["background_seconds"], fields=dict(split="noise", colour=colour)))
    return jobs


def index_speech_commands(root, jobs, meta, rng):
    for split in ("validation", "testing"):
        key = "validation" if split == "validation" else "test"
        _write_lines(os.path.join(root, SC_ROOT, f"{split}_list.txt"),
                     [j.fields["rel"] for j in jobs if j.fields["split"] == key])


# --------------------------------------------------------------------------- Fluent Speech Commands
def plan_fluent_speech_commands(cfg, take_speakers, rng):
    """cfg: speakers per split (train/valid/test), `utts` per speaker."""
    jobs = []
    for split in ("train", "valid", "test"):
        for spk in take_speakers(cfg[split]):
            spk_id = _token(rng, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
            for u in range(cfg["utts"]):
                action, obj, location, phrases = INTENTS[(u + spk.index) % len(INTENTS)]
                text = phrases[rng.integers(len(phrases))]
                uid = "-".join(_token(rng, n, "0123456789abcdef") for n in (8, 4, 4, 4, 12))
                rel = f"wavs/speakers/{spk_id}/{uid}.wav"
                jobs.append(Job("fluent_speech_commands", f"{FSC_ROOT}/{rel}", "speech", _seed(rng),
                                spk, text, fields=dict(split=split, rel=rel, spk_id=spk_id,
                                                       action=action, object=obj, location=location)))
    return jobs


def index_fluent_speech_commands(root, jobs, meta, rng):
    for split in ("train", "valid", "test"):
        rows = [",path,speakerId,transcription,action,object,location"]
        for i, j in enumerate(j for j in jobs if j.fields["split"] == split):
            f = j.fields
            text = j.text[0].upper() + j.text[1:]
            rows.append(f'{i},{f["rel"]},{f["spk_id"]},{text},{f["action"]},{f["object"]},{f["location"]}')
        _write_lines(os.path.join(root, FSC_ROOT, "data", f"{split}_data.csv"), rows)


# --------------------------------------------------------------------------- IEMOCAP
def plan_iemocap(cfg, take_speakers, rng):
    """cfg: `sessions`, `dialogs` per session, `turns` per dialog (alternating F/M)."""
    jobs = []
    for session in range(1, cfg["sessions"] + 1):
        female, male = take_speakers(2)  # speakers alternate genders: index 0 male, 1 female
        female, male = (female, male) if female.gender == "female" else (male, female)
        for d in range(1, cfg["dialogs"] + 1):
            lead = "F" if d % 2 else "M"
            dialog = f"Ses{session:02d}{lead}_impro{d:02d}"
            counts = {"F": 0, "M": 0}
            for t in range(cfg["turns"]):
                who = lead if t % 2 == 0 else ("M" if lead == "F" else "F")
                turn = f"{dialog}_{who}{counts[who]:03d}"
                counts[who] += 1
                style = EMOTION_STYLES[int(rng.integers(len(EMOTION_STYLES)))]
                jobs.append(Job("iemocap", f"IEMOCAP_full_release/Session{session}/sentences/wav/"
                                f"{dialog}/{turn}.wav", "speech", _seed(rng),
                                female if who == "F" else male, sentence(rng), style=style,
                                fields=dict(split=f"Session{session}", session=session, dialog=dialog,
                                            turn=turn, emotion=style)))
    return jobs


_EMO_CODE = {"neutral": "neu", "happy": "hap", "sad": "sad", "angry": "ang"}
_EMO_VAD = {"neutral": (2.5, 2.5, 2.5), "happy": (4.0, 3.5, 3.0),
            "sad": (1.5, 2.0, 2.0), "angry": (1.5, 4.0, 4.0)}


def index_iemocap(root, jobs, meta, rng):
    dialogs = defaultdict(list)
    for j in jobs:
        dialogs[(j.fields["session"], j.fields["dialog"])].append(j)
    for (session, dialog), turns in dialogs.items():
        lines, t = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""], 0.5
        for j in turns:
            end = t + meta[j.path]["duration"]
            v, a, d = _EMO_VAD[j.fields["emotion"]]
            lines += [f'[{t:.4f} - {end:.4f}]\t{j.fields["turn"]}\t{_EMO_CODE[j.fields["emotion"]]}\t'
                      f"[{v:.4f}, {a:.4f}, {d:.4f}]",
                      f'C-E1:\t{j.fields["emotion"].capitalize()};\t()', ""]
            t = end + 0.3
        _write_lines(os.path.join(root, "IEMOCAP_full_release", f"Session{session}", "dialog",
                                  "EmoEvaluation", f"{dialog}.txt"), lines)


# --------------------------------------------------------------------------- MUSAN and RIRS_NOISES
def plan_noise_rir(cfg, take_speakers, rng):
    """cfg: counts of `noise`, `music`, `babble` files (`seconds` long) and `rirs` per room."""
    jobs = []
    colours = ["white", "pink", "brown", "blue"]
    for i in range(cfg["noise"]):
        jobs.append(Job("musan", f"musan/noise/free-sound/noise-free-sound-{i:04d}.wav", "noise",
                        _seed(rng), seconds=cfg["seconds"],
                        fields=dict(category="noise", colour=colours[i % len(colours)])))
    for i in range(cfg["music"]):
        jobs.append(Job("musan", f"musan/music/fma/music-fma-{i:04d}.wav", "music", _seed(rng),
                        seconds=cfg["seconds"], fields=dict(category="music")))
    talkers = take_speakers(cfg["babble_speakers"])
    for i in range(cfg["babble"]):
        chosen = [talkers[k] for k in rng.choice(len(talkers), size=3, replace=False)]
        jobs.append(Job("musan", f"musan/speech/librivox/speech-librivox-{i:04d}.wav", "babble",
                        _seed(rng), fields=dict(category="speech",
                                                talkers=[(s, sentence(rng)) for s in chosen])))
    for room in RT60_RANGES:
        for i in range(cfg["rirs"]):
            room_id = f"Room{i // 4 + 1:03d}"
            path = f"RIRS_NOISES/simulated_rirs/{room}/{room_id}/{room_id}-{i % 4 + 1:05d}.wav"
            jobs.append(Job("rirs", path, "rir", _seed(rng),
                            fields=dict(category="rir", room=room, room_id=room_id)))
    return jobs


def index_noise_rir(root, jobs, meta, rng):
    for room in RT60_RANGES:
        lines = []
        for j in (j for j in jobs if j.kind == "rir" and j.fields["room"] == room):
            name = os.path.splitext(os.path.basename(j.path))[0]
            lines.append(f"--rir-id {room}-{name} --room-id {room}-{j.fields['room_id']} {j.path}")
        _write_lines(os.path.join(root, "RIRS_NOISES", "simulated_rirs", room, "rir_list"), lines)
