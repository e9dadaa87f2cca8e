"""TensorFlow's fused batch-norm kernel behind Keras' ``BatchNormalization``, for training speed.

On TensorFlow, Keras 3 computes batch norm from elementwise ops (moments, then
``x * scale + offset``, each with its gradient: ``Mul``, ``Sum``, ``Mean``, ``AddN``, ``Tile``,
``SquaredDifference``), about a third of a ResNet-50 training step on a CPU
(docs/benchmarks.md). ``FusedBatchNormV3`` and its gradient do the same in one kernel each.

:func:`fuse_batch_norm` rebinds ``call`` on each eligible layer *instance* (the class is
untouched, so ``get_config`` and a saved ``.keras`` file stay a stock BatchNormalization, and
a reloaded model computes with Keras' own ops), keeping Keras' semantics exactly:

- training (``training`` and ``layer.trainable``): the batch's mean and *biased* variance
  normalise, and ``moving = moving * momentum + batch * (1 - momentum)``. The kernel returns
  the Bessel-corrected variance, so it is scaled back by (n - 1) / n, n = N·H·W;
- otherwise (inference, or a frozen layer even with ``training=True``, as Keras does): the
  moving mean and variance;
- mixed precision: the kernel takes x in bfloat16/float16 with float32 statistics and
  parameters and computes in float32 inside, as Keras' layer does after upcasting; the output
  is cast to the layer's compute dtype, as Keras' is.

Eligible: exactly ``keras.layers.BatchNormalization`` (a subclass may compute otherwise),
built for 4-D input normalised over the last axis (channels_last: the kernel's NHWC), neither
``renorm`` (its r/d corrections are not the kernel's) nor ``synchronized`` (the kernel's
statistics are the replica's own). A call with a mask or another dtype (float64) falls back
to Keras' own ``call``. Only the TensorFlow backend: JAX and PyTorch compile Keras' ops
themselves (XLA fuses them on JAX) and have no such kernel to call
(:mod:`cnn_zoo.compute` decides, once per backend).
"""

from __future__ import annotations

import keras

from cnn_zoo import keras_private

KERNEL_DTYPES = ("float32", "bfloat16", "float16")  # FusedBatchNormV3's x, with float32 statistics


def fuse_batch_norm(model) -> int:
    """Make every eligible BatchNormalization in ``model`` (nested ones too) compute with
    TensorFlow's fused kernel; returns how many now do. On another backend, none (0)."""
    if keras.backend.backend() != "tensorflow":
        return 0  # the kernel is TensorFlow's; other backends keep Keras' ops (see the module docstring)
    count = 0
    for layer in keras_private.every_layer(model):
        if eligible(layer):
            if not keras_private.calls_through(layer, fused_call):
                keras_private.rebind_call(layer, fused_call)
            count += 1
    return count


def eligible(layer) -> bool:
    """Whether the fused kernel computes exactly what ``layer`` does (see the module docstring)."""
    if type(layer) is not keras.layers.BatchNormalization or layer.renorm or layer.synchronized:
        return False
    spec = layer.input_spec  # set by build; the rank is unknown before
    if spec is None or spec.ndim != 4:
        return False
    return layer.axis in (-1, 3)


def is_fused(layer) -> bool:
    """Whether ``layer`` computes with the fused kernel."""
    return keras_private.calls_through(layer, fused_call)


def fused_call(self, inputs, training=None, mask=None):
    """``BatchNormalization.call`` through ``FusedBatchNormV3`` (``self``: the layer)."""
    import tensorflow as tf  # the TensorFlow backend only: fuse_batch_norm binds this nowhere else

    dtype = keras.backend.standardize_dtype(inputs.dtype)
    if mask is not None or dtype not in KERNEL_DTYPES:
        return keras.layers.BatchNormalization.call(self, inputs, training=training, mask=mask)
    channels = inputs.shape[-1]
    scale = tf.cast(self.gamma, "float32") if self.scale else tf.ones((channels,), "float32")
    offset = tf.cast(self.beta, "float32") if self.center else tf.zeros((channels,), "float32")
    kernel = dict(x=inputs, scale=scale, offset=offset, epsilon=self.epsilon, data_format="NHWC")
    if training and self.trainable:  # Keras: a frozen layer normalises with its moving statistics
        empty = tf.constant([], "float32")  # training: the kernel computes the batch's statistics
        y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(mean=empty, variance=empty, is_training=True,
                                                            exponential_avg_factor=1.0, **kernel)
        n = tf.cast(tf.size(inputs, out_type=tf.int64) // channels, "float32")  # N·H·W
        variance = variance * ((n - 1.0) / n)  # the kernel's is Bessel-corrected; Keras keeps the biased one
        m = self.momentum
        moving_mean = tf.cast(self.moving_mean, "float32")
        moving_variance = tf.cast(self.moving_variance, "float32")
        self.moving_mean.assign(moving_mean * m + mean * (1.0 - m))
        self.moving_variance.assign(moving_variance * m + variance * (1.0 - m))
    else:
        y = tf.raw_ops.FusedBatchNormV3(mean=tf.cast(self.moving_mean, "float32"),
                                        variance=tf.cast(self.moving_variance, "float32"),
                                        is_training=False, **kernel)[0]
    return tf.cast(y, self.compute_dtype)
