"""LeNet-5's squashing function f(a) = A·tanh(S·a), with A = 1.7159 and S = 2/3.

LeCun et al. 1998, Appendix A: with these constants f(1) = 1 and f(−1) = −1,
the second derivative is largest at a = ±1, and the gain is close to 1 over
the useful range, so inputs normalised to unit variance stay there.

``ScaledTanh`` is the layer (``amplitude`` A and ``slope`` S can be tuned);
``scaled_tanh`` is the same function with the paper's constants, registered so
that ``activation=layers.scaled_tanh`` survives a ``.keras`` save and reload.
(Keras resolves activation *strings* only among its built-ins, so pass the
function, not the string "cnn_zoo>scaled_tanh".)
"""

from __future__ import annotations

import keras
from keras import ops

from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers.pointwise import explain_pointwise, input_volume

_SERIALIZE = keras.saving.register_keras_serializable(package="cnn_zoo")

AMPLITUDE = 1.7159  # A: makes f(±1) = ±1 with S = 2/3 (1.7159·tanh(2/3) = 1.0000)
SLOPE = 2.0 / 3.0   # S


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
        self.amplitude = ar.check_number("amplitude", amplitude)
        self.slope = ar.check_number("slope", slope)
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
