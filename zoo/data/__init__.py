"""Datasets for the zoo: sources (cnn_zoo.data.sources, cnn_zoo.data.tfds) and input pipelines
(cnn_zoo.data.pipeline).

make_pipeline is imported on first use, because it needs Keras: reading a
recipe or a dataset spec stays free of the ~4 s Keras import.
"""

from cnn_zoo.data.errors import DataDownloadError, DataError, DataOfflineError
from cnn_zoo.data.sources import (
    EMBEDDED,
    SPLITS,
    Dataset,
    Source,
    holdout_split,
    load_dataset,
    load_splits,
    parse_spec,
    read_idx,
)
from cnn_zoo.data.tfds import fetch_raw_files, prepare_tfds, prepare_tfds_offline

__all__ = ["EMBEDDED", "SPLITS", "DataDownloadError", "DataError", "DataOfflineError", "Dataset",
           "Source", "fetch_raw_files", "holdout_split", "load_dataset", "load_splits",
           "make_pipeline", "parse_spec", "prepare_tfds", "prepare_tfds_offline", "read_idx"]


def __getattr__(name):
    if name == "make_pipeline":
        from cnn_zoo.data import pipeline  # imports Keras: on first use (see the module docstring)

        return pipeline.make_pipeline
    if name == "ArrayPyDataset":
        from cnn_zoo.data import array_dataset  # idem

        return array_dataset.ArrayPyDataset
    raise AttributeError(f"module 'cnn_zoo.data' has no attribute {name!r}")
