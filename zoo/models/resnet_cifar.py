"""The CIFAR-10 ResNets of He et al. 2015, Sec. 4.2: ``resnet_cifar(depth=20)``.

Input 32×32×3 (the per-pixel mean subtracted). A 3×3 conv of 16 filters, then
3 stages of n basic blocks (2n layers each) on maps of 32, 16 and 8 with
K = 16, 32, 64, then global average pooling and a 10-way FC: 6n + 2 weighted
layers, depth 20, 32, 44, 56, 110 (n = 3, 5, 7, 9, 18) in the paper.

    conv1          3×3, 16               → 32×32×16
    stage1 (×n)    [3×3, 16 → 3×3, 16]   → 32×32×16
    stage2 (×n)    [3×3, 32 → 3×3, 32]   → 16×16×32   (first conv S = 2)
    stage3 (×n)    [3×3, 64 → 3×3, 64]   →  8×8×64    (first conv S = 2)
    global average pool → 10-way FC → softmax

"In all cases we use identity shortcuts" (option A, Sec. 4.2): where a stage
starts, halving the map and doubling the depth, the shortcut takes every
second cell of the input and appends zero channels (32×32×16 → 16×16×32, the
``*_shortcut`` rows, no weights) so that the addition (``*_add``) joins two
16×16×32 volumes. The nets therefore have exactly their plain counterparts'
parameters. Table 6, as printed (parameters, CIFAR-10 test error): :data:`PAPER`.

``weight_decay`` (the paper's 1e-4) adds λ/2·Σw² over the conv and FC
kernels to the loss (:func:`cnn_zoo.models.builder_parts.weight_decay_regularizer`).
"""

from __future__ import annotations

import keras

from cnn_zoo.errors import ZooError
from cnn_zoo.family import Family, Published
from cnn_zoo.layers.arguments import is_int
from cnn_zoo.models import builder_parts
from cnn_zoo.models.resnet import check_options, conv_bn, residual_block, shortcut_note

WIDTHS = (16, 32, 64)
# He et al. 2015, Table 6: depth → (parameters in millions, % test error on CIFAR-10).
# ResNet-110's 6.43% is its best of 5 runs (mean 6.61 ± 0.16).
PAPER = {20: (0.27, 8.75), 32: (0.46, 7.51), 44: (0.66, 7.17), 56: (0.85, 6.97), 110: (1.7, 6.43),
         1202: (19.4, 7.93)}


def blocks_per_stage(depth) -> int:
    """n of a depth 6n + 2; a one-line error for a depth of another form."""
    if not is_int(depth) or depth < 8 or (depth - 2) % 6:
        raise ZooError(f"`depth` must be 6n + 2 for n >= 1 (20, 32, 44, 56, 110, 1202 in the paper). "
                       f"Received: depth={depth!r}")
    return (depth - 2) // 6


def resnet_cifar(*, input_shape=None, num_classes=10, include_top=True, pooling=None,
                 classifier_activation="softmax", weights=None, depth=20, shortcut="zeros",
                 weight_decay=0.0, name="resnet_cifar"):
    """A CIFAR ResNet of ``depth`` = 6n + 2 layers (see the module docstring).

    ``shortcut``: 'zeros' (option A, the paper's for CIFAR) or 'projection'
    (option B: 1×1 conv + BN where a stage starts).
    """
    builder_parts.check_signature(num_classes=num_classes, include_top=include_top, pooling=pooling,
                           weights=weights, classifier_activation=classifier_activation)
    n = blocks_per_stage(depth)
    check_options("torchvision", shortcut)
    decay = builder_parts.weight_decay_regularizer(weight_decay)
    inputs = builder_parts.model_input(input_shape, (32, 32, 3))
    x = conv_bn(inputs, WIDTHS[0], 3, 1, "conv1", regularizer=decay)          # (B, 32, 32, 16)
    for stage, width in enumerate(WIDTHS, 1):
        for b in range(1, n + 1):
            strides = 2 if b == 1 and stage > 1 else 1
            x = residual_block(x, "basic", width, strides, f"stage{stage}_block{b}",
                               shortcut=shortcut, regularizer=decay)
        # stage1: (B, 32, 32, 16), stage2: (B, 16, 16, 32), stage3: (B, 8, 8, 64)
    if not include_top:
        return builder_parts.finish(inputs, builder_parts.global_pool(x, pooling), name, weights)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)                # (B, 64)
    outputs = builder_parts.classifier(x, num_classes, classifier_activation, kernel_regularizer=decay)
    return builder_parts.finish(inputs, outputs, name, weights)


def notes(kwargs) -> list[str]:
    depth = kwargs.get("depth", 20)
    n = blocks_per_stage(depth)
    printed = PAPER.get(depth)
    return [
        f"He et al. 2015, Sec. 4.2, {depth} = 6·{n} + 2 layers: conv1 3×3, 16 → {n} basic blocks "
        "(3×3 K → 3×3 K) at each of K = 16, 32, 64 (maps 32, 16, 8) → global average pool → FC",
        f"  {shortcut_note(kwargs.get('shortcut', 'zeros'))}",
        "  the paper's Table 6: " + (f"{printed[0]}M parameters, {printed[1]}% CIFAR-10 test error"
                                     if printed else f"no row for depth {depth}"),
    ]


FAMILIES = (Family("resnet_cifar", resnet_cifar, notes=notes,
                   published=Published(270_000, "He et al. 2015, Table 6: ResNet-20, 0.27M "
                                       "(rounded to 0.01M)", rounded_to=10_000),
                   test_kwargs={"num_classes": 3}),)
