"""The evaluation-time preprocessing of zoo/preprocess.py as one Keras layer (keras.ops only).

    layer = PreprocessingLayer(info.preprocessing["steps"], info.preprocessing["raw_shape"])
    x = layer(uint8_images)          # (N, H, W[, C]) raw -> float32 NHWC, as preprocess.apply(training=False)

It puts a model's own preprocessing inside the graph, so an exported file takes raw
uint8 images. The steps are the same canonical data (preprocess.normalize_steps);
preprocess.apply stays the NumPy reference the tests compare against.
Augmentation steps do what they do at evaluation: random_shift and random_flip
nothing, random_crop the centre crop (after its padding).
"""

from __future__ import annotations

import keras
from keras import ops

from cnn_zoo import preprocess

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as preprocess's channels step (the tests compare the two)


def _pad_edge(x, top, bottom, left, right):
    """Edge padding by concatenating repeated border rows/columns (every runtime has concat)."""
    parts = []
    if top:
        parts.append(ops.repeat(x[:, :1], top, axis=1))
    parts.append(x)
    if bottom:
        parts.append(ops.repeat(x[:, -1:], bottom, axis=1))
    x = ops.concatenate(parts, axis=1) if len(parts) > 1 else x
    parts = []
    if left:
        parts.append(ops.repeat(x[:, :, :1], left, axis=2))
    parts.append(x)
    if right:
        parts.append(ops.repeat(x[:, :, -1:], right, axis=2))
    return ops.concatenate(parts, axis=2) if len(parts) > 1 else x


def _pad(x, ph, pw, fill, value):
    if not (ph or pw):
        return x
    if fill == "edge":
        return _pad_edge(x, ph, ph, pw, pw)
    return ops.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=value)


def _center_crop(x, hw, size, padding, fill, value):
    """preprocess._random_crop at evaluation: pad, then the centre crop; pads only what the crop reaches."""
    (h, w), (H, W) = size, (hw[0] + 2 * padding, hw[1] + 2 * padding)
    top, left = (H - h) // 2 - padding, (W - w) // 2 - padding  # in the unpadded image
    pad_t, pad_l = max(0, -top), max(0, -left)
    pad_b, pad_r = max(0, top + h - hw[0]), max(0, left + w - hw[1])
    if pad_t or pad_b or pad_l or pad_r:
        if fill == "edge":
            x = _pad_edge(x, pad_t, pad_b, pad_l, pad_r)
        else:
            x = ops.pad(x, ((0, 0), (pad_t, pad_b), (pad_l, pad_r), (0, 0)), constant_values=value)
        top, left = top + pad_t, left + pad_l
    return x[:, top:top + h, left:left + w]


class PreprocessingLayer(keras.layers.Layer):
    """Raw images (uint8 or float, (N, H, W) or (N, H, W, C) of ``raw_shape``) -> the model's float32 input."""

    def __init__(self, steps, raw_shape, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.steps = preprocess.normalize_steps(steps)
        self.raw_shape = preprocess.input_shape_after([], raw_shape)  # (H, W) -> (H, W, 1)
        # Checks every step against the shapes now, as keras validates in __init__.
        self.output_hwc = preprocess.input_shape_after(self.steps, self.raw_shape)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        if len(x.shape) == 3:
            x = ops.expand_dims(x, -1)
        hwc = self.raw_shape
        for entry in self.steps:
            (name, p), = entry.items()
            x = self._step(x, name, p, hwc)
            hwc = preprocess.STEPS[name].shape(hwc, p)
        return x

    @staticmethod
    def _step(x, name, p, hwc):
        if name == "pad":
            return _pad(x, *p["width"], "constant", p["value"])
        if name == "lenet_scale":
            return x * (1.275 / 255) - 0.1
        if name == "rescale":
            return x * p["scale"] + p["offset"]
        if name == "normalize":
            mean = ops.convert_to_tensor(p["mean"], "float32")
            std = ops.convert_to_tensor(p["std"], "float32")
            return (x - mean) / std
        if name == "resize":
            return ops.image.resize(x, tuple(p["size"]), interpolation=p["method"], antialias=False,
                                    data_format="channels_last")
        if name == "channels":
            if hwc[2] == p["count"]:
                return x
            if hwc[2] == 1:
                return ops.repeat(x, p["count"], axis=-1)
            luma = ops.convert_to_tensor(list(_LUMA), "float32")
            return ops.expand_dims(ops.tensordot(x, luma, axes=1), -1)
        if name == "channel_order":
            return x if p["order"] == "rgb" else ops.flip(x, axis=-1)
        if name == "center_crop":
            return _center_crop(x, hwc, p["size"], 0, "constant", 0.0)
        if name == "random_crop":
            return _center_crop(x, hwc, p["size"], p["padding"], p["fill"], p["value"])
        if name in ("random_shift", "random_flip"):
            return x  # augmentation: nothing at evaluation
        raise ValueError(f"PreprocessingLayer has no implementation of step {name!r}")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_hwc)

    def get_config(self):
        return {**super().get_config(), "steps": self.steps, "raw_shape": list(self.raw_shape)}


keras.saving.register_keras_serializable(package="cnn_zoo")(PreprocessingLayer)
