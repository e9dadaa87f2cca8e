"""All-CNN-C: Springenberg, Dosovitskiy, Brox, Riedmiller, "Striving for Simplicity: The
All Convolutional Net", 2014 (ICLR 2015 workshop), Table 2, model C with its
max-pools replaced by strided convolutions ("ALL-CNN-C").

The lecture's "getting rid of POOL/FC layers (just CONV)": every layer is a
conv with ReLU. Each 3×3/2 max pool of model C becomes a 3×3 conv of stride 2
(the same window and stride, now with weights), and the FC layers become a
1×1 conv to one map per class averaged over the map (global average pooling,
as in Network in Network). On CIFAR-10's 32×32×3:

    dropout 20% on the input
    conv1 3×3, 96, P 1          (32 − 3 + 2·1)/1 + 1 = 32  → 32×32×96
    conv2 3×3, 96, P 1                                     → 32×32×96
    conv3 3×3/2, 96, P 1        (32 − 3 + 2·1)/2 + 1 = 16.5 → 16  → 16×16×96   (was: max pool)
    dropout 50%
    conv4 3×3, 192, P 1 → conv5 3×3, 192, P 1              → 16×16×192
    conv6 3×3/2, 192, P 1       (16 − 3 + 2)/2 + 1 = 8.5 → 8  → 8×8×192     (was: max pool)
    dropout 50%
    conv7 3×3, 192, P 0         (8 − 3)/1 + 1 = 6          → 6×6×192
    conv8 1×1, 192                                         → 6×6×192
    classifier 1×1, 10 (ReLU, as Table 2)                  → 6×6×10
    global average over 6×6 → 10-way softmax

1,369,738 parameters; the paper prints ≈ 1.4 M (Table 3) and 9.08% CIFAR-10
test error without augmentation, 7.25% with flips and translations (Table 4).
Dropout 20% on the input and 50% after each layer that replaced a pool, and
weight decay λ = 0.001 (Sec. 3.2.1, ``weight_decay``) regularise it.
"""

from __future__ import annotations

import keras

from cnn_zoo import layers
from cnn_zoo.errors import ZooError
from cnn_zoo.family import Family, Published
from cnn_zoo.layers.arguments import is_number
from cnn_zoo.models import builder_parts

# (name, K, F, S, P); a "dropout" row after the strided convs that replace model C's pools.
TABLE2_C = (("conv1", 96, 3, 1, 1), ("conv2", 96, 3, 1, 1), ("conv3", 96, 3, 2, 1), "dropout",
            ("conv4", 192, 3, 1, 1), ("conv5", 192, 3, 1, 1), ("conv6", 192, 3, 2, 1), "dropout",
            ("conv7", 192, 3, 1, 0), ("conv8", 192, 1, 1, 0))
PAPER = {"params_millions": 1.4, "error": 9.08, "error_augmented": 7.25}  # Tables 3 and 4


def allconv(*, input_shape=None, num_classes=10, include_top=True, pooling=None,
            classifier_activation="softmax", weights=None, input_dropout=0.2, dropout=0.5,
            weight_decay=0.0, name="allconv"):
    """All-CNN-C (see the module docstring): ``input_dropout`` on the image, ``dropout`` after
    each strided conv, ``weight_decay`` λ on every kernel (the paper: 0.2, 0.5, 0.001)."""
    builder_parts.check_signature(num_classes=num_classes, include_top=include_top, pooling=pooling,
                           weights=weights, classifier_activation=classifier_activation)
    for arg, rate in (("input_dropout", input_dropout), ("dropout", dropout)):
        if not is_number(rate) or not 0 <= rate < 1:
            raise ZooError(f"`{arg}` must be a number in [0, 1). Received: {arg}={rate!r}")
    decay = builder_parts.weight_decay_regularizer(weight_decay)
    inputs = builder_parts.model_input(input_shape, (32, 32, 3))
    x = keras.layers.Dropout(input_dropout, name="input_dropout")(inputs) if input_dropout else inputs
    for i, row in enumerate(TABLE2_C):
        if row == "dropout":
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"{TABLE2_C[i - 1][0]}_dropout")(x)
            continue
        conv, filters, size, strides, padding = row
        x = layers.Conv2D(filters, size, strides=strides, padding=padding, activation="relu",
                          kernel_regularizer=decay, name=conv)(x)
    # (B, 6, 6, 192) on a 32×32 input
    if not include_top:
        return builder_parts.finish(inputs, builder_parts.global_pool(x, pooling), name, weights)
    x = layers.Conv2D(num_classes, 1, activation="relu", kernel_regularizer=decay,
                      name="classifier")(x)                                            # (B, 6, 6, 10)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)                        # (B, 10)
    outputs = keras.layers.Activation(classifier_activation or "linear", dtype="float32",
                                      name="predictions")(x)
    return builder_parts.finish(inputs, outputs, name, weights)


def notes(kwargs) -> list[str]:
    return ["Springenberg et al. 2014, All-CNN-C: only CONV-RELU layers; the two 3×3/2 max pools of "
            "model C are 3×3 convs of stride 2 (conv3, conv6), the FC layers a 1×1 conv to one map "
            "per class (classifier) and a global average (avg_pool)",
            f"  the paper: ≈ {PAPER['params_millions']} M parameters (Table 3), {PAPER['error']}% "
            f"CIFAR-10 test error, {PAPER['error_augmented']}% with augmentation (Table 4)"]


FAMILIES = (Family("allconv", allconv, notes=notes,
                   published=Published(1_400_000, "Springenberg et al. 2014, Table 3: ALL-CNN-C "
                                       "≈ 1.4 M (rounded to 0.1 M)", rounded_to=100_000),
                   test_kwargs={"num_classes": 3}),)
