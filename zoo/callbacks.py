"""Training callbacks the run folder relies on.

- :class:`EpochCheckpoint` writes ``checkpoints/epoch_NNN.weights.h5`` after
  every epoch whose loss is finite, keeps the last few, and atomically (a
  temporary file renamed), so a killed process never leaves half a checkpoint.
- :class:`Backup` is Keras' ``BackupAndRestore`` (the ``--resume`` state),
  written the same way.
- :class:`StopOnNaN` stops at the first batch whose loss is NaN or infinite and
  remembers where, so the run can restore the last good checkpoint and say so.
- :class:`Throughput` measures training images per second, epoch by epoch.
"""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path

import keras

from cnn_zoo.run import write_json

CHECKPOINT = re.compile(r"epoch_(\d+)\.weights\.h5$")


def checkpoints(folder) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of the checkpoints in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT.search(p.name))]
    return sorted(found)


def save_weights_atomically(model, path) -> None:
    """``model.save_weights`` into a temporary file renamed over ``path``: a process
    killed meanwhile leaves the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.weights.h5")
    model.save_weights(tmp)
    os.replace(tmp, path)


class Backup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose weights and epoch are each replaced atomically.

    Keras writes ``latest.weights.h5`` in place: a process killed during that write
    left a file h5py cannot open, and the resume failed ("bad object header version
    number", 2026-12-02). The weights go first: a kill between the two files makes
    the resume train one epoch again, never skip one.
    """

    def _save_model(self):
        Path(self.backup_dir).mkdir(parents=True, exist_ok=True)
        save_weights_atomically(self.model, self._weights_path)
        write_json(self._training_metadata_path, {"epoch": self._current_epoch, "batch": self._last_batch_seen})


class EpochCheckpoint(keras.callbacks.Callback):
    def __init__(self, folder, keep=2, stop_on_nan=None):
        super().__init__()
        self.folder = Path(folder)
        self.keep = keep
        self.stop_on_nan = stop_on_nan

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if (self.stop_on_nan is not None and self.stop_on_nan.stopped_at) or \
                loss is None or not math.isfinite(loss):
            return  # never overwrite a good checkpoint with diverged weights
        self.folder.mkdir(parents=True, exist_ok=True)
        save_weights_atomically(self.model, self.folder / f"epoch_{epoch + 1:03d}.weights.h5")
        for _, old in checkpoints(self.folder)[:-self.keep]:
            old.unlink(missing_ok=True)


class StopOnNaN(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.stopped_at = None  # (epoch, batch or None), both 1-based
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.stopped_at is None:
            # With steps_per_execution > 1 Keras calls this once per execution,
            # with an index that is not a batch of the epoch: then only the epoch is known.
            exact = getattr(self.model, "steps_per_execution", 1) == 1
            self.stopped_at = (self._epoch, batch + 1 if exact else None)
            self.model.stop_training = True


class Throughput(keras.callbacks.Callback):
    """Training images per second, per epoch (validation excluded).

    Counted from the epoch's wall time and its number of images, so it stays
    right with ``steps_per_execution`` (callbacks then fire once per execution).
    The first epoch includes tracing and compilation, so :attr:`images_per_second`
    is the median over the later epochs when there are any.
    """

    def __init__(self, images_per_epoch):
        super().__init__()
        self.images_per_epoch = images_per_epoch
        self.epoch_seconds = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        self._stop()

    def on_epoch_end(self, epoch, logs=None):
        self._stop()

    def _stop(self):
        if self._start is not None:
            self.epoch_seconds.append(time.perf_counter() - self._start)
            self._start = None

    @property
    def images_per_second(self):
        later = sorted(self.epoch_seconds[1:] or self.epoch_seconds)
        return self.images_per_epoch / later[len(later) // 2] if later else float("nan")
