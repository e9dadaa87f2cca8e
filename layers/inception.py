"""GoogLeNet's inception block (Szegedy et al. 2014, Fig. 2b and Table 1).

Four branches see the same input and keep its W×H; their outputs are
concatenated on the channel axis, in this order:

    1x1                       n1x1 filters
    3x3_reduce → 3x3          1×1 to n3x3_reduce, then 3×3 (P = 1) to n3x3
    5x5_reduce → 5x5          1×1 to n5x5_reduce, then F×F (P = (F − 1)/2) to n5x5
    pool → pool_proj          3×3/1 max-pool (P = 1), then 1×1 to pool_proj

so the output depth is n1x1 + n3x3 + n5x5 + pool_proj (3a: 64 + 128 + 32 + 32 =
256). ReLU follows every conv. The six widths are Table 1's columns.

The sub-layers have fixed names, those of the reference Caffe model
(``inception_3a/3x3_reduce`` becomes ``<block>/3x3_reduce``), so that ported
weights find their place. Two options cover torchvision's GoogLeNet:
``batch_norm=True`` gives each conv no bias and a BatchNormalization (ε = 0.001,
named ``<conv>_bn``) before its ReLU, as torchvision's BasicConv2d does, and
``branch5_kernel_size=3`` is the 3×3 torchvision has in its "5×5" branch (the
sub-layer keeps the name ``5x5``).
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers.conv import Conv2D
from cnn_zoo.layers.pooling import MaxPool2D
from cnn_zoo.layers.window import normalize_data_format

_SERIALIZE = keras.saving.register_keras_serializable(package="cnn_zoo")

WIDTHS = ("n1x1", "n3x3_reduce", "n3x3", "n5x5_reduce", "n5x5", "pool_proj")

# (sub-layer name, width argument, kernel size, padding) per conv, branch by branch.
# The "5x5" kernel is filled in by the block (branch5_kernel_size).
_CONVS = (
    ("1x1", "n1x1", 1, 0),
    ("3x3_reduce", "n3x3_reduce", 1, 0),
    ("3x3", "n3x3", 3, 1),
    ("5x5_reduce", "n5x5_reduce", 1, 0),
    ("5x5", "n5x5", None, None),
    ("pool_proj", "pool_proj", 1, 0),
)
# Branches as chains of sub-layer names; their outputs are concatenated in this order.
BRANCHES = (("1x1",), ("3x3_reduce", "3x3"), ("5x5_reduce", "5x5"), ("pool", "pool_proj"))


@_SERIALIZE
class Inception(keras.layers.Layer):
    """GoogLeNet's inception block, by the six widths of Table 1.

    Args:
        n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj: the filters of
            each conv (Table 1's #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5,
            pool proj).
        branch5_kernel_size: F of the "5×5" conv; odd, padded by (F − 1)/2 so
            the size is kept. Default 5 (the paper); torchvision uses 3.
        batch_norm: each conv without bias, followed by BatchNormalization
            (ε = 0.001) then ReLU, as torchvision. Default False (the paper:
            conv with bias, then ReLU).
        bn_momentum: the BatchNormalization momentum (Keras convention:
            weight of the old moving average). Default 0.99, Keras'; torchvision
            trains with 0.9 (its momentum=0.1).
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: passed to every conv.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
    """

    def __init__(self, n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj,
                 branch5_kernel_size=5, batch_norm=False, bn_momentum=0.99,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in zip(WIDTHS, (n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj)):
            setattr(self, name, ar.normalize_tuple(value, 1, name)[0])
        if not ar.is_int(branch5_kernel_size) or branch5_kernel_size < 1 or branch5_kernel_size % 2 == 0:
            raise ValueError(
                "`branch5_kernel_size` must be an odd int >= 1, so that P = (F − 1)/2 keeps "
                f"the size (5 as the paper, 3 as torchvision). "
                f"Received: branch5_kernel_size={branch5_kernel_size!r}"
            )
        self.branch5_kernel_size = branch5_kernel_size
        self.batch_norm = bool(batch_norm)
        if not ar.is_number(bn_momentum) or not 0 <= bn_momentum < 1:
            raise ValueError(
                f"`bn_momentum` must be in [0, 1). Received: bn_momentum={bn_momentum!r}")
        self.bn_momentum = float(bn_momentum)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=4)

        # Sub-layers, created here and built in build(); they run in the
        # block's dtype policy (mixed precision included).
        self.sublayers = {}
        common = dict(data_format=self.data_format, dtype=self.dtype_policy)
        for name, width, kernel_size, padding in _CONVS:
            if kernel_size is None:
                kernel_size, padding = branch5_kernel_size, (branch5_kernel_size - 1) // 2
            self.sublayers[name] = Conv2D(
                getattr(self, width), kernel_size, padding=padding, name=name,
                # With BN the ReLU comes after the normalisation, and BN's β
                # makes a conv bias redundant.
                use_bias=not self.batch_norm, activation=None if self.batch_norm else "relu",
                kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer,
                kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer,
                **common,
            )
            if self.batch_norm:
                self.sublayers[f"{name}_bn"] = keras.layers.BatchNormalization(
                    axis=-1 if self.data_format == "channels_last" else 1, epsilon=0.001,
                    momentum=self.bn_momentum, name=f"{name}_bn", dtype=self.dtype_policy,
                )
        self.sublayers["pool"] = MaxPool2D(3, strides=1, padding=1, name="pool", **common)

    @property
    def channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def get_layer(self, name):
        """The sub-layer called ``name`` (e.g. ``"3x3_reduce"``, ``"5x5_bn"``, ``"pool"``)."""
        if name not in self.sublayers:
            raise ValueError(
                f"{self.name}: no sub-layer {name!r}; it has {', '.join(self.sublayers)}")
        return self.sublayers[name]

    def _chain(self, name):
        """The layers one step of a branch runs: the conv (and its BN), or the pool."""
        if self.batch_norm and f"{name}_bn" in self.sublayers:
            return [self.sublayers[name], self.sublayers[f"{name}_bn"]]
        return [self.sublayers[name]]

    def branch_layers(self):
        """Each branch's sub-layers in the order they run (a conv, its BN, the pool), one list
        per branch; the block concatenates the branches' outputs on the channel axis. Model
        cards and ``zoo page`` draw any layer that has this method as branches that join."""
        return [[layer for step in branch for layer in self._chain(step)] for branch in BRANCHES]

    def _branch_shapes(self, input_shape, build=False):
        """Each branch's output shape, through the sub-layers' arithmetic."""
        shapes = []
        for branch in BRANCHES:
            shape = tuple(input_shape)
            for step in branch:
                for layer in self._chain(step):
                    if build and not layer.built:
                        layer.build(shape)
                    shape = tuple(layer.compute_output_shape(shape))
            shapes.append(shape)
        return shapes

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[self.channel_axis] is None:
            raise ValueError(
                f"{self.name}: expected a 4D input with a known channel axis. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self._branch_shapes(input_shape, build=True)
        self.input_spec = keras.layers.InputSpec(
            ndim=4, axes={self.channel_axis: input_shape[self.channel_axis]})

    def compute_output_shape(self, input_shape):
        shapes = self._branch_shapes(input_shape)
        out = list(shapes[0])
        out[self.channel_axis] = sum(shape[self.channel_axis] for shape in shapes)
        return tuple(out)

    def call(self, inputs, training=None):
        outputs = []
        for branch in BRANCHES:
            x = inputs
            for step in branch:
                chain = self._chain(step)
                x = chain[0](x)
                if len(chain) == 2:  # conv → BN → ReLU
                    x = ops.relu(chain[1](x, training=training))
            outputs.append(x)
        # (B, H, W, n1x1 + n3x3 + n5x5 + pool_proj)
        return ops.concatenate(outputs, axis=self.channel_axis)

    def explain(self, input_shape=None) -> ar.Arithmetic:
        """The block as one layer: the widest branch's window (its receptive
        field), weights, biases and multiply-adds summed over the branches, the
        depth as a sum of widths. With ``batch_norm`` the biases are BN's γ and β
        (2 per channel; the moving statistics are not parameters)."""
        if input_shape is None:
            if not self.built:
                raise ar.ShapeError(f"{self.name}: explain() needs input_shape=(W, H, D) for a "
                                    "layer that has not been built", layer=self.name)
            input_shape = self.sublayers["1x1"].explain().input_shape
        volume = tuple(input_shape)
        weights = biases = macs = 0
        for branch in BRANCHES:
            shape = volume
            for step in branch:
                step_arithmetic = self.sublayers[step].explain(shape)
                shape = step_arithmetic.output_shape
                weights += step_arithmetic.weights
                biases += step_arithmetic.biases
                macs += step_arithmetic.multiply_adds
                if self.batch_norm and step != "pool":
                    biases += 2 * shape[-1]  # BN's γ and β per channel
        widest = max(3, self.branch5_kernel_size)
        window = ar.explain_window("inception", volume, kernel_size=widest, strides=1,
                                   padding=(widest - 1) // 2, name=self.name)
        outs = [self.n1x1, self.n3x3, self.n5x5, self.pool_proj]
        depth = f"{' + '.join(map(str, outs))} = {sum(outs)}"
        return dataclasses.replace(
            window, output_shape=window.output_shape[:-1] + (sum(outs),), weights=weights,
            biases=biases, multiply_adds=macs,
            formulas=window.formulas + (f"depth = n1x1 + n3x3 + n5x5 + pool_proj = {depth}",),
        )

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in WIDTHS})
        config.update({
            "branch5_kernel_size": self.branch5_kernel_size,
            "batch_norm": self.batch_norm,
            "bn_momentum": self.bn_momentum,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "data_format": self.data_format,
        })
        return config
