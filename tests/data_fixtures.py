"""Test data shared by the data, preprocessing and recipe tests.

- shared_data: the project's shared/data folder (MNIST and Fashion-MNIST idx
  files). It sits beside the repository (CI clones the repo with ../shared next
  to it); ZOO_SHARED_DATA overrides. Missing data is an error, never a skip.
- tfds_dir: a TFDS data dir with mnist and fashion_mnist prepared offline from
  shared_data, built once into a cache (ZOO_TEST_CACHE, default
  ~/.cache/cnn-zoo-tests) and reused by later sessions; about 25 s per dataset
  the first time.
- write_idx / write_pngs: small files in the real formats, for error paths.

Import the fixtures into a test module (from data_fixtures import tfds_dir) or
register them for all tests in tests/conftest.py the same way.
"""

from __future__ import annotations

import fcntl
import gzip
import os
from pathlib import Path

import numpy as np
import pytest

TFDS_RAW = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}


def shared_data_dir() -> Path:
    env = os.environ.get("ZOO_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (path / "mnist").is_dir():
        raise RuntimeError(f"shared data not found at {path}: the tests need the project's "
                           "shared/data beside the repository, or ZOO_SHARED_DATA=<its path>")
    return path


def cache_dir() -> Path:
    path = Path(os.environ.get("ZOO_TEST_CACHE") or "~/.cache/cnn-zoo-tests").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_data_dir()


@pytest.fixture(scope="session")
def tfds_dir(shared_data) -> Path:
    from cnn_zoo.data import prepare_tfds_offline

    path = cache_dir() / "tfds"
    # A lock, because several test processes may share the cache.
    with open(cache_dir() / "tfds.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name, sub in TFDS_RAW.items():
            prepare_tfds_offline(name, shared_data / sub, path)
    return path


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """Writes a uint8 array in idx format (magic 0x0000 08 ndim, big-endian dims)."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + np.ascontiguousarray(array, np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_pngs(root: Path, classes: dict[str, int], size=(8, 6), mode="L", seed=0) -> dict[str, list]:
    """root/<class>/<i>.png, `count` images per class; returns the arrays written."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    written = {}
    for name, count in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        written[name] = []
        for i in range(count):
            shape = size if mode == "L" else (*size, 3)
            a = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(a).save(root / name / f"{i:03d}.png")
            written[name].append(a)
    return written
