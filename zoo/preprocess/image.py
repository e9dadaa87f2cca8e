"""Image-scale steps (ImageNet-style photos of any size), each in NumPy and in TensorFlow.

- resize_shorter: the shorter side to `size`, the aspect ratio kept (torchvision's
  Resize(int): the longer side int(size * long / short)). antialias: true widens the
  bilinear kernel when shrinking, as PIL's resize (which torchvision's Resize calls on
  PIL images); the NumPy form then calls PIL itself (mode "F", no rounding).
- random_resized_crop: Szegedy et al. 2014, §6: "patches whose size is distributed
  evenly between 8% and 100% of the image area, with aspect ratio constrained to
  [3/4, 4/3]", resized to `size`; torchvision's RandomResizedCrop (10 tries, then
  the largest centred crop within the ratio range). At evaluation: resize the
  shorter side to size / eval_crop, then the centre crop (0.875: 256 -> 224).
- color_jitter: the photometric distortions the paper took from Howard 2013
  (brightness, contrast and colour, each by a random factor in [1 - d, 1 + d];
  Howard draws d = 0.5), in pixel units 0..255, so put it before rescale and
  normalize. Hue is not offered (neither paper gives a hue range).

The NumPy forms loop over a batch (images of one size, the in-memory path); the
TensorFlow forms run on one image inside a tf.data map (the streamed path). Both
draw the same distributions; given the same draw they give the same pixels
(tests/test_preprocess_tf.py).
"""

from __future__ import annotations

import math

import numpy as np

from cnn_zoo.preprocess import tfops
from cnn_zoo.preprocess.checks import PreprocessError, _choice, _int, _num, _pair
from cnn_zoo.preprocess.steps import _LUMA, _resize, _Step


def _range(v, key, lo, hi=math.inf):
    if (isinstance(v, (list, tuple)) and len(v) == 2 and lo <= _num(v[0], key) <= _num(v[1], key) <= hi):
        return [float(v[0]), float(v[1])]
    raise PreprocessError(f"{key} must be [low, high] with {lo} <= low <= high <= {hi}. Received: {key}={v!r}")


def shorter_side_size(h, w, size):
    """(h', w') with min(h', w') = size, as torchvision: the longer side truncated."""
    if h <= w:
        return size, int(size * w / h)
    return int(size * h / w), size


def resize_antialiased(x, h, w):
    """(N, H, W, C) float -> (N, h, w, C) by PIL's bilinear resize (antialiased), channel by channel."""
    from PIL import Image  # Pillow: only where images are resized

    if x.shape[1:3] == (h, w):
        return x
    out = np.empty((len(x), h, w, x.shape[3]), np.float32)
    for i, img in enumerate(x):
        for c in range(x.shape[3]):
            out[i, :, :, c] = np.asarray(Image.fromarray(np.ascontiguousarray(img[:, :, c], np.float32), "F")
                                         .resize((w, h), Image.Resampling.BILINEAR))
    return out


class ResizeShorter(_Step):
    NAME, PRIMARY = "resize_shorter", "size"
    DEFAULTS = {"size": None, "method": "bilinear", "antialias": False}

    @staticmethod
    def check(p):
        if p["size"] is None:
            raise PreprocessError("resize_shorter needs size (pixels). Received: resize_shorter={}")
        method = _choice(p["method"], "resize_shorter.method", ("bilinear", "nearest"))
        antialias = p.get("antialias", False)
        if not isinstance(antialias, bool):
            raise PreprocessError(f"resize_shorter.antialias must be true or false. "
                                  f"Received: resize_shorter.antialias={antialias!r}")
        if antialias and method != "bilinear":
            raise PreprocessError("resize_shorter.antialias needs method: bilinear. "
                                  f"Received: resize_shorter.method={method!r}")
        return {"size": _int(p["size"], "resize_shorter.size", lo=1), "method": method,
                "antialias": antialias}

    @staticmethod
    def shape(s, p):
        if s[0] is None or s[1] is None:
            return (None, None, s[2])
        return (*shorter_side_size(s[0], s[1], p["size"]), s[2])

    @staticmethod
    def apply(x, p, training, rng):
        size = shorter_side_size(*x.shape[1:3], p["size"])
        if p.get("antialias"):
            return resize_antialiased(x, *size)
        return _resize(x, *size, p["method"])

    @staticmethod
    def tf_apply(img, p, training, seed):
        t = tfops.tf()
        hw = t.cast(t.shape(img)[:2], t.float32)
        short = t.reduce_min(hw)
        # int() truncation, as shorter_side_size; the shorter side exactly size.
        new = t.cast(t.floor(p["size"] * hw / short + 1e-4), t.int32)
        new = t.where(hw == short, p["size"], new)
        return tfops.resize(img, new[0], new[1], p["method"], antialias=p.get("antialias", False))

    @staticmethod
    def describe(p):
        return (f"resize_shorter: the shorter side to {p['size']} px, aspect ratio kept, {p['method']}"
                + (", antialiased (as PIL and torchvision)" if p.get("antialias") else ""))


class RandomResizedCrop(_Step):
    NAME, PRIMARY, AUGMENT = "random_resized_crop", "size", True
    DEFAULTS = {"size": None, "scale": [0.08, 1.0], "ratio": [3 / 4, 4 / 3], "eval_crop": 0.875}
    TRIES = 10  # torchvision's

    @staticmethod
    def check(p):
        if p["size"] is None:
            raise PreprocessError("random_resized_crop needs size: [height, width]. Received: {}")
        eval_crop = _num(p["eval_crop"], "random_resized_crop.eval_crop")
        if not 0 < eval_crop <= 1:
            raise PreprocessError("random_resized_crop.eval_crop must lie in (0, 1]. "
                                  f"Received: random_resized_crop.eval_crop={eval_crop}")
        return {"size": _pair(p["size"], "random_resized_crop.size", lo=1),
                "scale": _range(p["scale"], "random_resized_crop.scale", 1e-6, 1.0),
                "ratio": _range(p["ratio"], "random_resized_crop.ratio", 1e-6),
                "eval_crop": eval_crop}

    @staticmethod
    def shape(s, p):
        return (*p["size"], s[2])

    @staticmethod
    def eval_resize(p):
        return int(round(min(p["size"]) / p["eval_crop"]))

    @staticmethod
    def box(H, W, p, u):
        """The crop (top, left, h, w) from uniforms u of shape (TRIES, 4): torchvision's rule."""
        area, (s0, s1), (r0, r1) = H * W, p["scale"], p["ratio"]
        for a, b, c, d in u:
            target = area * (s0 + (s1 - s0) * a)
            aspect = math.exp(math.log(r0) + (math.log(r1) - math.log(r0)) * b)
            w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
            if 0 < w <= W and 0 < h <= H:
                return int(c * (H - h + 1)), int(d * (W - w + 1)), h, w
        ratio = W / H
        if ratio < r0:
            w, h = W, int(round(W / r0))
        elif ratio > r1:
            h, w = H, int(round(H * r1))
        else:
            h, w = H, W
        return (H - h) // 2, (W - w) // 2, h, w

    @classmethod
    def apply(cls, x, p, training, rng):
        if not training:
            x = ResizeShorter.apply(x, {"size": cls.eval_resize(p), "method": "bilinear"}, False, None)
            return _center(x, *p["size"])
        H, W = x.shape[1:3]
        out = []
        for img in x:
            top, left, h, w = cls.box(H, W, p, rng.random((cls.TRIES, 4)))
            out.append(_resize(img[None, top:top + h, left:left + w], *p["size"], "bilinear")[0])
        return np.stack(out) if out else np.zeros((0, *p["size"], x.shape[3]), np.float32)

    @classmethod
    def tf_box(cls, H, W, p, u):
        """box() in TensorFlow ops: the first of the tries that fits, else the fallback."""
        t = tfops.tf()
        H, W = t.cast(H, t.float32), t.cast(W, t.float32)
        (s0, s1), (r0, r1) = p["scale"], p["ratio"]
        target = H * W * (s0 + (s1 - s0) * u[:, 0])
        aspect = t.exp(math.log(r0) + (math.log(r1) - math.log(r0)) * u[:, 1])
        w, h = t.round(t.sqrt(target * aspect)), t.round(t.sqrt(target / aspect))
        ok = (w > 0) & (w <= W) & (h > 0) & (h <= H)
        first = t.argmax(t.cast(ok, t.int32))
        ratio = W / H
        fw = t.where(ratio < r0, W, t.where(ratio > r1, t.round(H * r1), W))
        fh = t.where(ratio < r0, t.round(W / r0), H)
        h = t.where(t.reduce_any(ok), h[first], fh)
        w = t.where(t.reduce_any(ok), w[first], fw)
        top = t.where(t.reduce_any(ok), t.floor(u[first, 2] * (H - h + 1)), t.floor((H - h) / 2))
        left = t.where(t.reduce_any(ok), t.floor(u[first, 3] * (W - w + 1)), t.floor((W - w) / 2))
        return [t.cast(v, t.int32) for v in (top, left, h, w)]

    @classmethod
    def tf_apply(cls, img, p, training, seed):
        if not training:
            img = ResizeShorter.tf_apply(img, {"size": cls.eval_resize(p), "method": "bilinear"},
                                         False, None)
            return tfops.center_crop(img, *p["size"])
        t = tfops.tf()
        shape = t.shape(img)
        top, left, h, w = cls.tf_box(shape[0], shape[1], p, tfops.uniform(seed, (cls.TRIES, 4)))
        return tfops.resize(img[top:top + h, left:left + w], *p["size"])

    @classmethod
    def tf_decode_crop(cls, raw, p, seed, channels):
        """tf_apply(decode(raw)) for a JPEG in training, decoding only the crop's window
        (tf.io.decode_and_crop_jpeg): the same box from the same seed, less work."""
        t = tfops.tf()
        hw = t.io.extract_jpeg_shape(raw)
        top, left, h, w = cls.tf_box(hw[0], hw[1], p, tfops.uniform(seed, (cls.TRIES, 4)))
        img = t.io.decode_and_crop_jpeg(raw, t.stack([top, left, h, w]), channels=channels,
                                        dct_method=tfops.DCT)
        return tfops.resize(t.cast(img, t.float32), *p["size"])

    @staticmethod
    def describe(p):
        (h, w), (s0, s1), (r0, r1) = p["size"], p["scale"], p["ratio"]
        return (f"random_resized_crop: training only, a crop of {s0:g}-{s1:g} of the area with aspect "
                f"ratio {r0:.3g}-{r1:.3g}, resized to {h}x{w}; at evaluation the shorter side to "
                f"{RandomResizedCrop.eval_resize(p)} and the centre {h}x{w}")


def _center(x, h, w):
    H, W = x.shape[1:3]
    top, left = (H - h) // 2, (W - w) // 2
    return x[:, top:top + h, left:left + w]


class ColorJitter(_Step):
    NAME, AUGMENT = "color_jitter", True
    DEFAULTS = {"brightness": 0.5, "contrast": 0.5, "saturation": 0.5}  # Howard 2013's range

    @staticmethod
    def check(p):
        out = {}
        for k in ColorJitter.DEFAULTS:
            v = _num(p[k], f"color_jitter.{k}")
            if not 0 <= v < 1:
                raise PreprocessError(f"color_jitter.{k} must lie in [0, 1). Received: color_jitter.{k}={v}")
            out[k] = v
        return out

    @staticmethod
    def shape(s, p):
        if s[2] != 3 and p["saturation"]:
            raise PreprocessError(f"color_jitter.saturation needs RGB images. Received: {s[2]} channels")
        return s

    @staticmethod
    def factors(p, u):
        """(brightness, contrast, saturation) factors from 3 uniforms in [0, 1)."""
        return [1 - p[k] + 2 * p[k] * u[..., i] for i, k in enumerate(ColorJitter.DEFAULTS)]

    @staticmethod
    def jitter(img, fb, fc, fs, ops):
        """One definition for both forms: ops is numpy or tfops' tf with luma/mean/clip."""
        img = ops.clip(img * fb, 0.0, 255.0)
        img = ops.clip((img - ops.mean(ops.luma(img))) * fc + ops.mean(ops.luma(img)), 0.0, 255.0)
        if img.shape[-1] == 3:
            gray = ops.luma(img)
            img = ops.clip((img - gray) * fs + gray, 0.0, 255.0)
        return img

    @classmethod
    def apply(cls, x, p, training, rng):
        if not training:
            return x
        fb, fc, fs = cls.factors(p, rng.random((len(x), 3)).astype(np.float32))
        return np.stack([cls.jitter(img, b, c, s, _NumpyOps) for img, b, c, s in zip(x, fb, fc, fs)]
                        ) if len(x) else x

    @classmethod
    def tf_apply(cls, img, p, training, seed):
        if not training:
            return img
        fb, fc, fs = cls.factors(p, tfops.uniform(seed, (3,)))
        return cls.jitter(img, fb, fc, fs, _TfOps())

    @staticmethod
    def describe(p):
        return ("color_jitter: training only, brightness, contrast and saturation each scaled by a "
                f"random factor within ±{p['brightness']:g}, ±{p['contrast']:g}, ±{p['saturation']:g} "
                "(Howard 2013), clipped to 0..255")


class _NumpyOps:
    clip = staticmethod(np.clip)
    mean = staticmethod(lambda v: np.float32(v.mean()))

    @staticmethod
    def luma(img):
        return (img @ np.asarray(_LUMA, np.float32))[..., None] if img.shape[-1] == 3 else img


class _TfOps:
    def __init__(self):
        t = tfops.tf()
        self.clip, self.mean = t.clip_by_value, t.reduce_mean

    @staticmethod
    def luma(img):
        return tfops.luma(img) if img.shape[-1] == 3 else img
