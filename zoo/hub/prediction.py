"""Prediction on image files with a pretrained model's own preprocessing.

    cnn_zoo.hub.predict("lenet5.mnist", ["digit.png", "photo.jpg"], top_k=3)
    # [Prediction(image='digit.png', labels=('7', '1', '9'), probabilities=(0.98, ...)), ...]

Each image (PNG, JPEG or anything Pillow reads, of any size and mode) becomes
the model's raw input first, as the training data were stored:

- EXIF orientation applied (phone photos store their rotation there);
- 16-bit and 32-bit grey scaled to 0..255, float images in 0..1 scaled too;
- transparency composited over black, the background value of MNIST and
  Fashion-MNIST (a transparent area reads as background);
- grey (Pillow's "L", ITU-R BT.601 luma, as preprocessing's `channels` step)
  or RGB, after the raw channel count the model was trained on;
- resized to the raw height × width (bilinear, antialiased when shrinking;
  the aspect ratio is not kept, as keras.utils.load_img).

Then ``Preprocessing.apply(x, training=False)`` repeats the training
preprocessing (augmentation off) and the model's probabilities give the top k.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import warnings
from pathlib import Path

import numpy as np

from cnn_zoo.errors import ArgumentError, ZooError
from cnn_zoo.hub.engine import check_engine, engine_for
from cnn_zoo.hub.loading import family_of, resolve
from cnn_zoo.layers.arguments import is_int
from cnn_zoo.preprocessing_spec import Preprocessing


class ImageError(ZooError):
    """An image that cannot be read, or cannot be turned into the model's input."""


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The top-k classes for one image, best first; ``error`` is set instead for a bad image."""

    image: str
    labels: tuple[str, ...] = ()
    indices: tuple[int, ...] = ()
    probabilities: tuple[float, ...] = ()
    error: str | None = None
    engine: str | None = None  # what ran the model call (cnn_zoo.hub.engine), and why


    @property
    def top(self) -> list[tuple[str, float]]:
        return list(zip(self.labels, self.probabilities))

    def as_dict(self) -> dict:
        if self.error is not None:
            return {"image": self.image, "error": self.error}
        return {"image": self.image,
                "top": [{"label": label, "index": index, "probability": prob}
                        for label, index, prob in zip(self.labels, self.indices, self.probabilities)],
                "engine": self.engine}

    def __str__(self) -> str:
        if self.error is not None:
            return f"{self.image}: error: {self.error}"
        return f"{self.image}: " + ", ".join(f"{label} ({100 * p:.1f}%)" for label, p in self.top)


def _name(source, i: int) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "filename", None) or f"<image {i}>"


def _check_path(source) -> Path:
    """``source`` as a Path if it names a regular file, else an ImageError (no file is opened)."""
    path = Path(source)
    try:
        mode = path.stat().st_mode  # stat, unlike open, never waits on a named pipe
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except OSError as error:
        raise ImageError(f"{path}: cannot read it ({error.strerror or error})") from None
    if stat.S_ISDIR(mode):
        raise ImageError(f"{path}: is a folder, not an image")
    if not stat.S_ISREG(mode):
        # Opening a named pipe waits for a writer (forever); a device may never end.
        raise ImageError(f"{path}: not a regular file (a named pipe, socket or device); "
                         "give the path of an image file")
    return path


def _open(source):
    from PIL import Image, UnidentifiedImageError  # Pillow: only where images are read

    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return Image.fromarray(source)
    path = _check_path(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
        return image
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read (PNG, JPEG, ...)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"{path}: too large to decode safely ({error})") from None
    except (OSError, SyntaxError, ValueError) as error:  # truncated or broken data
        raise ImageError(f"{path}: unreadable image data ({error})") from None


def _to_8bit(image):
    """Any Pillow mode -> one Pillow can convert to L or RGB, with 8-bit levels."""
    from PIL import Image  # idem

    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(image, dtype=np.float64)
        # 16-bit files (PNG, TIFF) open as I;16, or as I in older Pillows: full scale 65535.
        full = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        return Image.fromarray(np.clip(np.round(values / full * 255), 0, 255).astype(np.uint8), "L")
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        full = 1.0 if values.max(initial=0) <= 1.0 else 255.0
        return Image.fromarray(np.clip(np.round(values / full * 255), 0, 255).astype(np.uint8), "L")
    return image


def read_image(source, raw_shape, name: str | None = None) -> np.ndarray:
    """One image (a path, a PIL image or an array) as uint8 (H, W, C) of the model's raw shape."""
    from PIL import Image, ImageOps  # idem

    height, width, channels = (list(raw_shape) + [1])[:3]
    if channels not in (1, 3):
        raise ImageError(f"the model takes {channels}-channel images; only grey (1) and RGB (3) "
                         f"inputs can be made from image files. Received: raw_shape={raw_shape}")
    image = _open(source)
    name = name or _name(source, 0)
    try:
        image = ImageOps.exif_transpose(image) or image
        image = _to_8bit(image)
        if "A" in image.getbands() or "transparency" in image.info:
            rgba = image.convert("RGBA")
            image = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
            image.alpha_composite(rgba)
        image = image.convert("L" if channels == 1 else "RGB")
        if height and width and image.size != (width, height):  # None: any size (streamed data)
            image = image.resize((width, height), Image.Resampling.BILINEAR)
    except (OSError, ValueError, TypeError) as error:
        raise ImageError(f"{name}: cannot convert its {image.mode} pixels to "
                         f"{'grey' if channels == 1 else 'RGB'} ({error})") from None
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def predict(tag_or_model, images, *, top_k: int = 5, on_error: str = "raise",
            preprocessing: dict | None = None, class_names=None, hub=None,
            quiet: bool = False, engine: str = "auto") -> list[Prediction]:
    """Top-k labels and probabilities for each image, in order.

    ``tag_or_model``: a tag, or a model from ``zoo.load`` (it carries its
    preprocessing and class names); any other Keras model needs
    ``preprocessing`` (a :class:`~cnn_zoo.preprocessing_spec.Preprocessing` or its
    dict, ``{"steps", "raw_shape"}``) and optionally ``class_names``.
    ``on_error="raise"`` raises :class:`ImageError` for the first bad image;
    ``"keep"`` returns a Prediction with ``error`` set for it and predicts the others.
    ``quiet`` hides the progress bar of a first download. ``engine``: "auto" (Keras'
    predict step, LiteRT for a small input or onnxruntime for a large one once their
    conversion pays: :mod:`cnn_zoo.hub.engine`), "keras", "litert" or "onnxruntime";
    each Prediction's ``engine`` says which ran and why.
    """
    check_engine(engine)  # before the model loads
    if on_error not in ("raise", "keep"):
        raise ArgumentError(f"`on_error` must be 'raise' or 'keep'. Received: on_error={on_error!r}")
    if not is_int(top_k) or top_k < 1:
        raise ArgumentError(f"`top_k` must be a positive int. Received: top_k={top_k!r}")
    if isinstance(images, (str, os.PathLike)) or not hasattr(images, "__iter__") \
            or (isinstance(images, np.ndarray) and images.ndim in (2, 3)):
        images = [images]
    images = list(images)
    early = {}  # files that cannot be images, found before the model is loaded
    for i, source in enumerate(images):
        if isinstance(source, (str, os.PathLike)):
            try:
                _check_path(source)
            except ImageError as error:
                if on_error == "raise":
                    raise
                early[i] = Prediction(_name(source, i), error=str(error))
    model, info = resolve(tag_or_model, hub, quiet=quiet)
    if preprocessing is None:
        if info is None:
            raise ArgumentError("this model carries no preprocessing (it was not made by zoo.load): "
                             "pass preprocessing={'steps': [...], 'raw_shape': [H, W, C]}")
        preprocessing = info.preprocessing
    preprocessing = Preprocessing.from_dict(preprocessing)
    family = family_of(info)
    num_outputs = int(family.main_output(model.output).shape[-1])  # (output_shape is a list for dicts)
    if class_names is None and info is not None and len(info.class_names) == num_outputs:
        class_names = info.class_names  # a fine-tuned head has other classes: use indices
    class_names = [str(c) for c in class_names] if class_names is not None \
        else [str(i) for i in range(num_outputs)]
    results, arrays, where = [], [], []
    for i, source in enumerate(images):
        if i in early:
            results.append(early[i])
            continue
        try:
            arrays.append(read_image(source, preprocessing.raw_shape, _name(source, i)))
            where.append(i)
            results.append(None)
        except ImageError as error:
            if on_error == "raise":
                raise
            results.append(Prediction(_name(source, i), error=str(error)))
    if arrays:
        home = None if hub is None else hub.home  # where converted models are cached
        chosen = engine_for(model, preprocessing, family, len(arrays), engine, home=home)
        if all(preprocessing.raw_shape[:2]):
            probs = chosen(np.stack(arrays))
        else:  # trained on images of any size (streamed): each brought to size by its steps
            probs = chosen.on_inputs(np.concatenate([preprocessing.apply(a[None]) for a in arrays]))
        ran = f"{chosen.name}: {chosen.reason}"
        k = min(top_k, probs.shape[-1])
        for row, i in zip(probs, where):
            best = np.argsort(-row, kind="stable")[:k]
            results[i] = Prediction(_name(images[i], i), tuple(class_names[j] for j in best),
                                    tuple(int(j) for j in best), tuple(float(row[j]) for j in best),
                                    engine=ran)
    return results
