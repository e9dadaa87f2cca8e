"""The arithmetic of layers with no spatial window: LRN, the scaled tanh, the RBF output.

Such a layer is a window of 1 on every spatial axis (F = 1, S = 1, P = 0), so
its explanation has the same form as a conv's, with W2 = W1. No Keras import:
``input_volume`` reads only the shape a layer was built with.
"""

from __future__ import annotations

from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers.keras_private import built_input_shape


def input_volume(layer, input_shape=None, data_format="channels_last"):
    """The layer's input volume, channels-last, without the batch axis.

    ``input_shape`` if given, else the shape the layer was built with.
    """
    if input_shape is not None:
        return tuple(input_shape)
    built = built_input_shape(layer)
    if built is None:
        raise ar.ShapeError(
            f"{layer.name}: explain() needs input_shape=(W, H, D) for a layer "
            "that has not been built", layer=layer.name
        )
    shape = built[1:]
    if data_format == "channels_first" and len(shape) > 1:
        shape = (*shape[1:], shape[0])
    return shape


def explain_pointwise(kind, input_shape, output_shape=None, *, notes=(), weights=0,
                      biases=0, multiply_adds=0, name=None) -> ar.Arithmetic:
    """Arithmetic of a layer with no spatial window (F = 1, S = 1, P = 0 per axis).

    ``notes`` are formulas describing the computation, appended after the
    per-axis ones; the receptive field passes through unchanged.
    """
    input_shape = tuple(input_shape)
    output_shape = input_shape if output_shape is None else tuple(output_shape)
    spatial = input_shape[:-1]
    rank = len(spatial)
    return ar.Arithmetic(
        kind=kind, name=name, input_shape=input_shape, output_shape=output_shape,
        kernel_size=(1,) * rank, strides=(1,) * rank, padding=((0, 0),) * rank,
        rounding="floor", dilation=(1,) * rank,
        formulas=tuple(ar.formula(w, 1) for w in spatial) + tuple(notes),
        quotients=tuple(float(w) for w in spatial),
        weights=weights, biases=biases, multiply_adds=multiply_adds,
    )
