"""The served graph: raw uint8 images -> [resize to the raw size] -> the model's preprocessing -> probabilities.

The preprocessing is :class:`cnn_zoo.preprocess_layer.PreprocessingLayer` built from
the steps recorded with the weights, so an exported file repeats exactly what
``zoo predict`` does after reading an image.
"""

from __future__ import annotations

import dataclasses

INPUT_NAME, OUTPUT_NAME = "image", "probabilities"


@dataclasses.dataclass(frozen=True)
class Contract:
    """What the exported model takes and returns (written into the export's JSON file)."""

    raw_shape: tuple          # (H, W, C) of the raw images the model was trained on
    any_size: bool            # True: any H x W is accepted and resized (bilinear) to raw_shape inside
    steps: list               # the canonical preprocessing steps, run inside the graph
    class_names: tuple

    def input_shape(self) -> tuple:
        """(H, W, C) of the input tensor, None for a free axis (the batch axis is always free)."""
        h, w, c = self.raw_shape
        return (None, None, c) if self.any_size else (h, w, c)

    def as_dict(self) -> dict:
        return {"input": {"name": INPUT_NAME, "dtype": "uint8", "shape": [None, *self.input_shape()],
                          "layout": "NHWC", "range": "0..255",
                          "resized_to": list(self.raw_shape[:2]) if self.any_size else None,
                          "resize": "bilinear, half-pixel centres, no antialias" if self.any_size else None},
                "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": [None, len(self.class_names)],
                           "meaning": "class probabilities (sum to 1), in the order of labels"},
                "preprocessing": self.steps}


def contract_of(info) -> Contract:
    """The contract of a model's zoo_info (a tag's WeightsInfo or a run's RunInfo)."""
    from cnn_zoo import preprocess

    pre = info.preprocessing
    raw = preprocess.input_shape_after([], pre["raw_shape"])  # (H, W) -> (H, W, 1)
    config = (getattr(info, "recipe", None) or {}).get("config") or {}
    # Images read from files at a size (ImageNet: image_size 256x256) may come at any size;
    # a dataset of fixed-size arrays (MNIST) defines the one size its model takes.
    any_size = bool((config.get("dataset") or {}).get("image_size"))
    return Contract(raw, any_size, preprocess.normalize_steps(pre["steps"]), tuple(info.class_names))


def needs_softmax(model) -> bool:
    """"True when the model returns logits (its "predictions" layer is linear), as hub.prediction checks."""
    try:
        activation = getattr(model.get_layer("predictions").activation, "__name__", "")
    except (ValueError, AttributeError):
        activation = "softmax"
    return activation == "linear"  # True: append a softmax


def serving_model(model, contract: Contract):
    """A functional Keras model: uint8 NHWC images named "image" -> "probabilities"."""
    import keras

    from cnn_zoo.preprocess_layer import PreprocessingLayer

    inputs = keras.Input(contract.input_shape(), dtype="uint8", name=INPUT_NAME)
    x = inputs
    if contract.any_size:
        x = keras.layers.Resizing(*contract.raw_shape[:2], interpolation="bilinear", antialias=False,
                                  dtype="float32", name="resize_to_raw")(keras.ops.cast(x, "float32"))
    x = PreprocessingLayer(contract.steps, contract.raw_shape, name="preprocessing")(x)
    y = model(x, training=False)  # inference graph: no dropout ops for a converter to choke on
    if isinstance(y, dict):
        y = y["predictions"]
    if needs_softmax(model):
        y = keras.layers.Softmax(name="softmax")(y)
    y = keras.layers.Activation("linear", dtype="float32", name=OUTPUT_NAME)(y)
    return keras.Model(inputs, y, name=f"{model.name}_served")
