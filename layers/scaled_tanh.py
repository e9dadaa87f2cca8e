"""LeNet-5's squashing function f(a) = A·tanh(S·a), with A = 1.7159 and S = 2/3.

LeCun et al. 1998, Appendix A: with these constants f(1) = 1 and f(−1) = −1,
the second derivative is largest at a = ±1, and the gain is close to 1 over
the useful range, so inputs normalised to unit variance stay there.

``ScaledTanh`` is the layer (``amplitude`` A and ``slope`` S can be tuned);
``scaled_tanh`` is the same function with the paper's constants, registered so
that ``activation=layers.scaled_tanh`` survives a ``.keras`` save and reload.
(Keras resolves activation *strings* only among its built-ins, so pass the
function, not the string "cnn_zoo>scaled_tanh".)

This file also holds the explanation of pointwise layers (a window of 1 on
every spatial axis), shared by the layers of cnn-zoo that have no spatial
window: LRN, the scaled tanh, the RBF output.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from layers import arithmetic as ar

_SERIALIZE = keras.saving.register_keras_serializable(package="cnn_zoo")

AMPLITUDE = 1.7159  # A: makes f(±1) = ±1 with S = 2/3 (1.7159·tanh(2/3) = 1.0000)
SLOPE = 2.0 / 3.0   # S


def input_volume(layer, input_shape=None, data_format="channels_last"):
    """The layer's input volume, channels-last, without the batch axis.

    ``input_shape`` if given, else the shape the layer was built with.
    """
    if input_shape is not None:
        return tuple(input_shape)
    built = getattr(layer, "_build_shapes_dict", None)
    if not layer.built or not built:
        raise ValueError(
            f"{layer.name}: explain() needs input_shape=(W, H, D) for a layer "
            "that has not been built"
        )
    shape = tuple(next(iter(built.values())))[1:]
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


def _check_number(name, value, *, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (positive and value <= 0):
        what = "a positive finite number" if positive else "a finite number"
        raise ValueError(f"`{name}` must be {what}. Received: {name}={value!r}")
    return float(value)


@_SERIALIZE
def scaled_tanh(x):
    """1.7159·tanh(2x/3), LeNet-5's squashing function (f(1) = 1, f(−1) = −1)."""
    return AMPLITUDE * ops.tanh(SLOPE * x)


@_SERIALIZE
class ScaledTanh(keras.layers.Layer):
    """f(a) = A·tanh(S·a) elementwise; by default LeNet-5's A = 1.7159, S = 2/3.

    Args:
        amplitude: A, the asymptotes ±A.
        slope: S, the gain at the origin is A·S (≈ 1.14 for LeNet-5).
    """

    def __init__(self, amplitude=AMPLITUDE, slope=SLOPE, **kwargs):
        super().__init__(**kwargs)
        self.amplitude = _check_number("amplitude", amplitude)
        self.slope = _check_number("slope", slope)
        self.supports_masking = True

    def call(self, inputs):
        # Runs in the compute dtype (bfloat16 under mixed precision): tanh is
        # bounded and well conditioned, no float32 detour needed.
        return self.amplitude * ops.tanh(self.slope * inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def explain(self, input_shape=None) -> ar.Arithmetic:
        volume = input_volume(self, input_shape)
        return explain_pointwise(
            "scaled_tanh", volume, name=self.name,
            notes=(f"f(a) = {self.amplitude:g}·tanh({self.slope:.4g}·a), elementwise",),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"amplitude": self.amplitude, "slope": self.slope})
        return config
