"""The decoded arrays of a TFDS split are kept beside its records and used only while those
records are the ones they were made from (cnn_zoo.data.tfds._decoded)."""

import shutil

import numpy as np
import pytest

from cnn_zoo.data import load_dataset
from cnn_zoo.data import tfds as tfds_data
from data_fixtures import tfds_dir  # noqa: F401


@pytest.fixture
def own_mnist(tmp_path, tfds_dir):  # noqa: F811
    """A copy of the prepared mnist TFDS folder, without any kept arrays."""
    shutil.copytree(tfds_dir / "mnist", tmp_path / "mnist",
                    ignore=shutil.ignore_patterns("cnn_zoo-*", ".*"))
    return tmp_path


def _decodes(monkeypatch):
    """Counts decodes of the records (tfds.as_numpy of a whole split)."""
    calls = []
    tfds = tfds_data._import_tfds()
    real = tfds.as_numpy
    monkeypatch.setattr(tfds, "as_numpy", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_arrays_kept_then_used_equal_to_the_decoded_ones(own_mnist, monkeypatch):
    calls = _decodes(monkeypatch)
    first = load_dataset("mnist", "test", data_dir=own_mnist)
    kept = list(own_mnist.glob("mnist/*/cnn_zoo-test.npz"))
    assert len(calls) == 1 and len(kept) == 1
    again = load_dataset("mnist", "test", data_dir=own_mnist)
    assert len(calls) == 1  # not decoded again
    np.testing.assert_array_equal(again.x, first.x)
    np.testing.assert_array_equal(again.y, first.y)
    assert again.x.dtype == first.x.dtype and again.class_names == first.class_names


def test_arrays_of_other_records_or_damaged_are_decoded_again(own_mnist, monkeypatch):
    calls = _decodes(monkeypatch)
    truth = load_dataset("mnist", "test", data_dir=own_mnist)
    kept, = own_mnist.glob("mnist/*/cnn_zoo-test.npz")
    # Arrays that claim other record files (as after TFDS prepared the split again): ignored.
    np.savez(kept, x=np.zeros((1, 28, 28, 1), np.uint8), y=np.zeros(1, np.int64), shards='[["x", 1]]')
    assert len(load_dataset("mnist", "test", data_dir=own_mnist)) == 10000 and len(calls) == 2
    # A torn file: ignored and written again, whole.
    kept.write_bytes(kept.read_bytes()[:1000])
    np.testing.assert_array_equal(load_dataset("mnist", "test", data_dir=own_mnist).x, truth.x)
    assert len(calls) == 3
    np.testing.assert_array_equal(load_dataset("mnist", "test", data_dir=own_mnist).x, truth.x)
    assert len(calls) == 3


def test_read_only_data_dir_still_loads(own_mnist, monkeypatch):
    calls = _decodes(monkeypatch)
    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")
    monkeypatch.setattr(tfds_data.atomic, "replacing", refuse)
    assert len(load_dataset("mnist", "test", data_dir=own_mnist)) == 10000
    assert len(load_dataset("mnist", "test", data_dir=own_mnist)) == 10000
    assert len(calls) == 2 and not list(own_mnist.glob("mnist/*/cnn_zoo-*"))
