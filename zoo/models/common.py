"""What every builder shares: the keras.applications signature's input, head and weights.

Every builder takes ``input_shape, num_classes, include_top, pooling,
classifier_activation, weights, name`` with the same meaning:

- ``include_top=False`` returns the feature extractor; ``pooling`` then is
  ``None`` (the last feature volume), ``"avg"`` or ``"max"`` (global pooling).
- The head ends in a ``Dense`` named ``"classifier"`` (the logits) followed by an
  ``Activation`` named ``"predictions"``, always float32, so mixed-precision
  training keeps a float32 softmax. ``classifier_activation=None`` gives logits.
- ``weights`` is ``None`` or the path of a ``.weights.h5`` file. Pretrained tags
  such as ``"lenet5.mnist"`` are loaded by the hub (``zoo.load(tag)``), which
  sits above the registry: it builds the model by name and loads the file.
"""

from __future__ import annotations

import os

import keras

POOLINGS = (None, "avg", "max")


def check_signature(*, num_classes, include_top, pooling, weights, classifier_activation=None):
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"`num_classes` must be a positive int. Received: num_classes={num_classes!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"`pooling` must be None, 'avg' or 'max'. Received: pooling={pooling!r}")
    if weights is not None and not (isinstance(weights, (str, os.PathLike))
                                    and os.fspath(weights).endswith(".weights.h5")):
        raise ValueError(
            "`weights` must be None or the path of a .weights.h5 file; for a pretrained tag "
            f"use zoo.load({weights!r}). Received: weights={weights!r}"
        )
    if classifier_activation is not None:
        keras.activations.get(classifier_activation)  # raises on an unknown name


def model_input(input_shape, default_shape, name="input"):
    shape = tuple(default_shape if input_shape is None else input_shape)
    if len(shape) != len(default_shape) or any(
            s is not None and (not isinstance(s, int) or s < 1) for s in shape):
        raise ValueError(
            f"`input_shape` must be {len(default_shape)} positive ints (height, width, channels), "
            f"like {tuple(default_shape)}. Received: input_shape={input_shape!r}"
        )
    return keras.Input(shape, name=name)


def global_pool(x, pooling, name="global_pool"):
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name=name)(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name=name)(x)
    return x


def classifier(x, num_classes, classifier_activation, dropout=0.0, dense_name="classifier"):
    """Dropout → Dense logits → float32 activation named ``predictions``."""
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Dense(num_classes, name=dense_name)(x)
    # float32 even under a mixed policy: a bf16 softmax loses small probabilities.
    return keras.layers.Activation(classifier_activation or "linear", dtype="float32",
                                   name="predictions")(x)


def finish(inputs, outputs, name, weights):
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        if not os.path.exists(weights):
            raise FileNotFoundError(f"weights file not found: {os.fspath(weights)}")
        model.load_weights(weights)
    return model
