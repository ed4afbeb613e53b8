"""Smoke tests of recipes/MultitaskSSL/train.py on the tiny Common Voice layout."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from corpora.manifest import read_csv
from corpora.voxceleb import prepare_voxceleb
from lobes.encoder_folder import load_pretrained_encoder
from recipe_support import ALPHARATIO, RECIPE, from_recipe, log_epochs, torchrun, train_recipe


def test_trains_logs_every_worker_and_exports_the_encoder(tiny_cv):
    base, args = tiny_cv
    out = base / "run"
    train_recipe(ALPHARATIO, out, args, "--number_of_epochs", "2")
    assert [e for e, _ in log_epochs(out)] == [1, 2]
    with open(out / "losses.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["epoch"], r["stage"], r["name"]) for r in rows} >= {("2", "valid", "alpharatio_loss")}
    assert (out / "losses.png").stat().st_size > 1000
    encoder = load_pretrained_encoder(str(out / "save" / "pretrained_encoder"))
    assert encoder(torch.randn(1, 16000)).shape == (1, 101, 128)


def test_exports_the_encoder_of_the_best_validation_epoch(tiny_cv, tmp_path):
    base, args = tiny_cv
    keep = [a for k, a in enumerate(args) if a not in ("--decay_factor", "--lr_update_interval")
            and args[k - 1] not in ("--decay_factor", "--lr_update_interval")]
    out = tmp_path / "run"
    # the learning rate grows 100x per epoch: training diverges after the first epochs
    train_recipe(ALPHARATIO, out, keep, "--number_of_epochs", "4", "--lr_update_interval", "1", "--decay_factor", "100")
    with open(out / "losses.csv") as f:
        valid = {int(r["epoch"]): float(r["loss"]) for r in csv.DictReader(f)
                 if r["stage"] == "valid" and r["name"] == "loss"}
    best = min(valid, key=valid.get)
    assert best != 4, valid  # the planted situation: the last epoch is not the best
    ckpts = [d for d in (out / "save").iterdir() if d.name.startswith("CKPT")]
    chosen = [d for d in ckpts if f"epoch: {best}" in (d / "CKPT.yaml").read_text()]
    assert len(chosen) == 1 and len(ckpts) >= 2  # the best is kept besides the most recent
    with pytest.raises(ValueError, match="export_checkpoint must be 'best' or 'last', got 'worst'"):
        from_recipe("train", "load_exported_checkpoint")(None, "worst")
    exported = torch.load(out / "save" / "pretrained_encoder" / "encoder.ckpt", map_location="cpu")
    saved = torch.load(chosen[0] / "encoder.ckpt", map_location="cpu")
    assert exported.keys() == saved.keys() and all(torch.equal(exported[k], saved[k]) for k in saved)


def test_probe_scores_the_exported_encoder_against_random_twins(tiny_cv, tiny_corpus, tmp_path):
    base, args = tiny_cv
    out = base / "probe_run"
    train_recipe(ALPHARATIO, out, args, "--number_of_epochs", "1")
    prepare_voxceleb(tiny_corpus[0] / "VoxCeleb/vox1", tmp_path)
    speakers = {r["spk_id"] for r in read_csv(tmp_path / "iden_train.csv")}
    done = subprocess.run([sys.executable, "probe.py", str(out / "save" / "pretrained_encoder"),
                           "--train_csv", str(tmp_path / "iden_train.csv"), "--test_csv",
                           str(tmp_path / "iden_test.csv"), "--max_seconds", "1", "--random_seeds", "0", "1",
                           "--out", str(tmp_path / "probe.json")], cwd=RECIPE, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "probe.json").read_text())
    assert result["chance"] == pytest.approx(1 / len(speakers)) and result["random_seeds"] == [0, 1]
    for probe in ("nearest centroid", "linear"):
        scores = result[probe]
        assert len(scores["random init"]) == 2
        # even one epoch of pretraining leaves speakers far above chance with either probe
        assert min(scores["random init"] + [scores["pretrained"]]) > 2 * result["chance"]
        assert scores["beats random"] == (scores["pretrained"] > max(scores["random init"]))
    wrong_label = subprocess.run([sys.executable, "probe.py", str(out / "save" / "pretrained_encoder"),
                                  "--train_csv", str(tmp_path / "iden_train.csv"), "--test_csv",
                                  str(tmp_path / "iden_test.csv"), "--label", "speaker"],
                                 cwd=RECIPE, capture_output=True, text=True)
    assert wrong_label.returncode != 0
    assert "iden_train.csv has no column 'speaker'" in wrong_label.stderr and "spk_id" in wrong_label.stderr
    # the probe's random twin is the downstream recipes' one: BatchNorm statistics from training audio
    random_twin = from_recipe("probe", "random_twin")
    twin = random_twin(str(out / "save" / "pretrained_encoder"), str(tmp_path / "iden_train.csv"), seed=0)
    norms = [m for m in twin.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and all(m.running_mean.abs().sum() > 0 and not torch.allclose(m.running_var, torch.ones(1))
                         for m in norms)


def test_a_worker_added_by_yaml_only_and_a_user_labeller_class(tiny_cv, tmp_path):
    base, args = tiny_cv
    (tmp_path / "my_labellers.py").write_text(
        "import torch\nfrom labellers import Labeller\n\n"
        "class Loudish(Labeller):\n    kind, level, dim = 'classification', 'utterance', 2\n"
        "    def __call__(self, batch):\n        return (batch.wavs.std(dim=1) > 0.05).long()\n")
    text = open(ALPHARATIO).read()
    text = text.replace("workers_config:\n    regressor:\n", """f0_model: !new:lobes.workers.Regressor
    input_size: !ref <encoder_dim>
    output_size: 1
f0_labeller: !apply:labellers.registry.get_labeller
    name: f0
    lld_folder: !ref <lld_folder>
loud_model: !new:lobes.workers.Classifier
    input_size: !ref <encoder_dim>
    num_classes: 2
    level: utterance
loud_labeller: !new:my_labellers.Loudish

workers_config:
    classifier:
        loud:
            model: !ref <loud_model>
            labeller: !ref <loud_labeller>
            optimizer: !name:torch.optim.Adam
                lr: 0.001
    regressor:
        f0:
            weight: 0.5
""")  # the shortest addition: {worker}_model, {worker}_labeller and an entry (the YAML's worker_optimizer)
    # a YAML outside the recipe's hparams/ points its !include: at the shared fragment from where it is
    shared = os.path.abspath(os.path.join(RECIPE, "..", "..", "hparams"))
    text = text.replace("!include:../../../hparams/", f"!include:{shared}/")
    yaml = tmp_path / "pretrain_more.yaml"
    yaml.write_text(text)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    train_recipe(yaml, tmp_path / "run", args, "--number_of_epochs", "1", env=env)
    log = (tmp_path / "run" / "train_log.txt").read_text()
    assert "f0_loss" in log and "loud_loss" in log and "alpharatio_loss" in log

    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("f0_labeller: !apply", "f0_labeler: !apply"))
    done = train_recipe(broken, tmp_path / "run2", args, env=env, check=False)
    assert done.returncode != 0 and "add a top-level `f0_labeller:` key" in done.stdout + done.stderr


def test_a_missing_selection_fragment_is_named(tiny_cv, tmp_path):
    _, args = tiny_cv
    done = train_recipe(os.path.join(RECIPE, "hparams", "pretrain_selected.yaml"), tmp_path / "run", args,
                  "--selection_fragment", tmp_path / "nowhere.yaml", check=False)
    assert done.returncode != 0 and "nowhere.yaml not found: run recipes/PretextSelection/select_tasks.py" in \
        done.stdout + done.stderr


def test_a_misspelled_key_in_the_yaml_stops_the_run_before_training(tiny_cv, tmp_path):
    """A key renamed in the file (not an override) used to fail only where it was read, after the first epoch."""
    _, args = tiny_cv
    text = open(ALPHARATIO).read().replace("ckpt_save_interval:", "ckpt_save_intervall:")
    fragment = os.path.abspath(os.path.join(RECIPE, "..", "..", "hparams"))
    yaml = tmp_path / "pretrain_alpharatio.yaml"
    yaml.write_text(text.replace("!include:../../../hparams/", f"!include:{fragment}/"))
    done = train_recipe(yaml, tmp_path / "run", args, "--number_of_epochs", "1", check=False)
    assert done.returncode != 0 and "lacks `ckpt_save_interval` (it has `ckpt_save_intervall`)" in \
        done.stdout + done.stderr, done.stderr[-2000:]
    assert not list((tmp_path / "run").glob("save/CKPT*"))  # stopped before any training


def test_a_missing_validation_file_stops_the_run_before_training(tiny_cv, tmp_path):
    base, args = tiny_cv
    from corpora.manifest import read_csv, write_csv
    rows = read_csv(base / "prep" / "dev.csv")
    rows[1]["wav"] = str(tmp_path / "gone.mp3")
    write_csv(tmp_path / "dev.csv", rows, [k for k in rows[0] if k not in ("ID", "duration", "wav")])
    done = train_recipe(ALPHARATIO, tmp_path / "run", args, "--valid_csv", tmp_path / "dev.csv", check=False)
    assert done.returncode != 0 and "dev.csv: 1 audio files do not exist" in done.stdout + done.stderr
    log = tmp_path / "run" / "train_log.txt"
    assert not log.exists() or "epoch: 1" not in log.read_text()  # no epoch was spent first


def test_a_fragment_from_before_the_online_backend(tiny_cv, tmp_path):
    """An older fragment (no lld_backend input) still loads with stored tracks; asked for online, it is named."""
    load_fragment = from_recipe("train", "load_fragment")
    from lobes.multitask import WorkerConfigError
    from recipes.PretextSelection.selection_outputs import write_fragment
    _, args = tiny_cv
    lld = args[args.index("--lld_folder") + 1]
    new = tmp_path / "new.yaml"
    write_fragment(str(new), ["rms"], ["pcm_RMSenergy_sma"], [1.0], {"rms": "pcm_RMSenergy_sma"}, "test")
    old = tmp_path / "old.yaml"
    old.write_text("".join(line for line in new.read_text().splitlines(True) if "lld_backend" not in line))
    inputs = {"encoder_dim": 8, "lld_folder": lld, "lld_backend": "stored"}
    assert load_fragment(str(old), inputs)["regressor"]["rms"]["labeller"].online is None
    assert load_fragment(str(new), dict(inputs, lld_backend="online"))["regressor"]["rms"]["labeller"].online
    with pytest.raises(WorkerConfigError, match=r"has no input \['lld_backend'\].*run select_tasks.py again"):
        load_fragment(str(old), dict(inputs, lld_backend="online"))
    mixed = tmp_path / "mixed.yaml"  # a column the online backend does not compute stays stored
    write_fragment(str(mixed), ["rms", "mfcc_sma[1]"], ["pcm_RMSenergy_sma", "mfcc_sma[1]"], [0.5, 0.5],
                   {"rms": "pcm_RMSenergy_sma"}, "test")
    workers = load_fragment(str(mixed), dict(inputs, lld_backend="online"))["regressor"]
    assert workers["rms"]["labeller"].online and workers["mfcc_sma_1"]["labeller"].online is None


def test_resumes_after_kill_with_the_saved_optimizer_state(tiny_cv, tmp_path):
    base, args = tiny_cv
    out = tmp_path / "run"
    cmd = [sys.executable, "train.py", ALPHARATIO, "--output_folder", str(out), *args, "--number_of_epochs", "4"]
    proc = subprocess.Popen(cmd, cwd=RECIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if len(log_epochs(out) if (out / "train_log.txt").exists() else []) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = [e for e, _ in log_epochs(out)]
    assert 2 <= len(done_before) < 4, done_before
    train_recipe(ALPHARATIO, out, args, "--number_of_epochs", "4")
    epochs = log_epochs(out)
    assert [e for e, _ in epochs][:len(done_before)] == done_before
    resumed = epochs[len(done_before):]
    assert [e for e, _ in resumed] == list(range(len(done_before) + 1, 5))  # no epoch trained twice
    for epoch, lr in resumed:  # the decayed learning rate came back with the optimizer state
        assert lr == pytest.approx(5e-4 * 0.5 ** (epoch - 1))


def test_two_processes_with_torchrun_gloo(tiny_cv, tmp_path):
    base, args = tiny_cv
    train_recipe(ALPHARATIO, tmp_path / "ddp", args, "--number_of_epochs", "1", "--distributed_backend", "gloo",
                 launcher=torchrun())
    assert (tmp_path / "ddp" / "save" / "pretrained_encoder" / "encoder.ckpt").exists()
    assert [e for e, _ in log_epochs(tmp_path / "ddp")] == [1]


def test_the_encoder_hears_the_corrupted_crop_and_the_targets_come_from_the_clean_one():
    import speechbrain as sb
    from speechbrain.dataio.batch import PaddedBatch
    from labellers.base import Labeller
    from lobes.multitask import Worker, WorkerHeads
    from lobes.workers import Regressor
    brain_class, corrupt = from_recipe("train", "MultitaskBrain"), from_recipe("train", "corrupt")
    heard = {}

    class Encoder(torch.nn.Module):  # records what it hears; one 4-d frame per 10 ms
        def forward(self, wavs, lengths):
            heard["encoder"] = wavs.clone()
            return wavs.new_zeros(wavs.shape[0], wavs.shape[1] // 160 + 1, 4) + wavs.mean()

    class Clean(Labeller):  # the target: each crop's own RMS
        kind, level, dim = "regression", "utterance", 1

        def __call__(self, batch):
            heard["labeller"] = batch.wavs.clone()
            return batch.wavs.pow(2).mean(1, keepdim=True).sqrt()

    hparams = dict(wav_augment=lambda wavs, lengths: (wavs + 0.5, lengths), hop_seconds=0.01, sample_rate=16000,
                   meta_columns=[])
    head = Regressor(4, 1, level="utterance")
    brain = brain_class(modules={"encoder": Encoder(), "heads": WorkerHeads({"rms": head})}, hparams=hparams,
                        run_opts={"device": "cpu"})
    brain.workers = {"rms": Worker("rms", "regressor", head, Clean(), None, torch.nn.L1Loss())}
    clean = torch.randn(2, 1600, generator=torch.Generator().manual_seed(0))
    batch = PaddedBatch([{"id": f"u{k}", "sig": clean[k], "offset": 0} for k in range(2)])
    for stage, shift in ((sb.Stage.TRAIN, 0.5), (sb.Stage.VALID, 0.0)):  # validation hears the clean crops
        brain.on_stage_start(stage)
        brain.compute_objectives(brain.compute_forward(batch, stage), batch, stage)
        assert torch.allclose(heard["encoder"], clean + shift) and torch.equal(heard["labeller"], clean), stage
    # an augmentation that changes the crops' length would move every frame off its target
    with pytest.raises(ValueError, match="length-preserving"):
        corrupt(lambda wavs, lengths: (wavs[:, ::2], lengths), clean, torch.ones(2))


def test_seed_table_joins_the_pretraining_seeds_of_an_experiment(tmp_path):
    collect = from_recipe("seed_table", "collect")
    runs = {("selected_speakers", "0"): 7.0, ("selected_speakers_s1987", "0"): 5.0, ("fbank", "0"): 4.0,
            ("fbank", "1"): 6.0, ("random_FbankCRDNN", "2"): 9.0}
    for (encoder, seed), eer in runs.items():
        os.makedirs(tmp_path / "verification" / encoder / seed)
        (tmp_path / "verification" / encoder / seed / "metrics.json").write_text(json.dumps({"eer_cosine": eer}))
    results, names = collect(str(tmp_path), ["verification"])
    assert sorted(names) == ["fbank", "random_FbankCRDNN", "selected_speakers"]
    assert sorted(r["eer_cosine"] for r in results["verification"]["selected_speakers"].values()) == [5.0, 7.0]
    assert set(results["verification"]["selected_speakers"]) == {"1986/0", "1987/0"}
    table = from_recipe("seed_table", "markdown_table")(results, names, ["verification"])
    assert "6.0 ± 1.4" in table and "5.0 ± 1.4" in table  # mean ± sample std of (7, 5) and of (4, 6)
