"""TensorFlow Datasets by name, prepared on first use: `tfds:NAME` (`mnist`, `fashion_mnist`, `cifar10`).

The data dir is `data_dir`, else ZOO_TFDS_DIR, else TFDS' own default
(~/tensorflow_datasets, or TFDS_DATA_DIR). A dataset not prepared there is
built from its official raw files, taken from the first of:

1. the mirror folder ZOO_TFDS_RAW_DIR/<folder>/ (`mnist/`, `fashion-mnist/`, `cifar10/`:
   one sub-folder per dataset, because MNIST and Fashion-MNIST use the same file names;
   CIFAR-10's is the one archive `cifar-10-binary.tar.gz`, which TFDS extracts);
2. <data dir>/downloads/manual/<name>/, where an earlier download left them;
3. a download, unless ZOO_OFFLINE=1: each file from the URL that TFDS registers
   for it (or ZOO_DATA_URL/<folder>/<file>, a mirror over HTTP laid out like the
   folder), with a progress bar, into 2., checked against TFDS' registered
   size and sha256 before it is renamed into place.

TFDS then prepares the dataset from those files (DownloadConfig.manual_dir)
and checks them against the same checksums; it never touches the network.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cnn_zoo import atomic
from cnn_zoo.data.errors import DataDownloadError, DataError, DataOfflineError
from cnn_zoo.data.tfds_stream import open_streamed
# The weights store's downloader and digest: streamed, verified, atomic, standard library only.
from cnn_zoo.weights import fetch
from cnn_zoo.weights.errors import HubError
from cnn_zoo.weights.manifest import digest

# Why we download the raw files ourselves instead of calling TFDS'
# download_and_prepare: offline, TFDS retries each URL for over 150 s before it
# fails, and its error hides the URL. One urllib attempt per file with a short
# socket timeout shows a cut network in seconds (a failed name lookup at once)
# and names the URL and the real error; the build itself stays TFDS' own, from
# the same manual_dir the offline mirror uses, so online and offline share one path.

# Seconds a connect or a read may stall. Short, so that a network that drops
# packets (a connect that never answers) still fails within the 15 s a user
# waits, TensorFlow's import included; a stalled read fails too, and the next
# try keeps the files already verified and fetches only the rest.
TIMEOUT = 5.0
RAW_FOLDERS = {"fashion_mnist": "fashion-mnist"}  # the name its authors give the files' folder
_TRUE = ("1", "true", "yes", "on")


class RawFile(NamedTuple):
    url: str
    filename: str
    size: int
    sha256: str


# The TFDS datasets whose official raw files are the four idx files, with TFDS' class names:
# beside PyTorch they are read from those files with NumPy (cnn_zoo.data.sources), as is
# cifar10 from its binary archive (cnn_zoo.data.cifar_binary).
IDX_DATASETS = {
    "mnist": tuple(str(i) for i in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
}
# What each TFDS dataset readable without TensorFlow reads its data from (the folder's raw files).
RAW_FILES = {"mnist": "the 4 official idx files", "fashion_mnist": "the 4 official idx files",
             "cifar10": "cifar-10-binary.tar.gz"}


def tensorflow_unsafe() -> bool:
    """Whether importing TensorFlow now would put it beside PyTorch (2.14), which crashes the
    process: the PyTorch backend, or any process that loaded torch first."""
    return "torch" in sys.modules and "tensorflow" not in sys.modules


def without_tensorflow() -> str | None:
    """Why ``tfds:`` data must be read without TensorFlow in this process, or None."""
    if tensorflow_unsafe():
        return "TensorFlow cannot run beside PyTorch"
    try:
        missing = importlib.util.find_spec("tensorflow_datasets") is None
    except (ImportError, ValueError):
        missing = True
    return "tensorflow-datasets is not installed" if missing else None


def raw_files_folder(name: str, data_dir=None, why: str = "") -> Path:
    """The folder with ``name``'s official raw files, found without TensorFlow: the mirror
    (ZOO_TFDS_RAW_DIR), or where an earlier download left them (<data dir>/downloads/manual/)."""
    root = Path(_data_dir(data_dir) or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")
    manual = root.expanduser() / "downloads" / "manual" / _base(name)
    for folder in (_mirror(name), manual):
        if folder is not None and folder.is_dir() and any(folder.iterdir()):
            return folder
    raise DataError(f"tfds:{name} is read from its raw files here ({why}), and none are in "
                    f"{manual}: set ZOO_TFDS_RAW_DIR to a folder holding {raw_folder(name)}/ with "
                    f"{RAW_FILES[_base(name)]}, or run a zoo command on it once with TensorFlow (KERAS_BACKEND="
                    "tensorflow or jax), which downloads them there")


def _import_tfds():
    if tensorflow_unsafe():
        raise DataError("tfds: sources need TensorFlow, which crashes a process that runs PyTorch; "
                        f"beside PyTorch only {', '.join(f'tfds:{n}' for n in RAW_FILES)} are read "
                        "(from their raw files); use KERAS_BACKEND=tensorflow or jax, or idx:DIR, "
                        "npz:PATH, folder:DIR or embedded:mnist5k")
    try:
        import tensorflow_datasets as tfds  # ~3 s: only for tfds: sources
    except ImportError as e:  # a JAX-only machine
        raise DataError(f"tfds: sources need tensorflow and tensorflow-datasets ({e}); without "
                        "them, use idx:DIR, npz:PATH, folder:DIR or embedded:mnist5k") from e
    return tfds


def _data_dir(data_dir) -> str | None:
    data_dir = data_dir or os.environ.get("ZOO_TFDS_DIR")
    return os.fspath(Path(data_dir).expanduser()) if data_dir else None


def _base(name: str) -> str:
    return name.split(":")[0].split("/")[0]  # "mnist:3.*.*" -> "mnist"


def raw_folder(name: str) -> str:
    """The sub-folder of a mirror (local or over HTTP) that holds `name`'s raw files."""
    return RAW_FOLDERS.get(_base(name), _base(name))


def offline() -> bool:
    return os.environ.get("ZOO_OFFLINE", "").strip().lower() in _TRUE


def _offline_help(name: str) -> str:
    root = os.environ.get("ZOO_TFDS_RAW_DIR")
    where = (f"put its official raw files in ZOO_TFDS_RAW_DIR={root}/{raw_folder(name)}/ (that "
             "folder is missing)" if root else
             f"set ZOO_TFDS_RAW_DIR to a folder holding {raw_folder(name)}/ with its official raw "
             "files (one sub-folder per dataset)")
    return f"{where}, or ZOO_TFDS_DIR to a TFDS data dir where it is prepared"


def _mirror(name: str) -> Path | None:
    root = os.environ.get("ZOO_TFDS_RAW_DIR")
    if not root:
        return None
    for sub in dict.fromkeys((raw_folder(name), _base(name), _base(name).replace("_", "-"))):
        if (Path(root).expanduser() / sub).is_dir():
            return Path(root).expanduser() / sub
    return None


def registered_files(builder) -> list[RawFile]:
    """The raw files TFDS registers for a builder (its url_checksums), by file name.

    With ZOO_DATA_URL set, each URL becomes ZOO_DATA_URL/<folder>/<file name>.
    """
    base = os.environ.get("ZOO_DATA_URL", "").rstrip("/")
    files = []
    for url, info in sorted(builder.url_infos.items(), key=lambda kv: kv[1].filename or kv[0]):
        filename = info.filename or url.rsplit("/", 1)[-1]
        if base:
            url = f"{base}/{raw_folder(builder.name)}/{filename}"
        files.append(RawFile(url, filename, int(info.size), info.checksum))
    return files


def _complete(path: Path, file: RawFile) -> bool:
    return path.is_file() and path.stat().st_size == file.size and digest(path)[1] == file.sha256


def download_files(files, folder, *, timeout: float | None = None, quiet: bool = False) -> Path:
    """Downloads each RawFile missing from `folder` (or not matching its checksum) into it.

    A file lands only when its size and sha256 are right (written beside it,
    then renamed), so `folder` never holds a partial file. Returns `folder`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for file in files:
        dest = folder / file.filename
        if _complete(dest, file):
            continue
        try:
            fetch.download(file.url, dest, size=file.size, sha256=file.sha256,
                           timeout=TIMEOUT if timeout is None else timeout,
                           quiet=quiet, label=f"{folder.name}/{file.filename}")
        except HubError as error:
            raise DataDownloadError(str(error), file.url, str(error)) from None
    return folder


def fetch_raw_files(name: str, data_dir=None, *, quiet: bool = False) -> Path:
    """The folder holding `name`'s official raw files: the mirror, an earlier download, or a new one."""
    tfds = _import_tfds()
    builder = tfds.builder(name, data_dir=_data_dir(data_dir))
    files = registered_files(builder)
    if not files:
        raise DataError(f"tfds:{name}: TFDS registers no raw files for it, so the zoo cannot "
                        f"download them; prepare it with tfds.builder({name!r}).download_and_prepare()")
    mirror = _mirror(name)
    if mirror is not None:
        # Checked here, because TFDS would go to the network for a missing file
        # (and retry for minutes) and report a wrong one in many lines.
        bad = [f.filename for f in files if not _complete(mirror / f.filename, f)]
        if bad:
            raise DataError(f"tfds:{name}: the mirror folder {mirror} (ZOO_TFDS_RAW_DIR) lacks "
                            f"{', '.join(bad)}, or their size or sha256 is not the official files' "
                            "(as TFDS registers them); put the official files there")
        return mirror
    folder = Path(builder.data_dir_root) / "downloads" / "manual" / _base(name)
    if all(_complete(folder / f.filename, f) for f in files):
        return folder
    if offline():
        raise DataOfflineError(f"tfds:{name} is not prepared in {builder.data_dir_root} and "
                               "ZOO_OFFLINE=1 forbids downloading it; unset ZOO_OFFLINE to "
                               f"download it, or {_offline_help(name)}")
    try:
        return download_files(files, folder, quiet=quiet)
    except DataDownloadError as error:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if the failure left it empty
        raise DataDownloadError(f"tfds:{name} is not prepared in {builder.data_dir_root} and its "
                                f"download failed: {error.reason}; to work offline, "
                                f"{_offline_help(name)}", error.url, error.reason) from None


def prepare_tfds_offline(name: str, raw_dir: str | os.PathLike,
                         data_dir: str | os.PathLike | None = None) -> Path:
    """Builds TFDS dataset `name` in data_dir from raw files already on disk.

    raw_dir holds that dataset's own raw files (for mnist/fashion_mnist the 4 idx
    .gz files); use one folder per dataset, because mnist and fashion_mnist use
    the same file names. TFDS checks the files against its registered checksums
    and never touches the network. Returns the prepared dataset's folder. A
    dataset that is already prepared is left as it is.
    """
    tfds = _import_tfds()
    raw_dir = Path(raw_dir).expanduser()
    if not raw_dir.is_dir():
        raise DataError(f"prepare_tfds_offline: raw_dir {raw_dir} is not a directory")
    builder = tfds.builder(name, data_dir=_data_dir(data_dir))
    if not builder.is_prepared():
        # A throwaway download dir keeps the extracted copies out of data_dir.
        with tempfile.TemporaryDirectory(prefix=f"zoo-tfds-{_base(name)}-") as dl:
            config = tfds.download.DownloadConfig(manual_dir=os.fspath(raw_dir),
                                                  try_download_gcs=False)
            builder.download_and_prepare(download_dir=dl, download_config=config)
    return Path(builder.data_dir)


def prepare_tfds(name: str, data_dir: str | os.PathLike | None = None, *,
                 quiet: bool = False) -> Path:
    """Makes sure TFDS dataset `name` is prepared in the data dir (see the module docstring)."""
    tfds = _import_tfds()
    builder = tfds.builder(name, data_dir=_data_dir(data_dir))
    if builder.is_prepared():
        return Path(builder.data_dir)
    return prepare_tfds_offline(name, fetch_raw_files(name, data_dir, quiet=quiet), data_dir)


def load_tfds(name: str, split: str, data_dir, stream=False):
    """(x, y, class names, info) of one split, preparing the dataset first if needed.
    With stream true (or "auto" and a large split), x is a TfdsRecords (tfds_stream)."""
    tfds = _import_tfds()
    prepare_tfds(name, data_dir)
    builder = tfds.builder(name, data_dir=_data_dir(data_dir))
    if split not in builder.info.splits:
        raise DataError(f"tfds:{name} has no {split!r} split; it has {', '.join(builder.info.splits)}")
    image_key, label_key = builder.info.supervised_keys or ("image", "label")
    x, y, why = open_streamed(builder, split, image_key, label_key, stream)
    if x is None:
        x, y = _decoded(builder, split, image_key, label_key)
    feature = builder.info.features[label_key]
    names = tuple(feature.names) if hasattr(feature, "names") else \
        tuple(str(i) for i in range(int(y.max()) + 1 if len(y) else 0))
    info = {"kind": "tfds", "name": builder.info.full_name, "data_dir": str(builder.data_dir),
            "homepage": builder.info.homepage or "", "streamed": not isinstance(x, np.ndarray),
            "stream_reason": why}
    return x, y, names, info


def _shards(data_dir: Path, split: str) -> list:
    """(name, size) of the split's record files: what the decoded arrays were made from."""
    return sorted((p.name, p.stat().st_size) for p in data_dir.glob(f"*-{split}.*") if ".tfrecord" in p.name
                  or ".array_record" in p.name)


def _decoded(builder, split: str, image_key: str, label_key: str):
    """(x, y) of an in-memory split. Decoding the records (MNIST: 70,000 PNGs) took seconds of
    every start, so the arrays are kept beside them, ``cnn_zoo-SPLIT.npz``, and used while the
    record files are the ones they came from (names and sizes); written atomically."""
    data_dir = Path(builder.data_dir)
    cache, shards = data_dir / f"cnn_zoo-{split}.npz", _shards(data_dir, split)
    try:
        with np.load(cache) as held:
            if json.loads(str(held["shards"])) == [list(s) for s in shards]:
                return held["x"], held["y"]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # none yet, torn: decode again
        pass
    data = _import_tfds().as_numpy(builder.as_dataset(split=split, batch_size=-1))
    x, y = data[image_key], data[label_key]
    try:
        with atomic.replacing(cache, suffix=".npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, x=x, y=y, shards=json.dumps(shards))
    except OSError:  # a read-only data dir: decode every time, as before
        pass
    return x, y
