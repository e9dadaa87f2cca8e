"""Max pooling: the largest value in each F×F window, moved with stride S.

No weights. ``strides`` defaults to ``pool_size`` (non-overlapping windows).
Padding P adds cells that never win (they hold −∞, not 0), so a pool over
negative activations is unaffected by its padding. ``rounding="ceil"`` is
Caffe's convention, which GoogLeNet's pools (3×3/2: 112 → 56 → 28 → 14 → 7)
rely on.
"""

from __future__ import annotations

import keras
from keras import ops

from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers.window import WindowLayer

_SERIALIZE = keras.saving.register_keras_serializable(package="cnn_zoo")


class BaseMaxPool(WindowLayer):
    """Max over windows of extent F (``pool_size``), stride S, padding P."""

    def __init__(self, rank, pool_size, strides=None, padding=0, rounding="floor",
                 data_format=None, **kwargs):
        strides = pool_size if strides is None else strides
        super().__init__(rank, pool_size, strides, padding, rounding, 1, data_format,
                         window_name="pool_size", **kwargs)
        self.pool_size = self.window
        # A window lying wholly in the padding would output -inf: as Caffe,
        # require P < F on every side so each window holds an input cell.
        if self.padding != "same" and any(
                max(pair) >= f for pair, f in zip(self.padding, self.pool_size)):
            raise ValueError(
                f"`padding` must be smaller than `pool_size` on every side. "
                f"Received: padding={padding!r}, pool_size={pool_size!r}"
            )
        self.input_spec = keras.layers.InputSpec(ndim=rank + 2)

    def call(self, inputs):
        # Padded cells must never win: pad with the dtype's lowest value.
        x, native = self.pad_for(inputs, pad_value=float("-inf"))
        return ops.max_pool(x, pool_size=self.pool_size, strides=self.strides,
                            padding=native, data_format=self.data_format)

    def explain(self, input_shape=None) -> ar.Arithmetic:
        return ar.explain_window(
            "max_pool", self._explain_input(input_shape), kernel_size=self.pool_size,
            strides=self.strides, padding=ar.padding_to_config(self.padding),
            rounding=self.rounding, name=self.name,
        )

    def get_config(self):
        config = super().get_config()
        config.update(self._window_config())
        return config


@_SERIALIZE
class MaxPool1D(BaseMaxPool):
    """1D max pooling. See :class:`BaseMaxPool`."""

    def __init__(self, pool_size=2, strides=None, padding=0, **kwargs):
        super().__init__(1, pool_size, strides, padding, **kwargs)


@_SERIALIZE
class MaxPool2D(BaseMaxPool):
    """2D max pooling. See :class:`BaseMaxPool`."""

    def __init__(self, pool_size=2, strides=None, padding=0, **kwargs):
        super().__init__(2, pool_size, strides, padding, **kwargs)


@_SERIALIZE
class MaxPool3D(BaseMaxPool):
    """3D max pooling. See :class:`BaseMaxPool`."""

    def __init__(self, pool_size=2, strides=None, padding=0, **kwargs):
        super().__init__(3, pool_size, strides, padding, **kwargs)
