"""AtomicCheckpointer: a run killed while saving restarts from the last whole checkpoint; under torchrun every
process sees a checkpoint once its save returns."""

import datetime
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from lobes.checkpoints import AtomicCheckpointer

# Saves epoch 1 whole, then is killed (SIGKILL, no cleanup) after the first of two parameter files of epoch 2.
KILLED_WHILE_SAVING = textwrap.dedent("""
    import os, signal, sys, torch
    from speechbrain.utils.checkpoints import Checkpointer
    from lobes.checkpoints import AtomicCheckpointer
    cls = AtomicCheckpointer if sys.argv[2] == "atomic" else Checkpointer
    layer = torch.nn.Linear(3, 3)
    torch.nn.init.constant_(layer.weight, 1.0)
    ckpt = cls(sys.argv[1], recoverables={"a_layer": layer})
    ckpt.save_checkpoint(meta={"epoch": 1})
    torch.nn.init.constant_(layer.weight, 2.0)
    ckpt.add_recoverable("b_killer", object(), custom_save_hook=lambda obj, path: os.kill(os.getpid(), signal.SIGKILL),
                        custom_load_hook=lambda obj, path, end_of_epoch: None)
    ckpt.save_checkpoint(meta={"epoch": 2})
""")


def _killed_run(folder, kind):
    done = subprocess.run([sys.executable, "-c", KILLED_WHILE_SAVING, str(folder), kind], capture_output=True)
    assert done.returncode == -9, done.stderr.decode()[-2000:]


def test_plain_checkpointer_would_pick_the_half_written_checkpoint(tmp_path):
    """The failure being guarded against: SpeechBrain's own Checkpointer lists the interrupted save as the latest."""
    _killed_run(tmp_path, "plain")
    latest = Checkpointer(tmp_path).find_checkpoint()
    assert latest.meta["epoch"] == 2 and "b_killer" not in latest.paramfiles


def test_killed_save_is_invisible_and_cleaned_at_the_next_save(tmp_path):
    _killed_run(tmp_path, "atomic")
    layer = torch.nn.Linear(3, 3)
    ckpt = AtomicCheckpointer(tmp_path, recoverables={"a_layer": layer})
    assert [c.meta["epoch"] for c in ckpt.list_checkpoints()] == [1]
    ckpt.recover_if_possible()
    assert torch.all(layer.weight == 1.0)  # epoch 1's weights, not the half-saved epoch 2
    assert len(list(tmp_path.iterdir())) == 2  # the whole checkpoint and the leftover folder
    ckpt.save_and_keep_only(meta={"epoch": 2}, num_to_keep=1)
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1 and (folders[0] / "CKPT.yaml").exists()
    assert [c.meta["epoch"] for c in AtomicCheckpointer(tmp_path).list_checkpoints()] == [2]


def test_a_checkpoint_of_another_model_size_is_named(tmp_path):
    AtomicCheckpointer(tmp_path, recoverables={"layer": torch.nn.Linear(3, 3)}).save_checkpoint(meta={"epoch": 1})
    wider = AtomicCheckpointer(tmp_path, recoverables={"layer": torch.nn.Linear(3, 5)})
    with pytest.raises(RuntimeError, match="saved by a model of another configuration .*new --output_folder"):
        wider.recover_if_possible()


class SlowToPublish(AtomicCheckpointer):
    """The main process publishes a second late, as a loaded machine may make it."""

    def _publish(self, ckpt):
        time.sleep(1.0)
        super()._publish(ckpt)


def _two_process_saves(rank, folder, port, seen):
    os.environ["RANK"] = str(rank)  # SpeechBrain's main-process checks read it
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
                                         timeout=datetime.timedelta(seconds=30))
    ckpt = SlowToPublish(folder, recoverables={"layer": torch.nn.Linear(2, 2)})
    for epoch in (1, 2, 3):
        ckpt.save_checkpoint(meta={"epoch": epoch})
        seen[rank].append(sorted(c.meta["epoch"] for c in ckpt.list_checkpoints()))
    # deletes with one collective per checkpoint it removes: it must find the same ones on every process
    ckpt.save_and_keep_only(meta={"epoch": 4}, num_to_keep=1, keep_recent=True)
    seen[rank].append(sorted(c.meta["epoch"] for c in ckpt.list_checkpoints()))
    torch.distributed.destroy_process_group()


def test_under_torchrun_every_process_sees_the_checkpoint_its_save_returned(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with torch.multiprocessing.Manager() as manager:
        seen = manager.list([manager.list(), manager.list()])
        torch.multiprocessing.spawn(_two_process_saves, args=(str(tmp_path), port, seen), nprocs=2)
        main, other = list(seen[0]), list(seen[1])
    assert main == other == [[1], [1, 2], [1, 2, 3], [4]]
