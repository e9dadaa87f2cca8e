"""A run folder: what a training run leaves on disk, and how it is read back.

    DIR/config.yaml            the resolved recipe (defaults → file → --set)
    DIR/manifest.json          status, versions, seed, backend, git commit, timings, and how it
                               computed (compute: cnn_zoo.compute.ComputePlan.record)
    DIR/preprocessing.json     the steps, input shape and class names prediction must use
    DIR/checkpoints/           epoch_NNN.weights.h5 after every finite epoch (last 2 kept)
    DIR/backup/                Keras' BackupAndRestore state, for --resume (kept until finished)
    DIR/state.json             the sha256 of every state file (cnn_zoo.run_state)
    DIR/logs/                  TensorBoard
    DIR/history.csv, .json     per-epoch metrics
    DIR/curves.png             learning curves
    DIR/metrics.json           final test metrics
    DIR/model.keras, DIR/model.weights.h5
"""

from __future__ import annotations

import csv
import datetime
import json
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from cnn_zoo import atomic
from cnn_zoo.errors import ZooError

PACKAGES = ("cnn-zoo", "keras", "tensorflow", "tensorflow-cpu", "jax", "jaxlib", "torch", "numpy",
            "keras-tuner", "tensorflow-datasets")


class RunError(ZooError):
    """A run folder that cannot be used as asked (exists, missing, finished...)."""


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_text(path, text):
    """``path.write_text(text)``, atomically (see :mod:`cnn_zoo.atomic`)."""
    with atomic.replacing(path) as tmp:
        tmp.write_text(text)


def write_json(path, data, *, strict=False):
    """Write atomically: a reader never sees half a file. A value JSON cannot hold is
    written as its str(), unless ``strict`` (state that is read back, e.g. Keras Tuner's
    oracle.json, where a string in place of an object would break the reload): then it raises."""
    atomic.write_json(path, data, default=None if strict else str)


def read_json(path):
    """The JSON in ``path``; a file that is not JSON is named in a one-line RunError."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise RunError(f"{path} is damaged: not valid JSON ({error.msg}, line {error.lineno}); "
                       "restore it from a copy, or start again in a new --out folder") from None
    except UnicodeDecodeError:
        raise RunError(f"{path} is damaged: not text (a binary file); "
                       "restore it from a copy, or start again in a new --out folder") from None


def versions():
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit():
    """The checkout's commit (with '+dirty' if it has changes), or None outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (commit + ("+dirty" if dirty else "")) if commit else None


# What a run writes into its folder: a folder holding only these, from a start that
# failed before its first epoch ended, may be reused (see clear_failed_start).
RUN_NAMES = {"config.yaml", "manifest.json", "preprocessing.json", "state.json", "history.csv",
             "history.json", "curves.png", "metrics.json", "model.keras", "model.weights.h5",
             "logs", "checkpoints", "backup", ".lock", ".write-test"}


def prepare_folder(run_dir, resume):
    """Check that ``run_dir`` may be used; never overwrite an earlier run silently.

    Writes nothing: the caller creates the folder (:func:`make_folder`) once every
    check of the recipe and the model has passed."""
    run_dir = Path(run_dir)
    manifest = run_dir / "manifest.json"
    if resume:
        if not manifest.exists() and not (run_dir / "state.json").exists():
            raise RunError(f"{run_dir} holds no run to resume (no manifest.json); "
                           "start one without --resume")
        try:
            status = read_json(manifest).get("status")
        except (OSError, RunError, AttributeError):
            status = None  # train() rewrites a lost manifest from the run's state
        if status == "finished":
            raise RunError(f"{run_dir} is a finished run, nothing to resume; "
                           "train into a new --out folder")
        return run_dir
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} is a file, not a folder; choose another --out folder")
    if run_dir.is_dir() and any(p.name != ".lock" for p in run_dir.iterdir()) \
            and not failed_start(run_dir):
        raise RunError(f"{run_dir} already exists and is not empty; pass --resume to continue "
                       "that run, or choose another --out folder")
    return run_dir


def make_folder(run_dir):
    """Create ``run_dir``; one that cannot be written is a one-line RunError."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise RunError(f"cannot write into the run folder {run_dir} "
                       f"({error.strerror or error}); choose a writable --out folder") from None
    return run_dir


def failed_start(run_dir) -> bool:
    """Whether ``run_dir`` holds only what a start wrote before its first epoch ended
    (a bad model argument, a kill during the first epoch): nothing to lose by reusing it."""
    run_dir = Path(run_dir)
    names = {p.name for p in run_dir.iterdir()}
    if not names <= RUN_NAMES or "manifest.json" not in names or "model.keras" in names:
        return False
    try:
        status = read_json(run_dir / "manifest.json").get("status")
        history = read_history(run_dir)
    except (RunError, OSError, AttributeError):
        return False
    weights = [p for d in ("checkpoints", "backup") if (run_dir / d).is_dir()
               for p in (run_dir / d).iterdir()]
    return status in ("running", "failed") and not history and not weights


def clear_failed_start(run_dir) -> None:
    """Remove a failed start's files (see :func:`failed_start`); the caller holds the lock."""
    run_dir = Path(run_dir)
    if not failed_start(run_dir):
        return
    for p in run_dir.iterdir():
        if p.name == ".lock":
            continue
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def _history_lines(path):
    """(header line, [(line, row)]) of history.csv; a last line torn by a kill is dropped."""
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise RunError(f"{path} is damaged: not text; restore it, or delete it to resume "
                       "without the curves of the epochs done so far") from None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines = lines[:-1]  # CSVLogger writes a row at a time: only the last can be torn
    if not lines:
        return "", []
    header = next(csv.reader(lines[:1]))
    out = []
    for number, line in enumerate(lines[1:], 2):
        values = next(csv.reader([line]), [])
        problem = None
        if len(values) != len(header) or "epoch" not in header:
            problem = f"{len(values)} values for {len(header)} columns"
        else:
            try:  # CSVLogger writes NA for a missing value
                row = {k: (int(v) if k == "epoch" else float(v)) for k, v in zip(header, values)
                       if v not in ("", "NA")}
                row["epoch"]
            except (ValueError, KeyError) as error:  # not a number; no epoch
                problem = str(error)
        if problem:
            raise RunError(f"{path} is damaged at line {number} ({problem}); restore it, or delete it "
                           "to resume without the curves of the epochs done so far")
        out.append((line, row))
    return lines[0], out


def read_history(run_dir):
    """Per-epoch metrics from history.csv (it survives a killed process)."""
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return []
    by_epoch = {}
    for _, row in _history_lines(path)[1]:  # a redone epoch (resume) replaces its earlier row
        by_epoch[row["epoch"]] = row
    return [by_epoch[e] for e in sorted(by_epoch)]


def truncate_history(run_dir, epochs) -> None:
    """Keep history.csv's rows of the first ``epochs`` epochs (a resume redoes the rest),
    and drop a row torn by a kill, so that CSVLogger appends to whole lines."""
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return
    header, rows = _history_lines(path)
    write_text(path, header + "".join(line for line, row in rows if row["epoch"] < epochs))


def plot_curves(history, path):
    """Loss and accuracy per epoch, training and validation, as a PNG."""
    import matplotlib  # here: a run folder is read without matplotlib (zoo eval, zoo publish)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] + 1 for row in history]
    metrics = [m for m in ("loss", "accuracy") if any(m in row for row in history)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for prefix, label in (("", "train"), ("val_", "validation")):
            values = [row.get(prefix + metric) for row in history]
            if any(v is not None for v in values):
                ax.plot(epochs, values, marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with atomic.replacing(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
