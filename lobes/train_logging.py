"""A recipe's training log: `train_log.txt` always, TensorBoard event files too when its YAML asks.

A recipe's YAML builds it as its `train_logger`, so train.py calls `log_stats` as it would SpeechBrain's
FileTrainLogger:

    use_tensorboard: False                 # True: the same stats also go to <tensorboard_logs> (tensorboard --logdir)
    tensorboard_logs: !ref <output_folder>/tensorboard
    train_logger: !new:lobes.train_logging.RecipeTrainLogger
        save_file: !ref <train_log>
        use_tensorboard: !ref <use_tensorboard>
        tensorboard_logs: !ref <tensorboard_logs>
"""

import numbers

import torch
from speechbrain.utils.distributed import main_process_only
from speechbrain.utils.train_logger import FileTrainLogger, TrainLogger

# stats_meta keys whose value is the epoch a call's stats belong to (SpeakerID's test line says "epoch loaded")
EPOCH_KEYS = ("epoch", "epoch loaded")


def scalar(value):
    """`value` as a float when TensorBoard can plot it (a number, or a tensor of one element), else None."""
    if isinstance(value, torch.Tensor):
        return float(value) if value.numel() == 1 else None
    if isinstance(value, numbers.Real):
        return float(value)
    return None


class RecipeTrainLogger(TrainLogger):
    """SpeechBrain's FileTrainLogger and, with `use_tensorboard`, its TensorboardLogger's writer, fed the same stats.

    Tags are SpeechBrain's: a meta value under its key (`lr`), a stage's under `<stat>/<stage>` (`loss/train`). The
    step is the epoch the call names, not a count of calls (TensorboardLogger's): a resumed run, or a stat logged only
    in some epochs, keeps its points at the epochs train_log.txt shows. A call naming no epoch (ASR's test scores)
    takes the last epoch logged. Values TensorBoard cannot plot (a phase name, a list) are in train_log.txt only.
    Only the main process writes (the writer is made at its first call), and every call is flushed, so an
    epoch in train_log.txt is in the event file even if the run is killed next.

    Arguments
    ---------
    save_file : str
        The text log (train_log.txt).
    use_tensorboard : bool
        Also write TensorBoard event files; needs the `tensorboard` package (requirements.txt).
    tensorboard_logs : str
        The folder of the event files (`tensorboard --logdir <it>`); not created unless `use_tensorboard`.
    precision : int
        Decimal places of the text log.

    Example
    -------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> log = RecipeTrainLogger(os.path.join(folder, "train_log.txt"), tensorboard_logs=os.path.join(folder, "tb"))
    >>> log.log_stats({"epoch": 1, "phase": "warmup"}, train_stats={"loss": 1.5}, verbose=False)
    >>> open(os.path.join(folder, "train_log.txt")).read()
    'epoch: 1, phase: warmup - train loss: 1.50\\n'
    >>> os.path.exists(os.path.join(folder, "tb"))
    False
    """

    def __init__(self, save_file, use_tensorboard=False, tensorboard_logs=None, precision=2):
        self.text = FileTrainLogger(save_file, precision=precision)
        self.tensorboard_logs = tensorboard_logs if use_tensorboard else None
        self.writer = None
        self.step = 0
        if use_tensorboard:
            if not tensorboard_logs:
                raise ValueError("use_tensorboard is True but tensorboard_logs is empty: set tensorboard_logs in the "
                                 "recipe's YAML (e.g. !ref <output_folder>/tensorboard)")
            try:
                import tensorboard  # noqa: F401  (checked here, so that a missing package stops the run at start)
            except ImportError as error:
                raise ImportError("use_tensorboard: True needs the tensorboard package: pip install -r "
                                  "requirements.txt (it pins tensorboard)") from error

    def _writer(self):
        """The event-file writer, made at the first call: that call runs on the main process alone, while a YAML
        may be loaded before torchrun's process group exists, when every process still counts as the main one."""
        if self.writer is None:
            from speechbrain.utils.train_logger import TensorboardLogger
            self.writer = TensorboardLogger(self.tensorboard_logs).writer
        return self.writer

    def close(self):
        """Closes the event file (a process that trains many heads, as the VQ pooling benchmark, opens one each)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    @main_process_only
    def log_stats(self, stats_meta, train_stats=None, valid_stats=None, test_stats=None, verbose=True):
        """See speechbrain.utils.train_logger.TrainLogger.log_stats."""
        # Nested in this main-process-only call, the text logger broadcasts nothing: one collective per call, as before.
        self.text.log_stats(stats_meta, train_stats, valid_stats, test_stats, verbose=verbose)
        if self.tensorboard_logs is None:
            return
        writer = self._writer()
        epochs = [scalar(stats_meta[key]) for key in EPOCH_KEYS if key in stats_meta]
        if epochs and epochs[0] is not None:
            self.step = int(epochs[0])
        tagged = [(key, value) for key, value in stats_meta.items() if key not in EPOCH_KEYS]
        for stage, stats in (("train", train_stats), ("valid", valid_stats), ("test", test_stats)):
            tagged += [(f"{key}/{stage}", value) for key, value in (stats or {}).items()]
        for tag, value in tagged:
            value = scalar(value)
            if value is not None:
                writer.add_scalar(tag, value, self.step)
        writer.flush()
