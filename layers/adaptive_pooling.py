"""Adaptive average pooling: a fixed grid of bins over any input, as ``torch.nn.AdaptiveAvgPool2d``.

Along an axis of W1 inputs and W2 outputs, output cell i averages the inputs
floor(i·W1/W2) … ceil((i + 1)·W1/W2) − 1. When W2 divides W1 that is a plain
average pool with F = S = W1/W2, so W2 = (W1 − F + 2·0)/S + 1; when W1 = 1
every output repeats the one input; otherwise the bins differ in size by one
and may overlap.

torchvision's VGG (7×7) and AlexNet (6×6) pool so before their classifier,
which makes the classifier's weights fit any input the convs accept: at
224×224 the pool changes nothing (7 → 7), at 32×32 it repeats VGG's 1×1
map 49 times.

Computed as two products with constant (W2, W1) averaging matrices, the same
on every backend; no weights.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers.pointwise import input_volume
from cnn_zoo.layers.window import normalize_data_format

_SERIALIZE = keras.saving.register_keras_serializable(package="cnn_zoo")


def bins(size: int, out: int) -> list[tuple[int, int]]:
    """[start, end) of each of the ``out`` bins over ``size`` inputs, as PyTorch computes them."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _averaging(size: int, out: int) -> np.ndarray:
    """(out, size) float32: row i holds 1/n on the n inputs of bin i."""
    matrix = np.zeros((out, size), "float32")
    for i, (start, end) in enumerate(bins(size, out)):
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


@_SERIALIZE
class AdaptiveAveragePool2D(keras.layers.Layer):
    """Average over a grid of ``output_size`` bins, whatever the input's height and width.

    Args:
        output_size: (H2, W2), or one int for both.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
    """

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.output_size = ar.normalize_tuple(output_size, 2, "output_size")
        self.data_format = normalize_data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def _spatial(self, shape):
        return tuple(shape[1:3]) if self.data_format == "channels_last" else tuple(shape[2:4])

    def build(self, input_shape):
        spatial = self._spatial(input_shape)
        if any(s is None for s in spatial):
            raise ValueError(f"{self.name}: the input's height and width must be known. "
                             f"Received: input_shape={tuple(input_shape)}")
        self._matrices = [_averaging(s, o) for s, o in zip(spatial, self.output_size)]

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            return (input_shape[0], *self.output_size, input_shape[-1])
        return (input_shape[0], input_shape[1], *self.output_size)

    def call(self, inputs):
        if self._spatial(inputs.shape) == self.output_size:
            return inputs  # one input per bin: nothing to average
        rows, cols = (ops.convert_to_tensor(m, dtype=inputs.dtype) for m in self._matrices)
        if self.data_format == "channels_last":
            return ops.einsum("ih,bhwc,jw->bijc", rows, inputs, cols)
        return ops.einsum("ih,bchw,jw->bcij", rows, inputs, cols)

    def explain(self, input_shape=None) -> ar.Arithmetic:
        volume = input_volume(self, input_shape, self.data_format)
        *spatial, depth = volume
        if all(s % o == 0 for s, o in zip(spatial, self.output_size)):
            # Equal bins: a plain average pool, F = S = W1/W2.
            window = tuple(s // o for s, o in zip(spatial, self.output_size))
            return ar.explain_window("adaptive_avg_pool", volume, kernel_size=window,
                                     strides=window, name=self.name)
        texts, largest, steps = [], [], []
        for size, out in zip(spatial, self.output_size):
            lengths = sorted({end - start for start, end in bins(size, out)})
            sizes = "–".join(map(str, (lengths[0], lengths[-1]))) if len(lengths) > 1 else str(lengths[0])
            texts.append(f"{size} in {out} bins of {sizes}")
            largest.append(lengths[-1])
            steps.append(max(1, size // out))
        # The receptive field grows by the largest bin (an upper bound where bins differ).
        return ar.Arithmetic(
            kind="adaptive_avg_pool", name=self.name, input_shape=tuple(volume),
            output_shape=(*self.output_size, depth), kernel_size=tuple(largest),
            strides=tuple(steps), padding=((0, 0), (0, 0)), rounding="floor", dilation=(1, 1),
            formulas=tuple(texts), quotients=tuple(float(o) for o in self.output_size),
            weights=0, biases=0, multiply_adds=0)  # counted 0, as a pool's

    def get_config(self):
        config = super().get_config()
        config.update({"output_size": self.output_size, "data_format": self.data_format})
        return config
