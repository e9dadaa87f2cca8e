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
            stage_dropout=0.0, batch_norm=False, rounding="exact", name="convnet"):
    """A CS231n-style stack: ``spec`` sets N, M and K; the rest set K/F/S/P per stage or conv.

    ``filters``, ``kernel_size``, ``strides``, ``padding``: one value for all
    convs, one per stage, or one list per stage with one value per conv.
    ``rounding="exact"`` (default) refuses shapes where a stride does not
    divide; ``"floor"`` accepts them as Keras would. ``batch_norm=True`` makes
    each CONV-RELU a CONV-BN-RELU (Ioffe & Szegedy 2015), as torchvision's
    ``vgg11_bn``; ``dropout`` follows each FC-RELU and ``stage_dropout`` each
    stage (after its pool, as in Keras' own small convnet examples).
    """
    builder_parts.check_signature(num_classes=num_classes, include_top=include_top, pooling=pooling,
                                  weights=weights, classifier_activation=classifier_activation)
    if not isinstance(batch_norm, bool):
        raise ZooError(f"`batch_norm` must be True or False. Received: batch_norm={batch_norm!r}")
    for arg, rate in (("dropout", dropout), ("stage_dropout", stage_dropout)):
        if not is_number(rate) or not 0 <= rate < 1:
            raise ZooError(f"`{arg}` must be a number in [0, 1). Received: {arg}={rate!r}")
    inputs = builder_parts.model_input(input_shape, (28, 28, 1))
    plan = plan_convnet(tuple(inputs.shape[1:]), spec, filters=filters, kernel_size=kernel_size,
                        strides=strides, padding=padding, pool_size=pool_size,
                        pool_strides=pool_strides, fc_units=fc_units, rounding=rounding)
    x = inputs
    convs = [planned for planned in plan.layers if planned.stage]  # the FC layers come after Flatten
    for i, planned in enumerate(convs):
        if planned.kind == "conv":
            # With BN the conv has no bias (BN's beta takes its place: (F·F·D1)·K weights, BN 4·K)
            # and the ReLU comes after BN.
            x = layers.Conv2D(**planned.args, rounding=rounding, use_bias=not batch_norm,
                              activation=None if batch_norm else "relu", name=planned.name)(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(name=f"{planned.name}_bn")(x)
                x = keras.layers.ReLU(name=f"{planned.name}_relu")(x)
        elif planned.kind == "max_pool":
            x = layers.MaxPool2D(**planned.args, rounding=rounding, name=planned.name)(x)
        if stage_dropout and (i + 1 == len(convs) or convs[i + 1].stage != planned.stage):
            x = keras.layers.Dropout(stage_dropout, name=f"stage{planned.stage}_dropout")(x)
    if not include_top:
        return builder_parts.finish(inputs, builder_parts.global_pool(x, pooling), name, weights)
    x = keras.layers.Flatten(name="flatten")(x)
    for planned in plan.of_kind("dense"):
        x = keras.layers.Dense(**planned.args, activation="relu", name=planned.name)(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{planned.name}_dropout")(x)
    outputs = builder_parts.classifier(x, num_classes, classifier_activation)
    return builder_parts.finish(inputs, outputs, name, weights)


FAMILIES = (Family("convnet", convnet, planner=PLANNER),)
