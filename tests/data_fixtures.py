"""Test data shared by the data, preprocessing, recipe and hub tests.

Real MNIST and Fashion-MNIST come by name through the zoo's own data layer
(cnn_zoo.data.fetch_raw_files and prepare_tfds), into a cache that later
sessions reuse (ZOO_TEST_CACHE, default ~/.cache/cnn-zoo-tests):

- online, their official raw files are downloaded once (41 MB);
- offline, ZOO_TFDS_RAW_DIR names a folder holding mnist/ and fashion-mnist/
  (.ci/run sets it to ../shared/data when that folder exists).

A test that cannot get its data fails with one line that says how to provide
it, never a skip.

- raw_mnist, raw_fashion: a folder holding the 4 official idx .gz files of each.
- tfds_dir: a TFDS data dir with mnist and fashion_mnist prepared (about 25 s
  per dataset the first time).
- loopback: an HTTP server on 127.0.0.1 serving bytes by path, for downloads.
- write_idx / write_pngs: small files in the real formats, for error paths.

Import the fixtures into a test module (from data_fixtures import tfds_dir).
"""

from __future__ import annotations

import dataclasses
import fcntl
import gzip
import http.server
import os
import threading
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

DATASETS = ("mnist", "fashion_mnist")


def cache_dir() -> Path:
    path = Path(os.environ.get("ZOO_TEST_CACHE") or "~/.cache/cnn-zoo-tests").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def need(function, name: str, *args):
    """function(name, *args), or a one-line test failure that says how to provide the data."""
    from cnn_zoo.data import DataError

    try:
        return function(name, *args)
    except DataError as error:
        message = (f"the tests need the real {name} dataset (downloaded once into "
                   f"{cache_dir()}, or read from a mirror folder): {error}")
    pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback


def _locked(function, name):
    # A lock, because several test processes may share the cache.
    with open(cache_dir() / "tfds.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return need(function, name, cache_dir() / "tfds")


@pytest.fixture(scope="session")
def raw_mnist() -> Path:
    from cnn_zoo.data import fetch_raw_files

    return _locked(fetch_raw_files, "mnist")


@pytest.fixture(scope="session")
def raw_fashion() -> Path:
    from cnn_zoo.data import fetch_raw_files

    return _locked(fetch_raw_files, "fashion_mnist")


@pytest.fixture(scope="session")
def tfds_dir() -> Path:
    from cnn_zoo.data import prepare_tfds

    for name in DATASETS:
        _locked(prepare_tfds, name)
    return cache_dir() / "tfds"


# ----------------------------------------------------------------------- loopback server


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        path = urllib.parse.unquote(self.path)
        with server.lock:
            server.requests.append(path)
        body = server.files.get(path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@dataclasses.dataclass
class Loopback:
    url: str
    files: dict  # "/mnist/t10k-labels-idx1-ubyte.gz" -> bytes
    requests: list  # paths asked for, in order


@pytest.fixture
def loopback(monkeypatch):
    """An HTTP server on 127.0.0.1 (port 0) that serves loopback.files by path."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files, server.requests, server.lock = {}, [], threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Loopback(f"http://127.0.0.1:{server.server_address[1]}", server.files, server.requests)
    server.shutdown()
    server.server_close()


# ----------------------------------------------------------------------- small files


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
