"""He et al. 2015's parameter-free shortcut, "option A", where a residual stage changes the volume.

A shortcut must hand the addition a volume equal to the main path's. Where a
stage halves the map and doubles the depth (CIFAR ResNets: 32×32×16 →
16×16×32), option A takes every S-th cell of the input (a 1×1 window with
stride S: W2 = (W1 − 1 + 2·0)/S + 1, i.e. x[::S, ::S]) and appends K − D1
channels of zeros: "the shortcut still performs identity mapping, with extra
zero entries padded for increasing dimensions" (He et al. 2015, Sec. 3.3).
It has no weights, so a CIFAR ResNet has exactly the parameters of its plain
counterpart (ResNet-20: 0.27M). Option B instead projects with a 1×1 conv
and BN (torchvision's ``downsample``).
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers.window import WindowLayer

_SERIALIZE = keras.saving.register_keras_serializable(package="cnn_zoo")


@_SERIALIZE
class ZeroPadShortcut(WindowLayer):
    """Option A: the input subsampled by ``strides``, then zero channels up to ``filters``.

    Args:
        filters: K, the output depth (at least the input's D1).
        strides: S, an int or one per axis. Default 2.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
    """

    def __init__(self, filters, strides=2, data_format=None, **kwargs):
        super().__init__(2, 1, strides, 0, "floor", 1, data_format, window_name="kernel_size", **kwargs)
        self.filters = ar.normalize_tuple(filters, 1, "filters")[0]
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def output_channels(self, in_channels):
        return self.filters

    def build(self, input_shape):
        _, channels = self._split(input_shape)
        if channels is None or channels > self.filters:
            raise ValueError(f"{self.name}: option A pads the depth up to filters={self.filters}, so "
                             f"the input may have at most that many channels. "
                             f"Received: input_shape={tuple(input_shape)}")
        super().build(input_shape)

    def call(self, inputs):
        sh, sw = self.strides
        if self.data_format == "channels_last":
            x = inputs[:, ::sh, ::sw, :]
            pads = [(0, 0), (0, 0), (0, 0), (0, self.filters - x.shape[-1])]
        else:
            x = inputs[:, :, ::sh, ::sw]
            pads = [(0, 0), (0, self.filters - x.shape[1]), (0, 0), (0, 0)]
        return ops.pad(x, pads) if self.filters > x.shape[self.channel_axis] else x

    def explain(self, input_shape=None) -> ar.Arithmetic:
        volume = self._explain_input(input_shape)
        a = ar.explain_window("shortcut_a", volume, kernel_size=1, strides=self.strides, name=self.name)
        depth = volume[-1]
        note = f"depth {depth} + {self.filters - depth} zero channels = {self.filters} (no weights)"
        return dataclasses.replace(a, output_shape=(*a.output_shape[:-1], self.filters),
                                   formulas=(*a.formulas, note))

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "strides": self.strides, "data_format": self.data_format})
        return config
