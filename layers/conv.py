"""Convolution in the textbook's terms.

A conv layer computes the cross-correlation of its input volume W1×H1×D1
with K filters of extent F×F×D1, moved with stride S over the input
zero-padded by P, and adds one bias per filter. Its output volume is
W2×H2×K with W2 = (W1 − F + 2P)/S + 1, and it has (F·F·D1)·K weights and
K biases. ``Conv1D``/``Conv2D``/``Conv3D`` only fix the number of spatial
axes; the logic is in :class:`BaseConv`.

Unlike ``keras.layers.Conv2D``, ``padding`` takes any P (an int, one per
axis, or (before, after) pairs, as well as 'valid' and 'same'), and
``rounding`` says what to do when S does not divide W1 − F + 2P.
"""

from __future__ import annotations

import keras
from keras import ops

from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers.window import WindowLayer

_SERIALIZE = keras.saving.register_keras_serializable(package="cnn_zoo")


class BaseConv(WindowLayer):
    """K filters of extent F, stride S, zero padding P, with bias.

    Args:
        rank: number of spatial axes (1, 2 or 3).
        filters: K, the number of filters (output depth).
        kernel_size: F, an int or one per spatial axis.
        strides: S, an int or one per axis. Default 1.
        padding: P, zeros added around the input: an int, one int per axis,
            one ``(before, after)`` pair per axis, ``"valid"`` (P = 0) or
            ``"same"`` (W2 = ceil(W1 / S), as Keras pads). Default 0.
        rounding: ``"floor"`` (default, as Keras and PyTorch), ``"ceil"`` or
            ``"exact"`` (an error unless (W1 − F + 2P) is a multiple of S).
        dilation_rate: D, gaps between kernel taps; extent D(F − 1) + 1.
        activation, use_bias, *_initializer, *_regularizer, *_constraint,
        activity_regularizer: as in ``keras.layers.Conv2D``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding=0, rounding="floor",
                 dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, data_format=None, **kwargs):
        super().__init__(rank, kernel_size, strides, padding, rounding, dilation_rate,
                         data_format, window_name="kernel_size",
                         activity_regularizer=activity_regularizer, **kwargs)
        self.filters = ar.normalize_tuple(filters, 1, "filters")[0]
        # TensorFlow's conv cannot combine them (JAX can): refuse on every
        # backend, as keras.layers.Conv2D does, so a model runs everywhere.
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` is not supported together with `dilation_rate > 1`. "
                f"Received: strides={self.strides}, dilation_rate={self.dilation_rate}"
            )
        self.kernel_size = self.window
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(min_ndim=rank + 2)

    def output_channels(self, in_channels):
        return self.filters

    def build(self, input_shape):
        super().build(input_shape)
        _, channels = self._split(input_shape)
        if channels is None:
            raise ValueError(
                f"{self.name}: the channel axis (D1) of the input must be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        shape, initializer = self.kernel_variable(channels)
        self.kernel = self.add_weight(
            name="kernel", shape=shape, initializer=initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
            )
        # A second call with another depth D1 is a clear error, not a matmul failure.
        self.input_spec = keras.layers.InputSpec(ndim=self.rank + 2, axes={self.channel_axis: channels})

    def kernel_variable(self, channels):
        """Shape and initializer of the kernel variable for an input of depth D1 = ``channels``.

        (F, F, D1, K), the layout every backend's conv takes; a subclass that
        stores its kernel otherwise (packed, masked...) overrides this and
        :meth:`convolve`.
        """
        return (*self.kernel_size, channels, self.filters), self.kernel_initializer

    def convolve(self, inputs, kernel):
        """Cross-correlate ``inputs`` with ``kernel`` (no bias) at this layer's S and P."""
        x, native = self.pad_for(inputs)
        return ops.conv(x, kernel, strides=self.strides, padding=native,
                        data_format=self.data_format, dilation_rate=self.dilation_rate)

    def call(self, inputs):
        y = self.convolve(inputs, self.kernel)
        if self.use_bias and self.data_format == "channels_last":
            # ops.add, as keras.layers.Conv2D: on TensorFlow it becomes a
            # BiasAdd, which oneDNN fuses with the conv.
            y = ops.add(y, ops.reshape(self.bias, (1,) * (self.rank + 1) + (self.filters,)))
        elif self.use_bias:
            # `+`, not ops.add: on TensorFlow ops.add takes a (1, K, 1, 1) bias
            # for an NHWC bias_add whenever W2 == K, adding it along W.
            y = y + ops.reshape(self.bias, (1, self.filters) + (1,) * self.rank)
        return self.activation(y) if self.activation is not None else y

    def explain(self, input_shape=None) -> ar.Arithmetic:
        return ar.explain_window(
            "conv", self._explain_input(input_shape), kernel_size=self.kernel_size,
            strides=self.strides, padding=ar.padding_to_config(self.padding),
            rounding=self.rounding, dilation=self.dilation_rate, filters=self.filters,
            use_bias=self.use_bias, name=self.name,
        )

    def get_config(self):
        config = super().get_config()
        config.update(self._window_config())
        config.update({
            "filters": self.filters,
            "dilation_rate": self.dilation_rate,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
        })
        return config


@_SERIALIZE
class Conv1D(BaseConv):
    """1D convolution: K filters of extent F over a (W1, D1) signal. See :class:`BaseConv`."""

    def __init__(self, filters, kernel_size, strides=1, padding=0, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, **kwargs)


@_SERIALIZE
class Conv2D(BaseConv):
    """2D convolution: K filters of F×F×D1 over a W1×H1×D1 volume. See :class:`BaseConv`."""

    def __init__(self, filters, kernel_size, strides=1, padding=0, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, **kwargs)


@_SERIALIZE
class Conv3D(BaseConv):
    """3D convolution: K filters of F×F×F×D1. See :class:`BaseConv`."""

    def __init__(self, filters, kernel_size, strides=1, padding=0, **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, **kwargs)
