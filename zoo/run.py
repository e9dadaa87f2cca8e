"""A run folder: what a training run leaves on disk, and how it is read back.

    DIR/config.yaml            the resolved recipe (defaults → file → --set)
    DIR/manifest.json          status, versions, seed, backend, devices, git commit, timings
    DIR/preprocessing.json     the steps, input shape and class names prediction must use
    DIR/checkpoints/           epoch_NNN.weights.h5 after every finite epoch (last 2 kept)
    DIR/backup/                Keras' BackupAndRestore state, for --resume
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
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("cnn-zoo", "keras", "tensorflow", "tensorflow-cpu", "jax", "jaxlib", "torch", "numpy",
            "keras-tuner", "tensorflow-datasets")


class RunError(ValueError):
    """A run folder that cannot be used as asked (exists, missing, finished...)."""


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_json(path, data, *, strict=False):
    """Write atomically: a reader never sees half a file. A value JSON cannot hold is
    written as its str(), unless ``strict`` (state that is read back, e.g. Keras Tuner's
    oracle.json, where a string in place of an object would break the reload): then it raises."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=None if strict else str) + "\n")
    os.replace(tmp, path)


def read_json(path):
    return json.loads(Path(path).read_text())


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


def devices():
    import keras
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        return [d.name for d in tf.config.list_logical_devices()]
    if backend == "jax":
        import jax
        return [str(d) for d in jax.devices()]
    if backend == "torch":
        import torch
        return ["cuda:%d" % i for i in range(torch.cuda.device_count())] or ["cpu"]
    return ["cpu"]


def prepare_folder(run_dir, resume):
    """Check that ``run_dir`` may be used; never overwrite an earlier run silently."""
    run_dir = Path(run_dir)
    manifest = run_dir / "manifest.json"
    if resume:
        if not manifest.exists():
            raise RunError(f"{run_dir} holds no run to resume (no manifest.json); "
                           "start one without --resume")
        status = read_json(manifest).get("status")
        if status == "finished":
            raise RunError(f"{run_dir} is a finished run, nothing to resume; "
                           "train into a new --out folder")
        return run_dir
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(f"{run_dir} already exists and is not empty; pass --resume to continue "
                       "that run, or choose another --out folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def read_history(run_dir):
    """Per-epoch metrics from history.csv (it survives a killed process)."""
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    by_epoch = {}
    for row in rows:  # a redone epoch (resume) replaces its earlier row
        row = {k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()
               if v not in ("", "NA")}  # CSVLogger writes NA for a missing value
        by_epoch[row["epoch"]] = row
    return [by_epoch[e] for e in sorted(by_epoch)]


def plot_curves(history, path):
    """Loss and accuracy per epoch, training and validation, as a PNG."""
    import matplotlib
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
    fig.savefig(path, dpi=100)
    plt.close(fig)
