"""Batches over in-memory arrays as a ``keras.utils.PyDataset``: the pipeline of every backend but
TensorFlow's tf.data fast path, and the base of the streamed files' (``files_pipeline``)."""

from __future__ import annotations

import math

import keras
import numpy as np

from cnn_zoo import preprocess


class ArrayPyDataset(keras.utils.PyDataset):
    """Batches over in-memory arrays for any Keras backend.

    Augmentation for batch i of epoch e draws from default_rng([seed, e, i]),
    so results do not depend on worker threads or their order.
    """

    def __init__(self, x, y, batch_size, *, shuffle=False, seed=0, steps=(),
                 drop_remainder=False, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.steps = preprocess.normalize_steps(steps)
        self.drop_remainder = drop_remainder
        self.epoch = 0
        self._order = self._permutation()

    def _permutation(self):
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))

    def __len__(self):
        n = len(self.x) / self.batch_size
        return math.floor(n) if self.drop_remainder else math.ceil(n)

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} out of range [0, {len(self)})")
        idx = self._order[i * self.batch_size:(i + 1) * self.batch_size]
        xb = self._images(idx, np.random.default_rng([self.seed, self.epoch, i]))
        return xb if self.y is None else (xb, self.y[idx])

    def _images(self, idx, rng):
        """Batch ``idx`` of the inputs, its augmentation drawn from ``rng``."""
        xb = self.x[idx]
        return preprocess.apply(xb, self.steps, training=True, rng=rng) if self.steps else xb

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._permutation()
