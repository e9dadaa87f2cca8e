"""What every builder shares: the keras.applications signature's input, head and weights.

Every builder takes ``input_shape, num_classes, include_top, pooling,
classifier_activation, weights, name`` with the same meaning:

- ``include_top=False`` returns the feature extractor; ``pooling`` then is
  ``None`` (the last feature volume), ``"avg"`` or ``"max"`` (global pooling).
- The head ends in a ``Dense`` named ``"classifier"`` (the logits) followed by an
  ``Activation`` named ``"predictions"``, always float32, so mixed-precision
  training keeps a float32 softmax. ``classifier_activation=None`` gives logits.
- ``weights`` is ``None`` or the path of a ``.weights.h5`` file. A pretrained
  tag such as ``"lenet5.mnist"`` is resolved above the models, by
  ``zoo.get_model(name, weights=TAG)`` and ``zoo.load(TAG)``: a builder never
  reaches up to the weights store.
"""

from __future__ import annotations

import os

import keras

from cnn_zoo.errors import ZooError
from cnn_zoo.layers.arguments import is_int, is_number

POOLINGS = (None, "avg", "max")


def check_signature(*, num_classes, include_top, pooling, weights, classifier_activation=None):
    if not is_int(num_classes) or num_classes < 1:
        raise ZooError(f"`num_classes` must be a positive int. Received: num_classes={num_classes!r}")
    if pooling not in POOLINGS:
        raise ZooError(f"`pooling` must be None, 'avg' or 'max'. Received: pooling={pooling!r}")
    if weights is not None and not (
            isinstance(weights, (str, os.PathLike)) and os.fspath(weights).endswith(".weights.h5")):
        raise ZooError(
            "`weights` must be None or the path of a .weights.h5 file; a pretrained tag such as "
            "'lenet5.mnist' (see 'zoo list --pretrained') is built by zoo.get_model(name, weights=TAG) "
            f"or zoo.load(TAG). Received: weights={weights!r}"
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


def finish(inputs, outputs, name, weights):
    """The model, with the weights of the ``.weights.h5`` file ``weights`` loaded (None: fresh)."""
    model = keras.Model(inputs, outputs, name=name)
    if weights is None:
        return model
    if not os.path.exists(weights):
        raise FileNotFoundError(f"weights file not found: {os.fspath(weights)}")
    model.load_weights(weights)
    return model


def weight_decay_regularizer(weight_decay):
    """The kernels' L2 penalty for a paper's "weight decay λ": λ/2·Σw², whose gradient λ·w is
    added to the loss gradient and so goes through SGD's momentum, as in Caffe and
    ``torch.optim.SGD``. (Keras optimizers' ``weight_decay`` is decoupled, w −= lr·λ·w, which
    with momentum 0.9 decays about 10× less.) None for λ = 0."""
    if not is_number(weight_decay) or weight_decay < 0:
        raise ZooError(f"`weight_decay` must be a number >= 0. Received: weight_decay={weight_decay!r}")
    return keras.regularizers.L2(weight_decay / 2) if weight_decay else None


def he_fan_out():
    """torchvision's conv init (ResNet, VGG): ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``,
    N(0, 2/(F·F·K)). Glorot's leaves a deep plain stack (VGG-19) dead at the start: every ReLU 0."""
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")
