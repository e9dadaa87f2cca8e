"""A small published model, shared by test_hub.py and test_predict.py.

``published`` trains LeNet-5 (modern) for one epoch on 400 embedded MNIST
digits (real training, ~15 s), publishes the run as ``lenet5_modern.tiny``
into a temporary hub folder and returns where everything is. It runs once per
session even though two test modules import it (each import makes its own
fixture definition, so the result is kept here).

``hub_for(tmp_path, published)`` is a Hub whose local folder is that hub and
whose cache is empty. ``write_photos(folder)`` makes sample photos (JPEG).
``standin(tag)`` is a tag's architecture with random weights that see the input;
``cached_standin(tag, home)`` puts those weights in a hub cache as the converted
file of an ImageNet tag (as ``zoo pull`` leaves it), so ``zoo.load(tag)`` finds them.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

TAG = "lenet5_modern.tiny"
_DONE = {}


@dataclasses.dataclass(frozen=True)
class Published:
    run_dir: Path
    dest: Path          # manifest.json + TAG.weights.h5
    info: object        # WeightsInfo
    tag: str = TAG


# Sizes of real sample photos (Caffe's cat, Keras' elephant, a portrait, ...), not their pixels.
PHOTO_SIZES = ((480, 360), (525, 351), (517, 606), (481, 323), (773, 606))


def write_photos(folder: Path, sizes=PHOTO_SIZES, seed: int = 0) -> list[Path]:
    """Photo-like RGB JPEGs (smooth gradients, a few shapes, sensor noise), made with Pillow.

    Each is far larger than 3 kB, so a cut-off copy is a truncated JPEG.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, (w, h) in enumerate(sizes):
        yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
        base = np.stack([np.sin(6 * xx + c + i) * 0.5 + 0.5 * yy for c in (0, 2, 4)], -1)
        pixels = np.clip(base * 200 + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels)
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x0, y0 = rng.integers(0, w - 40), rng.integers(0, h - 40)
            box = (int(x0), int(y0), int(x0 + rng.integers(20, w // 2)), int(y0 + rng.integers(20, h // 2)))
            draw.ellipse(box, fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        paths.append(folder / f"photo{i}.jpg")
        image.save(paths[-1], quality=90)
    return paths


@pytest.fixture(scope="session")
def published(tmp_path_factory) -> Published:
    if "published" not in _DONE:
        from cnn_zoo.hub import publish
        from cnn_zoo.train import train

        root = tmp_path_factory.mktemp("published")
        result = train("default", root / "run", verbose=0,
                       overrides=["epochs=1", "model.name=lenet5_modern", "dataset.max_examples=400"])
        assert result.status == "finished", result.message
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            info = publish(result.run_dir, TAG, dest=root / "hub")
        # MNIST's licence is known: no "unknown licence" warning.
        assert not [w for w in caught if "licence" in str(w.message)], caught
        _DONE["published"] = Published(Path(result.run_dir), root / "hub", info)
    return _DONE["published"]


def hub_for(tmp_path: Path, published: Published, **kwargs):
    from cnn_zoo.hub import Hub

    return Hub(home=tmp_path / "zoo-home", local=published.dest, **kwargs)


def standin(tag, seed=0):
    """The tag's architecture with :func:`seeing_weights`, carrying the tag's manifest entry."""
    import cnn_zoo as zoo
    from cnn_zoo.weights import store

    info = store.info(tag)
    kwargs = dict(info.kwargs)
    if kwargs.get("aux_classifiers"):
        kwargs["aux_classifiers"] = False
    model = seeing_weights(zoo.get_model(info.arch, **kwargs), seed)
    if not any("rescale" in step for step in info.preprocessing["steps"]):
        # Caffe's GoogLeNet takes pixels in 0..255: first kernels 100x smaller keep the logits
        # moderate (else every photo saturates to one class and top-1 proves nothing).
        first = next(w for w in model.weights if w.path.endswith("kernel"))
        first.assign(first.numpy() / 100)
    model.zoo_info = info
    return model


def seeing_weights(model, seed=0):
    """``model`` with random weights whose outputs depend on the input: He-scaled kernels,
    perturbed biases and BatchNorm statistics (an initialised model's are zeros and ones)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape, name = tuple(w.shape), w.path.rsplit("/", 1)[-1]
        if name == "kernel":
            value = rng.normal(0, np.sqrt(2.0 / max(1, np.prod(shape[:-1]))), shape)
        elif name in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif name in ("bias", "beta", "moving_mean"):
            value = rng.normal(0, 0.1, shape)
        else:
            continue
        w.assign(value.astype("float32"))
    return model


def cached_standin(tag: str, home: Path, seed: int = 0):
    """A Hub whose cache (under ``home``) holds ``standin(tag)``'s weights as the tag's converted file."""
    from cnn_zoo.convert.pulling import save_converted
    from cnn_zoo.weights import store
    from cnn_zoo.weights.store import Hub

    hub = Hub(home=home, local=store.local_models())
    hub.cache.mkdir(parents=True, exist_ok=True)
    save_converted(standin(tag, seed), store.info(tag, hub=hub), hub.cache, hub.cache)
    return hub
