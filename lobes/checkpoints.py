"""A SpeechBrain Checkpointer whose checkpoints appear whole or not at all.

SpeechBrain's `Checkpointer.save_checkpoint` writes the meta file `CKPT.yaml` first and the parameter files after it,
and a folder counts as a checkpoint as soon as its `CKPT.yaml` exists. A run killed while saving (Ctrl-C, kill -9, a
cluster's time limit) therefore leaves a "checkpoint" with missing or truncated parameter files, which the next start
picks as the latest and fails to load: the finished epochs are lost. Here the meta file is written under another name
and renamed into place (atomic on POSIX) only after every recoverable is saved, so an interrupted save is invisible;
its leftover folder is removed at the next save. Under torchrun the other processes wait until the main process has
published the checkpoint: SpeechBrain lets them return from the save before that, and `save_and_keep_only` then has
each process list the checkpoints on disk and call one collective per checkpoint it deletes, so a process that
lists one checkpoint fewer leaves the others waiting in a different collective (a hang, or gloo aborting with
SIGABRT, at random). A checkpoint that does not fit the model (a run resumed with
another architecture or size) stops with the folder and the fix instead of torch's list of mismatched tensors.
"""

import logging
import os
import shutil

from speechbrain.utils.checkpoints import CKPT_PREFIX, METAFNAME, Checkpointer
from speechbrain.utils.distributed import ddp_barrier, if_main_process

logger = logging.getLogger(__name__)

PARTIAL_META = METAFNAME + ".partial"


class AtomicCheckpointer(Checkpointer):
    """Drop-in `speechbrain.utils.checkpoints.Checkpointer` (same arguments) with all-or-nothing saves."""

    def save_checkpoint(self, meta={}, end_of_epoch=True, name=None, verbosity=logging.INFO):
        if if_main_process():
            self.remove_interrupted_saves()
        ckpt = super().save_checkpoint(meta=meta, end_of_epoch=end_of_epoch, name=name, verbosity=verbosity)
        if ckpt is not None:  # main process: every parameter file is on disk
            self._publish(ckpt)
        ddp_barrier()  # every process sees the same checkpoints from here on
        return ckpt

    def _publish(self, ckpt):
        os.replace(ckpt.path / PARTIAL_META, ckpt.path / METAFNAME)

    def load_checkpoint(self, checkpoint):
        try:
            super().load_checkpoint(checkpoint)
        except RuntimeError as err:  # torch's load_state_dict: a model of another size or layout
            if "state_dict" not in str(err):
                raise
            raise RuntimeError(f"{checkpoint.path} was saved by a model of another configuration "
                               f"({str(err).splitlines()[0]}): rerun with the settings it was trained with, or pass a "
                               f"new --output_folder (or delete {self.checkpoints_dir})") from err

    def _save_checkpoint_metafile(self, fpath, meta_to_include={}, end_of_epoch=True):
        return super()._save_checkpoint_metafile(fpath.with_name(PARTIAL_META), meta_to_include, end_of_epoch)

    def remove_interrupted_saves(self):
        """Delete checkpoint folders whose save never finished (they hold the partial meta file, not CKPT.yaml)."""
        if not self.checkpoints_dir.is_dir():
            return
        for path in self.checkpoints_dir.iterdir():
            if path.is_dir() and path.name.startswith(CKPT_PREFIX) and (path / PARTIAL_META).exists() \
                    and not (path / METAFNAME).exists():
                logger.warning("Removing %s: the run was stopped while saving it (the previous checkpoint is kept)",
                               path)
                shutil.rmtree(path)
