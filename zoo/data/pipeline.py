"""Input pipelines: preprocessed NumPy arrays -> batches for model.fit.

The static preprocessing (every step before the first augmentation) runs once
on the whole array, which is small (MNIST: 60,000 x 32 x 32 float32 = 245 MB),
so an epoch only gathers batches from memory. Augmentation steps run per batch
through the same NumPy code (cnn_zoo.preprocess.apply), so training and prediction
can never disagree.

- TensorFlow backend: a tf.data.Dataset. It shuffles batch *indices* (one
  seeded shuffle of N integers per epoch) and gathers each batch with tf.gather,
  which is much cheaper than pushing 60,000 single images through a shuffle
  buffer; the arrays already sit in memory, so .cache() would only copy them.
  Then prefetch.
- Any other backend (JAX, PyTorch), or backend="numpy": a keras.utils.PyDataset
  over the arrays, reshuffled every epoch (:mod:`cnn_zoo.data.array_dataset`).

Determinism: the same seed gives the same batches and augmentations on a
given backend. The two paths draw different permutations.
"""

from __future__ import annotations

import keras
import numpy as np

from cnn_zoo import preprocess
from cnn_zoo.data.array_dataset import ArrayPyDataset
from cnn_zoo.data.files_pipeline import file_pipeline
from cnn_zoo.data.errors import DataError
from cnn_zoo.data.stream import ImageFiles
from cnn_zoo.data.tfds_stream import TfdsRecords
from cnn_zoo.layers.arguments import is_int


def make_pipeline(x, y, batch_size: int, *, steps=(), shuffle: bool = False, seed: int = 0,
                  augment: bool = False, drop_remainder: bool = False, backend: str | None = None):
    """Batches of (preprocessed images float32 NHWC, labels int32).

    x: raw images (N, H, W[, C]), or the ImageFiles of a streamed dataset
    (cnn_zoo.data.files_pipeline); y: (N,) labels or None (prediction).
    steps: preprocessing steps (cnn_zoo.preprocess); augment=True applies their
    augmentations (training), augment=False their evaluation form.
    backend: "tensorflow" for tf.data, anything else for a PyDataset;
    default keras.backend.backend().
    """
    if not is_int(batch_size) or batch_size < 1:
        raise DataError(f"batch_size must be a positive integer. Received: batch_size={batch_size!r}")
    if y is not None and len(y) != len(x):
        raise DataError(f"x and y differ in length. Received: len(x)={len(x)}, len(y)={len(y)}")
    if isinstance(x, (ImageFiles, TfdsRecords)):  # streamed: decoded while iterating
        return file_pipeline(x, y, batch_size, steps=steps, shuffle=shuffle, seed=seed,
                             augment=augment, drop_remainder=drop_remainder, backend=backend)
    static, dynamic = preprocess.split_static(steps) if augment else (steps, [])
    x = preprocess.apply(x, static)  # once, whole array: (N, H', W', C') float32
    y = None if y is None else np.asarray(y, np.int32)
    if (backend or keras.backend.backend()) == "tensorflow":
        return _tf_pipeline(x, y, batch_size, shuffle, seed, dynamic, drop_remainder)
    return ArrayPyDataset(x, y, batch_size, shuffle=shuffle, seed=seed, steps=dynamic,
                          drop_remainder=drop_remainder)


def _tf_pipeline(x, y, batch_size, shuffle, seed, dynamic, drop_remainder):
    import tensorflow as tf  # the TensorFlow backend's path: JAX and PyTorch run without TensorFlow

    n = len(x)
    x_t = tf.constant(x)
    y_t = None if y is None else tf.constant(y)
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if y_t is None:
        ds = ds.map(lambda i: tf.gather(x_t, i))
    else:
        ds = ds.map(lambda i: (tf.gather(x_t, i), tf.gather(y_t, i)))
    if dynamic:
        rng = np.random.default_rng(seed)  # one stream, drawn in batch order (map is sequential)
        out_shape = (None, *preprocess.input_shape_after(dynamic, x.shape[1:]))

        def augment(xb):
            return preprocess.apply(xb, dynamic, training=True, rng=rng)

        def tf_augment(xb):
            xb = tf.numpy_function(augment, [xb], tf.float32, stateful=True)
            return tf.ensure_shape(xb, out_shape)

        if y_t is None:
            ds = ds.map(tf_augment)
        else:
            ds = ds.map(lambda xb, yb: (tf_augment(xb), yb))
    return ds.prefetch(tf.data.AUTOTUNE)
