"""The evaluation-time preprocessing of cnn_zoo.preprocess as one Keras layer (keras.ops only).

    layer = PreprocessingLayer(info.preprocessing["steps"], info.preprocessing["raw_shape"])
    x = layer(uint8_images)          # (N, H, W[, C]) raw -> float32 NHWC, as preprocess.apply(training=False)

It puts a model's own preprocessing inside the graph, so an exported file takes raw
uint8 images. The steps are the same canonical data (preprocess.normalize_steps);
preprocess.apply stays the NumPy reference the tests compare against.
Augmentation steps do what they do at evaluation: random_shift, random_flip and
color_jitter nothing, random_crop the centre crop (after its padding),
random_resized_crop the shorter side to size / eval_crop and the centre crop.
resize_shorter takes images of any height and width (raw_shape [null, null, C]).
"""

from __future__ import annotations

import keras
from keras import ops

from cnn_zoo import preprocess
from cnn_zoo.preprocess import steps
from cnn_zoo.preprocess.augment import RandomCrop, RandomFlip, RandomShift
from cnn_zoo.preprocess.image import ColorJitter, RandomResizedCrop, ResizeShorter, shorter_side_size


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


def _weights(n_in, n_out, antialias):
    """(n_out, n_in) bilinear weights, half-pixel centres: the triangle kernel at (i + 0.5) * n_in / n_out,
    widened by the scale when shrinking with antialias (PIL's rule), each row normalised (which at the
    borders equals steps._resize's clamping). Sizes may be tensors (free height/width in a graph)."""
    scale = ops.cast(n_in, "float32") / ops.cast(n_out, "float32")
    width = ops.maximum(scale, 1.0) if antialias else 1.0
    centre = (ops.cast(ops.arange(n_out), "float32") + 0.5) * scale
    j = ops.cast(ops.arange(n_in), "float32") + 0.5
    w = ops.relu(1.0 - ops.abs(j[None, :] - centre[:, None]) / width)
    return w / ops.sum(w, axis=1, keepdims=True)


def _nearest(n_in, n_out):
    """(n_out, n_in) one-hot rows: steps._resize's nearest source pixel."""
    src = (ops.cast(ops.arange(n_out), "float32") + 0.5) * (ops.cast(n_in, "float32") / ops.cast(n_out, "float32"))
    idx = ops.clip(ops.floor(src), 0.0, ops.cast(n_in, "float32") - 1.0)  # floor(src - 0.5 + 0.5)
    return ops.cast(ops.cast(ops.arange(n_in), "float32")[None, :] == idx[:, None], "float32")


def _resize_shorter(x, size, method, antialias):
    """The shorter side to ``size``, the longer int(size * long / short), as preprocess.image.

    Two matrix products (rows, then columns), so any-size inputs export to every runtime
    (TFLite's builtins and ONNX have batched matmul; none has an antialiased resize op)."""
    h, w = ops.shape(x)[1], ops.shape(x)[2]
    if isinstance(h, int) and isinstance(w, int):  # static (JAX always): exactly shorter_side_size
        new_h, new_w = shorter_side_size(h, w, size)
    else:  # a graph with free height/width (an exported any-size model): tf_apply's arithmetic
        hw = ops.cast(ops.stack([h, w]), "float32")
        new = ops.cast(ops.where(hw == ops.min(hw), float(size), ops.floor(size * hw / ops.min(hw) + 1e-4)),
                       "int32")
        new_h, new_w = new[0], new[1]
    return resize(x, new_h, new_w, method, antialias)


def resize(x, new_h, new_w, method="bilinear", antialias=False):
    """(N, H, W, C) float -> (N, new_h, new_w, C) as steps._resize (antialias: as PIL's bilinear)."""
    h, w = ops.shape(x)[1], ops.shape(x)[2]
    if method == "nearest":
        rows, cols = _nearest(h, new_h), _nearest(w, new_w)
    else:
        rows, cols = _weights(h, new_h, antialias), _weights(w, new_w, antialias)
    # Rank-4 weights, always the left operand: a rank-2 operand becomes tensordot's reshapes in TF,
    # which TFLite refuses with free height and width; and TF 2.21's CPU BatchMatMul returned NaN
    # for a (N, 1, ., .) @ (1, 1, ., .) broadcast (measured), while (1, 1, ., .) @ (N, C, ., .) is right.
    y = ops.matmul(cols[None, None], ops.transpose(x, (0, 3, 2, 1)))            # (N, C, new_w, H)
    y = ops.matmul(rows[None, None], ops.transpose(y, (0, 1, 3, 2)))            # (N, C, new_h, new_w)
    return ops.transpose(y, (0, 2, 3, 1))


def _dynamic_center_crop(x, h, w):
    """The centre h x w of images whose size is known only at run time (rounding down, as center_crop)."""
    shape = ops.shape(x)
    top, left = (shape[1] - h) // 2, (shape[2] - w) // 2
    x = ops.slice(x, (0, top, left, 0), (shape[0], h, w, shape[3]))
    return ops.reshape(x, (-1, h, w, x.shape[3]))  # the static shape, for the layers after


def _channels(x, p, hwc):
    if hwc[2] == p["count"]:
        return x
    if hwc[2] == 1:
        return ops.repeat(x, p["count"], axis=-1)
    luma = ops.convert_to_tensor(list(steps._LUMA), "float32")
    return ops.expand_dims(ops.tensordot(x, luma, axes=1), -1)


def _normalize(x, p, hwc):
    return (x - ops.convert_to_tensor(p["mean"], "float32")) / ops.convert_to_tensor(p["std"], "float32")


def _center_crop_step(x, p, hwc):
    if hwc[0] is None or hwc[1] is None:
        return _dynamic_center_crop(x, *p["size"])
    return _center_crop(x, hwc, p["size"], 0, "constant", 0.0)


def _random_resized_crop(x, p, hwc):  # at evaluation: resize the shorter side, centre crop
    x = _resize_shorter(x, RandomResizedCrop.eval_resize(p), "bilinear", False)
    return _dynamic_center_crop(x, *p["size"])


def _unchanged(x, p, hwc):  # an augmentation that does nothing at evaluation
    return x


# Each step's evaluation-time form in keras.ops: step class -> fn(x, p, hwc), hwc the input's (H, W, C).
# The NumPy form (step.apply) is the reference the tests compare each entry against.
KERAS_FORMS = {
    steps.Pad: lambda x, p, hwc: _pad(x, *p["width"], "constant", p["value"]),
    steps.LenetScale: lambda x, p, hwc: steps.lenet_scale(x),
    steps.Rescale: lambda x, p, hwc: x * p["scale"] + p["offset"],
    steps.Normalize: _normalize,
    steps.Resize: lambda x, p, hwc: ops.image.resize(x, tuple(p["size"]), interpolation=p["method"],
                                                     antialias=False, data_format="channels_last"),
    steps.Channels: _channels,
    steps.ChannelOrder: lambda x, p, hwc: x if p["order"] == "rgb" else ops.flip(x, axis=-1),
    steps.CenterCrop: _center_crop_step,
    ResizeShorter: lambda x, p, hwc: _resize_shorter(x, p["size"], p["method"], p.get("antialias", False)),
    RandomResizedCrop: _random_resized_crop,
    RandomCrop: lambda x, p, hwc: _center_crop(x, hwc, p["size"], p["padding"], p["fill"], p["value"]),
    RandomShift: _unchanged,
    RandomFlip: _unchanged,
    ColorJitter: _unchanged,
}


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
            step = preprocess.STEPS[name]
            if step not in KERAS_FORMS:
                raise preprocess.PreprocessError(f"PreprocessingLayer has no implementation of step {name!r}")
            x = KERAS_FORMS[step](x, p, hwc)
            hwc = step.shape(hwc, p)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_hwc)

    def get_config(self):
        return {**super().get_config(), "steps": self.steps, "raw_shape": list(self.raw_shape)}


class ResizeLayer(keras.layers.Layer):
    """Images of any size -> (N, height, width, C) float32 by :func:`resize` (antialias: PIL's bilinear)."""

    def __init__(self, height, width, antialias=True, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.height, self.width, self.antialias = int(height), int(width), bool(antialias)

    def call(self, inputs):
        return resize(ops.cast(inputs, "float32"), self.height, self.width, antialias=self.antialias)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "antialias": self.antialias}


keras.saving.register_keras_serializable(package="cnn_zoo")(PreprocessingLayer)
keras.saving.register_keras_serializable(package="cnn_zoo")(ResizeLayer)
