"""LeNet-5's trainable subsampling (layers S2 and S4).

Each output cell is the sum of an F×F window (F = 2, stride 2) of one input
map, multiplied by a trainable coefficient and shifted by a trainable bias,
both shared by the whole map (LeCun et al. 1998, Sec. II-B):

    y[i, j, d] = c_d · Σ_{window} x[., ., d] + b_d

so the layer has 2 parameters per map (S2: 6 maps → 12, S4: 16 → 32) and its
output size follows W2 = (W1 − F + 2P)/S + 1.

The paper then squashes y with a sigmoidal function (its scaled tanh); here
``activation`` defaults to None so the model says which squashing it uses
(lenet5 passes ``layers.scaled_tanh``), as it does for its conv layers.
"""

from __future__ import annotations

import dataclasses
import math

import keras
from keras import ops

from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers.window import WindowLayer

_SERIALIZE = keras.saving.register_keras_serializable(package="cnn_zoo")


@_SERIALIZE
class TrainableSubsampling(WindowLayer):
    """y = c·Σ(F×F window) + b per map, with trainable c and b (LeNet-5's S2, S4).

    Args:
        pool_size: F, an int or a pair. Default 2.
        strides: S; default ``pool_size`` (non-overlapping windows, as in LeNet).
        padding: P, zeros around each map (they add nothing to a sum). Default 0.
        rounding: ``"floor"``, ``"ceil"`` or ``"exact"``, see :mod:`layers.arithmetic`.
        activation: applied after the affine map; default None (the model adds
            its own squashing).
        use_bias: whether b exists. Default True.
        coefficient_initializer: default None = the constant 1/(F·F), so the
            layer starts as plain average pooling (a sum of 4 with c = 1 would
            double the activations' scale at every subsampling layer).
        bias_initializer, coefficient_regularizer, bias_regularizer: as in Keras.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
    """

    def __init__(self, pool_size=2, strides=None, padding=0, rounding="floor", activation=None,
                 use_bias=True, coefficient_initializer=None, bias_initializer="zeros",
                 coefficient_regularizer=None, bias_regularizer=None, data_format=None, **kwargs):
        strides = pool_size if strides is None else strides
        super().__init__(2, pool_size, strides, padding, rounding, 1, data_format,
                         window_name="pool_size", **kwargs)
        self.pool_size = self.window
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.coefficient_initializer = None if coefficient_initializer is None \
            else keras.initializers.get(coefficient_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.coefficient_regularizer = keras.regularizers.get(coefficient_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        super().build(input_shape)  # the arithmetic checks the shape
        _, channels = self._split(input_shape)
        if channels is None:
            raise ValueError(
                f"{self.name}: the channel axis (number of maps) must be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        initializer = self.coefficient_initializer or \
            keras.initializers.Constant(1.0 / math.prod(self.pool_size))
        self.coefficient = self.add_weight(
            name="coefficient", shape=(channels,), initializer=initializer,
            regularizer=self.coefficient_regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(channels,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={self.channel_axis: channels})

    def window_sums(self, inputs):
        """Σ over each F×F window, zero padding included (no coefficient, no bias)."""
        x, native = self.pad_for(inputs)
        if native == "same":
            # A native 'same' average would divide border windows by the number
            # of real cells; a sum needs the zeros counted, so pad them in.
            spatial, _ = self._split(inputs.shape)
            if any(w is None for w in spatial):
                raise ValueError(
                    f"{self.name}: padding='same' needs known spatial sizes (give P as "
                    f"ints instead). Received: input_shape={tuple(inputs.shape)}"
                )
            pads = [ar.same_padding(w, f, s)
                    for w, f, s in zip(spatial, self.pool_size, self.strides)]
            widths = [(0, 0), *pads, (0, 0)] if self.data_format == "channels_last" \
                else [(0, 0), (0, 0), *pads]
            x = ops.pad(inputs, widths)
        mean = ops.average_pool(x, self.pool_size, self.strides, "valid", self.data_format)
        return mean * math.prod(self.pool_size)  # (B, W2, H2, D)

    def call(self, inputs):
        shape = (1, 1, 1, -1) if self.data_format == "channels_last" else (1, -1, 1, 1)
        y = self.window_sums(inputs) * ops.reshape(self.coefficient, shape)
        if self.use_bias:
            y = y + ops.reshape(self.bias, shape)
        return self.activation(y) if self.activation is not None else y

    def explain(self, input_shape=None) -> ar.Arithmetic:
        arithmetic = ar.explain_window(
            "subsampling", self._explain_input(input_shape), kernel_size=self.pool_size,
            strides=self.strides, padding=ar.padding_to_config(self.padding),
            rounding=self.rounding, name=self.name,
        )
        *out_spatial, maps = arithmetic.output_shape
        f = "·".join(map(str, self.pool_size))
        return dataclasses.replace(
            arithmetic,
            weights=maps, biases=maps if self.use_bias else 0,
            # One multiply-add (c·sum + b) per output value; the window's
            # additions are not counted, as for a conv's bias.
            multiply_adds=math.prod(out_spatial) * maps,
            formulas=arithmetic.formulas + (
                f"y = c·Σ({f} window) + b per map: {maps} coefficients"
                + (f" + {maps} biases" if self.use_bias else ""),
            ),
        )

    def get_config(self):
        config = super().get_config()
        config.update(self._window_config())
        config.update({
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "coefficient_initializer": None if self.coefficient_initializer is None
            else keras.initializers.serialize(self.coefficient_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "coefficient_regularizer": keras.regularizers.serialize(self.coefficient_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
        })
        return config
