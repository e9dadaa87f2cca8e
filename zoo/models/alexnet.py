"""AlexNet: Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NIPS 2012. Two layouts:

- ``alexnet``: torchvision's (the one with published weights; "One weird trick", Krizhevsky
  2014, widths): one group, no LRN, 64-192-384-256-256 filters, an adaptive average pool
  to 6×6 before the classifier, dropout 0.5 before each hidden FC. 61,100,840 parameters.

      conv1 11×11/4, 64, P 2  (224 − 11 + 2·2)/4 + 1 = 55.25 → 55   → 55×55×64
      pool1 3×3/2              (55 − 3)/2 + 1 = 27                   → 27×27×64
      conv2 5×5, 192, P 2      → 27×27×192;  pool2 → 13×13×192
      conv3 3×3, 384, P 1 → conv4 3×3, 256 → conv5 3×3, 256        → 13×13×256
      pool5 3×3/2 → 6×6×256;  avgpool 6×6 → FC 4096 → FC 4096 → FC 1000

- ``alexnet_paper``: the paper's Figure 2, no weights. The net is split over two GPUs:
  conv2, conv4 and conv5 see only the maps on their own GPU (2 groups: each of conv2's
  kernels is 5×5×48, not 5×5×96), conv3 and the FC layers see both. ReLU, then local
  response normalisation (k = 2, n = 5, α = 1e-4, β = 0.75, Sec. 3.3) after conv1 and
  conv2, overlapping 3×3/2 max pools (Sec. 3.4), dropout 0.5 after FC6 and FC7.
  The input is 227×227: Figure 2 prints 224, for which conv1's arithmetic,
  (224 − 11)/4 + 1 = 54.25, does not come out whole; 227 gives 55, as in Figure 2
  and Caffe's reproduction. Biases start at 1 in conv2, conv4, conv5 and the hidden FC
  layers, weights N(0, 0.01) (Sec. 5).

  Its parameters follow from Figure 2's kernel sizes (:data:`FIGURE2`): 60,965,224;
  the text rounds them to "60 million parameters".
"""

from __future__ import annotations

import keras

from cnn_zoo import layers
from cnn_zoo.family import Family, Published
from cnn_zoo.models import builder_parts

PARAMS = 61_100_840  # torchvision.models.AlexNet_Weights.IMAGENET1K_V1.meta["num_params"]
# Figure 2: (layer, kernels, kernel extent F·F·D1 per kernel, bias); the FC "kernels" are units.
FIGURE2 = (("conv1", 96, 11 * 11 * 3), ("conv2", 256, 5 * 5 * 48), ("conv3", 384, 3 * 3 * 256),
           ("conv4", 384, 3 * 3 * 192), ("conv5", 256, 3 * 3 * 192), ("fc6", 4096, 6 * 6 * 256),
           ("fc7", 4096, 4096), ("fc8", 1000, 4096))
LRN = dict(size=5, k=2.0, beta=0.75, alpha=5 * 1e-4)  # our layer divides α by n: the paper's α = 1e-4
DROPOUT = 0.5
FC_UNITS = 4096


def figure2_params() -> int:
    """The paper's parameter count from Figure 2: Σ kernels · (extent + 1 bias)."""
    return sum(k * (extent + 1) for _, k, extent in FIGURE2)


def alexnet(*, input_shape=None, num_classes=1000, include_top=True, pooling=None,
            classifier_activation="softmax", weights=None, fc_units=FC_UNITS, name="alexnet"):
    """AlexNet laid out like torchvision's ``alexnet`` (see the module docstring).

    ``fc_units`` (4,096) is the width of FC6 and FC7, as VGG's: other values give an
    AlexNet-like net that torchvision's weights do not fit.
    """
    builder_parts.check_signature(num_classes=num_classes, include_top=include_top, pooling=pooling,
                           weights=weights, classifier_activation=classifier_activation)
    inputs = builder_parts.model_input(input_shape, (224, 224, 3))
    x = layers.Conv2D(64, 11, strides=4, padding=2, activation="relu", name="conv1")(inputs)  # (B, 55, 55, 64)
    x = layers.MaxPool2D(3, 2, name="pool1")(x)                                               # (B, 27, 27, 64)
    x = layers.Conv2D(192, 5, padding=2, activation="relu", name="conv2")(x)                  # (B, 27, 27, 192)
    x = layers.MaxPool2D(3, 2, name="pool2")(x)                                               # (B, 13, 13, 192)
    x = layers.Conv2D(384, 3, padding=1, activation="relu", name="conv3")(x)                  # (B, 13, 13, 384)
    x = layers.Conv2D(256, 3, padding=1, activation="relu", name="conv4")(x)                  # (B, 13, 13, 256)
    x = layers.Conv2D(256, 3, padding=1, activation="relu", name="conv5")(x)                  # (B, 13, 13, 256)
    x = layers.MaxPool2D(3, 2, name="pool5")(x)                                               # (B, 6, 6, 256)
    if not include_top:
        return builder_parts.finish(inputs, builder_parts.global_pool(x, pooling), name, weights)
    x = layers.AdaptiveAveragePool2D((6, 6), name="avgpool")(x)                               # (B, 6, 6, 256)
    x = keras.layers.Flatten(name="flatten")(x)                                               # (B, 9216)
    x = keras.layers.Dropout(DROPOUT, name="fc6_dropout")(x)
    x = keras.layers.Dense(fc_units, activation="relu", name="fc6")(x)                        # (B, 4096)
    x = keras.layers.Dropout(DROPOUT, name="fc7_dropout")(x)
    x = keras.layers.Dense(fc_units, activation="relu", name="fc7")(x)                        # (B, 4096)
    outputs = builder_parts.classifier(x, num_classes, classifier_activation)                       # (B, 1000)
    return builder_parts.finish(inputs, outputs, name, weights)


def _conv(x, filters, kernel_size, name, *, strides=1, groups=1, bias=0.0):
    """Conv → ReLU with the paper's initialisation; ``groups=2``: one half per GPU."""
    init = dict(kernel_initializer=keras.initializers.RandomNormal(0.0, 0.01),
                bias_initializer=keras.initializers.Constant(bias), activation="relu", name=name)
    if groups == 1:
        return layers.Conv2D(filters, kernel_size, strides=strides, padding=(kernel_size - 1) // 2
                             if strides == 1 else 0, **init)(x)
    # Keras' grouped conv; stride 1 and "same" is P = (F − 1)/2, the paper's padding.
    return keras.layers.Conv2D(filters, kernel_size, padding="same", groups=groups, **init)(x)


def alexnet_paper(*, input_shape=None, num_classes=1000, include_top=True, pooling=None,
                  classifier_activation="softmax", weights=None, name="alexnet_paper"):
    """AlexNet as in the paper's Figure 2: two groups, LRN, 227×227 (see the module docstring)."""
    builder_parts.check_signature(num_classes=num_classes, include_top=include_top, pooling=pooling,
                           weights=weights, classifier_activation=classifier_activation)
    inputs = builder_parts.model_input(input_shape, (227, 227, 3))
    x = _conv(inputs, 96, 11, "conv1", strides=4)                                  # (B, 55, 55, 96)
    x = layers.LocalResponseNormalization(**LRN, name="norm1")(x)
    x = layers.MaxPool2D(3, 2, name="pool1")(x)                                    # (B, 27, 27, 96)
    x = _conv(x, 256, 5, "conv2", groups=2, bias=1.0)                             # (B, 27, 27, 256)
    x = layers.LocalResponseNormalization(**LRN, name="norm2")(x)
    x = layers.MaxPool2D(3, 2, name="pool2")(x)                                    # (B, 13, 13, 256)
    x = _conv(x, 384, 3, "conv3")                                                  # (B, 13, 13, 384)
    x = _conv(x, 384, 3, "conv4", groups=2, bias=1.0)                             # (B, 13, 13, 384)
    x = _conv(x, 256, 3, "conv5", groups=2, bias=1.0)                             # (B, 13, 13, 256)
    x = layers.MaxPool2D(3, 2, name="pool5")(x)                                    # (B, 6, 6, 256)
    if not include_top:
        return builder_parts.finish(inputs, builder_parts.global_pool(x, pooling), name, weights)
    x = keras.layers.Flatten(name="flatten")(x)                                    # (B, 9216)
    for fc in ("fc6", "fc7"):
        x = keras.layers.Dense(4096, activation="relu", name=fc,
                               kernel_initializer=keras.initializers.RandomNormal(0.0, 0.01),
                               bias_initializer="ones")(x)                        # (B, 4096)
        x = keras.layers.Dropout(DROPOUT, name=f"{fc}_dropout")(x)
    outputs = builder_parts.classifier(x, num_classes, classifier_activation)            # (B, 1000): FC8
    return builder_parts.finish(inputs, outputs, name, weights)


def notes_torchvision(kwargs) -> list[str]:
    return ["torchvision's AlexNet: 64-192-384-256-256 filters in one group, no LRN, adaptive average "
            "pool to 6×6 (any input ≥ 63×63 fits the FC weights), dropout 0.5 before FC6 and FC7",
            f"  parameters: {PARAMS:,} (torchvision AlexNet_Weights.IMAGENET1K_V1)"]


def notes_paper(kwargs) -> list[str]:
    sums = " + ".join(f"{k}·({extent:,} + 1)" for _, k, extent in FIGURE2)
    return ["Krizhevsky et al. 2012, Fig. 2: two GPUs: conv2, conv4, conv5 in 2 groups (each kernel sees "
            "its GPU's half of the maps), LRN (k 2, n 5, α 1e-4, β 0.75) after conv1 and conv2, "
            "overlapping 3×3/2 pools, dropout 0.5 after FC6 and FC7; 227×227 input",
            f"  parameters from Fig. 2's kernels: {sums} = {figure2_params():,} "
            "(the text: \"60 million\")"]


FAMILIES = (
    Family("alexnet", alexnet, notes=notes_torchvision,
           published=Published(PARAMS, "torchvision.models.AlexNet_Weights.IMAGENET1K_V1"
                               ".meta['num_params']"),
           converters={"torchvision": "cnn_zoo.convert.torchvision_alexnet"},
           test_kwargs={"input_shape": (63, 63, 3), "num_classes": 3, "fc_units": 64}),
    Family("alexnet_paper", alexnet_paper, notes=notes_paper,
           published=Published(figure2_params(), "Krizhevsky et al. 2012, Fig. 2 (kernel sizes; "
                               "the sum is in cnn_zoo.models.alexnet.FIGURE2)"),
           test_kwargs={"input_shape": (67, 67, 3), "num_classes": 3}),
)
