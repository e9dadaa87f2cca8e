"""Streamed folder datasets: the scan's bad-data policy, the choice by size,
the tf.data and PyDataset pipelines, and what zoo train records."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from cnn_zoo import preprocess
from cnn_zoo.data import DataError, load_dataset, load_splits, make_pipeline
from cnn_zoo.data import stream
from cnn_zoo.data.scan import decode_pil, scan_folder
from cnn_zoo.data.stream import ImageFiles, should_stream
from data_fixtures import raw_fashion, raw_mnist, tfds_dir  # noqa: F401
from imagefolders import photo, write_folder

DEEP = np.arange(40, dtype=np.uint8) * 6  # one row of the 16-bit PNG, in 8 bits
EVAL_STEPS = [{"resize": [24, 24]}, {"rescale": 1 / 255}]


def _batches(pipe):
    xs, ys = [], []
    for xb, yb in pipe:
        xs.append(np.asarray(xb))
        ys.append(np.asarray(yb))
    return np.concatenate(xs), np.concatenate(ys)


def _bad_folder(root):
    """One class of good JPEGs and one of each bad case the policy names."""
    rng = np.random.default_rng(0)
    good, odd, empty = root / "train" / "a", root / "train" / "b", root / "train" / "c"
    for d in (good, odd, empty):
        d.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(photo(rng, 30, 40)).save(good / f"{i}.jpg", quality=90)
    (root / "val" / "a").mkdir(parents=True)
    Image.fromarray(photo(rng, 30, 40)).save(root / "val" / "a" / "0.jpg", quality=90)
    Image.fromarray(photo(rng, 30, 40)).convert("L").save(odd / "grey.jpg")
    Image.fromarray(photo(rng, 30, 40)).convert("CMYK").save(odd / "cmyk.jpg")
    Image.fromarray(np.tile(DEEP.astype(np.uint16) * 257, (30, 1))).save(odd / "deep.png")
    (odd / "notes.txt").write_text("not an image")
    (odd / "garbage.jpg").write_bytes(b"\x00not a jpeg at all" * 10)
    buf = io.BytesIO()
    Image.fromarray(photo(rng, 30, 40)).save(buf, "JPEG", quality=90)
    (odd / "cut.jpg").write_bytes(buf.getvalue()[:-40])  # header whole, the end cut off
    return root


# --------------------------------------------------------------------------- the scan's policy

def test_scan_skips_and_counts_each_bad_case(tmp_path):
    scan = scan_folder(_bad_folder(tmp_path), "train")
    reasons = {r["path"].split("/")[-1]: r["reason"] for r in scan.skipped}
    assert reasons["notes.txt"].startswith("not an image file")
    assert reasons["garbage.jpg"].startswith("unreadable")
    assert reasons["cut.jpg"] == "truncated JPEG (no end marker)"
    assert reasons["c"].startswith("empty class folder")  # kept as a class
    assert scan.classes == ("a", "b", "c")
    kept = sorted(p.split("/")[-1] for p in scan.files)
    assert kept == ["0.jpg", "1.jpg", "2.jpg", "cmyk.jpg", "deep.png", "grey.jpg"]
    assert scan.converted == 3  # grey, CMYK and 16-bit, in an RGB dataset
    assert not scan.grey


def test_conversions_agree_between_pillow_and_tensorflow(tmp_path):
    import tensorflow as tf

    odd = _bad_folder(tmp_path) / "train" / "b"
    for name in ("grey.jpg", "cmyk.jpg", "deep.png"):
        ours = decode_pil(str(odd / name), 3)
        theirs = tf.io.decode_image(tf.io.read_file(str(odd / name)), channels=3,
                                    expand_animations=False).numpy()
        assert ours.shape == theirs.shape == (30, 40, 3)
        assert np.abs(ours.astype(int) - theirs).max() <= 2, name  # CMYK: 1 level of rounding
    deep = decode_pil(str(odd / "deep.png"), 1)
    np.testing.assert_array_equal(deep[0, :, 0], DEEP)  # scaled from 16 bits, not clipped to 255


@pytest.mark.parametrize("stream_mode", [True, False])
def test_bad_data_never_stops_an_epoch(tmp_path, stream_mode):
    root = _bad_folder(tmp_path / "d")
    ds = load_dataset(f"folder:{root}", stream=stream_mode, image_size=None if stream_mode else (30, 40))
    assert len(ds) == 6 and ds.info["streamed"] is stream_mode
    assert len(ds.info["skipped"]) == 4
    xs, ys = _batches(make_pipeline(ds.x, ds.y, 4, steps=EVAL_STEPS, backend="tensorflow"))
    assert xs.shape == (6, 24, 24, 3) and list(ys) == [0, 0, 0, 1, 1, 1]


def test_damage_inside_a_file_is_dropped_with_a_warning(tmp_path, caplog):
    root = write_folder(tmp_path, classes=1, per_class=3, vary=False)
    path = next((root / "train" / "n00000000").iterdir())
    data = bytearray(path.read_bytes())
    data[200:len(data) - 2] = b"\xff" * (len(data) - 202)  # header and end marker intact
    path.write_bytes(bytes(data))
    ds = load_dataset(f"folder:{root}", stream=True)
    assert len(ds) == 3  # the scan cannot see it
    xs, _ = _batches(make_pipeline(ds.x, ds.y, 2, steps=EVAL_STEPS, backend="tensorflow"))
    assert len(xs) == 3  # decoded with a warning, or dropped and made up: never a crash
    assert make_pipeline(ds.x, ds.y, 2, steps=EVAL_STEPS, backend="tensorflow").cardinality() == 2


def test_no_readable_image_is_one_clear_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    with pytest.raises(DataError, match="no readable images"):
        load_dataset(f"folder:{tmp_path}")


# --------------------------------------------------------------------------- the choice

def test_choice_by_size_and_the_recipe_override(tmp_path, monkeypatch):
    root = write_folder(tmp_path, vary=False)
    assert should_stream("auto", 10)[0] is False
    assert should_stream("auto", stream.STREAM_BYTES + 1)[0] is True
    assert load_dataset(f"folder:{root}").info["streamed"] is False  # small: in memory
    assert load_dataset(f"folder:{root}", stream=True).info["streamed"] is True
    monkeypatch.setattr(stream, "STREAM_BYTES", 1000)
    ds = load_dataset(f"folder:{root}")
    assert ds.info["streamed"] is True and "threshold" in ds.info["stream_reason"]
    assert load_dataset(f"folder:{root}", stream=False).info["streamed"] is False
    with pytest.raises(DataError, match="auto, true or false"):
        load_dataset(f"folder:{root}", stream="yes")


def test_val_folder_is_the_test_split_and_subsets_stay_lazy(tmp_path):
    root = write_folder(tmp_path, per_class=5)
    splits = load_splits(f"folder:{root}", validation_fraction=0.2, max_examples=8, stream=True)
    assert isinstance(splits["train"].x, ImageFiles) and len(splits["train"]) == 8
    assert len(splits["validation"]) == 3 and len(splits["test"]) == 8
    assert "/val/" in splits["test"].x.paths[0]
    assert not set(splits["train"].x.paths) & set(splits["validation"].x.paths)
    assert splits["train"].image_shape == (None, None, 3)


# --------------------------------------------------------------------------- the pipelines

@pytest.mark.parametrize("backend", ["tensorflow", "numpy"])
def test_streamed_batches_equal_the_in_memory_ones(tmp_path, backend):
    root = write_folder(tmp_path, vary=False, size=(30, 40))
    memory = load_dataset(f"folder:{root}", stream=False)
    streamed = load_dataset(f"folder:{root}", stream=True)
    steps = [{"resize_shorter": 24}, {"center_crop": 24}, {"channel_order": "bgr"},
             {"normalize": {"mean": [104.0, 117.0, 123.0], "std": 1.0}}]
    want, wy = _batches(make_pipeline(memory.x, memory.y, 5, steps=steps, backend=backend))
    got, gy = _batches(make_pipeline(streamed.x, streamed.y, 5, steps=steps, backend=backend))
    np.testing.assert_array_equal(gy, wy)
    np.testing.assert_allclose(got, want, atol=1e-3)


@pytest.mark.parametrize("backend", ["tensorflow", "numpy"])
def test_streamed_training_batches_shuffle_augment_and_repeat_by_seed(tmp_path, backend):
    root = write_folder(tmp_path)
    ds = load_dataset(f"folder:{root}", stream=True)
    steps = [{"random_resized_crop": 16}, "random_flip", "color_jitter", {"rescale": 1 / 255}]

    def epoch(seed):
        return _batches(make_pipeline(ds.x, ds.y, 5, steps=steps, shuffle=True, seed=seed,
                                      augment=True, backend=backend))

    (x1, y1), (x2, y2), (x3, _) = epoch(3), epoch(3), epoch(4)
    assert x1.shape == (12, 16, 16, 3) and 0 <= x1.min() and x1.max() <= 1
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert sorted(y1) == sorted(ds.y) and not np.array_equal(x1, x3)


def test_streamed_preprocessing_must_end_at_one_size(tmp_path):
    ds = load_dataset(f"folder:{write_folder(tmp_path)}", stream=True)
    with pytest.raises(DataError, match="must end at one size"):
        make_pipeline(ds.x, ds.y, 4, steps=[{"rescale": 1 / 255}], backend="tensorflow")
    with pytest.raises(preprocess.PreprocessError, match="no streamed"):
        make_pipeline(ds.x, ds.y, 4, steps=[{"resize": 8}, {"random_shift": 2}], backend="tensorflow")


# --------------------------------------------------------------------------- zoo train

def test_train_streams_and_records_it(tmp_path):
    from cnn_zoo.train import train

    root = _bad_folder(tmp_path / "data")
    result = train("default", tmp_path / "run", verbose=0, overrides=[
        f"dataset.source=folder:{root}", "dataset.stream=true", "dataset.validation_fraction=0.34",
        "model.name=lenet5_modern", "epochs=1", "batch_size=4",
        "preprocessing=[{resize: [32, 32]}, channels: 1, {rescale: 0.00392156862745098}]"])
    assert result.status == "finished"
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["input"]["train"]["streamed"] is True
    assert manifest["input"]["train"]["skipped"] == 4 and manifest["input"]["train"]["converted"] == 3
    skipped = json.loads((result.run_dir / "skipped.json").read_text())
    assert sorted(r["path"].split("/")[-1] for r in skipped) == ["c", "cut.jpg", "garbage.jpg", "notes.txt"]
    assert result.metrics["accuracy"] >= 0
    # Its model predicts images of any size: the contract's raw shape is [None, None, C].
    import keras

    from cnn_zoo.hub.prediction import predict
    contract = json.loads((result.run_dir / "preprocessing.json").read_text())
    assert contract["raw_shape"] == [None, None, 3] and contract["input_shape"] == [32, 32, 1]
    model = keras.saving.load_model(result.run_dir / "model.keras")
    rng = np.random.default_rng(1)
    got = predict(model, [photo(rng, 50, 70), photo(rng, 90, 40)], preprocessing=contract, top_k=1)
    assert [len(p.labels) for p in got] == [1, 1]


# --------------------------------------------------------------------------- tfds:NAME

@pytest.mark.slow  # reads the 70,000 MNIST labels twice: about 40 s here
def test_tfds_streams_the_same_examples(tfds_dir, monkeypatch):
    from cnn_zoo.data.tfds_stream import TfdsRecords

    monkeypatch.setenv("ZOO_TFDS_DIR", str(tfds_dir))
    memory = load_splits("tfds:mnist", validation_fraction=0.1, max_examples=300, stream=False)
    streamed = load_splits("tfds:mnist", validation_fraction=0.1, max_examples=300, stream=True)
    assert isinstance(streamed["validation"].x, TfdsRecords) and streamed["train"].info["streamed"]
    for split in ("validation", "test"):
        np.testing.assert_array_equal(streamed[split].y, memory[split].y)
        steps = [{"pad": 2}, "lenet_scale"]
        want, _ = _batches(make_pipeline(memory[split].x, memory[split].y, 64, steps=steps))
        got, gy = _batches(make_pipeline(streamed[split].x, streamed[split].y, 64, steps=steps,
                                         backend="tensorflow"))
        np.testing.assert_array_equal(gy, memory[split].y)
        np.testing.assert_allclose(got, want, atol=1e-6)
    got, gy = _batches(make_pipeline(streamed["train"].x, streamed["train"].y, 64, shuffle=True,
                                     augment=True, steps=[{"random_crop": {"size": 24}}]))
    assert got.shape == (300, 24, 24, 1) and sorted(gy) == sorted(streamed["train"].y)


def test_fused_decode_and_crop_equals_decode_then_crop(tmp_path):
    """random_resized_crop first, on a JPEG: the pipeline decodes only the crop's window;
    the pixels are those of decoding the whole image and running the step."""
    import tensorflow as tf

    from cnn_zoo.preprocess import tfops
    from cnn_zoo.preprocess.image import RandomResizedCrop

    root = write_folder(tmp_path, classes=1, per_class=2, size=(90, 120))
    p = preprocess.normalize_steps([{"random_resized_crop": 32}])[0]["random_resized_crop"]
    for path in sorted((root / "train").rglob("*.JPEG")):
        raw = tf.io.read_file(str(path))
        for k in range(5):
            s = tf.constant([k, 7], tf.int64)
            fused = RandomResizedCrop.tf_decode_crop(raw, p, s, 3).numpy()
            whole = tf.cast(tf.io.decode_jpeg(raw, channels=3, dct_method=tfops.DCT), tf.float32)
            want = RandomResizedCrop.tf_apply(whole, p, True, s).numpy()
            # libjpeg upsamples chroma differently at the window's edge: a few levels there
            assert np.abs(fused - want).mean() < 0.1 and np.abs(fused - want).max() <= 8
