"""`tfds:NAME` streamed: the prepared TFRecords read while training, not loaded whole.

A streamed TFDS split is a `TfdsRecords` (which examples of which split) in the
Dataset's `x`, beside the labels, which are read once without decoding a single
image (SkipDecoding) so that the stratified validation split and max_examples
work as for in-memory data. The pipeline reads the split's records in file order,
keeps the selected positions, shuffles in a buffer of SHUFFLE_BUFFER encoded
images (TFRecords have no random access, so this, not a shuffle of indices, is
the shuffle here), then decodes and runs the steps' TensorFlow forms in a
parallel map, batches and prefetches.
"""

from __future__ import annotations

import numpy as np

from cnn_zoo import preprocess
from cnn_zoo.data.stream import should_stream

SHUFFLE_BUFFER = 10_000  # encoded images (~110 KB each for ImageNet: about 1 GB)


class TfdsRecords:
    """The `x` of a streamed TFDS split: example positions in builder's `split`."""

    ndim, dtype = 4, np.dtype(np.uint8)

    def __init__(self, builder, split, image_key, label_key, positions, image_shape):
        self.builder, self.split = builder, split
        self.image_key, self.label_key = image_key, label_key
        self.positions = np.asarray(positions, np.int64)
        self.image_shape = tuple(image_shape)

    @property
    def shape(self):
        return (len(self.positions), *self.image_shape)

    @property
    def channels(self):
        return self.image_shape[2]

    def __len__(self):
        return len(self.positions)

    def __getitem__(self, indices):
        return TfdsRecords(self.builder, self.split, self.image_key, self.label_key,
                           self.positions[np.asarray(indices)], self.image_shape)

    def __repr__(self):
        return f"TfdsRecords({self.builder.name}/{self.split}, {len(self)} examples)"


def open_streamed(builder, split, image_key, label_key, stream):
    """(TfdsRecords, labels, why) when the split should stream, else (None, None, why)."""
    import tensorflow_datasets as tfds  # only for tfds: sources

    feature = builder.info.features[image_key]
    h, w, c = feature.shape
    n = builder.info.splits[split].num_examples
    pixel_bytes = n * (h or 500) * (w or 375) * (c or 3)  # unknown sizes: ImageNet's average
    streamed, why = should_stream(stream, pixel_bytes, sizes_vary=h is None or w is None)
    if not streamed:
        return None, None, why
    ds = builder.as_dataset(split=split, decoders={image_key: tfds.decode.SkipDecoding()})
    labels = np.fromiter((int(e[label_key]) for e in tfds.as_numpy(ds)), np.int32, count=n)
    return TfdsRecords(builder, split, image_key, label_key, np.arange(n), (h, w, c or 3)), labels, why


def records_pipeline(records: TfdsRecords, batch_size, steps, shuffle, seed, augment,
                     drop_remainder, shape, with_labels=True):
    import tensorflow as tf  # streaming is TensorFlow's (tf.data): the module imports without it
    import tensorflow_datasets as tfds

    total = records.builder.info.splits[records.split].num_examples
    keep = np.zeros(total, bool)
    keep[records.positions] = True
    keep = tf.constant(keep)
    image_feature = records.builder.info.features[records.image_key]
    ds = records.builder.as_dataset(split=records.split, shuffle_files=False,
                                    decoders={records.image_key: tfds.decode.SkipDecoding()})
    ds = ds.enumerate().filter(lambda i, e: tf.gather(keep, i))
    if shuffle:
        ds = ds.shuffle(min(SHUFFLE_BUFFER, len(records)), seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def load(pair, s):
        _, e = pair
        img = image_feature.decode_example(e[records.image_key])
        img = preprocess.tf_apply(img, steps, training=augment, seed=s)
        img = tf.ensure_shape(img, shape)
        return (img, tf.cast(e[records.label_key], tf.int32)) if with_labels else img

    ds = tf.data.Dataset.zip((ds, seeds)).map(load, num_parallel_calls=tf.data.AUTOTUNE)
    # filter and ignore_errors hide the length, which Keras needs: as files_pipeline
    n = len(records)
    ds = ds.ignore_errors(log_warning=True).repeat().take(n)
    ds = ds.apply(tf.data.experimental.assert_cardinality(n))
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
