"""`zoo predict`'s onnxruntime engine (cnn_zoo.hub.onnx_engine): predict_on_batch's probabilities
within 1e-4, converted once per weights and cached on disk, chosen by auto only where it pays."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from hub_fixtures import standin, write_photos
from cnn_zoo.cli import main
from cnn_zoo.errors import ArgumentError
from cnn_zoo.hub import engine, onnx_engine
from cnn_zoo.hub.prediction import predict

TOLERANCE = 1e-4
SIZE = 72  # 72*72*3 = 15,552 values an image: above LiteRT's small inputs
PRE = {"steps": [{"rescale": 1 / 255}], "raw_shape": [SIZE, SIZE, 3]}


def small_net(seed=0, logits=False):
    """A small CNN on large input (converts in about a second); logits=True: no softmax in it."""
    keras.utils.set_random_seed(seed)
    # Named layers: the same net built twice has the same config, as in a fresh process.
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(8, 5, strides=2, activation="relu", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.MaxPooling2D(3, name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    y = keras.layers.Dense(10, activation=None if logits else "softmax", name="predictions")(x)
    model = keras.Model(inputs, y, name="small")
    bn = model.layers[2]
    bn.moving_mean.assign(np.linspace(-0.2, 0.2, 8).astype("float32"))
    bn.moving_variance.assign(np.linspace(0.5, 1.5, 8).astype("float32"))
    return model


def raw(count, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(count, SIZE, SIZE, 3), dtype=np.uint8)


def by_keras(model, images):
    y = np.asarray(model.predict_on_batch(images.astype("float32") / 255), np.float64)
    return y if model.get_layer("predictions").activation.__name__ == "softmax" \
        else np.asarray(keras.ops.softmax(y, axis=-1), np.float64)


def probabilities(results):
    got = np.zeros((len(results), 10))
    for row, r in zip(got, results):
        row[list(r.indices)] = r.probabilities
    return got


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize("logits", [False, True])
def test_onnxruntime_equals_predict_on_batch(home, logits):
    model, images = small_net(logits=logits), raw(600)  # two chunks: 539 images a call at this size
    results = predict(model, list(images), preprocessing=PRE, top_k=10, engine="onnxruntime")
    assert {r.engine for r in results} == {"onnxruntime: asked for"}
    want = by_keras(model, images)
    assert want.std(axis=0).max() > 1e-3  # the images are told apart: agreement proves something
    np.testing.assert_allclose(probabilities(results), want, atol=TOLERANCE, rtol=0)
    assert len(list((home / "engines").glob("*.onnx"))) == 1


def test_auto_converts_at_the_threshold_and_a_new_process_finds_the_file(home):
    model, images = small_net(), raw(4)
    first = predict(model, list(images), preprocessing=PRE)[0].engine
    assert first.startswith("keras: converting to ONNX") and "500 images with these weights, 4 so far" in first
    assert not list((home / "engines").glob("*.onnx"))  # nothing converted: only the count is kept
    many = raw(engine.ONNX_AFTER_IMAGES, seed=1)
    assert predict(model, list(many), preprocessing=PRE)[0].engine.startswith("onnxruntime: a large input")
    # A fresh process with the same weights (here: a model rebuilt from the same seed) uses the
    # cached file on its first call, however few its images.
    again = small_net()
    results = predict(again, list(images), preprocessing=PRE, top_k=10)
    assert results[0].engine.startswith("onnxruntime")
    np.testing.assert_allclose(probabilities(results), by_keras(again, images), atol=TOLERANCE, rtol=0)
    other = small_net(seed=1)  # other weights: another file, not the cached one
    assert predict(other, list(images), preprocessing=PRE)[0].engine.startswith("keras: converting")


def test_calls_of_a_few_images_in_separate_processes_add_up_to_a_conversion(home):
    """As `zoo predict TAG photo.jpg` typed again and again: each process loads the model anew
    (here: a new model object with the same weights) and the count kept beside the cache adds up."""
    images = raw(engine.ONNX_AFTER_IMAGES // 2)
    first = predict(small_net(), list(images), preprocessing=PRE)[0].engine
    assert f"{len(images)} so far" in first
    (count,) = (home / "engines").glob("*.images")
    assert count.read_text().strip() == str(len(images))
    assert predict(small_net(), list(images), preprocessing=PRE)[0].engine.startswith("onnxruntime")
    assert not count.exists() and len(list((home / "engines").glob("*.onnx"))) == 1


def test_a_cache_that_cannot_be_written_keeps_the_count_in_the_process(home, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(onnx_engine.atomic, "write_text", read_only)  # (as root, chmod would not stop it)
    model, images = small_net(), raw(3)
    for seen in (3, 6):
        got = predict(model, list(images), preprocessing=PRE)[0].engine
        assert got.startswith("keras: converting") and f"{seen} so far" in got
    assert not list((home / "engines").glob("*.images"))


def test_training_after_a_conversion_converts_again(home):
    model, images = small_net(), raw(8)
    predict(model, list(images), preprocessing=PRE, engine="onnxruntime")
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    model.fit(images.astype("float32") / 255, np.arange(8) % 10, epochs=2, verbose=0)
    results = predict(model, list(images), preprocessing=PRE, top_k=10, engine="onnxruntime")
    np.testing.assert_allclose(probabilities(results), by_keras(model, images), atol=TOLERANCE, rtol=0)
    assert len(list((home / "engines").glob("*.onnx"))) == 2


def test_a_cached_file_cut_short_is_made_again(home):
    model, images = small_net(), raw(3)
    want = probabilities(predict(model, list(images), preprocessing=PRE, top_k=10, engine="onnxruntime"))
    (path,) = (home / "engines").glob("*.onnx")
    path.write_bytes(path.read_bytes()[:1000])  # as after a crash mid-write by another tool
    results = predict(small_net(), list(images), preprocessing=PRE, top_k=10, engine="onnxruntime")
    np.testing.assert_allclose(probabilities(results), want, atol=1e-7, rtol=0)
    assert path.stat().st_size > 1000


def test_without_onnxruntime_auto_keeps_keras_and_a_forced_engine_says_why(home, monkeypatch):
    monkeypatch.setattr(onnx_engine, "missing_package", lambda: "onnxruntime")
    model, images = small_net(), raw(engine.ONNX_AFTER_IMAGES)
    got = predict(model, list(images[:3]), preprocessing=PRE)[0].engine
    assert got == "keras: onnxruntime is not installed (pip install --upgrade cnn-zoo)"
    with pytest.raises(ArgumentError, match="the onnxruntime engine cannot run this model: onnxruntime is not"):
        predict(model, list(images[:1]), preprocessing=PRE, engine="onnxruntime")


def test_a_conversion_that_fails_falls_back_to_keras_under_auto(home, monkeypatch):
    tries = []

    def broken(*args, **kwargs):
        tries.append(1)
        raise RuntimeError("tf2onnx: no mapping for op FancyOp\nmore lines")

    monkeypatch.setattr(onnx_engine, "_export", broken)
    model, images = small_net(), raw(engine.ONNX_AFTER_IMAGES)
    for _ in range(2):  # tried once: the next call does not spend the conversion's seconds again
        got = predict(model, list(images), preprocessing=PRE)[0].engine
        assert got == "keras: the ONNX conversion failed, so Keras runs it: tf2onnx: no mapping for op FancyOp"
    assert len(tries) == 1
    with pytest.raises(ArgumentError, match="ONNX conversion failed: tf2onnx: no mapping for op FancyOp"):
        predict(small_net(seed=2), list(images[:1]), preprocessing=PRE, engine="onnxruntime")


@pytest.mark.slow
def test_a_224_tag_of_any_photo_size_runs_on_onnxruntime_from_the_cli(tmp_path, home):
    """googlenet_bn.imagenet: photos of any size, resized and cropped to 224 by the steps, then
    the network in onnxruntime; the same top 5 and probabilities as the Keras engine."""
    from cnn_zoo.hub.loading import family_of
    from cnn_zoo.preprocessing_spec import Preprocessing

    model = standin("googlenet_bn.imagenet")
    photos = write_photos(tmp_path / "photos", sizes=((300, 240), (224, 500), (640, 480)))
    keras_run = predict(model, photos, engine="keras")
    onnx_run = predict(model, photos, engine="onnxruntime")
    for a, b in zip(keras_run, onnx_run):
        assert a.labels == b.labels and b.engine == "onnxruntime: asked for"
        np.testing.assert_allclose(b.probabilities, a.probabilities, atol=TOLERANCE, rtol=0)
    chosen = engine.engine_for(model, Preprocessing.from_dict(model.zoo_info.preprocessing),
                               family_of(model.zoo_info), images=1)
    assert chosen.name == "onnxruntime" and "conversion cached" in chosen.reason


def test_cli_engine_choices_are_the_librarys():
    from cnn_zoo.cli.hub import predict_command

    (option,) = [p for p in predict_command.params if p.name == "engine"]
    assert tuple(option.type.choices) == engine.ENGINES
    result = CliRunner().invoke(main, ["predict", "lenet5.mnist", "x.png", "--engine", "onnx"])
    assert result.exit_code == 2 and "'onnx' is not one of" in result.output
