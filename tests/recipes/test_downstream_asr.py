"""Smoke tests of recipes/Downstream/ASR/train.py on the tiny LibriSpeech layout."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

RECIPE = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "Downstream", "ASR")
# A model small enough to train in seconds (character tokens, the default: vocab_size only names the file).
TINY = ["--vocab_size", "40", "--batch_size", "8", "--num_workers", "0", "--rnn_layers", "1", "--rnn_neurons", "32",
        "--conv_channels", "32", "--dnn_neurons", "32", "--dropout", "0.0", "--beam_size", "2"]
# One thread per run: on a small shared CPU, competing thread pools make a run several times slower.
ENV = dict(os.environ, OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def tiny_librispeech(tiny_corpus, tmp_path_factory):
    root, _ = tiny_corpus
    base = tmp_path_factory.mktemp("downstream_asr")
    return base, ["--data_folder", str(root / "LibriSpeech"), "--prepare_folder", str(base / "prep"), *TINY]


def _command(out, args, *extra):
    return [sys.executable, "train.py", "hparams/ctc.yaml", "--output_folder", str(out), *args, *map(str, extra)]


def _train(out, args, *extra):
    done = subprocess.run(_command(out, args, *extra), cwd=RECIPE, capture_output=True, text=True, env=ENV)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done


def _epochs(out):
    path = out / "train_log.txt"
    return [int(e) for e in re.findall(r"^epoch: (\d+),", path.read_text(), re.M)] if path.exists() else []


def test_killed_run_resumes_and_writes_metrics_and_alignments(tiny_librispeech):
    base, args = tiny_librispeech
    out = base / "fbank"
    proc = subprocess.Popen(_command(out, args, "--number_of_epochs", 2), cwd=RECIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not _epochs(out):
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _epochs(out)
    assert before == [1] and not (out / "metrics.json").exists(), before

    done = _train(out, args, "--number_of_epochs", 2)
    assert _epochs(out) == [1, 2]  # resumed from the checkpoint: no epoch trained twice
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["encoder"] == "fbank" and metrics["epochs"] == 2 and metrics["seed"] == 1986
    assert metrics["decoder"] in ("greedy", "beam", "lm") and metrics["train_seconds"] > 0
    # characters: one output per distinct character of the training transcripts (space included) + <unk>/blank
    root = tiny_librispeech[0] / "prep" / "train-clean-100.csv"
    with open(root, encoding="utf-8") as f:
        chars = {c for row in csv.DictReader(f) for c in row["wrd"]}
    assert metrics["token_type"] == "char" and metrics["vocab_size"] == len(chars) + 1
    assert metrics["wer"] == metrics[f"wer_{metrics['decoder']}"]
    # the decoder is the one with the lowest dev WER (the simpler one on ties), whatever test says
    dev = {d: metrics[f"dev_wer_{d}"] for d in ("greedy", "beam", "lm")}
    assert metrics["decoder"] == min(dev, key=lambda d: (dev[d], ["greedy", "beam", "lm"].index(d)))
    grid = (out / "lm" / "dev_grid.txt").read_text()  # the LM weights were chosen on dev: the chosen line is there
    assert f"lm_weight {metrics['lm_weight']:g}, word_score {metrics['word_score']:g}: dev WER " \
        f"{metrics['dev_wer_lm']:.2f}" in grid
    for key in ("wer", "wer_greedy", "wer_beam", "wer_lm", "cer", "dev_wer"):
        assert 0 <= metrics[key] <= 200
    alignments = (out / "wer_test.txt").read_text()
    # SpeechBrain's summary line and one alignment block per test utterance (6 in the tiny corpus)
    assert float(re.search(r"%WER ([0-9.]+)", alignments).group(1)) == pytest.approx(metrics["wer"], abs=0.01)
    words = alignments.split("Character error rate")[0]
    assert len(re.findall(r"^\d+-\d+-\d+, %WER", words, re.M)) == 6
    assert f"test WER {metrics['wer']:.2f} %" in done.stdout


def test_second_run_reuses_the_tokenizer_and_mfcc_works(tiny_librispeech):
    base, args = tiny_librispeech
    model = base / "prep" / "tokenizer" / "40_char.model"
    if not model.exists():  # when run alone
        _train(base / "first", args, "--number_of_epochs", 1)
    stamp = model.stat().st_mtime_ns
    out = base / "mfcc"
    done = _train(out, args, "--number_of_epochs", 1, "--encoder", "mfcc", "--seed", 3)
    assert model.stat().st_mtime_ns == stamp
    assert "Tokenizer is already trained" in done.stdout + done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["encoder"] == "mfcc" and metrics["seed"] == 3 and metrics["epochs"] == 1


def test_impossible_vocabulary_size_is_explained(tiny_librispeech, tmp_path):
    _, args = tiny_librispeech
    args = [a if a != "40" else "5000" for a in args]
    done = subprocess.run(_command(tmp_path / "run", args, "--tokenizer_folder", tmp_path / "tok", "--token_type",
                                   "unigram"), cwd=RECIPE,
                          capture_output=True, text=True, env=ENV)
    assert done.returncode != 0 and "set --vocab_size to at most" in done.stdout + done.stderr
    assert not list((tmp_path / "tok").glob("*.model"))  # nothing half-trained left to be reused


def test_a_tokenizer_of_other_transcripts_is_refused(tiny_librispeech, tmp_path):
    base, args = tiny_librispeech
    if not (base / "prep" / "tokenizer" / "40_char.model").exists():  # when run alone
        _train(base / "first", args, "--number_of_epochs", 1)
    with open(base / "prep" / "train-clean-100.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:  # another training set: the same audio, other words
        row["wrd"] = " ".join(reversed(row["wrd"].split()))
    other = tmp_path / "other_train.csv"
    with open(other, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    done = subprocess.run(_command(tmp_path / "run", args, "--train_csv", other, "--skip_prep", True), cwd=RECIPE,
                          capture_output=True, text=True, env=ENV)
    assert done.returncode != 0
    assert "was trained on other transcripts" in done.stdout + done.stderr and "--tokenizer_folder" in \
        done.stdout + done.stderr
