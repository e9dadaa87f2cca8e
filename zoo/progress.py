"""Training progress that stays honest: a bar that never counts past its total, and one plain
line per epoch when the output is not a terminal (a log file, CI, a pipe).

    model.fit(..., callbacks=[TrainingProgress()])   # replaces Keras' own ProgbarLogger

Keras adds its ProgbarLogger only when none is among the callbacks, so
passing this one is enough. Why a subclass: under ``steps_per_execution`` the
trainer reports the last step of each multi-step call, which for the last,
partial call of an epoch lies past the epoch's end ("64/57" with 57 steps and
32 steps per call).
"""

from __future__ import annotations

import sys
import time

import keras


def _metrics(logs) -> str:
    return ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in ((k, _scalar(v)) for k, v in (logs or {}).items()))


def _scalar(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


class TrainingProgress(keras.callbacks.ProgbarLogger):
    """Keras' progress bar with its count clamped to the epoch's steps; on a non-terminal
    ``stream`` (default: stdout) one plain line per epoch, no ANSI codes or carriage returns."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self._epoch_start = 0.0

    @property
    def plain(self) -> bool:
        stream = self.stream or sys.stdout
        return not (hasattr(stream, "isatty") and stream.isatty())

    def _update_progbar(self, batch, logs=None):
        if self.target is not None:
            batch = min(batch, self.target - 1)
        if self.plain and self._called_in_fit:
            self.seen = batch + 1
            return
        super()._update_progbar(batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        if not self.plain:
            super().on_epoch_begin(epoch, logs)
        else:
            self._reset_progbar()

    def on_epoch_end(self, epoch, logs=None):
        if not self.plain:
            return super().on_epoch_end(epoch, logs)
        if self.verbose:
            seconds = time.perf_counter() - self._epoch_start
            steps = self.target if self.target is not None else self.seen
            print(f"epoch {epoch + 1}/{self.epochs}: {steps} steps, {seconds:.1f} s, {_metrics(logs)}",
                  file=self.stream or sys.stdout, flush=True)
