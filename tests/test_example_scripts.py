"""The example.sh scripts: valid bash, a usage message on a bad option, and the corpus paths they share.

Nothing here trains or builds a corpus: a bad option must stop a script before the venv or any data work.
"""

import glob
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE_SCRIPTS = sorted(glob.glob(os.path.join(REPO, "recipes", "**", "example.sh"), recursive=True))
ALL_SCRIPTS = [os.path.join(REPO, "example.sh")] + RECIPE_SCRIPTS
# The downstream training recipes hand any other `--key value` to train.py as a hyperparameter override.
PASSES_OVERRIDES = {os.path.join(REPO, "recipes", "Downstream", r, "example.sh")
                    for r in ("ASR", "SpeakerVerification", "SpeakerID")}


def _bash(*args, cwd=REPO):
    return subprocess.run(["bash", *args], cwd=cwd, capture_output=True, text=True, timeout=30)


def test_every_recipe_with_a_runner_has_an_example_script():
    """Every recipe that runs on the embedded corpus has an example.sh."""
    names = {os.path.relpath(os.path.dirname(p), os.path.join(REPO, "recipes")) for p in RECIPE_SCRIPTS}
    assert {"PseudoLabels", "PretextSelection", "MultitaskSSL", "Downstream", "Downstream/ASR",
            "Downstream/SpeakerVerification", "Downstream/SpeakerID", "LGL"} <= names


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda p: os.path.relpath(p, REPO))
def test_script_is_valid_bash(script):
    result = _bash("-n", script)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", RECIPE_SCRIPTS, ids=lambda p: os.path.relpath(p, REPO))
@pytest.mark.parametrize("args", [["--no_such_option"], ["stray"], ["--seed"], ["--size", "--seed", "1"]],
                         ids=["unknown", "stray-word", "missing-value", "option-as-value"])
def test_recipe_script_rejects_bad_options(script, args, tmp_path):
    """Exit status 2 with the usage line, from any working folder, before the venv step (which prints)."""
    if args == ["--no_such_option"] and script in PASSES_OVERRIDES:
        pytest.skip("an unknown --key goes to train.py, which names it among the YAML's keys")
    result = _bash(script, *args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "usage: bash" in result.stderr and "--size tiny|small" in result.stderr
    assert args[0] in result.stderr
    assert result.stdout == ""


def test_multitask_script_rejects_an_unknown_experiment():
    result = _bash(os.path.join(REPO, "recipes", "MultitaskSSL", "example.sh"), "--experiments", "alpharatio nope")
    assert result.returncode == 2
    assert "pretrain_nope.yaml" in result.stderr and "usage: bash" in result.stderr
    # the selection is task-specific: a bare `selected` is refused with the two names to use
    result = _bash(os.path.join(REPO, "recipes", "MultitaskSSL", "example.sh"), "--experiments", "selected")
    assert result.returncode == 2 and "selected_speakers or selected_words" in result.stderr
    # what the encoders are pretrained on: the pooled layouts or Common Voice alone
    result = _bash(os.path.join(REPO, "recipes", "MultitaskSSL", "example.sh"), "--data", "librispeech")
    assert result.returncode == 2 and "--data librispeech (pooled or common_voice)" in result.stderr


@pytest.mark.parametrize("script", RECIPE_SCRIPTS, ids=lambda p: os.path.relpath(p, REPO))
def test_recipe_script_help(script):
    result = _bash(script, "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: bash")


@pytest.mark.parametrize("options, name", [
    ([], "embedded"),                                   # the default corpus the READMEs cite
    (["--size", "small"], "embedded"),
    (["--size", "small", "--seed", "3"], "embedded_small_seed3"),
    (["--size", "tiny"], "embedded_tiny_seed0"),
    (["--seed", "2", "--size", "tiny"], "embedded_tiny_seed2"),
])
def test_corpus_paths(options, name):
    """--size/--seed map to the data, manifest and report folders every script reads and writes."""
    snippet = ('usage=x; epochs=15; . tools/embedded_paths.sh; parse_options "epochs" "$@"; '
               'embedded_paths; echo "$name $data $prepared $report $epochs"')
    result = _bash("-euc", snippet, "paths", *options)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [name, f"data/{name}", f"results/prepared/{name}", "results/report", "15"]


def test_parse_options_sets_the_named_options_and_nothing_else():
    snippet = ('usage="[--epochs E] [--experiments X]"; epochs=15; experiments=a; . tools/embedded_paths.sh; '
               'parse_options "epochs experiments" "$@"; echo "$size $seed $epochs $experiments"')
    result = _bash("-euc", snippet, "parse", "--experiments", "b c", "--seed", "3", "--epochs", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "small 3 2 b c"
    result = _bash("-euc", snippet, "parse", "--epoch", "2")  # a misspelt name is no prefix match
    assert result.returncode == 2 and "--epoch" in result.stderr and "usage: bash" in result.stderr


@pytest.mark.parametrize("size, utterances, expected", [
    ("small", "", []),                                              # the YAML's 4
    ("small", "12", ["--val_dev_utterances", "12"]),
    ("tiny", "", ["--batch_size", "8", "--val_dev_speakers", "4", "--val_dev_utterances", "2"]),
    ("tiny", "3", ["--batch_size", "8", "--val_dev_speakers", "4", "--val_dev_utterances", "3"]),
])
def test_lgl_validation_list_arguments(size, utterances, expected):
    """What the LGL scripts hand both stages for the corpus size and --val_dev_utterances."""
    snippet = ('usage=""; . tools/embedded_paths.sh; root=$PWD; data=data/none; name=x; size=$1; '
               'val_dev_utterances=$2; . recipes/LGL/lgl_paths.sh; '
               'echo "${small[@]}"')
    result = _bash("-euc", snippet, "lgl", size, utterances)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == expected


def test_lgl_pooled_training_set(tmp_path):
    """--train_data pooled: Stage 1 and 2 read the pool of every layout's training split, into their own folder, with
    one cluster per speaker of the pool (a speaker name in two layouts is two speakers)."""
    planted = {"common_voice/train.csv": ["a", "b", "b"], "librispeech/train-clean-100.csv": ["a"],
               "voxceleb/vox2_train.csv": ["c", "d"], "common_voice/dev.csv": ["e"]}
    for path, speakers in planted.items():
        os.makedirs(tmp_path / os.path.dirname(path), exist_ok=True)
        lines = [f"{path.replace('/', '_')}{i},1.0,/x/{i}.wav,{spk}" for i, spk in enumerate(speakers)]
        (tmp_path / path).write_text("ID,duration,wav,spk_id\n" + "\n".join(lines) + "\n")
    snippet = ('root=$PWD; data=data/none; name=x; size=small; prepared=$1; train_data=$2; usage=""; '
               '. tools/embedded_paths.sh; . recipes/LGL/lgl_paths.sh; '
               'echo "$out"; echo "${data_args[@]}"; echo "$clusters"')
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    prepared = os.path.relpath(tmp_path, REPO)  # relative to the repository root, as embedded_paths sets it
    result = subprocess.run(["bash", "-euc", snippet, "lgl", prepared, "pooled"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out, args, clusters = result.stdout.splitlines()
    assert out == os.path.join(REPO, "results", "lgl", "x_pooled")
    train_csv = args.split("--train_csv ")[1].split()[0]
    assert os.path.samefile(train_csv, tmp_path / "pooled" / "train.csv")
    assert f"--prepare_folder {out}/prepared" in args
    assert clusters == "5"  # common_voice a, b; librispeech a; voxceleb2 c, d
    result = _bash("-euc", snippet, "lgl", prepared, "vox1")
    assert result.returncode == 2 and "--train_data vox1 (vox2 or pooled)" in result.stderr


@pytest.mark.parametrize("script", ["Stage1/example.sh", "Stage2/example.sh", "compare_seeds.sh"])
def test_lgl_scripts_refuse_an_unknown_training_set_before_any_setup(script, tmp_path):
    result = _bash(os.path.join(REPO, "recipes", "LGL", script), "--train_data", "vox1", cwd=tmp_path)
    assert result.returncode == 2 and "--train_data vox1 (vox2 or pooled)" in result.stderr
    assert result.stdout == ""  # the venv step, the first set-up, prints


def test_lgl_refuses_a_stage1_run_validated_on_another_list(tmp_path):
    """A Stage-1 model chosen on 4 utterances per dev speaker is not reused (nor resumed) by a 12-utterance sweep."""
    stage1 = tmp_path / "stage1"
    stage1.mkdir()
    (stage1 / "hyperparams.yaml").write_text("val_dev_speakers: 40\nval_dev_utterances: 4\n")
    snippet = ('root=$PWD; data=data/none; name=x; size=small; val_dev_utterances=$2; usage=""; '
               '. tools/embedded_paths.sh; . recipes/LGL/lgl_paths.sh; '
               'out=$1; require_stage1_validation; echo reused')
    for utterances, status in (("", 0), ("4", 0), ("12", 2)):  # "" is the YAML's default, 4
        result = _bash("-euc", snippet, "lgl", str(tmp_path), utterances)
        assert result.returncode == status, result.stderr
        assert ("reused" in result.stdout) == (status == 0)
    assert f"{stage1} was validated on 4 utterances per dev speaker, this run on 12" in result.stderr
    assert f"delete {tmp_path}, or give --val_dev_utterances 4" in result.stderr
    # a run made before the option existed names no list: it is refused with its own reason, even for the default
    (stage1 / "hyperparams.yaml").write_text("val_dev_speakers: 40\n")
    result = _bash("-euc", snippet, "lgl", str(tmp_path), "")
    assert result.returncode == 2 and "reused" not in result.stdout
    assert "names no val_dev_utterances" in result.stderr
    assert f"delete {tmp_path} to train Stage 1 again" in result.stderr
