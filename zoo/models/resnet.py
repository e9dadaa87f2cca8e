"""ResNet: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", 2015
(CVPR 2016), Table 1: ``resnet18``, ``resnet34`` (basic blocks), ``resnet50``,
``resnet101``, ``resnet152`` (bottleneck blocks).

Every depth is one column of Table 1 (volumes on a 224×224×3 input):

    conv1  7×7/2, 64, P 3                          → 112×112×64
    pool1  3×3/2 max, P 1                          →  56×56×64
    conv2_x … conv5_x: residual blocks at K = 64, 128, 256, 512
           (a stage's first block halves the map)  →  56, 28, 14, 7
    global average pool → 1,000-way FC → softmax

A basic block is 3×3 K → 3×3 K; a bottleneck is 1×1 K → 3×3 K → 1×1 4K (the
1×1s cut the depth the 3×3 sees by 4). What is new is the shortcut: a block
outputs ReLU(F(x) + x), where F is its convs. The addition (the ``*_add`` rows
of the card) needs two equal volumes, so the shortcut is the identity where
the block keeps the volume, and where the block halves the map or changes the
depth (each stage's first block) a projection W_s·x (Eq. 2, option B): a 1×1
conv with the block's stride, then BN (``*_shortcut``). Option A (zeros,
no weights; :class:`cnn_zoo.layers.ZeroPadShortcut`) is the CIFAR nets' and
``shortcut="zeros"`` here.

Two layouts, the same parameters (resnet50: 25,557,032):

- ``layout="torchvision"`` (default; torchvision's ``resnet*``, whose weights
  are published): a bottleneck's stride sits on its 3×3 conv ("ResNet v1.5");
- ``layout="paper"``: on its first 1×1 conv, as MSRA's Caffe models (which
  keras.applications' ResNet50 converted), fewer multiply-adds (Table 1's
  3.8×10⁹ for 50 layers; torchvision's layout 4.1×10⁹).

Basic blocks put the stride on their first 3×3 in both. Batch norm
(ε = 1e-5, torch's) after every conv, which has no bias; ReLU after BN except
on a block's last conv, whose ReLU follows the addition (``*_out``).
"""

from __future__ import annotations

import keras

from cnn_zoo import layers
from cnn_zoo.errors import ZooError
from cnn_zoo.family import Family, Published
from cnn_zoo.models import builder_parts

# Table 1: block kind and blocks per stage (conv2_x, conv3_x, conv4_x, conv5_x).
DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
          101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}
WIDTHS = (64, 128, 256, 512)  # K of each stage's 3×3 convs
EXPANSION = {"basic": 1, "bottleneck": 4}  # a block's output depth / K
LAYOUTS = ("torchvision", "paper")
SHORTCUTS = {"projection": "B", "zeros": "A"}  # the paper's options
BN_EPSILON = 1e-5
# torchvision.models.ResNet*_Weights.IMAGENET1K_V1.meta["num_params"] (tests/test_resnet.py
# reads them from the installed torchvision) and Table 1's FLOPs (multiply-adds), ×10⁹.
PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
PAPER_FLOPS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}


def conv_bn(x, filters, kernel_size, strides, name, relu=True, regularizer=None):
    """Conv F×F/S with P = (F − 1)/2, no bias → BN → ReLU (unless ``relu=False``)."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=kernel_size // 2, use_bias=False,
                      kernel_initializer=builder_parts.he_fan_out(), kernel_regularizer=regularizer, name=name)(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def residual_block(x, block, width, strides, name, *, layout="torchvision", shortcut="projection",
                   regularizer=None):
    """ReLU(F(x) + shortcut(x)): ``block`` is "basic" or "bottleneck", ``width`` its K."""
    out = width * EXPANSION[block]
    if block == "basic":
        y = conv_bn(x, width, 3, strides, f"{name}_conv1", regularizer=regularizer)
        y = conv_bn(y, out, 3, 1, f"{name}_conv2", relu=False, regularizer=regularizer)
    else:
        first, middle = (1, strides) if layout == "torchvision" else (strides, 1)
        y = conv_bn(x, width, 1, first, f"{name}_conv1", regularizer=regularizer)
        y = conv_bn(y, width, 3, middle, f"{name}_conv2", regularizer=regularizer)
        y = conv_bn(y, out, 1, 1, f"{name}_conv3", relu=False, regularizer=regularizer)
    if strides == 1 and x.shape[-1] == out:
        short = x  # identity: the volume is kept
    elif shortcut == "zeros":
        short = layers.ZeroPadShortcut(out, strides, name=f"{name}_shortcut")(x)
    else:
        short = conv_bn(x, out, 1, strides, f"{name}_shortcut", relu=False, regularizer=regularizer)
    y = keras.layers.Add(name=f"{name}_add")([y, short])  # both volumes equal: H2×W2×out
    return keras.layers.ReLU(name=f"{name}_out")(y)


def check_options(layout, shortcut):
    if layout not in LAYOUTS:
        raise ZooError(f"`layout` must be 'torchvision' (stride on a bottleneck's 3×3) or 'paper' "
                       f"(on its first 1×1). Received: layout={layout!r}")
    if shortcut not in SHORTCUTS:
        raise ZooError(f"`shortcut` must be 'projection' (option B: 1×1 conv + BN) or 'zeros' "
                       f"(option A: no weights). Received: shortcut={shortcut!r}")


def build_resnet(depth, *, input_shape, num_classes, include_top, pooling, classifier_activation,
                 weights, layout, shortcut, name):
    builder_parts.check_signature(num_classes=num_classes, include_top=include_top, pooling=pooling,
                           weights=weights, classifier_activation=classifier_activation)
    check_options(layout, shortcut)
    block, counts = DEPTHS[depth]
    inputs = builder_parts.model_input(input_shape, (224, 224, 3))
    x = conv_bn(inputs, 64, 7, 2, "conv1")                                    # (B, 112, 112, 64)
    x = layers.MaxPool2D(3, 2, padding=1, name="pool1")(x)                    # (B, 56, 56, 64)
    for stage, (count, width) in enumerate(zip(counts, WIDTHS), 2):
        for b in range(1, count + 1):
            strides = 2 if b == 1 and stage > 2 else 1
            x = residual_block(x, block, width, strides, f"conv{stage}_block{b}", layout=layout,
                               shortcut=shortcut)
        # conv2: (B, 56, 56, 64·e), conv3: (B, 28, 28, 128·e), conv4: 14×14, conv5: (B, 7, 7, 512·e)
    if not include_top:
        return builder_parts.finish(inputs, builder_parts.global_pool(x, pooling), name, weights)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)              # (B, 512·e)
    outputs = builder_parts.classifier(x, num_classes, classifier_activation)      # (B, 1000)
    return builder_parts.finish(inputs, outputs, name, weights)


def _builder(depth: int):
    arch = f"resnet{depth}"

    def build(*, input_shape=None, num_classes=1000, include_top=True, pooling=None,
              classifier_activation="softmax", weights=None, layout="torchvision",
              shortcut="projection", name=arch):
        return build_resnet(depth, input_shape=input_shape, num_classes=num_classes,
                            include_top=include_top, pooling=pooling,
                            classifier_activation=classifier_activation, weights=weights,
                            layout=layout, shortcut=shortcut, name=name)

    block, counts = DEPTHS[depth]
    build.__name__ = build.__qualname__ = arch
    build.__doc__ = (
        f"ResNet-{depth} (He et al. 2015, Table 1): {block} blocks {list(counts)} (see the module "
        "docstring).\n\n``layout``: 'torchvision' (default) or 'paper', where a bottleneck's stride "
        "sits;\n``shortcut``: 'projection' (option B, default) or 'zeros' (option A) where a block\n"
        "changes the volume.")
    return build


def shortcut_note(shortcut: str) -> str:
    """The card's line on how the shortcut joins the main path's volume."""
    how = ("option B: a 1×1 conv with the block's stride S, then BN (the *_shortcut rows)"
           if shortcut == "projection" else
           "option A: every S-th cell, zero channels appended up to K (*_shortcut rows, no weights)")
    return ("shortcut: the identity where a block keeps the volume; where it halves the map or "
            f"changes the depth, {how}; the *_add rows join it to the main path (the two volumes "
            "must be equal, the + in their formula), then ReLU (*_out)")


def notes(depth: int):
    block, counts = DEPTHS[depth]

    def lines(kwargs) -> list[str]:
        layout = kwargs.get("layout", "torchvision")
        where = ("both layouts: the stride on a basic block's first 3×3" if block == "basic" else
                 f"layout {layout!r}: the stride on a bottleneck's "
                 + ("3×3 (v1.5)" if layout == "torchvision" else "first 1×1 (MSRA's Caffe)"))
        kind = "3×3 K → 3×3 K" if block == "basic" else "1×1 K → 3×3 K → 1×1 4K"
        return [
            f"He et al. 2015, Table 1, {depth} layers: conv1 7×7/2, 64 → max pool 3×3/2 → "
            f"{block} blocks ({kind}) {list(counts)} at K = 64, 128, 256, 512 (conv2_x … conv5_x) "
            "→ global average pool → FC",
            f"  {where}",
            f"  {shortcut_note(kwargs.get('shortcut', 'projection'))}",
            f"  parameters: {PARAMS[depth]:,} (torchvision ResNet{depth}_Weights.IMAGENET1K_V1); the "
            f"paper's Table 1: {PAPER_FLOPS[depth]}×10⁹ FLOPs (multiply-adds, its layout)",
        ]
    return lines


def _family(depth: int) -> Family:
    return Family(f"resnet{depth}", _builder(depth), notes=notes(depth),
                  published=Published(PARAMS[depth], f"torchvision.models.ResNet{depth}_Weights"
                                      ".IMAGENET1K_V1.meta['num_params']"),
                  converters={"torchvision": "cnn_zoo.convert.torchvision_resnet"},
                  test_kwargs={"input_shape": (64, 64, 3), "num_classes": 3})


FAMILIES = tuple(_family(depth) for depth in DEPTHS)
