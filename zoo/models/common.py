"""What every builder shares: the keras.applications signature's input, head and weights.

Every builder takes ``input_shape, num_classes, include_top, pooling,
classifier_activation, weights, name`` with the same meaning:

- ``include_top=False`` returns the feature extractor; ``pooling`` then is
  ``None`` (the last feature volume), ``"avg"`` or ``"max"`` (global pooling).
- The head ends in a ``Dense`` named ``"classifier"`` (the logits) followed by an
  ``Activation`` named ``"predictions"``, always float32, so mixed-precision
  training keeps a float32 softmax. ``classifier_activation=None`` gives logits.
- ``weights`` is ``None``, a pretrained tag such as ``"lenet5.mnist"`` (see
  :func:`finish`), or the path of a ``.weights.h5`` file.
"""

from __future__ import annotations

import os

import keras

from cnn_zoo.errors import ZooError

POOLINGS = (None, "avg", "max")


def is_tag(weights) -> bool:
    """``"lenet5.mnist"`` is a pretrained tag; a path to a .weights.h5 file is not."""
    return isinstance(weights, str) and "." in weights and not weights.endswith(".h5") \
        and os.sep not in weights


def check_signature(*, num_classes, include_top, pooling, weights, classifier_activation=None):
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ZooError(f"`num_classes` must be a positive int. Received: num_classes={num_classes!r}")
    if pooling not in POOLINGS:
        raise ZooError(f"`pooling` must be None, 'avg' or 'max'. Received: pooling={pooling!r}")
    if weights is not None and not is_tag(weights) and not (
            isinstance(weights, (str, os.PathLike)) and os.fspath(weights).endswith(".weights.h5")):
        raise ZooError(
            "`weights` must be None, a pretrained tag such as 'lenet5.mnist' (see 'zoo list "
            f"--pretrained') or the path of a .weights.h5 file. Received: weights={weights!r}"
        )
    if classifier_activation is not None:
        try:
            keras.activations.get(classifier_activation)
        except ValueError:
            raise ZooError(f"`classifier_activation` must be a Keras activation such as 'softmax' or "
                           f"None. Received: classifier_activation={classifier_activation!r}") from None


def model_input(input_shape, default_shape, name="input"):
    shape = tuple(default_shape if input_shape is None else input_shape)
    if len(shape) != len(default_shape) or any(
            s is not None and (not isinstance(s, int) or s < 1) for s in shape):
        raise ZooError(
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


def classifier(x, num_classes, classifier_activation, dropout=0.0, dense_name="classifier",
               kernel_regularizer=None):
    """Dropout → Dense logits → float32 activation named ``predictions``."""
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Dense(num_classes, kernel_regularizer=kernel_regularizer, name=dense_name)(x)
    # float32 even under a mixed policy: a bf16 softmax loses small probabilities.
    return keras.layers.Activation(classifier_activation or "linear", dtype="float32",
                                   name="predictions")(x)


def finish(inputs, outputs, name, weights, *, arch, num_classes=None):
    """The model, with ``weights`` loaded: a file, or a pretrained tag of architecture ``arch``.

    A tag is resolved by the weights store (``cnn_zoo.hub.store``: verified files,
    cache, package data, remote), a leaf module that imports nothing of the zoo
    above it, as keras.applications builders fetch their own weights. The
    model then carries the tag's manifest entry as ``model.zoo_info``
    (preprocessing, labels, metrics); ``zoo.load(tag, num_classes=N)`` is the
    way to a different head.
    """
    model = keras.Model(inputs, outputs, name=name)
    if weights is None:
        return model
    entry = None
    if is_tag(weights):
        from cnn_zoo.hub.store import info, pull

        entry = info(weights)
        if entry.arch != arch:
            raise ZooError(f"weights={weights!r} were trained for {entry.arch!r}, not {arch!r}; "
                             f"use {entry.arch!r} or zoo.load({weights!r})")
        trained = entry.kwargs.get("num_classes")
        if num_classes is not None and trained is not None and trained != num_classes:
            raise ZooError(
                f"weights={weights!r} have {trained} classes, the model {num_classes}: build with "
                f"num_classes={trained}, or use zoo.load({weights!r}, num_classes={num_classes}) "
                "to rebuild the head")
        weights = pull(weights)
    if not os.path.exists(weights):
        raise FileNotFoundError(f"weights file not found: {os.fspath(weights)}")
    model.load_weights(weights)
    if entry is not None:
        model.zoo_info = entry
    return model


def weight_decay_regularizer(weight_decay):
    """The kernels' L2 penalty for a paper's "weight decay λ": λ/2·Σw², whose gradient λ·w is
    added to the loss gradient and so goes through SGD's momentum, as in Caffe and
    ``torch.optim.SGD``. (Keras optimizers' ``weight_decay`` is decoupled, w −= lr·λ·w, which
    with momentum 0.9 decays about 10× less.) None for λ = 0."""
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ZooError(f"`weight_decay` must be a number >= 0. Received: weight_decay={weight_decay!r}")
    return keras.regularizers.L2(weight_decay / 2) if weight_decay else None


def he_fan_out():
    """torchvision's conv init (ResNet, VGG): ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``,
    N(0, 2/(F·F·K)). Glorot's leaves a deep plain stack (VGG-19) dead at the start: every ReLU 0."""
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")
