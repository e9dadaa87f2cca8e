"""zoo.export: every shipped tag in every format gives zoo predict's answers, in its own runtime.

The exported file runs in a fresh process where cnn_zoo is not importable
(tests/export_runner.py) on real MNIST / Fashion-MNIST test images through the
data layer; the ImageNet tags get stand-in weights and generated photos. Float
formats: top-1 equal on every image, probabilities within 1e-4. int8: top-1
agreement >= 99% on 1,000 test images, the accuracy drop in the JSON record.
.keras files of models whose layers all have stock forms (lenet5_modern, convnet,
googlenet_bn) load there with Keras alone and equal the cnn_zoo graph within 1e-5.
"""

from __future__ import annotations

import json
import site
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_fixtures import tfds_dir  # noqa: F401
from hub_fixtures import published, seeing_weights, standin, write_photos  # noqa: F401

RUNNER = Path(__file__).with_name("export_runner.py")
SMALL_TAGS = ("lenet5.mnist", "lenet5_modern.mnist", "lenet5.fashion_mnist", "convnet.fashion_mnist",
              "googlenet.fashion_mnist")
IMAGENET_TAGS = ("googlenet.imagenet", "googlenet_bn.imagenet")
FLOAT_FORMATS = {"savedmodel": "sm", "tflite": "m.tflite", "onnx": "m.onnx"}
FLOAT_IMAGES = 300
PHOTO_SHAPES = [(256, 256), (400, 300), (300, 400), (500, 333)]  # (width, height)
# Probabilities, export vs zoo predict: googlenet_bn's resize_shorter is the same kernel in both (PIL's in
# NumPy, a matmul in the graph: 0.005 of a level apart); googlenet's whole-image resize is PIL's on uint8
# in zoo predict (rounded to whole levels), in float inside the graph.
IMAGENET_ATOL = {"googlenet_bn.imagenet": 1e-4, "googlenet.imagenet": 1e-3,  # measured: 2.7e-6, 1.6e-4
                 "resnet50.imagenet_v2": 1e-4}


def run_fresh(fmt, model_path, images, tmp_path) -> np.ndarray:
    """Probabilities from the exported file, computed in a process that cannot import cnn_zoo."""
    return run_fresh_batches(fmt, model_path, [images], tmp_path)[0]


def run_fresh_batches(fmt, model_path, batches, tmp_path) -> list:
    """:func:`run_fresh` of several batches (of different image shapes) in one such process: it
    starts its runtime and loads the file once (a SavedModel of GoogLeNet: about 10 s)."""
    xs, outs = [tmp_path / f"x{i}.npy" for i in range(len(batches))], [tmp_path / f"y{i}.npy" for i in range(len(batches))]
    for x, images in zip(xs, batches):
        np.save(x, np.ascontiguousarray(images, np.uint8))
    dirs = [d for d in site.getsitepackages() if not d.startswith(sys.prefix)] or site.getsitepackages()
    proc = subprocess.run([sys.executable, "-I", "-S", str(RUNNER), fmt, str(model_path), ",".join(map(str, xs)),
                           ",".join(map(str, outs)), *dirs], cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [np.load(out) for out in outs]


def zoo_predict(model, images) -> np.ndarray:
    """Full probability vectors from cnn_zoo.hub.predict (top_k = every class), image by image."""
    from cnn_zoo.hub import predict

    n = model.zoo_info.num_classes if hasattr(model.zoo_info, "num_classes") else len(model.zoo_info.class_names)
    arrays = [im[..., 0] if im.shape[-1] == 1 else im for im in images]
    probs = np.zeros((len(images), n))
    for row, p in zip(probs, predict(model, arrays, top_k=n)):
        row[list(p.indices)] = p.probabilities
    return probs


def real_test_images(tag, tfds_dir):  # noqa: F811
    """The first FLOAT_IMAGES test images of the tag's dataset, raw uint8, through the data layer."""
    from cnn_zoo.data import load_dataset

    name = tag.split(".")[1]
    data = load_dataset(name, "test", data_dir=tfds_dir)
    return data.x[:FLOAT_IMAGES]


def check_float(model, fmt, images, tmp_path):
    import cnn_zoo as zoo

    path = tmp_path / FLOAT_FORMATS[fmt]
    record = zoo.export(model, fmt, path)
    got = run_fresh(fmt, path, images, tmp_path)
    want = zoo_predict(model, images)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    on_disk = json.loads(Path(f"{path}.json").read_text())
    assert on_disk["labels"] == list(model.zoo_info.class_names) == record["labels"]
    assert on_disk["input"]["dtype"] == "uint8" and len(on_disk["sha256"]) == 64
    assert {"keras", "numpy", "cnn-zoo"} <= set(on_disk["versions"])
    return got


def test_lenet5_mnist_onnx_matches_zoo_predict_without_cnn_zoo(tmp_path, tfds_dir):  # noqa: F811
    """The quick one: LeNet-5's connection table, trainable subsampling and RBF head in onnxruntime."""
    import cnn_zoo as zoo

    model = zoo.load("lenet5.mnist")
    got = check_float(model, "onnx", real_test_images("lenet5.mnist", tfds_dir), tmp_path)
    assert len(set(got.argmax(-1))) == 10  # real digits, every class predicted


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(FLOAT_FORMATS))
@pytest.mark.parametrize("tag", SMALL_TAGS)
def test_small_tags_match_zoo_predict(tag, fmt, tmp_path, tfds_dir):  # noqa: F811
    import cnn_zoo as zoo

    check_float(zoo.load(tag), fmt, real_test_images(tag, tfds_dir), tmp_path)


def photo_batches(folder, sizes=PHOTO_SHAPES, per_size=2):
    """Generated photos, one uint8 batch per (width, height): square, landscape, portrait, large."""
    from PIL import Image

    return [np.stack([np.asarray(Image.open(p).convert("RGB")) for p in
                      write_photos(folder / f"{w}x{h}", sizes=[(w, h)] * per_size, seed=i)])
            for i, (w, h) in enumerate(sizes)]


@pytest.mark.parametrize("tag", [*IMAGENET_TAGS, pytest.param("resnet50.imagenet_v2", marks=pytest.mark.slow)])
def test_imagenet_serving_graph_follows_the_stored_steps(tag, tmp_path):
    """In process, no export: the served graph (resize_shorter inside for googlenet_bn, to 232 for
    resnet50.imagenet_v2, the whole 256x256 resize for Caffe's googlenet) gives zoo predict's top-1
    on photos of any shape."""
    from cnn_zoo.serving import contract_of, serving_model

    model = standin(tag)
    served = serving_model(model, contract_of(model.zoo_info))
    for images in photo_batches(tmp_path, sizes=[(400, 300), (300, 450)]):
        got, want = served.predict(images, verbose=0), zoo_predict(model, images)
        np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
        np.testing.assert_allclose(got, want, atol=IMAGENET_ATOL[tag], rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(FLOAT_FORMATS))
@pytest.mark.parametrize("tag", IMAGENET_TAGS)
def test_imagenet_standins_match_zoo_predict_on_photos(tag, fmt, tmp_path):
    import cnn_zoo as zoo

    model = standin(tag)
    path = tmp_path / FLOAT_FORMATS[fmt]
    zoo.export(model, fmt, path)
    seen = set()
    batches = photo_batches(tmp_path)
    for images, got in zip(batches, run_fresh_batches(fmt, path, batches, tmp_path)):  # each shape, one file
        want = zoo_predict(model, images)
        np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
        np.testing.assert_allclose(got, want, atol=IMAGENET_ATOL[tag], rtol=0)
        seen |= set(got.argmax(-1))
    assert len(seen) > 1  # the stand-in weights see the image


@pytest.mark.slow
@pytest.mark.parametrize("int8", ["dynamic", "full"])
@pytest.mark.parametrize("tag", ["lenet5.mnist", "convnet.fashion_mnist"])
def test_int8_agrees_on_1000_test_images(tag, int8, tmp_path, tfds_dir):  # noqa: F811
    import cnn_zoo as zoo
    from cnn_zoo.data import load_dataset

    model = zoo.load(tag)
    path = tmp_path / "q.tflite"
    record = zoo.export(model, "tflite", path, int8=int8, data_dir=tfds_dir)
    data = load_dataset(tag.split(".")[1], "test", data_dir=tfds_dir)
    images = data.x[:1000]
    got = run_fresh("tflite", path, images, tmp_path).argmax(-1)
    want = zoo_predict(model, images).argmax(-1)
    assert np.mean(got == want) >= 0.99
    check = json.loads(Path(f"{path}.json").read_text())["int8_check"]
    assert check == record["int8_check"] and check["images"] == 1000
    assert check["top1_agreement"] >= 0.99 and abs(check["accuracy_drop"]) < 0.01
    zoo.export(model, "tflite", tmp_path / "f.tflite")
    assert path.stat().st_size < 0.5 * (tmp_path / "f.tflite").stat().st_size  # int8 weights


def test_cli_export_json(tmp_path):
    from click.testing import CliRunner

    from cnn_zoo.cli import main

    out = tmp_path / "lenet5.tflite"
    result = CliRunner().invoke(main, ["export", "lenet5.mnist", "--format", "tflite", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output[result.output.index("{"):])
    assert record["tag"] == "lenet5.mnist" and record["input"]["shape"] == [None, 28, 28, 1]
    assert record["labels"] == [str(i) for i in range(10)] and out.stat().st_size > 100_000
    assert json.loads(Path(f"{out}.json").read_text())["sha256"] == record["sha256"]


@pytest.mark.slow
@pytest.mark.parametrize("tag", ["lenet5.mnist", "googlenet.fashion_mnist"])
def test_keras_format_reloads_with_cnn_zoo_and_matches(tag, tmp_path, tfds_dir):  # noqa: F811
    """The .keras file holds the zoo's custom layers: it loads where cnn-zoo is installed."""
    import cnn_zoo as zoo
    from cnn_zoo.export.runtime import Runner

    model, images = zoo.load(tag), real_test_images(tag, tfds_dir)
    zoo.export(model, "keras", tmp_path / "m.keras")
    got, want = Runner(tmp_path / "m.keras", "keras")(images), zoo_predict(model, images)
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_a_run_folder_exports_and_matches(published, tmp_path, tfds_dir):  # noqa: F811
    """A `zoo train --out` folder (its model.keras and preprocessing.json) exports too."""
    import cnn_zoo as zoo
    from cnn_zoo.hub.loading import load_run

    path = tmp_path / "run.onnx"
    record = zoo.export(str(published.run_dir), "onnx", path)
    assert record["source"]["kind"] == "run" and record["source"]["file"].endswith("model.keras")
    images = real_test_images("lenet5.mnist", tfds_dir)[:100]
    got, want = run_fresh("onnx", path, images, tmp_path), zoo_predict(load_run(published.run_dir), images)
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def served_probabilities(model, images) -> np.ndarray:
    """The cnn_zoo served graph (what raw=True and every export run), in this process."""
    from cnn_zoo.serving import contract_of, serving_model

    return serving_model(model, contract_of(model.zoo_info)).predict(images, verbose=0)


def check_stock(model, images, tmp_path):
    import cnn_zoo as zoo
    from cnn_zoo.export.stock import LOAD_STOCK

    path = tmp_path / "m.keras"
    record = zoo.export(model, "keras", path, overwrite=True)
    assert record["needs_cnn_zoo"] == [] and record["load"] == LOAD_STOCK
    assert json.loads(Path(f"{path}.json").read_text())["needs_cnn_zoo"] == []
    got, want = run_fresh("keras", path, images, tmp_path), served_probabilities(model, images)
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    return got


@pytest.mark.slow
@pytest.mark.parametrize("tag", ["lenet5_modern.mnist", "convnet.fashion_mnist"])
def test_stock_keras_file_loads_without_cnn_zoo(tag, tmp_path, tfds_dir):  # noqa: F811
    import cnn_zoo as zoo

    model, images = zoo.load(tag), real_test_images(tag, tfds_dir)
    got = check_stock(model, images, tmp_path)
    assert len(set(got.argmax(-1))) == 10
    np.testing.assert_array_equal(got.argmax(-1), zoo_predict(model, images).argmax(-1))


@pytest.mark.slow
def test_stock_keras_file_of_googlenet_bn_at_32x32(tmp_path):
    """Inception blocks (BN), ceil-rounded pools, P=3 convs and transform_input, all in stock layers."""
    import cnn_zoo as zoo
    from cnn_zoo.hub.loading import RunInfo

    model = seeing_weights(zoo.get_model("googlenet_bn", input_shape=(32, 32, 3), num_classes=10,
                                         transform_input=True))
    steps = [{"rescale": 1 / 255}, {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}]
    model.zoo_info = RunInfo(str(tmp_path), {"steps": steps, "raw_shape": [32, 32, 3], "input_shape": [32, 32, 3]},
                             tuple("abcdefghij"), {}, {})
    rng = np.random.default_rng(0)  # colour gradients, one per image (noise alone looks alike to the net)
    ramp = np.linspace(0, 1, 32)[None, :, None, None] * rng.uniform(-1, 1, (16, 1, 1, 3))
    images = np.clip(128 + 127 * (ramp + ramp.transpose(0, 2, 1, 3) * rng.uniform(-1, 1, (16, 1, 1, 1))), 0, 255)
    got = check_stock(model, images.astype(np.uint8), tmp_path)
    assert np.ptp(got, axis=0).max() > 0.05  # the weights see the images: probabilities move with them


def test_papers_layers_keep_cnn_zoo_and_say_so(tmp_path):
    from click.testing import CliRunner

    from cnn_zoo.cli import main

    out = tmp_path / "lenet5.keras"
    result = CliRunner().invoke(main, ["export", "lenet5.mnist", "--format", "keras", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "pip install cnn-zoo, then import cnn_zoo" in result.output
    for why in ("'c3' (ConnectionTableConv2D): LeNet-5's C3 connection table",
                "'s2' (TrainableSubsampling)", "'output' (EuclideanRBF)", "'f6' (Dense): its activation scaled_tanh"):
        assert f"needs cnn-zoo: layer {why}" in result.output
    record = json.loads(Path(f"{out}.json").read_text())
    assert len(record["needs_cnn_zoo"]) == 7 and record["load"].startswith("pip install cnn-zoo")


@pytest.mark.slow
def test_imagenet_googlenet_bn_network_is_stock_but_not_its_any_size_resize():
    """At 224x224 every layer of googlenet_bn has a stock form; resize_shorter of photos of any size
    has none, so its .keras file needs cnn-zoo, and the reason names that step alone."""
    from cnn_zoo.serving import contract_of, serving_model
    from cnn_zoo.export.stock import portable

    model = standin("googlenet_bn.imagenet")
    stock, needs = portable(model)
    assert needs == [] and stock is not model
    x = np.random.default_rng(0).normal(size=(1, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(stock.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6, rtol=0)
    served = serving_model(model, contract_of(model.zoo_info))
    assert portable(served) == (served, ["layer 'preprocessing' (PreprocessingLayer): its step resize_shorter "
                                         "{'size': 256, 'method': 'bilinear', 'antialias': True} has no stock "
                                         "Keras layer"])


def test_pools_whose_padding_keras_lacks_are_not_stock():
    """cnn_zoo pads max pools with -inf; Keras' "same" is that exactly, zeros are not (negative inputs)."""
    import keras

    from cnn_zoo import layers
    from cnn_zoo.export.stock import portable

    inputs = keras.Input((8, 8, 2))
    ceil = layers.MaxPool2D(3, strides=2, rounding="ceil", name="ceil")(inputs)   # pads (0, 1): "same"
    model = keras.Model(inputs, layers.Conv2D(3, 3, padding=2, name="conv")(ceil))
    stock, needs = portable(model)
    assert needs == [] and [type(layer).__name__ for layer in stock.layers[1:]] == [
        "MaxPooling2D", "ZeroPadding2D", "Conv2D"]
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 2)).astype("float32") - 3.0  # every value negative
    np.testing.assert_allclose(stock.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6, rtol=0)
    padded = keras.Model(inputs, layers.MaxPool2D(3, strides=2, padding=1, name="p1")(inputs))  # "same": (0, 1)
    assert portable(padded) == (padded, ["layer 'p1' (MaxPool2D): its −∞ padding ((1, 1), (1, 1)) on a (8, 8) "
                                         "input is neither Keras' 'valid' nor 'same'"])
