"""Smoke tests of recipes/MultitaskSSL/train.py on the tiny Common Voice layout."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from corpora.manifest import read_csv
from corpora.voxceleb import prepare_voxceleb
from lobes.pretraining import load_pretrained_encoder

RECIPES = os.path.join(os.path.dirname(__file__), "..", "..", "recipes")
RECIPE = os.path.join(RECIPES, "MultitaskSSL")
ALPHARATIO = os.path.join(RECIPE, "hparams", "pretrain_alpharatio.yaml")


@pytest.fixture(scope="module")
def tiny_cv(tiny_corpus, tmp_path_factory):
    root, _ = tiny_corpus
    base = tmp_path_factory.mktemp("multitask")
    data, prep, lld = root / "CommonVoice" / "en", base / "prep", base / "lld"
    done = subprocess.run([sys.executable, "extract.py", "hparams/extract.yaml", "--data_folder", str(data),
                           "--prepare_folder", str(prep), "--output_folder", str(lld), "--num_workers", "2"],
                          cwd=os.path.join(RECIPES, "PseudoLabels"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return base, ["--data_folder", str(data), "--prepare_folder", str(prep), "--lld_folder", str(lld),
                  "--batch_size", "4", "--lr_update_interval", "1", "--decay_factor", "0.5",
                  "--noise_rir_data_folder", str(root), "--noise_rir_folder", str(base / "noise_rir")]


def _train(yaml, out, data_args, *extra, launcher=(), env=None, check=True):
    cmd = [*(launcher or [sys.executable]), "train.py", str(yaml), "--output_folder", str(out), *data_args,
           *map(str, extra)]
    done = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, env=env)
    if check:
        assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done


def _from_recipe(module, name):
    """`name` from one of the recipe's scripts (train.py, probe.py), imported from its folder."""
    sys.path.insert(0, RECIPE)
    try:
        return getattr(__import__(module), name)
    finally:
        sys.path.remove(RECIPE)


def _log_epochs(out):
    text = (out / "train_log.txt").read_text()
    return [(int(e), float(lr)) for e, lr in re.findall(r"epoch: (\d+), lr_encoder: ([0-9.e+-]+)", text)]


def test_trains_logs_every_worker_and_exports_the_encoder(tiny_cv):
    base, args = tiny_cv
    out = base / "run"
    _train(ALPHARATIO, out, args, "--number_of_epochs", "2")
    assert [e for e, _ in _log_epochs(out)] == [1, 2]
    with open(out / "losses.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["epoch"], r["stage"], r["name"]) for r in rows} >= {("2", "valid", "alpharatio_loss")}
    assert (out / "losses.png").stat().st_size > 1000
    encoder = load_pretrained_encoder(str(out / "save" / "pretrained_encoder"))
    assert encoder(torch.randn(1, 16000)).shape == (1, 101, 128)


def _crop_batch(rows, offsets, chunk, context=True, right=0.0):
    """A LabelBatch of crops at `offsets`, with the clean audio from each utterance start to `right` seconds past
    each crop, as the recipe gives it."""
    from labellers.base import LabelBatch
    from corpora.audio import load_audio
    wavs = [load_audio(r["wav"]) for r in rows]
    crops = torch.stack([w[o:o + chunk] for w, o in zip(wavs, offsets)])
    around = [w[:o + chunk + int(right * 16000)] for w, o in zip(wavs, offsets)]
    longest = max(len(a) for a in around)
    padded = torch.stack([torch.nn.functional.pad(a, (0, longest - len(a))) for a in around])
    extra = dict(context_wavs=padded, context_lengths=torch.tensor([len(a) / longest for a in around]),
                 context_offsets=torch.tensor(offsets)) if context else {}
    return LabelBatch(wavs=crops, lengths=torch.ones(len(rows)), ids=[r["ID"] for r in rows],
                      offsets=torch.tensor(offsets), num_frames=chunk // 160, hop_seconds=0.01, **extra)


def test_online_targets_equal_the_stored_ones(tiny_cv):
    from labellers.lld_torch import RFILT
    from labellers.registry import get_labeller
    base, args = tiny_cv
    lld = args[args.index("--lld_folder") + 1]
    rows = [r for r in read_csv(str(base / "prep" / "train.csv")) if float(r["duration"]) > 2.5][:4]
    chunk = 16000
    # offsets on the 10 ms grid and between its frames, the start and the very end of an utterance
    offsets = [0, 4800, 3217, int(float(rows[3]["duration"]) * 16000) - chunk]
    labellers = {name: dict(name=name) for name in ("alpharatio", "loudness", "zcr", "rasta_l1", "rms", "f0",
                                                    "voicing", "hnr")}
    labellers["egemaps_pitch"] = dict(name="lld_group", columns=["F0semitoneFrom27.5Hz_sma3nz", "HNRdBACF_sma3nz"])
    labellers["rfilt"] = dict(name="lld_group", columns=RFILT)
    for name, kwargs in labellers.items():
        stored = get_labeller(lld_folder=lld, **kwargs)
        online = get_labeller(lld_folder=lld, backend="online", **kwargs)
        assert online.context is not None and stored.context is None
        right = online.context[1]  # what the recipe gives this labeller
        want = stored(_crop_batch(rows, offsets, chunk))
        got = online(_crop_batch(rows, offsets, chunk, right=right))
        assert got.shape == want.shape == (4, 100, online.dim)
        # stored tracks are float16: about 3 significant digits
        torch.testing.assert_close(got, want, atol=2e-3, rtol=2e-3, msg=name)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # a bf16 training step does not lower their precision
            torch.testing.assert_close(online(_crop_batch(rows, offsets, chunk, right=right)), want, atol=2e-3,
                                       rtol=2e-3, msg=name)
        # on 2 s crops alone, only frames near the crop edges differ; RASTA's (pole 0.937) by up to 6 standard
        # deviations at the start, 0.004 after 1 s, 0.0014 after 1.2 s
        long_crops = [0, 4800, 3200, 1600]
        alone = online(_crop_batch(rows, long_crops, 2 * chunk, context=False))
        want = stored(_crop_batch(rows, long_crops, 2 * chunk))  # (crops on the 10 ms grid: see labellers/online.py)
        # (the first 5 frames: they read the crop's first 2 rows, which differ, a 60 ms row being centred 3 frames
        # after its start; the last 15: no 60 ms frame reaches past the crop, and the pitch smoother ends there)
        rasta = name in ("rasta_l1", "rfilt")
        settled = slice(130 if rasta else 5, -15)
        torch.testing.assert_close(alone[:, settled], want[:, settled], atol=2e-3, rtol=2e-3, msg=name)
        assert not rasta or not torch.allclose(alone[1:, :20], want[1:, :20], atol=2e-3, rtol=2e-3)
    with pytest.raises(ValueError, match="backend: stored"):
        get_labeller("lld", column="mfcc_sma[1]", lld_folder=lld, backend="online")


def test_a_capped_left_context_keeps_the_frame_grid(tiny_cv):
    """The recipe's own crops with left_context_seconds 0.5: the context starts on the 10 ms grid, so every
    target but the RASTA ones (their warm-up is longer) equals the stored one."""
    from labellers.base import LabelBatch
    from labellers.registry import get_labeller
    dataio_prepare = _from_recipe("train", "dataio_prepare")
    base, args = tiny_cv
    lld = args[args.index("--lld_folder") + 1]
    labellers = {name: (get_labeller(name, lld_folder=lld), get_labeller(name, lld_folder=lld, backend="online",
                                                                           left_context_seconds=0.5))
                 for name in ("alpharatio", "loudness", "zcr", "rms", "f0", "voicing", "hnr")}
    context = labellers["f0"][1].context
    hparams = {"chunk_size": 16000, "sample_rate": 16000, "sorting": "random", "meta_columns": [],
               "train_csv": str(base / "prep" / "train.csv"), "valid_csv": str(base / "prep" / "dev.csv")}
    data = dataio_prepare(hparams, context)["valid"]  # fixed crops
    items = [data[i] for i in range(len(data))]
    items = [x for x in items if x["offset"] > 8000 and x["offset"] % 160][:4]  # past 0.5 s, off the grid
    assert len(items) >= 2
    longest = max(len(x["context_sig"]) for x in items)
    batch = LabelBatch(wavs=torch.stack([x["sig"] for x in items]), lengths=torch.ones(len(items)),
                       ids=[x["id"] for x in items],
                       offsets=torch.tensor([x["offset"] for x in items]), num_frames=100,
                       context_wavs=torch.stack([torch.nn.functional.pad(x["context_sig"],
                                                                         (0, longest - len(x["context_sig"])))
                                                 for x in items]),
                       context_lengths=torch.tensor([len(x["context_sig"]) / longest for x in items]),
                       context_offsets=torch.tensor([x["context_offset"] for x in items]))
    for name, (stored, online) in labellers.items():
        torch.testing.assert_close(online(batch), stored(batch), atol=2e-3, rtol=2e-3, msg=name)


def test_trains_with_online_targets_as_with_stored_ones(tiny_cv, tmp_path):
    """pretrain_alpharatio.yaml, and pretrain_selected.yaml with a selection of every LLD family (spectral,
    RASTA, energy, ZCR, waveform HNR): one epoch, the same losses with either backend."""
    from recipes.PretextSelection.selection_outputs import write_fragment
    from labellers.stored import LLD_ALIASES
    base, args = tiny_cv
    names = ["alpharatio", "rasta_l1", "rms", "zcr", "hnr"]
    fragment = tmp_path / "workers.yaml"
    write_fragment(str(fragment), names, [LLD_ALIASES[n] for n in names], [0.3, 0.25, 0.2, 0.15, 0.1],
                   LLD_ALIASES, "test")
    selected = (os.path.join(RECIPE, "hparams", "pretrain_selected.yaml"), "--selection_fragment", fragment)
    for yaml, *extra in ((ALPHARATIO,), selected):
        losses = {}
        for backend in ("stored", "online"):
            out = tmp_path / f"{os.path.basename(yaml)}_{backend}"
            # (with the input corrupted: the YAML seeds its random draws too, so two runs draw the same)
            _train(yaml, out, args, "--number_of_epochs", "1", "--lld_backend", backend, *extra)
            with open(out / "losses.csv") as f:
                losses[backend] = {(r["epoch"], r["stage"], r["name"]): float(r["loss"]) for r in csv.DictReader(f)}
        assert losses["online"].keys() == losses["stored"].keys()
        assert any(name == "hnr_loss" for _, _, name in losses["online"]) or yaml == ALPHARATIO
        for key, value in losses["stored"].items():  # same seed, same crops, the same targets up to float16
            assert losses["online"][key] == pytest.approx(value, rel=2e-3), (yaml, key)
    # every target normalized (Fbank and MFCC with training statistics, as the stored LLDs): no worker's loss
    # dwarfs the others', so the selection's weights steer training (raw MFCCs made ~97 % of it)
    first = {name: v for (epoch, stage, name), v in losses["stored"].items()
             if epoch == "1" and stage == "train" and name.endswith("_loss")}
    assert {"fbank_loss", "mfcc_loss", "hnr_loss"} <= set(first)
    assert max(first.values()) < 4 * min(first.values()), first


def test_exports_the_encoder_of_the_best_validation_epoch(tiny_cv, tmp_path):
    base, args = tiny_cv
    keep = [a for k, a in enumerate(args) if a not in ("--decay_factor", "--lr_update_interval")
            and args[k - 1] not in ("--decay_factor", "--lr_update_interval")]
    out = tmp_path / "run"
    # the learning rate grows 100x per epoch: training diverges after the first epochs
    _train(ALPHARATIO, out, keep, "--number_of_epochs", "4", "--lr_update_interval", "1", "--decay_factor", "100")
    with open(out / "losses.csv") as f:
        valid = {int(r["epoch"]): float(r["loss"]) for r in csv.DictReader(f)
                 if r["stage"] == "valid" and r["name"] == "loss"}
    best = min(valid, key=valid.get)
    assert best != 4, valid  # the planted situation: the last epoch is not the best
    ckpts = [d for d in (out / "save").iterdir() if d.name.startswith("CKPT")]
    chosen = [d for d in ckpts if f"epoch: {best}" in (d / "CKPT.yaml").read_text()]
    assert len(chosen) == 1 and len(ckpts) >= 2  # the best is kept besides the most recent
    with pytest.raises(ValueError, match="export_checkpoint must be 'best' or 'last', got 'worst'"):
        _from_recipe("train", "load_exported_checkpoint")(None, "worst")
    exported = torch.load(out / "save" / "pretrained_encoder" / "encoder.ckpt", map_location="cpu")
    saved = torch.load(chosen[0] / "encoder.ckpt", map_location="cpu")
    assert exported.keys() == saved.keys() and all(torch.equal(exported[k], saved[k]) for k in saved)


def test_probe_scores_the_exported_encoder_against_random_twins(tiny_cv, tiny_corpus, tmp_path):
    base, args = tiny_cv
    out = base / "probe_run"
    _train(ALPHARATIO, out, args, "--number_of_epochs", "1")
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
    random_twin = _from_recipe("probe", "random_twin")
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
    _train(yaml, tmp_path / "run", args, "--number_of_epochs", "1", env=env)
    log = (tmp_path / "run" / "train_log.txt").read_text()
    assert "f0_loss" in log and "loud_loss" in log and "alpharatio_loss" in log

    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("f0_labeller: !apply", "f0_labeler: !apply"))
    done = _train(broken, tmp_path / "run2", args, env=env, check=False)
    assert done.returncode != 0 and "add a top-level `f0_labeller:` key" in done.stdout + done.stderr


def test_a_missing_selection_fragment_is_named(tiny_cv, tmp_path):
    _, args = tiny_cv
    done = _train(os.path.join(RECIPE, "hparams", "pretrain_selected.yaml"), tmp_path / "run", args,
                  "--selection_fragment", tmp_path / "nowhere.yaml", check=False)
    assert done.returncode != 0 and "nowhere.yaml not found: run recipes/PretextSelection/select_tasks.py" in \
        done.stdout + done.stderr


def test_a_missing_validation_file_stops_the_run_before_training(tiny_cv, tmp_path):
    base, args = tiny_cv
    from corpora.manifest import read_csv, write_csv
    rows = read_csv(base / "prep" / "dev.csv")
    rows[1]["wav"] = str(tmp_path / "gone.mp3")
    write_csv(tmp_path / "dev.csv", rows, [k for k in rows[0] if k not in ("ID", "duration", "wav")])
    done = _train(ALPHARATIO, tmp_path / "run", args, "--valid_csv", tmp_path / "dev.csv", check=False)
    assert done.returncode != 0 and "dev.csv: 1 audio files do not exist" in done.stdout + done.stderr
    log = tmp_path / "run" / "train_log.txt"
    assert not log.exists() or "epoch: 1" not in log.read_text()  # no epoch was spent first


def test_a_fragment_from_before_the_online_backend(tiny_cv, tmp_path):
    """An older fragment (no lld_backend input) still loads with stored tracks; asked for online, it is named."""
    load_fragment = _from_recipe("train", "load_fragment")
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
        if len(_log_epochs(out) if (out / "train_log.txt").exists() else []) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = [e for e, _ in _log_epochs(out)]
    assert 2 <= len(done_before) < 4, done_before
    _train(ALPHARATIO, out, args, "--number_of_epochs", "4")
    epochs = _log_epochs(out)
    assert [e for e, _ in epochs][:len(done_before)] == done_before
    resumed = epochs[len(done_before):]
    assert [e for e, _ in resumed] == list(range(len(done_before) + 1, 5))  # no epoch trained twice
    for epoch, lr in resumed:  # the decayed learning rate came back with the optimizer state
        assert lr == pytest.approx(5e-4 * 0.5 ** (epoch - 1))


def test_two_processes_with_torchrun_gloo(tiny_cv, tmp_path):
    base, args = tiny_cv
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533"]
    _train(ALPHARATIO, tmp_path / "ddp", args, "--number_of_epochs", "1", "--distributed_backend", "gloo",
           launcher=launcher)
    assert (tmp_path / "ddp" / "save" / "pretrained_encoder" / "encoder.ckpt").exists()
    assert [e for e, _ in _log_epochs(tmp_path / "ddp")] == [1]


def test_the_encoder_hears_the_corrupted_crop_and_the_targets_come_from_the_clean_one():
    import speechbrain as sb
    from speechbrain.dataio.batch import PaddedBatch
    from labellers.base import Labeller
    from lobes.multitask import Worker, WorkerHeads
    from lobes.workers import Regressor
    brain_class, corrupt = _from_recipe("train", "MultitaskBrain"), _from_recipe("train", "corrupt")
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
    collect = _from_recipe("seed_table", "collect")
    runs = {("selected_speakers", "0"): 7.0, ("selected_speakers_s1987", "0"): 5.0, ("fbank", "0"): 4.0,
            ("fbank", "1"): 6.0, ("random_FbankCRDNN", "2"): 9.0}
    for (encoder, seed), eer in runs.items():
        os.makedirs(tmp_path / "verification" / encoder / seed)
        (tmp_path / "verification" / encoder / seed / "metrics.json").write_text(json.dumps({"eer_cosine": eer}))
    results, names = collect(str(tmp_path), ["verification"])
    assert sorted(names) == ["fbank", "random_FbankCRDNN", "selected_speakers"]
    assert sorted(r["eer_cosine"] for r in results["verification"]["selected_speakers"].values()) == [5.0, 7.0]
    assert set(results["verification"]["selected_speakers"]) == {"1986/0", "1987/0"}
    table = _from_recipe("seed_table", "markdown_table")(results, names, ["verification"])
    assert "6.0 ± 1.4" in table and "5.0 ± 1.4" in table  # mean ± sample std of (7, 5) and of (4, 6)
