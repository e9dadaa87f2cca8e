"""LeNet-5: LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to
document recognition", Proc. IEEE 1998, Sec. II-B.

``lenet5`` is the paper's network, layer for layer (trainable parameters per
layer as in the paper: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164):

    input 32×32×1 → C1 6@28×28 (5×5) → S2 6@14×14 → C3 16@10×10 (5×5, Table I)
    → S4 16@5×5 → C5 120@1×1 (5×5) → F6 84 → output: 10 Euclidean RBF units

Every layer up to F6 squashes with 1.7159·tanh(2a/3). The RBF units compute
a squared distance to a fixed ±1 prototype per class; the model turns
distances into probabilities with a softmax over their negatives and adds
the paper's rubbish-class term, so cross-entropy training minimises the
paper's MAP criterion, Eq. 9 (``head="rbf"``, the default). ``head="softmax"``
puts a dense softmax layer in place of the RBF units.

``lenet5_modern`` is the variant taught today: ReLU, max-pool, full C3, a dense
softmax head (61,706 parameters).
"""

from __future__ import annotations

import keras

from cnn_zoo import layers
from cnn_zoo.errors import ZooError
from cnn_zoo.family import Family, Published
from cnn_zoo.models import builder_parts

HEADS = ("rbf", "softmax")


# Eq. 9's rubbish-class constant j (the paper does not print it; see layers/rbf.py).
RUBBISH = 10.0


def _head(x, head, num_classes, classifier_activation):
    if head == "softmax":
        return builder_parts.classifier(x, num_classes, classifier_activation, dense_name="output")
    distances = layers.EuclideanRBF(num_classes, rubbish=RUBBISH, name="output")(x)           # (B, 10)
    # Small distance = likely class: the logits are the negated distances.
    logits = keras.layers.Rescaling(-1.0, name="logits")(distances)
    return keras.layers.Activation(classifier_activation or "linear", dtype="float32",
                                   name="predictions")(logits)


def lenet5(*, input_shape=None, num_classes=10, include_top=True, pooling=None,
           classifier_activation="softmax", weights=None, head="rbf", name="lenet5"):
    """LeNet-5 as in LeCun et al. 1998 (see the module docstring)."""
    builder_parts.check_signature(num_classes=num_classes, include_top=include_top, pooling=pooling,
                                  weights=weights, classifier_activation=classifier_activation)
    if head not in HEADS:
        raise ZooError(f"`head` must be 'rbf' or 'softmax'. Received: head={head!r}")
    squash = layers.scaled_tanh
    inputs = builder_parts.model_input(input_shape, (32, 32, 1))
    x = layers.Conv2D(6, 5, activation=squash, name="c1")(inputs)                              # (B, 28, 28, 6)
    x = layers.TrainableSubsampling(2, activation=squash, name="s2")(x)                       # (B, 14, 14, 6)
    x = layers.ConnectionTableConv2D(16, 5, connections=layers.LENET5_C3_TABLE,
                                     activation=squash, name="c3")(x)                          # (B, 10, 10, 16)
    x = layers.TrainableSubsampling(2, activation=squash, name="s4")(x)                       # (B, 5, 5, 16)
    x = layers.Conv2D(120, 5, activation=squash, name="c5")(x)                                # (B, 1, 1, 120)
    if not include_top:
        return builder_parts.finish(inputs, builder_parts.global_pool(x, pooling), name, weights)
    x = keras.layers.Flatten(name="flatten")(x)                                                # (B, 120)
    x = keras.layers.Dense(84, activation=squash, name="f6")(x)                               # (B, 84)
    outputs = _head(x, head, num_classes, classifier_activation)                              # (B, 10)
    return builder_parts.finish(inputs, outputs, name, weights)


def lenet5_modern(*, input_shape=None, num_classes=10, include_top=True, pooling=None,
                  classifier_activation="softmax", weights=None, dropout=0.0, name="lenet5_modern"):
    """LeNet-5 as commonly taught today: ReLU, 2×2 max-pool, full C3, dense softmax head."""
    builder_parts.check_signature(num_classes=num_classes, include_top=include_top, pooling=pooling,
                                  weights=weights, classifier_activation=classifier_activation)
    inputs = builder_parts.model_input(input_shape, (32, 32, 1))
    x = layers.Conv2D(6, 5, activation="relu", name="c1")(inputs)                              # (B, 28, 28, 6)
    x = layers.MaxPool2D(2, name="s2")(x)                                                     # (B, 14, 14, 6)
    x = layers.Conv2D(16, 5, activation="relu", name="c3")(x)                                 # (B, 10, 10, 16)
    x = layers.MaxPool2D(2, name="s4")(x)                                                     # (B, 5, 5, 16)
    x = layers.Conv2D(120, 5, activation="relu", name="c5")(x)                                # (B, 1, 1, 120)
    if not include_top:
        return builder_parts.finish(inputs, builder_parts.global_pool(x, pooling), name, weights)
    x = keras.layers.Flatten(name="flatten")(x)                                                # (B, 120)
    x = keras.layers.Dense(84, activation="relu", name="f6")(x)                               # (B, 84)
    outputs = builder_parts.classifier(x, num_classes, classifier_activation, dropout=dropout,
                                dense_name="output")                                          # (B, 10)
    return builder_parts.finish(inputs, outputs, name, weights)


# The head is the layer named "output" (RBF units or Dense, both num_classes wide).
FAMILIES = (Family("lenet5", lenet5, head=("output",),
                   published=Published(60_000, "LeCun et al. 1998, Sec. II-B: C1 156, S2 12, C3 1,516, "
                                       "S4 32, C5 48,120, F6 10,164 trainable parameters")),
            Family("lenet5_modern", lenet5_modern, head=("output",),
                   published=Published(61_706, "this module's docstring: 156 + 2,416 + 48,120 + "
                                       "10,164 + 850")))
