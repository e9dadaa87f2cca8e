"""Preprocessing as plain data: each step one definition, in NumPy and in TensorFlow.

A recipe declares its preprocessing as a list of steps; each step is a
one-key mapping from a step name to its parameters, with a shorthand for the
main parameter and a bare name for steps without any:

    [{"pad": 2}, "lenet_scale", {"random_shift": 2}]
    == [{"pad": {"width": [2, 2], "value": 0.0}}, {"lenet_scale": {}},
        {"random_shift": {"max": 2, "fill": "edge", "value": 0.0}}]   # canonical form

`apply(x, steps)` is the one implementation, used for training, evaluation and
prediction: the canonical list is JSON, so it is stored with a trained model
(`to_json`/`from_json`) and prediction always repeats the training
preprocessing. Input: uint8 or float images, (N, H, W) or (N, H, W, C). Output:
float32 NHWC. Steps run in order, in the units the previous step left: pad
before lenet_scale pads raw pixels, so padding 0 becomes LeNet's background -0.1.

Augmentation steps (random_*, color_jitter) change images only when
training=True; at evaluation random_shift, random_flip and color_jitter do
nothing, random_crop takes the centre crop and random_resized_crop resizes and
takes the centre crop, so shapes agree. Put them last: the in-memory pipeline
applies the steps before the first augmentation once to the whole array and only
the rest to each batch.

Modules: params (checks), steps (the small-image steps), augment (their
augmentations), image (image-scale
steps: resize_shorter, random_resized_crop, color_jitter), tfops (the helpers of
the TensorFlow forms). `tf_apply(image, steps)` runs the same steps on one image
inside a tf.data map (the streamed path, cnn_zoo.data.files_pipeline); tests
check each step's two forms agree.
"""


from __future__ import annotations

import json
from typing import Iterable, Sequence

import numpy as np

from cnn_zoo.preprocess import tfops
from cnn_zoo.preprocess.augment import RandomCrop, RandomFlip, RandomShift
from cnn_zoo.preprocess.image import ColorJitter, RandomResizedCrop, ResizeShorter
from cnn_zoo.preprocess.checks import PreprocessError
from cnn_zoo.preprocess.steps import (LENET_BACKGROUND, LENET_INK, CenterCrop, ChannelOrder,
                                      Channels, LenetScale, Normalize, Pad, Rescale, Resize, _Step)

__all__ = ["LENET_BACKGROUND", "LENET_INK", "STEPS", "PreprocessError", "apply", "describe",
           "from_json", "input_shape_after", "is_augmentation", "normalize_steps", "short",
           "split_static", "tf_apply", "check_streamable", "to_json"]

STEPS: dict[str, type[_Step]] = {s.NAME: s for s in (
    Pad, LenetScale, Rescale, Normalize, Resize, Channels, ChannelOrder, CenterCrop,
    RandomShift, RandomFlip, RandomCrop, ResizeShorter, RandomResizedCrop, ColorJitter)}


# --------------------------------------------------------------------------- public API

def normalize_steps(steps: Iterable | None) -> list[dict[str, dict]]:
    """Validates steps and returns their canonical form: [{name: {param: value}}]."""
    if steps is None:
        return []
    if isinstance(steps, (str, dict)) or not isinstance(steps, Iterable):
        raise PreprocessError(f"preprocessing must be a list of steps. Received: preprocessing={steps!r}")
    out = []
    for i, entry in enumerate(steps):
        if isinstance(entry, str):
            name, value = entry, None
        elif isinstance(entry, dict) and len(entry) == 1:
            (name, value), = entry.items()
        else:
            raise PreprocessError(f"step {i} must be a step name or a one-key mapping "
                                  f"{{name: params}}. Received: {entry!r}")
        if name not in STEPS:
            raise PreprocessError(f"step {i}: unknown preprocessing step {name!r}; "
                                  f"available: {', '.join(STEPS)}")
        step = STEPS[name]
        if value is None or value is True or value == {}:
            params = {}
        elif isinstance(value, dict):
            params = dict(value)
        elif step.PRIMARY is not None:
            params = {step.PRIMARY: value}
        else:
            raise PreprocessError(f"{name} takes no parameters. Received: {name}={value!r}")
        unknown = sorted(set(params) - set(step.DEFAULTS))
        if unknown:
            allowed = ", ".join(step.DEFAULTS) or "none"
            raise PreprocessError(f"{name}: unknown parameter {unknown[0]!r}; allowed: {allowed}. "
                                  f"Received: {name}={value!r}")
        out.append({name: step.check({**step.DEFAULTS, **params})})
    return out


def _parsed(steps):
    for entry in normalize_steps(steps):
        (name, params), = entry.items()
        yield STEPS[name], params


def _hwc(raw_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(None if d is None else int(d) for d in raw_shape)  # None: varies (streamed)
    if len(shape) == 2:
        return (*shape, 1)
    if len(shape) == 3:
        return shape
    raise PreprocessError(f"An image shape is (H, W) or (H, W, C). Received: raw_shape={raw_shape}")


def input_shape_after(steps, raw_shape: Sequence[int]) -> tuple[int, int, int]:
    """Shape (H, W, C) of one image after the steps, e.g. (28, 28) -> (32, 32, 1)."""
    shape = _hwc(raw_shape)
    for step, params in _parsed(steps):
        try:
            shape = step.shape(shape, params)
        except TypeError:  # arithmetic on None: a step that needs to know the size
            raise PreprocessError(f"{step.NAME} needs images of one size, and these vary in size; "
                                  "put resize, resize_shorter or random_resized_crop before it") from None
    return shape


def describe(steps) -> list[str]:
    """One line per step, in order."""
    return [step.describe(params) for step, params in _parsed(steps)]


def short(steps) -> str:
    """One compact line for tables: every step's name, and an augmentation's main
    parameter, e.g. "rescale, normalize, random_shift 2, random_flip horizontal"."""
    parts = []
    for step, params in _parsed(steps):
        main = params.get(step.PRIMARY) if step.AUGMENT and step.PRIMARY else None
        parts.append(step.NAME if main is None else f"{step.NAME} {main}")
    return ", ".join(parts)


def is_augmentation(entry) -> bool:
    """True for a step that acts only when training (random_*)."""
    (name,) = normalize_steps([entry])[0]
    return STEPS[name].AUGMENT


def split_static(steps) -> tuple[list, list]:
    """(steps before the first augmentation, the rest): the first part can be
    applied once to a whole dataset, the second must run on every batch."""
    steps = normalize_steps(steps)
    first = next((i for i, s in enumerate(steps) if is_augmentation(s)), len(steps))
    return steps[:first], steps[first:]


def apply(x, steps, *, training: bool = False, rng=None) -> np.ndarray:
    """Applies steps to a batch. x: (N, H, W) or (N, H, W, C); returns float32 NHWC.

    training=True turns augmentation on; rng (a numpy Generator or a seed)
    makes it reproducible.
    """
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]  # (N, H, W) -> (N, H, W, 1)
    if x.ndim != 4:
        raise PreprocessError(f"apply expects a batch (N, H, W) or (N, H, W, C). Received: shape={x.shape}")
    parsed = list(_parsed(steps))
    input_shape_after(steps, x.shape[1:])  # checks every step against the shapes first
    x = x.astype(np.float32, copy=False)
    if training and any(step.AUGMENT for step, _ in parsed):
        rng = np.random.default_rng(rng)
    for step, params in parsed:
        x = step.apply(x, params, training, rng)
    return np.ascontiguousarray(x, dtype=np.float32)


def to_json(steps) -> str:
    """Canonical JSON, to store with a trained model."""
    return json.dumps(normalize_steps(steps))


def from_json(text: str) -> list[dict[str, dict]]:
    return normalize_steps(json.loads(text))


def tf_apply(image, steps, *, training: bool = False, seed=None, first: int = 0):
    """The steps on ONE image (H, W, C) in TensorFlow ops, inside a tf.data map: the
    streamed path. Each step's tf_apply repeats its NumPy apply; `seed` (a [2] int
    tensor) drives the augmentations with stateless random ops, step i with
    tf_seeds(seed, steps)[i]. `first`: skip the steps before it (a caller ran them,
    e.g. random_resized_crop fused with the JPEG decode)."""
    t = tfops.tf()
    parsed = list(_parsed(steps))
    check_streamable(steps)
    image = t.cast(image, t.float32)
    seeds = tf_seeds(seed, steps) if training else None
    for i, (step, params) in enumerate(parsed[first:], start=first):
        image = step.tf_apply(image, params, training, None if seeds is None else seeds[i])
    return image


def tf_seeds(seed, steps):
    """One stateless seed per step, from the image's seed."""
    return tfops.split(seed, max(len(normalize_steps(steps)), 1))


def check_streamable(steps) -> None:
    """A PreprocessError naming the first step without a TensorFlow form."""
    for step, _ in _parsed(steps):
        if not hasattr(step, "tf_apply"):
            have = ", ".join(n for n, s in STEPS.items() if hasattr(s, "tf_apply"))
            raise PreprocessError(f"{step.NAME} has no streamed (tf.data) form; streamed datasets "
                                  f"take: {have}. Or load the data in memory: dataset.stream: false")
