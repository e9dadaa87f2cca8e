"""The streamed input pipelines: ImageFiles -> batches for model.fit.

- TensorFlow: tf.data. The file *indices* are shuffled (N integers, not
  images), then a parallel map (AUTOTUNE) reads each file, decodes it with
  tf.io.decode_image and runs the steps' TensorFlow forms
  (cnn_zoo.preprocess.tf_apply) on it, then batch and prefetch. Each image's
  augmentation draws from a seed of tf.data.Dataset.random (seeded, new every
  epoch), so the parallel map stays deterministic.
- Any other backend (JAX): a keras.utils.PyDataset whose worker threads decode
  with Pillow (which releases the GIL) and run the steps' NumPy forms.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from cnn_zoo import preprocess
from cnn_zoo.data.errors import DataError
from cnn_zoo.data.array_dataset import ArrayPyDataset
from cnn_zoo.data.scan import decode_pil
from cnn_zoo.data.stream import ImageFiles
from cnn_zoo.data.tfds_stream import records_pipeline
from cnn_zoo.preprocess import tfops
from cnn_zoo.preprocess.image import RandomResizedCrop


def file_pipeline(files, y, batch_size: int, *, steps=(), shuffle=False, seed=0,
                  augment=False, drop_remainder=False, backend=None):
    """Batches of (float32 NHWC, int32 labels) decoded from `files` (ImageFiles, or the
    TfdsRecords of a streamed TFDS split) while iterating."""
    steps = preprocess.normalize_steps(steps)
    shape = preprocess.input_shape_after(steps, files.shape[1:])
    if shape[0] is None or shape[1] is None:
        raise DataError("a streamed dataset has images of many sizes: its preprocessing must end "
                        "at one size (resize, center_crop or random_resized_crop). Received: "
                        f"preprocessing={preprocess.short(steps) or 'none'}")
    if not isinstance(files, ImageFiles):  # a streamed TFDS split: TensorFlow only
        preprocess.check_streamable(steps)
        return records_pipeline(files, batch_size, steps, shuffle, seed, augment, drop_remainder,
                                shape, with_labels=y is not None)
    if (backend or keras.backend.backend()) == "tensorflow":
        preprocess.check_streamable(steps)
        return _tf_files(files, y, batch_size, steps, shuffle, seed, augment, drop_remainder, shape)
    return FilesPyDataset(files, y, batch_size, steps=steps, shuffle=shuffle, seed=seed,
                          augment=augment, drop_remainder=drop_remainder)


def _tf_files(files, y, batch_size, steps, shuffle, seed, augment, drop_remainder, shape):
    import tensorflow as tf  # tf.data: the TensorFlow backend's path only

    n, channels = len(files), files.channels
    paths = tf.constant([str(p) for p in files.paths])
    labels = None if y is None else tf.constant(np.asarray(y, np.int32))
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip((ds, seeds))

    crop = steps[0].get("random_resized_crop") if augment and steps else None

    def decode(raw):
        return tf.cond(tf.io.is_jpeg(raw),
                       lambda: tf.io.decode_jpeg(raw, channels=channels, dct_method=tfops.DCT),
                       lambda: tf.io.decode_image(raw, channels=channels, expand_animations=False))

    def load(i, s):
        raw = tf.io.read_file(paths[i])
        if crop is None:
            img = preprocess.tf_apply(decode(raw), steps, training=augment, seed=s)
        else:  # a JPEG decodes only the window random_resized_crop keeps (same box, same seed)
            s0 = preprocess.tf_seeds(s, steps)[0]
            img = tf.cond(tf.io.is_jpeg(raw),
                          lambda: RandomResizedCrop.tf_decode_crop(raw, crop, s0, channels),
                          lambda: RandomResizedCrop.tf_apply(tf.cast(decode(raw), tf.float32), crop, True, s0))
            img = preprocess.tf_apply(img, steps, training=True, seed=s, first=1)
        img = tf.ensure_shape(img, shape)
        return img if labels is None else (img, labels[i])

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    # A file that passed the scan but fails to decode is dropped with a warning naming it,
    # and the epoch made up to n images from the next shuffle: Keras needs a known length
    # (else it warns "ran out of data" every epoch). repeat() ends if a pass yields nothing.
    ds = ds.ignore_errors(log_warning=True).repeat().take(n)
    ds = ds.apply(tf.data.experimental.assert_cardinality(n))
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def _workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())


class FilesPyDataset(ArrayPyDataset):
    """Batches decoded by worker threads (Pillow) for any Keras backend; the order, length and
    per-batch seeds (default_rng([seed, e, i])) are ArrayPyDataset's, over the files."""

    def __init__(self, files, y, batch_size, *, steps=(), shuffle=False, seed=0,
                 augment=False, drop_remainder=False, workers=None):
        super().__init__(files, None if y is None else np.asarray(y, np.int32), batch_size,
                         shuffle=shuffle, seed=seed, steps=steps, drop_remainder=drop_remainder,
                         workers=workers or _workers(), use_multiprocessing=False)
        self.files, self.augment = files, augment

    def _images(self, idx, rng):
        return np.concatenate([
            preprocess.apply(decode_pil(self.files.paths[j], self.files.channels)[None],
                             self.steps, training=self.augment, rng=rng) for j in idx])
