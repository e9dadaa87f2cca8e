"""The served graph: raw uint8 images -> [resize to the raw size] -> the model's preprocessing -> probabilities.

What ``zoo export`` writes and ``zoo.load(tag, raw=True)`` returns: one floor below both.

A model whose raw_shape is [null, null, C] (googlenet_bn.imagenet: resize_shorter 256, then
the centre crop) takes any size and its steps bring it to size; one with a fixed raw size
read from files (googlenet.imagenet: 256x256, as Caffe) is resized to it first as ``zoo
predict`` reads files: bilinear, antialiased when shrinking (PIL's kernel).

The preprocessing is :class:`cnn_zoo.preprocess_layer.PreprocessingLayer` built from
the steps recorded with the weights, so an exported file repeats exactly what
``zoo predict`` does after reading an image.
"""

from __future__ import annotations

import dataclasses

from cnn_zoo import preprocess

INPUT_NAME, OUTPUT_NAME = "image", "probabilities"


@dataclasses.dataclass(frozen=True)
class Contract:
    """What the exported model takes and returns (written into the export's JSON file)."""

    raw_shape: tuple          # (H, W, C) of the raw images the model was trained on
    any_size: bool            # True: any H x W is accepted (resized to a fixed raw_shape inside)
    steps: list               # the canonical preprocessing steps, run inside the graph
    class_names: tuple

    def input_shape(self) -> tuple:
        """(H, W, C) of the input tensor, None for a free axis (the batch axis is always free)."""
        h, w, c = self.raw_shape
        return (None, None, c) if self.any_size else (h, w, c)

    def resized_to(self):
        """The fixed size any input is first resized to, or None (the steps do it, or no resize)."""
        return tuple(self.raw_shape[:2]) if self.any_size and all(self.raw_shape[:2]) else None

    def as_dict(self) -> dict:
        resized = self.resized_to()
        return {"input": {"name": INPUT_NAME, "dtype": "uint8", "shape": [None, *self.input_shape()],
                          "layout": "NHWC", "range": "0..255",
                          "resized_to": list(resized) if resized else None,
                          "resize": "bilinear, half-pixel centres, antialiased when shrinking (as PIL)"
                          if resized else None},
                "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": [None, len(self.class_names)],
                           "meaning": "class probabilities (sum to 1), in the order of labels"},
                "preprocessing": self.steps}


def contract_of(info) -> Contract:
    """The contract of a model's zoo_info (a tag's WeightsInfo or a run's RunInfo)."""
    pre = info.preprocessing
    raw = preprocess.input_shape_after([], pre["raw_shape"])  # (H, W) -> (H, W, 1)
    config = (getattr(info, "recipe", None) or {}).get("config") or {}
    # Images read from files at a size (ImageNet: image_size 256x256) may come at any size;
    # a dataset of fixed-size arrays (MNIST) defines the one size its model takes.
    # raw_shape [null, null, C]: any size, brought to size by the steps (resize_shorter).
    any_size = bool((config.get("dataset") or {}).get("image_size")) or not all(raw[:2])
    return Contract(raw, any_size, preprocess.normalize_steps(pre["steps"]), tuple(info.class_names))


def needs_softmax(model) -> bool:
    """"True when the model returns logits (its "predictions" layer is linear), as hub.prediction checks."""
    try:
        activation = getattr(model.get_layer("predictions").activation, "__name__", "")
    except (ValueError, AttributeError):
        activation = "softmax"
    return activation == "linear"  # True: append a softmax


def preprocessing_layers(contract: Contract) -> list:
    """The layers from raw uint8 images to the network's input: the resize to the raw size
    (only where images of any size are resized to it first) and the preprocessing steps."""
    from cnn_zoo.preprocess_layer import PreprocessingLayer, ResizeLayer  # Keras: the contract is read without it

    found = []
    if contract.resized_to():
        # as read_image's PIL resize; a matmul pair, which every runtime has (an antialias op none)
        found.append(ResizeLayer(*contract.resized_to(), antialias=True, name="resize_to_raw"))
    return found + [PreprocessingLayer(contract.steps, contract.raw_shape, name="preprocessing")]


def serving_model(model, contract: Contract, name: str | None = None):
    """A functional Keras model: uint8 NHWC images named "image" -> "probabilities"."""
    import keras  # with the zoo's Keras layers: the contract is read without Keras

    inputs = keras.Input(contract.input_shape(), dtype="uint8", name=INPUT_NAME)
    x = inputs
    for layer in preprocessing_layers(contract):
        x = layer(x)
    y = model(x, training=False)  # inference graph: no dropout ops for a converter to choke on
    if isinstance(y, dict):
        y = y["predictions"]
    return keras.Model(inputs, probabilities_output(model, y), name=name or f"{model.name}_served")


def probabilities_output(model, y):
    """The served tail of ``model``'s main output ``y`` (a symbolic tensor): a softmax where the
    model returns logits, then a float32 output named "probabilities" (under mixed precision too)."""
    import keras  # with a built model: Keras is there already

    if needs_softmax(model):
        y = keras.layers.Softmax(name="softmax")(y)
    return keras.layers.Activation("linear", dtype="float32", name=OUTPUT_NAME)(y)
