"""A family defined outside the zoo, as a user would: one file, nothing else changed.

``twohead``: conv → conv → global pool → dense, with an optional auxiliary
classifier after the first conv (``aux=True``, weighted 0.5 in the loss, off
at inference), a head and a main output whose names are none of the zoo's
defaults, and a planner that refuses a ``kernel_size`` the input cannot take.
"""

from __future__ import annotations

from cnn_zoo.family import Family, Planner
from cnn_zoo.layers.arithmetic import conv_multiply_adds, output_size
from cnn_zoo.models import builder_parts

NAME = "twohead"
WIDTHS = (4, 8)


def twohead(*, input_shape=None, num_classes=10, include_top=True, pooling=None,
            classifier_activation="softmax", weights=None, aux=False, kernel_size=3, name=NAME):
    """Two valid convs, global average pooling, a dense head; ``aux=True`` adds a side head."""
    import keras

    builder_parts.check_signature(num_classes=num_classes, include_top=include_top, pooling=pooling,
                                  weights=weights, classifier_activation=classifier_activation)
    inputs = builder_parts.model_input(input_shape, (28, 28, 1))
    x = keras.layers.Conv2D(WIDTHS[0], kernel_size, activation="relu", name="body_conv1")(inputs)
    side = x
    x = keras.layers.Conv2D(WIDTHS[1], kernel_size, activation="relu", name="body_conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="body_pool")(x)
    if not include_top:
        return builder_parts.finish(inputs, x, name, weights)
    x = keras.layers.Dense(num_classes, name="head_logits")(x)
    outputs = keras.layers.Activation(classifier_activation or "linear", dtype="float32", name="probs")(x)
    if aux:
        side = keras.layers.GlobalAveragePooling2D(name="side_pool")(side)
        side = keras.layers.Dense(num_classes, name="side_logits")(side)
        side = keras.layers.Activation(classifier_activation or "linear", dtype="float32", name="side")(side)
        outputs = {"probs": outputs, "side": side}
    return builder_parts.finish(inputs, outputs, name, weights)


class TwoheadPlanner(Planner):
    """Both convs are valid (P=0, S=1): the input must be at least 2·(F−1)+1 wide."""

    arguments = ("kernel_size",)
    defaults = {"kernel_size": 3}

    def plan(self, input_shape, kwargs):
        f = kwargs.get("kernel_size", self.defaults["kernel_size"])
        (h, w, depth), macs = input_shape, 0
        for layer, width in zip(("body_conv1", "body_conv2"), WIDTHS):
            h, w = (output_size(v, f, 1, 0, layer=layer) for v in (h, w))
            macs += conv_multiply_adds((h, w), (f, f), depth, width)
            depth = width
        return macs


FAMILY = Family(NAME, twohead, head=("head_logits", "side_logits"), output="probs",
                aux_outputs={"side": 0.5}, inference_kwargs={"aux": False}, planner=TwoheadPlanner())
