"""The served graph in stock Keras layers, where every layer has an exact stock equivalent.

A ``.keras`` file names each layer's class; one of cnn_zoo's classes loads only where
cnn-zoo is installed and imported. :func:`portable` rebuilds the served model
(uint8 images -> preprocessing -> network -> probabilities) layer by layer:

- cnn_zoo's ``Conv2D`` with any P: ``ZeroPadding2D`` (the cells the layer's own plan
  pads) + ``keras.layers.Conv2D`` ("valid", or "same" where the plan is Keras' own);
- cnn_zoo's ``MaxPool2D``: ``keras.layers.MaxPooling2D`` where its padding is none, or
  exactly Keras' "same" (whose padded cells never win, as cnn_zoo's −∞ padding). Any
  other padding has no stock form: ``ZeroPadding2D`` pads 0, which beats negative
  inputs, and a very negative constant is not a stock layer. GoogLeNet's ceil-rounded
  3×3/2 pools on even sizes pad one cell after, which is Keras' "same";
- ``Inception``: its branches as stock convolutions, BatchNormalization, ReLU and
  pools, joined by ``Concatenate``;
- the preprocessing steps: ``Rescaling`` (lenet_scale, rescale, normalize),
  ``ZeroPadding2D`` (pad with 0), ``Cropping2D`` (centre crops of known sizes),
  ``Resizing`` (resize), nothing for augmentation steps at evaluation;
- stock layers (Dense, BatchNormalization, ...) copied with their weights.

The papers' own layers (LeNet-5's connection table, trainable subsampling, RBF units
and scaled tanh; GoogLeNet's LRN) and the steps without a stock layer (resize_shorter
of images of any size, channel_order, ...) have none: the model is then written with
cnn_zoo's layers, and the reasons say which.
"""

from __future__ import annotations

import json

import keras
import numpy as np

from cnn_zoo import preprocess
from cnn_zoo.preprocess import steps
from cnn_zoo.layers.conv import Conv2D
from cnn_zoo.layers.inception import BRANCHES, Inception
from cnn_zoo.layers.pooling import MaxPool2D
from cnn_zoo.preprocess_layer import PreprocessingLayer

# Why each of the papers' own layers has no stock form (by class name); others: "no stock Keras layer".
PAPER_LAYERS = {
    "ConnectionTableConv2D": "LeNet-5's C3 connection table",
    "TrainableSubsampling": "LeNet-5's trainable subsampling",
    "EuclideanRBF": "LeNet-5's Euclidean RBF units",
    "ScaledTanh": "LeNet-5's scaled tanh",
    "LocalResponseNormalization": "GoogLeNet's local response normalisation",
    "ResizeLayer": "an antialiased resize of images of any size (as PIL)",
}
LOAD_STOCK = "keras.saving.load_model(PATH): stock Keras layers only, cnn-zoo not needed"
LOAD_CNN_ZOO = ("pip install cnn-zoo, then import cnn_zoo before keras.saving.load_model(PATH): "
                "the file holds cnn-zoo's own layers")


def _names_cnn_zoo(obj) -> bool:
    """True if Keras serialises ``obj`` (a layer, an activation) with a reference to cnn_zoo code."""
    return "cnn_zoo" in json.dumps(keras.saving.serialize_keras_object(obj), default=str)


def _why(layer, what=None) -> str:
    kind = type(layer).__name__
    activation = getattr(layer, "activation", None)
    what = what or PAPER_LAYERS.get(kind)
    if what is None and activation is not None and _names_cnn_zoo(activation):
        name = getattr(activation, "__name__", type(activation).__name__)
        what = f"its activation {name} ({PAPER_LAYERS['ScaledTanh'] if 'tanh' in name else 'cnn_zoo code'})"
    return f"layer {layer.name!r} ({kind}): {what or 'no stock Keras layer'}"


class _Converter:
    """call_function of keras.models.clone_model: each layer of the served graph -> stock layers."""

    def __init__(self):
        self.needs = []  # why the file needs cnn-zoo, one entry per layer

    def __call__(self, layer, *args, **kwargs):
        if isinstance(layer, keras.Model):  # the network, already rebuilt by clone_model(recursive=True)
            return layer(*args, **kwargs)
        x = args[0]
        kind = type(layer)
        if kind is Conv2D:
            return self.conv(layer, x, layer.name)
        if kind is MaxPool2D:
            return self.pool(layer, x, layer.name)
        if kind is Inception:
            return self.inception(layer, x)
        if kind is PreprocessingLayer:
            return self.preprocessing(layer, x)
        if kind.__module__.startswith("keras.") and not _names_cnn_zoo(layer):
            return self.copy(layer, layer.name, *args, **kwargs)
        self.needs.append(_why(layer))
        return layer(*args, **kwargs)  # kept, so that the rest of the graph is still looked at

    @staticmethod
    def copy(layer, name, *args, **kwargs):
        """A stock layer rebuilt from its config (named ``name``), with the same weights."""
        config = {**layer.get_config(), "name": name}
        new = type(layer).from_config(config)
        y = new(*args, **kwargs)
        new.set_weights(layer.get_weights())
        return y

    @staticmethod
    def _native(layer, x):
        """(spatial sizes, pads, native padding word) of a window layer on ``x``, as its call runs it;
        native None (and pads the reason) where its rounding needs sizes known only at run time."""
        spatial, _ = layer._split(x.shape)
        try:
            return (spatial, *layer.native_padding(spatial))
        except ValueError as error:
            return spatial, str(error), None

    def conv(self, layer, x, name):
        _, pads, native = self._native(layer, x)
        if native is None or (layer.activation is not None and _names_cnn_zoo(layer.activation)):
            self.needs.append(_why(layer, pads if native is None else None))
            return layer(x)
        if any(p != (0, 0) for p in pads):
            x = keras.layers.ZeroPadding2D(pads, data_format=layer.data_format, name=f"{name}_pad")(x)
        conv = keras.layers.Conv2D(
            layer.filters, layer.kernel_size, strides=layer.strides, padding=native,
            data_format=layer.data_format, dilation_rate=layer.dilation_rate, activation=layer.activation,
            use_bias=layer.use_bias, name=name, dtype=layer.dtype_policy)
        y = conv(x)
        conv.set_weights(layer.get_weights())
        return y

    def pool(self, layer, x, name):
        spatial, pads, native = self._native(layer, x)
        if native is None or any(p != (0, 0) for p in pads):
            self.needs.append(_why(layer, pads if native is None else (
                f"its −∞ padding {pads} on a {tuple(spatial)} input is neither Keras' 'valid' nor 'same'")))
            return layer(x)
        return keras.layers.MaxPooling2D(layer.pool_size, strides=layer.strides, padding=native,
                                         data_format=layer.data_format, name=name,
                                         dtype=layer.dtype_policy)(x)

    def inception(self, layer, x):
        """The four branches (conv [→ BN → ReLU] chains, the pool) concatenated, as Inception.call."""
        outputs = []
        for branch in BRANCHES:
            y = x
            for step in branch:
                sub, name = layer.get_layer(step), f"{layer.name}_{step}"
                if step == "pool":
                    y = self.pool(sub, y, name)
                    continue
                y = self.conv(sub, y, name)
                if layer.batch_norm:
                    y = self.copy(layer.get_layer(f"{step}_bn"), f"{name}_bn", y, training=False)
                    y = keras.layers.ReLU(name=f"{name}_relu", dtype=layer.dtype_policy)(y)
            outputs.append(y)
        return keras.layers.Concatenate(axis=layer.channel_axis, name=layer.name,
                                        dtype=layer.dtype_policy)(outputs)

    def preprocessing(self, layer, x):
        """The evaluation-time steps as stock layers, as PreprocessingLayer.call runs them."""
        stock, hwc = [], tuple(layer.raw_shape)
        for i, entry in enumerate(layer.steps):
            (name, p), = entry.items()
            found = _stock_step(name, p, hwc, f"{layer.name}_{i}_{name}")
            if found is None:
                self.needs.append(_why(layer, f"its step {name} {p} has no stock Keras layer"))
                return layer(x)
            stock += found
            hwc = preprocess.STEPS[name].shape(hwc, p)
        if not stock or not isinstance(stock[0], keras.layers.Rescaling):
            stock.insert(0, keras.layers.Rescaling(1.0, name=f"{layer.name}_to_float"))  # uint8 -> float32
        for found in stock:
            x = found(x)
        return x


def _stock_step(name, p, hwc, prefix):
    """The stock layers of one preprocessing step on images of ``hwc``, or None if it has none."""
    def crop(size, padding, fill, value):
        # PreprocessingLayer's _center_crop: the padding the crop reaches, then the centre window
        (h, w), (H, W) = size, (hwc[0] + 2 * padding, hwc[1] + 2 * padding)
        top, left = (H - h) // 2 - padding, (W - w) // 2 - padding
        pads = (max(0, -top), max(0, top + h - hwc[0])), (max(0, -left), max(0, left + w - hwc[1]))
        found = []
        if any(any(pair) for pair in pads):
            if fill == "edge" or value != 0:
                return None
            found.append(keras.layers.ZeroPadding2D(pads, name=f"{prefix}_pad"))
        top, left = top + pads[0][0], left + pads[1][0]
        rest = ((top, hwc[0] + sum(pads[0]) - top - h), (left, hwc[1] + sum(pads[1]) - left - w))
        if any(any(pair) for pair in rest):
            found.append(keras.layers.Cropping2D(rest, name=prefix))
        return found

    if name in ("random_shift", "random_flip", "color_jitter"):
        return []  # augmentation: nothing at evaluation
    if name == "lenet_scale":
        return [keras.layers.Rescaling(steps.LENET_SCALE, offset=steps.LENET_BACKGROUND, name=prefix)]
    if name == "rescale":
        return [keras.layers.Rescaling(p["scale"], offset=p["offset"], name=prefix)]
    if name == "normalize":
        mean, std = np.asarray(p["mean"], np.float64), np.asarray(p["std"], np.float64)
        return [keras.layers.Rescaling((1 / std).tolist(), offset=(-mean / std).tolist(), name=prefix)]
    if name == "pad" and p["value"] == 0:
        (h, w) = p["width"]
        return [keras.layers.ZeroPadding2D(((h, h), (w, w)), name=prefix)]
    if name == "resize":
        return [keras.layers.Resizing(*p["size"], interpolation=p["method"], name=prefix)]
    if name in ("center_crop", "random_crop") and hwc[0] is not None and hwc[1] is not None:
        if name == "center_crop":
            return crop(p["size"], 0, "constant", 0.0)
        return crop(p["size"], p["padding"], p["fill"], p["value"])
    return None


def portable(served):
    """(model, needs): ``served`` rebuilt in stock Keras layers with the same weights and ``[]``, or,
    where some layer has no exact stock form, ``served`` itself and why (one line per layer)."""
    convert = _Converter()
    stock = keras.models.clone_model(served, clone_function=lambda layer: layer, call_function=convert,
                                     recursive=True)
    if convert.needs:
        return served, convert.needs
    if _names_cnn_zoo(stock):  # a cnn_zoo object this module does not know, e.g. in a config
        return served, ["a layer's configuration names cnn_zoo code"]
    return stock, []
