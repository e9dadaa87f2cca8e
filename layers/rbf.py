"""LeNet-5's output layer: Euclidean radial basis function units.

Output unit i measures how far the input x (F6's 84 values) is from a fixed
prototype w_i (LeCun et al. 1998, Sec. II-B, Eq. 7):

    y_i = Σ_j (x_j − w_ij)²

so the output is a distance: *lower* means more likely. The paper's
prototypes were stylised 7×12 bitmaps of the characters (hence 84 = 7·12),
drawn by hand as ±1 and kept fixed. Those bitmaps are not ours to ship; the
default prototypes here are a ±1 code drawn from a seeded NumPy generator
(:class:`RandomSignCode`, the same on every backend and every run), and they
are not trainable by default, as in the paper.

Training. The paper minimises Eq. 9,
E = y_D + log(e^{−j} + Σ_i e^{−y_i}) (D the correct class, j a constant for a
"rubbish" class). Softmax cross-entropy with logits −y is
y_D + log Σ_i e^{−y_i}: exactly Eq. 9 without the rubbish-class term
(j → ∞). The difference needs no label:

    Eq. 9 − cross-entropy = log(1 + e^{−j} / Σ_i e^{−y_i}) = softplus(−j − logsumexp(−y))

so ``EuclideanRBF(10, rubbish=j)`` adds that term as a layer loss, and a
standard cross-entropy over the logits −y then minimises Eq. 9 itself. It
matters: without it, cross-entropy keeps pushing F6 away from the wrong
prototypes, into the flat ends of the tanh, and LeNet-5 stalled at about 90%
training accuracy after 3 epochs of 20,000 MNIST digits (Adam 1e-3, batch
128); with j = 10 it reached 95.8%, as the pull towards the ±1 target (where
the tanh is not saturated) takes over once the wrong classes are far enough.
The paper does not print its j; 1 and 10 did equally well, 40 worse.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers.pointwise import explain_pointwise, input_volume

_SERIALIZE = keras.saving.register_keras_serializable(package="cnn_zoo")


@_SERIALIZE
class RandomSignCode(keras.initializers.Initializer):
    """±1 values drawn from ``numpy.random.default_rng(seed)``: identical on every backend."""

    def __init__(self, seed=1998):
        if not ar.is_int(seed) or seed < 0:
            raise ValueError(f"`seed` must be an int >= 0. Received: seed={seed!r}")
        self.seed = seed

    def __call__(self, shape, dtype=None):
        code = np.random.default_rng(self.seed).choice([-1.0, 1.0], size=tuple(shape))
        return ops.convert_to_tensor(code, dtype=dtype or "float32")

    def get_config(self):
        return {"seed": self.seed}


@_SERIALIZE
class EuclideanRBF(keras.layers.Layer):
    """y_i = Σ_j (x_j − w_ij)² for each of ``units`` prototypes w_i.

    Args:
        units: number of output units (classes), 10 for LeNet-5.
        prototype_initializer: default None = :class:`RandomSignCode` (a
            seeded ±1 code standing in for the paper's bitmaps).
        trainable_prototypes: default False: the prototypes stay fixed, as in
            the paper. (The layer's ``trainable`` flag is left alone, so it
            still counts as trainable when set True.)
        as_logits: return −y instead of y, ready for a softmax or a
            from-logits cross-entropy (see the module docstring). Default False.
        rubbish: the paper's constant j: adds Eq. 9's rubbish-class term
            softplus(−j − logsumexp(−y)) to the model's loss, so cross-entropy
            over −y becomes Eq. 9. Default None (no term).

    Weight: ``prototypes`` (units, input_dim), row i is w_i.
    """

    def __init__(self, units, prototype_initializer=None, trainable_prototypes=False,
                 as_logits=False, rubbish=None, **kwargs):
        super().__init__(**kwargs)
        self.rubbish = None if rubbish is None else ar.check_number("rubbish", rubbish)
        self.units = ar.normalize_tuple(units, 1, "units")[0]
        self.prototype_initializer = None if prototype_initializer is None \
            else keras.initializers.get(prototype_initializer)
        self.trainable_prototypes = bool(trainable_prototypes)
        self.as_logits = bool(as_logits)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"{self.name}: the last axis of the input (its features) must be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.prototypes = self.add_weight(
            name="prototypes", shape=(self.units, input_shape[-1]),
            initializer=self.prototype_initializer or RandomSignCode(),
            trainable=self.trainable_prototypes,
        )
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: input_shape[-1]})

    def call(self, inputs):
        # Σ_j (x_j − w_ij)² = |x|² − 2 x·w_i + |w_i|²: one matmul instead of a
        # (batch, units, inputs) difference tensor. Why float32: the three terms
        # are ~84 each and their difference can be small, a cancellation that
        # bfloat16's 8-bit mantissa would turn into noise. Cast back at the end.
        x = ops.cast(inputs, "float32")
        w = ops.cast(self.prototypes, "float32")
        xx = ops.sum(ops.square(x), axis=-1, keepdims=True)  # (B, 1)
        ww = ops.sum(ops.square(w), axis=-1)  # (units,)
        y = ops.maximum(xx - 2.0 * ops.matmul(x, ops.transpose(w)) + ww, 0.0)  # (B, units)
        if self.rubbish is not None:
            self.add_loss(ops.mean(ops.softplus(-self.rubbish - ops.logsumexp(-y, axis=-1))))
        y = -y if self.as_logits else y
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def explain(self, input_shape=None) -> ar.Arithmetic:
        volume = input_volume(self, input_shape)
        inputs = volume[-1]
        weights = self.units * inputs
        return explain_pointwise(
            "rbf", volume, (*volume[:-1], self.units), name=self.name,
            weights=weights, multiply_adds=weights,
            notes=(f"y_i = Σ_j (x_j − w_ij)², i = 1..{self.units}, j = 1..{inputs}: "
                   f"{self.units}·{inputs} = {weights:,} prototype values"
                   + ("" if self.trainable_prototypes else " (fixed)")
                   + ("; returns −y as logits" if self.as_logits else ""),),
        )

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "prototype_initializer": None if self.prototype_initializer is None
            else keras.initializers.serialize(self.prototype_initializer),
            "trainable_prototypes": self.trainable_prototypes,
            "as_logits": self.as_logits,
            "rubbish": self.rubbish,
        })
        return config
