"""The weights manifest: one JSON file listing every published tag.

    {"format": 1,
     "tags": {"lenet5.mnist": {"arch": "lenet5", "file": "lenet5.mnist.weights.h5",
                               "sha256": "<64 hex>", "size": 246816,
                               "kwargs": {"input_shape": [32, 32, 1], "num_classes": 10},
                               "preprocessing": {"steps": [...], "raw_shape": [28, 28, 1],
                                                 "input_shape": [32, 32, 1]},
                               "class_names": ["0", ..., "9"],
                               "metrics": {"split": "test", "examples": 10000,
                                           "accuracy": 0.991, "loss": 0.03},
                               "recipe": {"name": "lenet5-mnist", "config": {...}},
                               "seed": 0,
                               "dataset": {"source": "tfds:mnist", "name": "MNIST",
                                           "license": "CC BY-SA 3.0",
                                           "attribution": "Yann LeCun and Corinna Cortes",
                                           "url": "http://yann.lecun.com/exdb/mnist/"},
                               "created": "2026-01-01T00:00:00+00:00",
                               "keras_version": "3.15.1", "backend": "tensorflow",
                               "tuning": {...}}}}      # only for a model chosen by zoo tune

A tag is ``arch.name``: the registered model name, a dot, and a name for the
weights (usually the dataset). Its file is ``<tag>.weights.h5`` beside the
manifest: Keras weights only (HDF5 arrays), nothing a loader would execute.

The same format serves the package's ``saved_models/``, the cache (which
records the entries of tags pulled from a remote hub) and a remote hub
(``<ZOO_HUB_URL>/manifest.json``). This module imports no Keras.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from cnn_zoo import atomic
from cnn_zoo.layers.arguments import is_int
from cnn_zoo.weights.errors import IntegrityError, ManifestError

FORMAT = 1
MANIFEST = "manifest.json"
SUFFIX = ".weights.h5"
# arch: a registered model name; name: the weights' own name (lowercase, digits, _ and -).
# Always fullmatch: "$" also matches before a final newline ("lenet5.nl\n").
TAG = re.compile(r"(?P<arch>[a-z][a-z0-9_]*)\.(?P<name>[a-z0-9][a-z0-9_\-]*)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20

# The licences of the datasets the recipes train on, as their publishers state them.
DATASETS = {
    "mnist": {"name": "MNIST", "license": "CC BY-SA 3.0",
              "attribution": "Yann LeCun and Corinna Cortes",
              "url": "http://yann.lecun.com/exdb/mnist/"},
    "fashion_mnist": {"name": "Fashion-MNIST", "license": "MIT",
                      "attribution": "Zalando SE",
                      "url": "https://github.com/zalandoresearch/fashion-mnist"},
}


def parse_tag(tag) -> tuple[str, str]:
    """``"lenet5.mnist"`` -> ``("lenet5", "mnist")``; anything else is a ManifestError."""
    match = TAG.fullmatch(tag) if isinstance(tag, str) else None
    if match is None:
        raise ManifestError(
            "A pretrained tag is 'arch.name': a model name, a dot and a lowercase name of "
            f"letters, digits, '_' or '-', e.g. 'lenet5.mnist'. Received: tag={tag!r}")
    return match["arch"], match["name"]


def is_tag(text) -> bool:
    """Whether ``text`` reads as a tag (``arch.name``), not as the name of a weights file."""
    return isinstance(text, str) and TAG.fullmatch(text) is not None and not text.endswith((".h5", ".keras"))


def dataset_card(source: str) -> dict:
    """Name, licence and attribution of a dataset spec such as ``tfds:mnist`` or ``idx:/x/mnist``.

    An unknown dataset gets ``license: "unknown"``: the publisher must state it.
    """
    key = source.lower().replace("-", "_")
    for name in ("fashion_mnist", "mnist"):  # fashion_mnist first: it contains "mnist"
        if name in key:
            return {"source": source, **DATASETS[name]}
    return {"source": source, "name": source, "license": "unknown", "attribution": "", "url": ""}


@dataclasses.dataclass(frozen=True)
class WeightsInfo:
    """One manifest entry: what a pretrained tag is, where its weights are and how it was made.

    The mappings are plain JSON data; treat them as read-only (``as_dict``
    returns a copy).
    """

    tag: str
    arch: str
    file: str                 # "<tag>.weights.h5", beside the manifest
    sha256: str               # full 64 hex digits
    size: int                 # bytes
    kwargs: dict              # builder keyword arguments: input_shape, num_classes, ...
    preprocessing: dict       # {"steps": [...], "raw_shape": [H, W, C], "input_shape": [H, W, C]}
    class_names: tuple
    metrics: dict             # {"split": "test", "examples": N, "accuracy": ..., "loss": ...}
    recipe: dict              # {"name": ..., "config": the full resolved recipe}
    seed: int
    dataset: dict             # {"source", "name", "license", "attribution", "url"}
    created: str
    keras_version: str
    backend: str = ""
    tuning: dict | None = None  # the zoo tune search that chose the hyper-parameters, if any
    source: dict | None = None  # a publisher's file that pull converts (cnn_zoo.convert.pulling)

    @property
    def num_classes(self) -> int:
        return int(self.kwargs["num_classes"])

    def as_dict(self) -> dict:
        """The manifest entry (without the tag, which is its key)."""
        data = copy.deepcopy(dataclasses.asdict(self))
        del data["tag"]
        if data["tuning"] is None:
            del data["tuning"]
        if data["source"] is None:
            del data["source"]
        data["class_names"] = list(self.class_names)
        return data

    @classmethod
    def from_dict(cls, tag: str, data: Mapping, where: str = "manifest") -> "WeightsInfo":
        """Checks one entry; a ManifestError names ``where`` and the tag."""
        def bad(problem):
            return ManifestError(f"{where}: entry {tag!r} {problem}; republish it with zoo publish")

        try:
            arch, _ = parse_tag(tag)
        except ManifestError as error:
            raise ManifestError(f"{where}: {error}") from None
        if not isinstance(data, Mapping):
            raise bad("is not a mapping")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        missing = [name for name, f in fields.items() if name != "tag"
                   and f.default is dataclasses.MISSING and name not in data]
        if missing:
            raise bad(f"lacks {', '.join(missing)}")
        if data["arch"] != arch:  # (also refuses a non-text arch)
            raise bad(f"has arch {data['arch']!r} but the tag names {arch!r}")
        file = data["file"]
        # A bare file name: a manifest must not point outside its own folder.
        if not isinstance(file, str) or not file.endswith(SUFFIX) or os.path.basename(file) != file \
                or "\\" in file or file.startswith("."):
            raise bad(f"has file {file!r}; expected a bare name ending in {SUFFIX}")
        # A tag converted from a publisher's file has no digest before its first pull.
        pending = data.get("source") is not None and data["sha256"] is None and data["size"] is None
        if not pending and (not isinstance(data["sha256"], str) or not _SHA256.fullmatch(data["sha256"])):
            raise bad(f"has sha256 {data['sha256']!r}; expected 64 lowercase hex digits")
        if not pending and (not is_int(data["size"]) or data["size"] < 1):
            raise bad(f"has size {data['size']!r}; expected a positive number of bytes")
        kwargs = data["kwargs"]
        if not isinstance(kwargs, Mapping) or "num_classes" not in kwargs or "input_shape" not in kwargs:
            raise bad("has kwargs without input_shape and num_classes")
        for key, value in kwargs.items():
            problem = _not_plain(value)
            if problem or not isinstance(key, str):
                raise bad(f"has kwargs.{key} = {problem or 'a non-text key'}; a manifest's builder "
                          "arguments are plain values only (numbers, text, true/false, null, lists)")
        prep = data["preprocessing"]
        if not isinstance(prep, Mapping) or not {"steps", "raw_shape", "input_shape"} <= set(prep):
            raise bad("has preprocessing without steps, raw_shape and input_shape")
        for name in ("metrics", "recipe", "dataset"):
            if not isinstance(data[name], Mapping):
                raise bad(f"has {name} {data[name]!r}; expected a mapping")
        if not isinstance(data["class_names"], list):
            raise bad(f"has class_names {data['class_names']!r}; expected a list")
        if len(data["class_names"]) != kwargs["num_classes"]:
            raise bad(f"has {len(data['class_names'])} class names for "
                      f"num_classes={kwargs['num_classes']}")
        values = {name: copy.deepcopy(data[name]) for name in fields if name in data and name != "tag"}
        values["class_names"] = tuple(str(c) for c in data["class_names"])
        return cls(tag=tag, **values)


def _not_plain(value) -> str | None:
    """What makes a builder argument unfit for a manifest (None: it is plain data).

    A mapping is refused: it is how Keras serializes functions and objects
    ({"class_name": "function", "module": ...}), which a loader would resolve.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return None
    if isinstance(value, list):
        return next((p for p in map(_not_plain, value) if p), None)
    if isinstance(value, Mapping):
        what = value.get("class_name") or value.get("module")
        return (f"a serialized Keras object ({what!r})" if isinstance(what, str) else "a mapping")
    return f"a {type(value).__name__}"


def parse_manifest(data, where: str, bad: dict | None = None) -> dict[str, WeightsInfo]:
    """``{tag: WeightsInfo}`` from a manifest's JSON data.

    With ``bad`` (a dict), an entry that is not valid is left out and its
    ManifestError kept in ``bad[tag]``, so one bad tag leaves the others usable.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("tags"), Mapping):
        raise ManifestError(f'{where}: not a weights manifest (expected {{"format": {FORMAT}, '
                            '"tags": {...}})')
    version = data.get("format", FORMAT)
    if not isinstance(version, int) or version > FORMAT:
        raise ManifestError(f"{where}: manifest format {version!r} is newer than this cnn-zoo "
                            f"reads ({FORMAT}); upgrade cnn-zoo")
    entries = {}
    for tag, entry in data["tags"].items():
        try:
            entries[tag] = WeightsInfo.from_dict(tag, entry, where)
        except ManifestError as error:
            if bad is None:
                raise
            bad[str(tag)] = error
    return entries


def read_manifest(path, bad: dict | None = None) -> dict[str, WeightsInfo]:
    """The entries of a manifest file (a Path or an importlib.resources Traversable); none if absent.

    ``bad``: see :func:`parse_manifest`.
    """
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as reason:
        raise ManifestError(f"{path} is not valid JSON ({reason}); fix or remove it") from None
    return parse_manifest(data, str(path), bad)


READABLE = 0o644


def write_manifest(path: Path, entries: Mapping[str, WeightsInfo]) -> None:
    """Writes ``entries`` sorted by tag, atomically: a reader sees the old file or the new one."""
    data = {"format": FORMAT, "tags": {tag: entries[tag].as_dict() for tag in sorted(entries)}}
    atomic.write_json(path, data, ensure_ascii=False, mode=READABLE)  # a published file is for everyone


def digest(path) -> tuple[int, str]:
    """(size in bytes, sha256 hex) of a file, read in 1 MiB chunks."""
    sha, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def file_sha256(path) -> str:
    """The sha256 hex of a file (:func:`digest` without the size)."""
    return digest(path)[1]


def verify(path, info: WeightsInfo, what: str = "") -> None:
    """Raises IntegrityError unless the file has the entry's exact size and sha256."""
    size, sha = digest(path)
    label = what or str(path)
    if size != info.size:
        raise IntegrityError(f"{label}: {info.tag} should be {info.size} bytes but is {size} "
                             "(truncated or not the published file)", "size", info.size, size)
    if sha != info.sha256:
        raise IntegrityError(f"{label}: {info.tag} has sha256 {sha}, expected {info.sha256} "
                             "(corrupt or tampered with)", "sha256", info.sha256, sha)


def normalized(data: Any):
    """JSON's view of ``data`` (tuples become lists): how kwargs are stored and compared."""
    return json.loads(json.dumps(data))
