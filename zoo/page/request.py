"""What ``zoo page`` was asked for, checked before Keras is imported.

A :class:`Request` says which model the page is about (a registered model
name, a pretrained tag, a run folder, or a model that ``zoo.load`` returned),
holds the images already decoded at the model's raw size, and the output file,
proven writable. Every mistake is a :class:`PageError` (or the hub's own
``UnknownTagError``, ``ImageError``, the registry's ``UnknownModelError``): one
line that says how to fix it, raised before anything heavy is loaded and before
anything is written.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from cnn_zoo import hub, registry
from cnn_zoo.errors import UnknownModelError, ZooError
from cnn_zoo.layers.arguments import is_int
from cnn_zoo.preprocessing_spec import Preprocessing

# The first line of every page, after the doctype: an existing file without it is not
# replaced (it is not a page this command wrote).
MARK = "<!-- zoo page: written by cnn-zoo"
MAX_CHANNELS = 64  # feature maps per stage at most (each adds H·W bytes per image)


class PageError(ZooError):
    """A page that cannot be written as asked (an argument, the output file)."""


@dataclasses.dataclass(frozen=True)
class PageImage:
    """One ``--image``: its name, the source as given (a path, a PIL image or an array), the
    image at the model's raw size (uint8 H×W×C) and its size (width, height) as given."""

    name: str
    source: object
    raw: np.ndarray
    size: tuple[int, int]


@dataclasses.dataclass(frozen=True)
class Request:
    """A checked request. ``kind`` is "model" (a registered name), "tag", "run" or "loaded" (a
    Keras model from ``zoo.load``/``zoo.load_run``); ``target`` is what to build or load."""

    kind: str
    name: str
    target: object
    info: object | None           # the tag's WeightsInfo, a run's or a loaded model's zoo_info
    preprocessing: Preprocessing | None
    input_shape: tuple | None     # a model name's --input-shape
    images: tuple[PageImage, ...]
    out: Path
    max_channels: int


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "page"


def _what(target, input_shape):
    """(kind, name, info, preprocessing) of the page's subject, without Keras."""
    if not isinstance(target, (str, os.PathLike)):
        info = getattr(target, "zoo_info", None)
        if not hasattr(target, "layers"):
            raise PageError("zoo.page() takes a model name, a pretrained tag, a run folder or a Keras "
                            f"model. Received: {type(target).__name__}")
        prep = None if info is None else Preprocessing.from_dict(info.preprocessing)
        return "loaded", target.name, info, prep
    text = os.fspath(target)
    if hub.is_run(text):
        _, run_dir = hub.run_paths(text)
        prep = Preprocessing.from_dict(json.loads((run_dir / "preprocessing.json").read_text()))
        return "run", Path(run_dir).resolve().name, None, prep
    if "." in text and os.sep not in text:
        if input_shape is not None:
            raise PageError(f"--input-shape is for a model name; the tag {text!r} has its own input "
                            "(zoo page MODEL --input-shape W,H,D)")
        info = hub.info(text)
        return "tag", text, info, Preprocessing.from_dict(info.preprocessing)
    known = registry.list_models()
    if text not in known:
        raise UnknownModelError(text, known)
    return "model", text, None, None


def _input_shape(value):
    if value is None:
        return None
    shape = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(shape) < 2 or not all(is_int(v) and v >= 1 for v in shape):
        raise PageError(f"input_shape must be positive ints (H, W, D), e.g. (32, 32, 1). "
                        f"Received: input_shape={value!r}")
    return shape


def _size_as_given(source, raw) -> tuple[int, int]:
    """(width, height) of the image as the user gave it (EXIF rotation applied)."""
    from PIL import Image, ImageOps  # Pillow: only for a request with an image

    if isinstance(source, np.ndarray):
        return int(source.shape[1]), int(source.shape[0])
    if isinstance(source, Image.Image):
        return source.size
    try:
        with Image.open(source) as image:
            return (ImageOps.exif_transpose(image) or image).size
    except OSError:  # read_image decoded it already; keep the raw size rather than fail here
        return int(raw.shape[1]), int(raw.shape[0])


def _images(images, kind, preprocessing) -> tuple[PageImage, ...]:
    if images is None:
        return ()
    if isinstance(images, (str, os.PathLike, np.ndarray)) or not hasattr(images, "__iter__"):
        images = [images]
    images = list(images)
    if images and preprocessing is None:
        raise PageError("feature maps need trained weights and their preprocessing: give --image with "
                        "a pretrained tag (zoo list --pretrained) or a run folder, not a bare model "
                        + ("name" if kind == "model" else "without zoo_info (use zoo.load)"))
    out = []
    for i, source in enumerate(images):
        name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"<image {i}>"
        raw = hub.read_image(source, preprocessing.raw_shape, name)   # an ImageError names the file
        out.append(PageImage(name, source, raw, _size_as_given(source, raw)))
    return tuple(out)


def _writable(out: Path) -> None:
    """``out`` can be written (its folder exists, accepts a file) and replacing it loses nothing."""
    if out.is_dir():
        raise PageError(f"--out {out} is a folder; give the path of an .html file")
    if not out.parent.is_dir():
        raise PageError(f"cannot write {out}: its folder {out.parent} does not exist; create it first")
    if out.exists():
        try:
            with open(out, encoding="utf-8", errors="replace") as f:
                head = f.read(400)
        except OSError as error:
            raise PageError(f"cannot read {out} ({error.strerror or error}); choose another --out") from None
        if MARK not in head:
            raise PageError(f"{out} exists and is not a page that zoo page wrote; choose another --out "
                            "or remove it first")
    try:
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".zoo-page-", suffix=".tmp"):
            pass
    except OSError as error:
        raise PageError(f"cannot write {out}: {error.strerror or error}; pass --out a path in a "
                        "folder you can write") from None


def check(model_or_tag_or_run, images=None, out=None, *, input_shape=None,
          max_channels: int = 16) -> Request:
    """The checked :class:`Request` (no Keras imported). ``out`` defaults to ``NAME.html`` here."""
    if not is_int(max_channels) or not 1 <= max_channels <= MAX_CHANNELS:
        raise PageError(f"max_channels must be an int from 1 to {MAX_CHANNELS}. "
                        f"Received: max_channels={max_channels!r}")
    input_shape = _input_shape(input_shape)
    kind, name, info, preprocessing = _what(model_or_tag_or_run, input_shape)
    if input_shape is not None and kind != "model":
        raise PageError("input_shape is for a model name; a tag, run or loaded model has its own input")
    out = Path(out).expanduser() if out is not None else Path(f"{_safe(name)}.html")
    _writable(out)
    found = _images(images, kind, preprocessing)
    return Request(kind, name, model_or_tag_or_run, info, preprocessing, input_shape, found, out,
                   max_channels)
