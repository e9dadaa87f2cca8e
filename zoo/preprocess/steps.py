"""The preprocessing steps of small images (and the shared array helpers), in NumPy.

Each step: NAME, PRIMARY (the parameter a shorthand value fills), DEFAULTS
(None = required), check(p) -> p, shape(hwc, p) -> hwc, apply(x, p, training,
rng) on a batch, describe(p) -> str. Steps that can run on one image inside a
tf.data map also have tf_apply(image, p, training, seed) (cnn_zoo.preprocess.tfops):
the streamed path calls the same objects. AUGMENT steps act only when training.
"""

from __future__ import annotations

import numpy as np

from cnn_zoo.preprocess import tfops
from cnn_zoo.preprocess.checks import (PreprocessError, _choice, _num, _pair,
                                       _scalar_or_list)


# LeCun et al. 1998, Appendix A: background (white) -0.1, ink (black) 1.175,
# so that the input has mean about 0 and variance about 1. MNIST stores
# background 0 and ink 255, hence x/255*1.275 - 0.1.
LENET_BACKGROUND = -0.1
LENET_INK = 1.175  # = 255/255*1.275 - 0.1
LENET_SCALE = 1.275 / 255  # per unit of MNIST's 0..255


def lenet_scale(x):
    """LeCun 1998's input range, x/255*1.275 - 0.1, on a NumPy array, a tf tensor or a Keras tensor
    (every form of the lenet_scale step computes this one expression)."""
    return x * LENET_SCALE + LENET_BACKGROUND
_CHUNK = 8192  # images per chunk of float64 arithmetic (bounds temporary memory)
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as PIL's convert("L")


# --------------------------------------------------------------------------- array helpers

def _in_float64(x, fn) -> np.ndarray:
    """fn(x) computed in float64 and rounded once to float32, so that LeNet's
    -0.1 and 1.175 come out as the nearest float32 values."""
    out = np.empty(x.shape, np.float32)
    for i in range(0, len(x), _CHUNK):
        out[i:i + _CHUNK] = fn(x[i:i + _CHUNK].astype(np.float64))
    return out


def _pad(x, ph, pw, fill, value):
    widths = ((0, 0), (ph, ph), (pw, pw), (0, 0))
    if fill == "edge":
        return np.pad(x, widths, mode="edge")
    return np.pad(x, widths, constant_values=value)


def _crop_each(x, oy, ox, h, w):
    """Crops image b of x at (oy[b], ox[b]) to h x w, all at once."""
    rows = oy[:, None] + np.arange(h)  # (B, h)
    cols = ox[:, None] + np.arange(w)  # (B, w)
    return x[np.arange(len(x))[:, None, None], rows[:, :, None], cols[:, None, :]]


def _resize(x, h, w, method):
    """Resizes (N, H, W, C) with half-pixel centres (as tf.image.resize, no antialias)."""
    H, W = x.shape[1:3]
    if (H, W) == (h, w):
        return x

    def coords(n_out, n_in):
        src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        if method == "nearest":
            return np.clip(np.floor(src + 0.5).astype(int), 0, n_in - 1)
        src = np.clip(src, 0, n_in - 1)
        i0 = np.floor(src).astype(int)
        return i0, np.minimum(i0 + 1, n_in - 1), (src - i0).astype(np.float32)

    if method == "nearest":
        return x[:, coords(h, H)][:, :, coords(w, W)]
    y0, y1, wy = coords(h, H)
    x0, x1, wx = coords(w, W)
    rows = x[:, y0] * (1 - wy)[None, :, None, None] + x[:, y1] * wy[None, :, None, None]
    return rows[:, :, x0] * (1 - wx)[None, None, :, None] + rows[:, :, x1] * wx[None, None, :, None]


# --------------------------------------------------------------------------- steps
# Each step: NAME, PRIMARY (the parameter a shorthand value fills), DEFAULTS
# (None = required), check(p) -> p, shape(hwc, p) -> hwc, apply(x, p, training, rng),
# describe(p) -> str. AUGMENT steps act only when training.

class _Step:
    NAME = ""
    PRIMARY: str | None = None
    DEFAULTS: dict = {}
    AUGMENT = False

    @staticmethod
    def check(p):
        return p

    @staticmethod
    def shape(s, p):
        return s


class Pad(_Step):
    NAME, PRIMARY, DEFAULTS = "pad", "width", {"width": 2, "value": 0.0}

    @staticmethod
    def check(p):
        return {"width": _pair(p["width"], "pad.width"), "value": _num(p["value"], "pad.value")}

    @staticmethod
    def shape(s, p):
        return (s[0] + 2 * p["width"][0], s[1] + 2 * p["width"][1], s[2])

    @staticmethod
    def apply(x, p, training, rng):
        return _pad(x, *p["width"], "constant", p["value"])

    @staticmethod
    def tf_apply(img, p, training, seed):
        (h, w) = p["width"]
        return tfops.tf().pad(img, [[h, h], [w, w], [0, 0]], constant_values=p["value"])

    @staticmethod
    def describe(p):
        (h, w), v = p["width"], p["value"]
        return f"pad: {h} px top and bottom, {w} px left and right, with value {v:g}"


class LenetScale(_Step):
    NAME = "lenet_scale"

    @staticmethod
    def apply(x, p, training, rng):
        return _in_float64(x, lenet_scale)

    @staticmethod
    def tf_apply(img, p, training, seed):
        return lenet_scale(img)

    @staticmethod
    def describe(p):
        return (f"lenet_scale: x/255*1.275 - 0.1 (LeCun 1998: background 0 -> {LENET_BACKGROUND}, "
                f"ink 255 -> {LENET_INK})")


class Rescale(_Step):
    NAME, PRIMARY, DEFAULTS = "rescale", "scale", {"scale": 1 / 255, "offset": 0.0}

    @staticmethod
    def check(p):
        return {"scale": _num(p["scale"], "rescale.scale"), "offset": _num(p["offset"], "rescale.offset")}

    @staticmethod
    def apply(x, p, training, rng):
        return _in_float64(x, lambda v: v * p["scale"] + p["offset"])

    @staticmethod
    def tf_apply(img, p, training, seed):
        return img * p["scale"] + p["offset"]

    @staticmethod
    def describe(p):
        return f"rescale: x*{p['scale']:.6g} + {p['offset']:g}"


class Normalize(_Step):
    NAME, DEFAULTS = "normalize", {"mean": None, "std": None}

    @staticmethod
    def check(p):
        if p["mean"] is None or p["std"] is None:
            raise PreprocessError("normalize needs both mean and std (a number or one per channel). "
                                  f"Received: normalize={p}")
        return {"mean": _scalar_or_list(p["mean"], "normalize.mean"),
                "std": _scalar_or_list(p["std"], "normalize.std", positive=True)}

    @staticmethod
    def shape(s, p):
        for k in ("mean", "std"):
            if isinstance(p[k], list) and len(p[k]) not in (1, s[2]):
                raise PreprocessError(f"normalize.{k} has {len(p[k])} values for images with "
                                      f"{s[2]} channels. Received: normalize.{k}={p[k]}")
        return s

    @staticmethod
    def apply(x, p, training, rng):
        mean, std = np.asarray(p["mean"], np.float64), np.asarray(p["std"], np.float64)
        return _in_float64(x, lambda v: (v - mean) / std)

    @staticmethod
    def tf_apply(img, p, training, seed):
        t = tfops.tf()
        return (img - t.constant(p["mean"], t.float32)) / t.constant(p["std"], t.float32)

    @staticmethod
    def describe(p):
        return f"normalize: (x - mean) / std with mean={p['mean']}, std={p['std']}"


class Resize(_Step):
    NAME, PRIMARY, DEFAULTS = "resize", "size", {"size": None, "method": "bilinear"}

    @staticmethod
    def check(p):
        if p["size"] is None:
            raise PreprocessError("resize needs size: [height, width]. Received: resize={}")
        return {"size": _pair(p["size"], "resize.size", lo=1),
                "method": _choice(p["method"], "resize.method", ("bilinear", "nearest"))}

    @staticmethod
    def shape(s, p):
        return (*p["size"], s[2])

    @staticmethod
    def apply(x, p, training, rng):
        return _resize(x, *p["size"], p["method"])

    @staticmethod
    def tf_apply(img, p, training, seed):
        return tfops.resize(img, *p["size"], p["method"])

    @staticmethod
    def describe(p):
        return f"resize: to {p['size'][0]}x{p['size'][1]}, {p['method']} (half-pixel centres)"


class Channels(_Step):
    NAME, PRIMARY, DEFAULTS = "channels", "count", {"count": None}

    @staticmethod
    def check(p):
        return {"count": _choice(p["count"], "channels.count", (1, 3))}

    @staticmethod
    def shape(s, p):
        if s[2] != p["count"] and s[2] not in (1, 3):
            raise PreprocessError(f"channels can convert between 1 and 3 channels only. "
                                  f"Received: images with {s[2]} channels, channels.count={p['count']}")
        return (s[0], s[1], p["count"])

    @staticmethod
    def apply(x, p, training, rng):
        c = x.shape[-1]
        if c == p["count"]:
            return x
        if c == 1:
            return np.repeat(x, p["count"], axis=-1)
        return (x @ np.asarray(_LUMA, np.float32))[..., None]

    @staticmethod
    def tf_apply(img, p, training, seed):
        c = img.shape[-1]
        if c == p["count"]:
            return img
        if c == 1:
            return tfops.tf().repeat(img, p["count"], axis=-1)
        return tfops.luma(img)

    @staticmethod
    def describe(p):
        return (f"channels: to {p['count']} (grey repeated to RGB; RGB to grey by "
                "ITU-R BT.601 luma; same count unchanged)")


class ChannelOrder(_Step):
    """RGB images (as read) to the channel order a model was trained on: Caffe's models take BGR."""
    NAME, PRIMARY, DEFAULTS = "channel_order", "order", {"order": None}

    @staticmethod
    def check(p):
        return {"order": _choice(p["order"], "channel_order.order", ("rgb", "bgr"))}

    @staticmethod
    def shape(s, p):
        if s[2] != 3:
            raise PreprocessError(f"channel_order needs RGB images (3 channels). Received: {s[2]} channels")
        return s

    @staticmethod
    def apply(x, p, training, rng):
        return x if p["order"] == "rgb" else x[..., ::-1]

    @staticmethod
    def tf_apply(img, p, training, seed):
        return img if p["order"] == "rgb" else img[..., ::-1]

    @staticmethod
    def describe(p):
        return "channel_order: RGB kept" if p["order"] == "rgb" else "channel_order: RGB to BGR (as Caffe)"


class CenterCrop(_Step):
    NAME, PRIMARY, DEFAULTS = "center_crop", "size", {"size": None}

    @staticmethod
    def check(p):
        if p["size"] is None:
            raise PreprocessError("center_crop needs size: [height, width]. Received: center_crop={}")
        return {"size": _pair(p["size"], "center_crop.size", lo=1)}

    @staticmethod
    def shape(s, p):
        return _crop_shape(s, p["size"], 0, "center_crop")

    @staticmethod
    def apply(x, p, training, rng):
        return _random_crop(x, p["size"], 0, "constant", 0.0, False, rng)

    @staticmethod
    def tf_apply(img, p, training, seed):
        return tfops.center_crop(img, *p["size"])

    @staticmethod
    def describe(p):
        return f"center_crop: to {p['size'][0]}x{p['size'][1]}"


def _crop_shape(s, size, padding, name):
    if s[0] is None or s[1] is None:  # sizes vary (a streamed dataset): checked per image
        return (size[0], size[1], s[2])
    if size[0] > s[0] + 2 * padding or size[1] > s[1] + 2 * padding:
        raise PreprocessError(f"{name}.size {size} is larger than the (padded) image "
                              f"{s[0] + 2 * padding}x{s[1] + 2 * padding}. Received: {name}.size={size}")
    return (size[0], size[1], s[2])


def _random_crop(x, size, padding, fill, value, training, rng):
    if padding:
        x = _pad(x, padding, padding, fill, value)
    (h, w), (H, W) = size, x.shape[1:3]
    if training:
        oy = rng.integers(0, H - h + 1, size=len(x))
        ox = rng.integers(0, W - w + 1, size=len(x))
        return _crop_each(x, oy, ox, h, w)
    top, left = (H - h) // 2, (W - w) // 2
    return x[:, top:top + h, left:left + w]
