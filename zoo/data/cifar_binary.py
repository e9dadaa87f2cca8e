"""CIFAR-10's official binary archive read with NumPy: `tfds:cifar10` where TensorFlow cannot run.

`cifar-10-binary.tar.gz` (Krizhevsky 2009) holds `cifar-10-batches-bin/`: five training
batches `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`, each a run of
3,073-byte records: one label byte, then the image as its red, green and blue 32×32 planes.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from cnn_zoo.data.errors import DataError

ARCHIVE = "cifar-10-binary.tar.gz"
# TFDS' class names for cifar10, in label order (batches.meta.txt's).
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BATCHES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
RECORD = 1 + 3 * 32 * 32


def records(body: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8, labels (N,)) of one batch file's bytes."""
    if len(body) % RECORD:
        raise DataError(f"{name}: {len(body)} bytes is not a whole number of {RECORD}-byte CIFAR "
                        "records (1 label byte + 3 planes of 32×32); the archive is damaged")
    rows = np.frombuffer(body, np.uint8).reshape(-1, RECORD)
    labels = rows[:, 0].astype(np.int32)
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise DataError(f"{name}: label {labels.max()} is not a CIFAR-10 class (0..9)")
    # (N, 3, 32, 32) planes -> (N, 32, 32, 3), as TFDS gives them.
    return rows[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray, Path]:
    """``split`` ("train" or "test") of the archive in ``folder``: (images, labels, archive)."""
    archive = folder / ARCHIVE
    if not archive.is_file():
        raise DataError(f"{folder}: no {ARCHIVE} (CIFAR-10's official binary archive) in it")
    wanted = {f"cifar-10-batches-bin/{name}": name for name in BATCHES[split]}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    found[wanted[member.name]] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataError(f"{archive}: not a readable tar.gz ({error}); download it again") from None
    missing = [name for name in BATCHES[split] if name not in found]
    if missing:
        raise DataError(f"{archive}: missing {', '.join(missing)} under cifar-10-batches-bin/")
    parts = [records(found[name], name) for name in BATCHES[split]]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts]), archive
