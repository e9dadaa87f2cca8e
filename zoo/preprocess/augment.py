"""The augmentations of small images (training only): random_shift, random_flip, random_crop,
in NumPy (a batch) and TensorFlow (one image, tf_apply)."""

from __future__ import annotations

import numpy as np

from cnn_zoo.preprocess import tfops
from cnn_zoo.preprocess.checks import PreprocessError, _choice, _int, _num, _pair
from cnn_zoo.preprocess.steps import _crop_shape, _random_crop, _Step


class RandomShift(_Step):
    NAME, PRIMARY, AUGMENT = "random_shift", "max", True
    DEFAULTS = {"max": 2, "fill": "edge", "value": 0.0}

    @staticmethod
    def check(p):
        return {"max": _int(p["max"], "random_shift.max", lo=1),
                "fill": _choice(p["fill"], "random_shift.fill", ("edge", "constant")),
                "value": _num(p["value"], "random_shift.value")}

    @staticmethod
    def apply(x, p, training, rng):
        if not training:
            return x
        # A shift by (dy, dx) = a crop of the original size from the padded image.
        return _random_crop(x, x.shape[1:3], p["max"], p["fill"], p["value"], True, rng)

    @staticmethod
    def describe(p):
        fill = "edge pixels" if p["fill"] == "edge" else f"value {p['value']:g}"
        return (f"random_shift: training only, move each image by up to {p['max']} px in each "
                f"direction, filling with {fill}")


class RandomFlip(_Step):
    NAME, PRIMARY, AUGMENT = "random_flip", "mode", True
    DEFAULTS = {"mode": "horizontal"}

    @staticmethod
    def check(p):
        return {"mode": _choice(p["mode"], "random_flip.mode", ("horizontal", "vertical", "both"))}

    @staticmethod
    def apply(x, p, training, rng):
        if not training:
            return x
        x = x.copy()
        for axis, mode in ((2, "horizontal"), (1, "vertical")):
            if p["mode"] in (mode, "both"):
                flip = rng.random(len(x)) < 0.5
                x[flip] = np.flip(x[flip], axis=axis)
        return x

    @staticmethod
    def tf_apply(img, p, training, seed):
        if not training:
            return img
        t = tfops.tf()
        u = tfops.uniform(seed, (2,))
        if p["mode"] in ("horizontal", "both"):
            img = t.cond(u[0] < 0.5, lambda: t.reverse(img, [1]), lambda: img)
        if p["mode"] in ("vertical", "both"):
            img = t.cond(u[1] < 0.5, lambda: t.reverse(img, [0]), lambda: img)
        return img

    @staticmethod
    def describe(p):
        return f"random_flip: training only, {p['mode']} flips, each with probability 0.5"


class RandomCrop(_Step):
    NAME, PRIMARY, AUGMENT = "random_crop", "size", True
    DEFAULTS = {"size": None, "padding": 0, "fill": "constant", "value": 0.0}

    @staticmethod
    def check(p):
        if p["size"] is None:
            raise PreprocessError("random_crop needs size: [height, width]. Received: random_crop={}")
        return {"size": _pair(p["size"], "random_crop.size", lo=1),
                "padding": _int(p["padding"], "random_crop.padding"),
                "fill": _choice(p["fill"], "random_crop.fill", ("edge", "constant")),
                "value": _num(p["value"], "random_crop.value")}

    @staticmethod
    def shape(s, p):
        return _crop_shape(s, p["size"], p["padding"], "random_crop")

    @staticmethod
    def apply(x, p, training, rng):
        return _random_crop(x, p["size"], p["padding"], p["fill"], p["value"], training, rng)

    @staticmethod
    def tf_apply(img, p, training, seed):
        t = tfops.tf()
        pad, (h, w) = p["padding"], p["size"]
        if pad:
            mode = "SYMMETRIC" if p["fill"] == "edge" else "CONSTANT"
            if mode == "SYMMETRIC" and pad > 1:
                raise PreprocessError("random_crop with fill: edge streams only with padding <= 1; "
                                      f"use fill: constant. Received: random_crop.padding={pad}")
            img = t.pad(img, [[pad, pad], [pad, pad], [0, 0]], mode=mode,
                        constant_values=p["value"] if mode == "CONSTANT" else 0)
        if not training:
            return tfops.center_crop(img, h, w)
        shape = t.shape(img)
        u = tfops.uniform(seed, (2,))
        top = t.cast(u[0] * t.cast(shape[0] - h + 1, t.float32), t.int32)
        left = t.cast(u[1] * t.cast(shape[1] - w + 1, t.float32), t.int32)
        return img[top:top + h, left:left + w]

    @staticmethod
    def describe(p):
        pad = f"pad {p['padding']} px, then " if p["padding"] else ""
        return (f"random_crop: training only, {pad}crop {p['size'][0]}x{p['size'][1]} at a random "
                "place (the centre crop at evaluation)")
