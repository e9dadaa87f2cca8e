"""Training callbacks the run folder relies on.

- :class:`EpochCheckpoint` writes ``checkpoints/epoch_NNN.weights.h5`` after
  every epoch whose loss is finite, keeps the last few, and atomically (a
  temporary file renamed), so a killed process never leaves half a checkpoint.
- :class:`Backup` is Keras' ``BackupAndRestore`` (the ``--resume`` state),
  written the same way. Both record each file's sha256 in ``state.json``
  (:mod:`cnn_zoo.run_state`), which chooses the state a resume starts from.
- :class:`StopOnNaN` stops at the first batch whose loss is NaN or infinite and
  remembers where, so the run can restore the last good checkpoint and say so.
- :class:`Throughput` measures training images per second, epoch by epoch.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import keras

from cnn_zoo.keras_private import backup_state, weights_file_bytes
from cnn_zoo.run import write_json
from cnn_zoo.run_state import atomic_path, fault_point

CHECKPOINT = re.compile(r"epoch_(\d+)\.weights\.h5$")


def checkpoints(folder) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of the checkpoints in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT.search(p.name))]
    return sorted(found)


def save_weights_atomically(model, path, fault=None) -> None:
    """``model.save_weights`` into a temporary file renamed over ``path``: a process
    killed meanwhile leaves the old file or the new one, never half of one.

    The file is made in memory, then written: h5py never writes to the disk itself. When a
    disk filled up under h5py, it could not close its file, and the process died of a
    segmentation fault (inside Keras' own clean-up, or at exit); now a full disk is a
    one-line DiskFullError, before anything is written when the folder lacks the room."""
    data = weights_file_bytes(model)
    with atomic_path(path, suffix=".weights.h5", fault=fault, size=len(data)) as tmp:
        tmp.write_bytes(data)


def _diverged(logs, stop_on_nan):
    loss = (logs or {}).get("loss")
    return (stop_on_nan is not None and stop_on_nan.stopped_at) or loss is None \
        or not math.isfinite(loss)


class Backup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose weights and epoch are each replaced atomically.

    Keras writes ``latest.weights.h5`` in place: a process killed during that write
    left a file h5py cannot open, and the resume failed ("bad object header version
    number", 2026-12-02). The weights go first: a kill between the two files makes
    the resume train one epoch again, never skip one.

    With a ``ledger`` (cnn_zoo.run_state.Ledger), the files' sha256 are recorded, the
    state of a diverged epoch is not saved, and restoring is the caller's: it loads only
    a verified state before ``fit`` (Keras' own restore trusts whatever it finds).
    """

    def __init__(self, backup_dir, *args, ledger=None, stop_on_nan=None, **kwargs):
        super().__init__(backup_dir, *args, **kwargs)
        self.ledger, self.stop_on_nan = ledger, stop_on_nan

    def on_train_begin(self, logs=None):
        if self.ledger is None:
            super().on_train_begin(logs)

    def on_train_batch_end(self, batch, logs=None):
        fault_point("batch")
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.ledger is not None and _diverged(logs, self.stop_on_nan):
            return  # keep the last good state for --resume
        super().on_epoch_end(epoch, logs)

    def _save_model(self):  # Keras' hook; it and the state it reads are pinned in cnn_zoo.keras_private
        state = backup_state(self)
        Path(self.backup_dir).mkdir(parents=True, exist_ok=True)
        save_weights_atomically(self.model, state["_weights_path"], fault="backup")
        write_json(state["_training_metadata_path"],
                   {"epoch": state["_current_epoch"], "batch": state["_last_batch_seen"]})
        if self.ledger is not None:
            self.ledger.record(state["_weights_path"], state["_training_metadata_path"],
                               epochs=state["_current_epoch"])


class EpochCheckpoint(keras.callbacks.Callback):
    def __init__(self, folder, keep=2, stop_on_nan=None, ledger=None):
        super().__init__()
        self.folder = Path(folder)
        self.keep = keep
        self.stop_on_nan = stop_on_nan
        self.ledger = ledger

    def on_epoch_end(self, epoch, logs=None):
        if _diverged(logs, self.stop_on_nan):
            return  # never overwrite a good checkpoint with diverged weights
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"epoch_{epoch + 1:03d}.weights.h5"
        save_weights_atomically(self.model, path, fault="checkpoint")
        old = [p for _, p in checkpoints(self.folder)[:-self.keep]]
        if self.ledger is not None:
            self.ledger.record(path, epochs=epoch + 1)
            self.ledger.forget(*old)  # first: a resume ignores a file the ledger does not list
        for p in old:
            p.unlink(missing_ok=True)


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
