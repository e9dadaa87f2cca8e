"""The resume state of a run folder: its checksums, its lock, and where a resume starts.

``DIR/state.json`` records the sha256 of every state file when it is written
(the backup, the checkpoints, the recipe, the weights ``fit`` ended with), so a
resume trusts no file that changed since: a damaged file is named, and the run
falls back to the newest intact one. ``DIR/.lock`` is held by the process that
trains into the folder; a second one is refused with the holder's pid and host.

Test hook: ``ZOO_FAULT=POINT`` (or ``POINT@N``) makes the process SIGKILL itself
the N-th time it reaches ``fault_point(POINT)``; tests/test_faults.py uses it to
kill a run at exact moments. ``POINT@N:enospc`` raises the error of a full disk
there instead (OSError ENOSPC). The points: ``batch`` (a training batch ended),
``checkpoint`` and ``backup`` (a weights file written, not yet renamed into place),
``fit_end`` (fit returned; nothing final written), ``final_save`` (model.keras
written, not yet renamed into place).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import os
import re
import signal
import socket
from pathlib import Path

from cnn_zoo import atomic
from cnn_zoo.recipe import Recipe, load_recipe
from cnn_zoo.run import RunError, read_json, write_json
from cnn_zoo.weights.errors import HubError
from cnn_zoo.weights.lock import file_lock
from cnn_zoo.weights.manifest import file_sha256

STATE = "state.json"
LOCK = ".lock"
CHECKPOINT = re.compile(r"^checkpoints/epoch_(\d+)\.weights\.h5$")
BACKUP_WEIGHTS, BACKUP_EPOCH = "backup/latest.weights.h5", "backup/training_metadata.json"
FIT_WEIGHTS = "backup/fit.weights.h5"

_hits: dict = {}  # ZOO_FAULT: how often each point was reached in this process


def fault_point(point: str) -> None:
    """SIGKILL this process here, or raise ENOSPC, if ZOO_FAULT names ``point`` (see the module docstring)."""
    want, _, action = os.environ.get("ZOO_FAULT", "").partition(":")
    name, _, count = want.partition("@")
    if name != point:
        return
    _hits[point] = _hits.get(point, 0) + 1
    if _hits[point] != int(count or 1):
        return
    if action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    os.kill(os.getpid(), signal.SIGKILL)


def atomic_path(path, suffix="", fault=None, size=None):
    """:func:`cnn_zoo.atomic.replacing`, with ``fault`` naming the point for the ZOO_FAULT test hook
    (``size``: the bytes to be written, checked against the free space first)."""
    hook = functools.partial(fault_point, fault) if fault else None
    return atomic.replacing(path, suffix=suffix, before_replace=hook, size=size)


class Ledger:
    """``state.json``: {"files": {relative path: sha256}, "epochs": newest epoch saved,
    "fit": {"epochs": n} once ``fit`` has returned and FIT_WEIGHTS holds its weights}."""

    def __init__(self, run_dir, data=None):
        self.run_dir = Path(run_dir)
        self.data = data or {"version": 1, "files": {}, "epochs": 0, "fit": None}

    @classmethod
    def read(cls, run_dir) -> "Ledger":
        path = Path(run_dir) / STATE
        if not path.is_file():
            raise RunError(f"{path} is missing: the checksums of this run's state are lost, so "
                           "nothing in it can be trusted; start the run again in a new folder")
        data = read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
            raise RunError(f"{path} is damaged (not a run-state file); start the run again "
                           "in a new folder")
        return cls(run_dir, data)

    def save(self) -> None:
        write_json(self.run_dir / STATE, self.data)

    def _rel(self, path) -> str:
        return Path(path).relative_to(self.run_dir).as_posix()

    def record(self, *paths, epochs=None) -> None:
        for path in paths:
            self.data["files"][self._rel(path)] = file_sha256(path)
        if epochs is not None:
            self.data["epochs"] = max(self.data.get("epochs", 0), epochs)
        self.save()

    def forget(self, *paths) -> None:
        for path in paths:
            self.data["files"].pop(self._rel(path), None)
        self.save()

    def problem(self, rel: str) -> str | None:
        """None if ``rel`` is as recorded, else what is wrong with it."""
        want = self.data["files"].get(rel)
        path = self.run_dir / rel
        if want is None:
            return "not recorded in state.json" if path.exists() else "missing"
        if not path.is_file():
            return "missing"
        if path.stat().st_size == 0:
            return "empty"
        return None if file_sha256(path) == want else "damaged (its sha256 is not the one recorded when it was written)"


def resumed_recipe(run_dir, recipe=None, overrides=()) -> tuple[Ledger, Recipe]:
    """The ledger and the stored recipe (``overrides`` applied) of the run to resume in ``run_dir``.

    ``recipe`` (a name, a path or a :class:`Recipe`), if given, must be the stored one's: a
    run is never continued with another recipe than the one it started with. Reads only
    small files, so the CLI asks before Keras is imported."""
    run_dir = Path(run_dir)
    ledger = Ledger.read(run_dir)
    if ledger.data.get("finished"):
        raise RunError(f"{run_dir} is a finished run, nothing to resume; train into a new --out folder")
    problem = ledger.problem("config.yaml")
    if problem:
        raise RunError(f"{run_dir / 'config.yaml'} is {problem}; restore it, or start "
                       "the run again in a new folder")
    stored = load_recipe(run_dir / "config.yaml", overrides=list(overrides))
    if recipe is not None:
        given = recipe.name if isinstance(recipe, Recipe) else load_recipe(recipe).name
        if given != stored.name:
            raise RunError(f"{run_dir} holds a run of the recipe {stored.name!r}, not {given!r}; to "
                           f"continue it leave the recipe out (zoo train --resume --out {run_dir}), "
                           f"or train {given!r} into another --out folder")
    return ledger, stored


@dataclasses.dataclass
class ResumePoint:
    epoch: int                   # epochs done
    weights: Path | None         # the file to load (None: start from scratch)
    fit_done: bool = False       # fit had returned: only the final files are left to write
    message: str = ""            # what was wrong and where the run resumes, or ""


def resume_point(ledger: Ledger) -> ResumePoint:
    """The newest intact state of the run, and a line naming any damaged file."""
    run_dir, bad = ledger.run_dir, []
    fit = ledger.data.get("fit")
    if fit:
        problem = ledger.problem(FIT_WEIGHTS)
        if problem is None:
            return ResumePoint(fit["epochs"], run_dir / FIT_WEIGHTS, fit_done=True)
        bad.append(f"{FIT_WEIGHTS} is {problem}")
    found = []  # (epoch, rank, rel): the backup wins a tie
    if BACKUP_WEIGHTS in ledger.data["files"] or (run_dir / BACKUP_WEIGHTS).exists():
        problems = [f"{rel} is {p}" for rel in (BACKUP_WEIGHTS, BACKUP_EPOCH)
                    if (p := ledger.problem(rel))]
        epoch = None
        if not problems:
            epoch = read_json(run_dir / BACKUP_EPOCH).get("epoch")
        if isinstance(epoch, int) and epoch >= 0:
            found.append((epoch, 1, BACKUP_WEIGHTS))
        bad += problems
    for rel in sorted(ledger.data["files"]):
        if m := CHECKPOINT.match(rel):
            problem = ledger.problem(rel)
            if problem is None:
                found.append((int(m.group(1)), 0, rel))
            else:
                bad.append(f"{rel} is {problem}")
    expected = ledger.data.get("epochs", 0)
    if not found:
        if expected:
            raise RunError(f"no intact state to resume {run_dir} from: {'; '.join(bad)}; "
                           "start the run again in a new folder")
        return ResumePoint(0, None, message="; ".join(bad))
    epoch, _, rel = max(found)
    message = ""
    if bad or epoch < expected:
        message = (f"{'; '.join(bad) or 'newer state is missing'}: resuming from {rel} "
                   f"(epoch {epoch} of the {expected} done)")
    return ResumePoint(epoch, run_dir / rel, message=message)


@contextlib.contextmanager
def run_lock(run_dir):
    """Hold ``run_dir``'s lock; a second holder is refused with a RunError naming the first.

    The kernel drops the lock of a killed process (flock), so a stale lock never blocks."""
    path = Path(run_dir) / LOCK
    stack = contextlib.ExitStack()
    try:
        held = stack.enter_context(file_lock(path, timeout=0))
    except HubError:
        try:
            holder = path.read_text().strip() or "another process"
        except OSError:
            holder = "another process"
        raise RunError(f"{run_dir} is in use by {holder} (lock {path}); wait for it to "
                       "finish, or stop it, before training into this folder") from None
    except OSError as error:
        raise RunError(f"cannot write into the run folder {run_dir} ({error.strerror or error}); "
                       "choose a writable --out folder") from None
    with stack:
        with open(held, "r+") as f:  # the locked inode: the holder's name, for the refused
            f.truncate(0)
            f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        yield


def replay_epochs(data, epochs) -> None:
    """Replay the pipeline's draws of the first ``epochs`` epochs, so that a resumed run
    sees the batches an uninterrupted one would: tf.data's shuffle and augmentation are
    streams, and a PyDataset's draws depend on its epoch count."""
    import keras  # here: `zoo train` checks a run folder's state before Keras is imported

    if isinstance(data, keras.utils.PyDataset):
        for _ in range(epochs):
            data.on_epoch_end()
        return
    for _ in range(epochs):
        for _ in data:
            pass
        # Keras 3.15's fit also opens (and drops) a second iterator each epoch, which
        # advances the shuffle's seed: tests/test_train.py checks this replay against it.
        iter(data)
