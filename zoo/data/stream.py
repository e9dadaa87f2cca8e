"""Streamed datasets: image files read, decoded and augmented while training.

A streamed `Dataset` holds an `ImageFiles` (paths, not pixels) where an
in-memory one holds its uint8 array, so everything that selects examples
(validation split, max_examples) works alike, and `make_pipeline` streams when
it is given one (cnn_zoo.data.files_pipeline).

When to stream (`dataset.stream: auto`, the default): when the decoded train
split would take more than STREAM_BYTES of memory. Below it the in-memory path
is faster (it decodes once, not every epoch). No Keras import here: loading a
dataset spec stays cheap.
"""


from __future__ import annotations

import numpy as np

from cnn_zoo.data.errors import DataError

# 2 GiB of uint8 pixels: ImageNet-sized folders of ~5,000 photos and more stream,
# MNIST-sized data (47 MB) never does. A recipe overrides it: dataset.stream: true|false.
STREAM_BYTES = 2 * 2**30


def should_stream(stream, pixel_bytes: int, sizes_vary: bool = False) -> tuple[bool, str]:
    """(stream?, why) for dataset.stream = "auto" | True | False. sizes_vary: the images
    differ in size and nothing resizes them on load (no image_size), so only a stream,
    whose preprocessing resizes each image, can batch them."""
    if stream is True or stream is False:
        return stream, f"dataset.stream: {str(stream).lower()}"
    if stream != "auto":
        raise DataError(f"dataset.stream must be auto, true or false. Received: stream={stream!r}")
    if sizes_vary:
        return True, "auto: the images differ in size and dataset.image_size is not set"
    big = pixel_bytes > STREAM_BYTES
    return big, (f"auto: {pixel_bytes / 2**20:,.0f} MiB of decoded pixels "
                 f"{'>' if big else '<='} the {STREAM_BYTES / 2**20:,.0f} MiB threshold")


class ImageFiles:
    """The `x` of a streamed Dataset: N image paths standing for (N, H?, W?, C) uint8."""

    ndim, dtype = 4, np.dtype(np.uint8)

    def __init__(self, paths, channels: int):
        self.paths = np.asarray(paths, dtype=object)
        self.channels = int(channels)

    @property
    def shape(self):
        return (len(self.paths), None, None, self.channels)  # sizes vary from file to file

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, indices):
        return ImageFiles(self.paths[np.asarray(indices)], self.channels)

    def __repr__(self):
        return f"ImageFiles({len(self)} files, {self.channels} channels)"


def input_record(splits) -> dict:
    """For the run manifest: how each split reaches the model, and what the scan skipped."""
    out = {}
    for name, ds in splits.items():
        info = ds.info
        out[name] = {"streamed": bool(info.get("streamed", False)),
                     "why": info.get("stream_reason", "in memory: not a folder source"),
                     "skipped": len(info.get("skipped", ())), "converted": info.get("converted", 0)}
    return out


def skipped_rows(splits) -> list[dict]:
    """Every file or folder the scan skipped, once (train and validation share a scan)."""
    seen, rows = set(), []
    for ds in splits.values():
        for row in ds.info.get("skipped", ()):
            if row["path"] not in seen:
                seen.add(row["path"])
                rows.append(row)
    return rows
