"""Local response normalisation across channels, as Caffe computes it (GoogLeNet, AlexNet).

Each activation a at channel c is divided by a power of the energy of the n
channels centred on c (zero outside the volume):

    b_c = a_c / (k + α/n · Σ_{c' = c − (n−1)/2 .. c + (n−1)/2} a_{c'}²)^β

Caffe's LRN layer (norm_region ACROSS_CHANNELS) and ``torch.nn.LocalResponseNorm``
divide α by the window size n, as written above; the reference GoogLeNet
(bvlc_googlenet) uses n = 5, α = 1e-4, β = 0.75, k = 1.
``tf.nn.local_response_normalization`` does NOT divide by n: its ``alpha`` is
our α/n (and its ``depth_radius`` is (n − 1)/2, its ``bias`` is k). Porting a
Caffe model to TF's op with α unchanged normalises 5× too strongly.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers.pointwise import explain_pointwise, input_volume
from cnn_zoo.layers.window import normalize_data_format

_SERIALIZE = keras.saving.register_keras_serializable(package="cnn_zoo")


def _window_band(channels: int, size: int) -> np.ndarray:
    """(C, C) float32, 1 where channels c' and c are at most (n − 1)/2 apart: Σ a_{c'}² over c's window."""
    c = np.arange(channels)
    return (np.abs(c[:, None] - c[None, :]) <= (size - 1) // 2).astype("float32")


def _negative_power(scale, beta):
    """scale^−β. β = 0.75 (every Caffe LRN) as rsqrt·sqrt(rsqrt): two cheap ops where a
    general pow costs an exp and a log per value (11% of GoogLeNet's CPU step)."""
    if beta == 0.75:
        r = ops.rsqrt(scale)
        return r * ops.sqrt(r)
    if beta == 0.5:
        return ops.rsqrt(scale)
    return ops.power(scale, -beta)


@_SERIALIZE
class LocalResponseNormalization(keras.layers.Layer):
    """Caffe's ACROSS_CHANNELS LRN: b = a / (k + α/n·Σ_window a²)^β.

    Args:
        size: n, the number of channels in the window (odd, as Caffe requires,
            so the window is centred). Default 5.
        alpha: α, the scale; divided by n as in Caffe. Default 1e-4.
        beta: β, the exponent. Default 0.75.
        k: the additive constant (> 0, so nothing divides by zero). Default 1.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``:
            which axis holds the channels.
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=1.0, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.size = ar.normalize_tuple(size, 1, "size")[0]
        if self.size % 2 == 0:
            raise ValueError(
                "`size` must be odd so that the window of channels is centred "
                f"(Caffe refuses even sizes too). Received: size={size!r}"
            )
        self.alpha = ar.check_number("alpha", alpha)
        if self.alpha < 0:
            raise ValueError(f"`alpha` must be >= 0. Received: alpha={alpha!r}")
        self.beta = ar.check_number("beta", beta)
        self.k = ar.check_number("k", k, positive=True)
        self.data_format = normalize_data_format(data_format)
        self.supports_masking = True

    @property
    def channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[self.channel_axis] is None:
            raise ValueError(
                f"{self.name}: the channel axis of the input must be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        # Why float32: the scale is 1 + 2e-5·Σa², just above 1, where bfloat16's
        # values are 2^-7 apart: it would round to exactly 1 while Σa² < ~200
        # and move in 0.8% steps above, an error as large as the effect itself.
        # Squares, window sum and pow run in float32; the result is rounded to
        # the compute dtype once, at the end.
        x = ops.cast(inputs, "float32")
        channels = x.shape[self.channel_axis]
        squares = ops.square(x)
        if self.channel_axis != -1:
            squares = ops.moveaxis(squares, self.channel_axis, -1)  # (B, H, W, C)
        # Σ over each channel's window as one matmul with a 0/1 band matrix (C, C): exact
        # (only zeros added), and with its gradient 3.5-5x faster than n shifted slices of
        # a padded copy, whose backward pass (StridedSliceGrad) takes a quarter of GoogLeNet's
        # training step on CPU (docs/benchmarks.md, "GoogLeNet training at 224×224").
        total = ops.matmul(squares, ops.convert_to_tensor(_window_band(channels, self.size)))
        if self.channel_axis != -1:
            total = ops.moveaxis(total, -1, self.channel_axis)
        scale = self.k + (self.alpha / self.size) * total
        return ops.cast(x * _negative_power(scale, self.beta), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def explain(self, input_shape=None) -> ar.Arithmetic:
        volume = input_volume(self, input_shape, self.data_format)
        return explain_pointwise(
            "lrn", volume, name=self.name,
            # n multiply-adds per value for the sum of its window's squares.
            multiply_adds=math.prod(volume) * self.size,
            notes=(
                f"b = a / (k + α/n·Σ a²)^β over n = {self.size} neighbouring channels "
                f"= a / ({self.k:g} + {self.alpha:g}/{self.size}·Σ a²)^{self.beta:g}",
            ),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k,
                       "data_format": self.data_format})
        return config
