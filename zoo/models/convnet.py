"""``convnet``: the parametric stack ``[(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K-SOFTMAX``.

The whole plan is checked by :func:`cnn_zoo.models.convnet_spec.plan_convnet`
before a single layer is created, so an impossible configuration fails with
the arithmetic error that names its stage.
"""

from __future__ import annotations

import keras

from cnn_zoo import layers
from cnn_zoo.errors import ZooError
from cnn_zoo.family import Family
from cnn_zoo.layers.arguments import is_number
from cnn_zoo.models import builder_parts
from cnn_zoo.models.convnet_spec import EXAMPLE, PLANNER, plan_convnet


def convnet(*, input_shape=None, num_classes=10, include_top=True, pooling=None,
            classifier_activation="softmax", weights=None, spec=EXAMPLE, filters=32, kernel_size=3,
            strides=1, padding=1, pool_size=2, pool_strides=None, fc_units=128, dropout=0.0,
            stage_dropout=0.0, batch_norm=False, conv_bias=None, bn_epsilon=1e-3, adaptive_pool=None,
            kernel_initializer="glorot_uniform", rounding="exact", name="convnet"):
    """A CS231n-style stack: ``spec`` sets N, M and K; the rest set K/F/S/P per stage or conv.

    ``filters``, ``kernel_size``, ``strides``, ``padding``: one value for all
    convs, one per stage, or one list per stage with one value per conv.
    ``rounding="exact"`` (default) refuses shapes where a stride does not
    divide; ``"floor"`` accepts them as Keras would. ``batch_norm=True`` makes
    each CONV-RELU a CONV-BN-RELU (Ioffe & Szegedy 2015), as the spec's
    ``CONV-BN-RELU`` does for one group; such a conv has no bias unless
    ``conv_bias=True`` (torchvision's ``vgg11_bn`` keeps it), and BN divides by
    sqrt(variance + ``bn_epsilon``). ``dropout`` follows each FC-RELU and
    ``stage_dropout`` each stage (after its pool, as in Keras' own small convnet
    examples). ``adaptive_pool=(H, W)`` averages the last volume onto an H×W
    grid before the FC layers (torchvision's VGG: 7×7). ``kernel_initializer``: the
    convs' (a Keras initializer or its name; He et al.'s ``"he_normal"`` suits deep stacks).
    """
    return build_convnet(
        input_shape=input_shape, default_shape=(28, 28, 1), num_classes=num_classes,
        include_top=include_top, pooling=pooling, classifier_activation=classifier_activation,
        weights=weights, spec=spec, filters=filters, kernel_size=kernel_size, strides=strides,
        padding=padding, pool_size=pool_size, pool_strides=pool_strides, fc_units=fc_units,
        dropout=dropout, stage_dropout=stage_dropout, batch_norm=batch_norm, conv_bias=conv_bias,
        bn_epsilon=bn_epsilon, adaptive_pool=adaptive_pool, kernel_initializer=kernel_initializer,
        rounding=rounding, name=name)


def build_convnet(*, input_shape, default_shape, num_classes, include_top, pooling,
                  classifier_activation, weights, spec, filters, kernel_size, strides, padding,
                  pool_size, pool_strides, fc_units, dropout, stage_dropout, batch_norm, conv_bias,
                  bn_epsilon, adaptive_pool, kernel_initializer, rounding, name):
    """:func:`convnet` for a family that is an instance of the pattern (VGG), with its own
    default input."""
    builder_parts.check_signature(num_classes=num_classes, include_top=include_top, pooling=pooling,
                           weights=weights, classifier_activation=classifier_activation)
    for arg, flag in (("batch_norm", batch_norm), ("conv_bias", conv_bias)):
        if not isinstance(flag, bool) and not (arg == "conv_bias" and flag is None):
            raise ZooError(f"`{arg}` must be True or False. Received: {arg}={flag!r}")
    for arg, rate in (("dropout", dropout), ("stage_dropout", stage_dropout)):
        if not is_number(rate) or not 0 <= rate < 1:
            raise ZooError(f"`{arg}` must be a number in [0, 1). Received: {arg}={rate!r}")
    if not is_number(bn_epsilon) or not bn_epsilon > 0:
        raise ZooError(f"`bn_epsilon` must be a positive number. Received: bn_epsilon={bn_epsilon!r}")
    inputs = builder_parts.model_input(input_shape, default_shape)
    plan = plan_convnet(tuple(inputs.shape[1:]), spec, filters=filters, kernel_size=kernel_size,
                        strides=strides, padding=padding, pool_size=pool_size,
                        pool_strides=pool_strides, fc_units=fc_units, adaptive_pool=adaptive_pool,
                        rounding=rounding)
    x = inputs
    convs = [planned for planned in plan.layers if planned.stage]  # the FC layers come after Flatten
    for i, planned in enumerate(convs):
        if planned.kind == "conv":
            bn = batch_norm or planned.batch_norm
            # With BN the ReLU comes after BN, and the conv needs no bias (BN's β takes its
            # place: (F·F·D1)·K weights, BN 2·K trainable), unless conv_bias keeps it.
            x = layers.Conv2D(**planned.args, rounding=rounding,
                              use_bias=(not bn) if conv_bias is None else conv_bias,
                              activation=None if bn else "relu", kernel_initializer=kernel_initializer,
                              name=planned.name)(x)
            if bn:
                x = keras.layers.BatchNormalization(epsilon=bn_epsilon, name=f"{planned.name}_bn")(x)
                x = keras.layers.ReLU(name=f"{planned.name}_relu")(x)
        elif planned.kind == "max_pool":
            x = layers.MaxPool2D(**planned.args, rounding=rounding, name=planned.name)(x)
        if stage_dropout and (i + 1 == len(convs) or convs[i + 1].stage != planned.stage):
            x = keras.layers.Dropout(stage_dropout, name=f"stage{planned.stage}_dropout")(x)
    if not include_top:
        return builder_parts.finish(inputs, builder_parts.global_pool(x, pooling), name, weights)
    for planned in plan.of_kind("adaptive_avg_pool"):
        x = layers.AdaptiveAveragePool2D(**planned.args, name=planned.name)(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for planned in plan.of_kind("dense"):
        x = keras.layers.Dense(**planned.args, activation="relu", name=planned.name)(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{planned.name}_dropout")(x)
    outputs = builder_parts.classifier(x, num_classes, classifier_activation)
    return builder_parts.finish(inputs, outputs, name, weights)


def notes(kwargs) -> list[str]:
    """The card's first line: the pattern this convnet instantiates."""
    return [f"pattern: {kwargs.get('spec', EXAMPLE)}"]


FAMILIES = (Family("convnet", convnet, planner=PLANNER, notes=notes,
                   test_kwargs={"input_shape": (28, 28, 1), "num_classes": 3, "filters": 4,
                                "fc_units": 8}),)
