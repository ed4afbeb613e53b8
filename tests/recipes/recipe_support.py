"""Shared by the recipe tests: the MultitaskSSL paths and runners, killing a run midway, torchrun launchers."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

RECIPES = os.path.join(os.path.dirname(__file__), "..", "..", "recipes")
RECIPE = os.path.join(RECIPES, "MultitaskSSL")
ALPHARATIO = os.path.join(RECIPE, "hparams", "pretrain_alpharatio.yaml")


def torchrun(processes=2):
    """The command prefix of a `torchrun` with `processes` processes on a port that is free now: with fixed ports, a
    process left over from one aborted run holds its port and every later run fails at the rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}", f"--master_port={port}"]


def train_recipe(yaml, out, data_args, *extra, launcher=(), env=None, check=True):
    cmd = [*(launcher or [sys.executable]), "train.py", str(yaml), "--output_folder", str(out), *data_args,
           *map(str, extra)]
    done = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, env=env)
    if check:
        assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done


def from_recipe(module, name):
    """`name` from one of the recipe's scripts (train.py, probe.py), imported from its folder."""
    sys.path.insert(0, RECIPE)
    try:
        return getattr(__import__(module), name)
    finally:
        sys.path.remove(RECIPE)


def log_epochs(out):
    text = (out / "train_log.txt").read_text()
    return [(int(e), float(lr)) for e, lr in re.findall(r"epoch: (\d+), lr_encoder: ([0-9.e+-]+)", text)]


def kill_when(cmd, cwd, env, ready, timeout=300):
    """Starts `cmd` and SIGKILLs it as soon as `ready()` holds (or at `timeout` seconds); returns its exit code."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


def logged_epochs(folder):
    """The epochs a recipe's train_log.txt records, in order."""
    path = os.path.join(folder, "train_log.txt")
    return [int(e) for e in re.findall(r"^epoch: (\d+)", open(path).read(), re.M)] if os.path.exists(path) else []
