"""zoo.load(tag, raw=True) and zoo.preprocessing(tag): the preprocessing travels with the weights.

The raw model (uint8 images in, probabilities out) must give what ``zoo predict``
(cnn_zoo.hub.predict) gives: on real MNIST test digits on TensorFlow, JAX and PyTorch
(each backend in its own process: the backend is fixed at import, and TensorFlow and
torch never share one), and on photos of several sizes for the ImageNet tag whose steps
resize (stand-in weights in a hub cache, as ``zoo pull`` leaves a converted file).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_fixtures import tfds_dir  # noqa: F401
from hub_fixtures import cached_standin, write_photos

REPO = Path(__file__).resolve().parents[1]
TAG, IMAGENET = "lenet5.mnist", "googlenet_bn.imagenet"
DIGITS = 200
PHOTO_SIZES = ((480, 360), (300, 400), (257, 256), (640, 427))  # (width, height): several shapes


def predict_probabilities(model, images) -> np.ndarray:
    """Every class's probability from cnn_zoo.hub.predict (the `zoo predict` path), image by image."""
    from cnn_zoo.hub import predict

    n = len(model.zoo_info.class_names)
    arrays = [im[..., 0] if im.shape[-1] == 1 else im for im in images]
    probs = np.zeros((len(arrays), n))
    for row, p in zip(probs, predict(model, arrays, top_k=n)):
        row[list(p.indices)] = p.probabilities
    return probs


def lenet_differences(digits_file) -> dict:
    """On this process's backend: the raw model against predict, and zoo.preprocessing against the
    NumPy steps, as max |difference|; also the top-1 classes seen (the digits are real)."""
    import keras

    import cnn_zoo as zoo
    from cnn_zoo.preprocessing_spec import Preprocessing

    digits = np.load(digits_file)                                  # (N, 28, 28) uint8, as MNIST stores them
    raw = zoo.load(TAG, raw=True)
    got = keras.ops.convert_to_numpy(raw.predict(digits, verbose=0))  # (N, 28, 28) taken as (N, 28, 28, 1)
    want = predict_probabilities(zoo.load(TAG), digits[..., None])
    layer = zoo.preprocessing(TAG)
    pre = keras.ops.convert_to_numpy(layer(digits[..., None]))
    reference = Preprocessing.from_dict(raw.zoo_info.preprocessing).apply(digits[..., None])
    return {"backend": keras.backend.backend(), "probabilities": float(np.abs(got - want).max()),
            "preprocessing": float(np.abs(pre - reference).max()), "shape": list(got.shape),
            "classes": sorted({int(c) for c in got.argmax(-1)}),
            "input": [raw.input.dtype, *raw.input.shape[1:]]}


@pytest.fixture(scope="module")
def digits_file(tfds_dir, tmp_path_factory):  # noqa: F811
    """The first DIGITS real MNIST test digits, raw uint8 (N, 28, 28), read through the data layer."""
    from cnn_zoo.data import load_dataset

    path = tmp_path_factory.mktemp("digits") / "digits.npy"
    np.save(path, load_dataset("mnist", "test", data_dir=tfds_dir).x[:DIGITS, ..., 0])
    return path


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_raw_lenet5_gives_predicts_probabilities_on_real_digits(backend, digits_file):
    import keras

    here = backend == keras.backend.backend()  # the test process's own backend (TensorFlow in CI)
    found = lenet_differences(digits_file) if here else in_a_subprocess(backend, digits_file)
    assert found["backend"] == backend and found["shape"] == [DIGITS, 10]
    assert found["input"] == ["uint8", 28, 28, 1]           # the raw digit, not the padded 32x32
    assert found["probabilities"] < 1e-5 and found["preprocessing"] < 1e-5, found
    assert found["classes"] == list(range(10))               # real digits: every class predicted


def in_a_subprocess(backend, digits_file) -> dict:
    """lenet_differences in a fresh Python whose Keras runs on ``backend``."""
    code = ("import json, sys; sys.path.insert(0, 'tests'); sys.modules.setdefault('triton', None); "
            "import test_raw as t, keras; "
            f"assert keras.backend.backend() == {backend!r}; "
            f"print(json.dumps(t.lenet_differences({str(digits_file)!r})))")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_preprocessing_layer_in_a_tf_data_pipeline(digits_file):
    """On TensorFlow: zoo.preprocessing(tag) mapped over batches of a tf.data pipeline."""
    import tensorflow as tf

    import cnn_zoo as zoo
    from cnn_zoo.preprocessing_spec import Preprocessing

    digits = np.load(digits_file)[..., None]
    layer = zoo.preprocessing(TAG)
    labels = np.arange(len(digits)) % 10
    dataset = tf.data.Dataset.from_tensor_slices((digits, labels)).batch(64).map(lambda x, y: (layer(x), y))
    got = np.concatenate([x.numpy() for x, _ in dataset])
    want = Preprocessing.from_dict(zoo.load(TAG).zoo_info.preprocessing).apply(digits)
    assert got.shape == want.shape == (DIGITS, 32, 32, 1) and np.abs(got - want).max() < 1e-6


@pytest.fixture(scope="module")
def imagenet_hub(tmp_path_factory):
    """The ImageNet tag's stand-in weights in a hub cache, and photos of several sizes."""
    from PIL import Image

    root = tmp_path_factory.mktemp("imagenet")
    hub = cached_standin(IMAGENET, root / "home")
    photos = [np.asarray(Image.open(write_photos(root / f"photo{i}", sizes=[size], seed=i)[0]).convert("RGB"))
              for i, size in enumerate(PHOTO_SIZES)]
    return hub, photos


@pytest.mark.slow
def test_raw_imagenet_tag_gives_predicts_probabilities_on_photos_of_any_size(imagenet_hub):
    import cnn_zoo as zoo

    hub, photos = imagenet_hub
    raw = zoo.load(IMAGENET, raw=True, hub=hub)
    assert tuple(raw.input.shape) == (None, None, None, 3) and raw.output.shape[-1] == 1000
    want = predict_probabilities(zoo.load(IMAGENET, hub=hub), photos)
    got = np.concatenate([raw.predict(photo[None], verbose=0) for photo in photos])  # one size each
    assert {photo.shape[:2] for photo in photos} == {(h, w) for w, h in PHOTO_SIZES}
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
    assert np.abs(got - want).max() < 1e-5, np.abs(got - want).max()
    assert len(set(got.argmax(-1))) > 1  # the stand-in weights see the photo


def test_imagenet_preprocessing_maps_photos_of_any_size_in_tf_data(imagenet_hub):
    import tensorflow as tf

    import cnn_zoo as zoo
    from cnn_zoo.preprocessing_spec import Preprocessing

    hub, photos = imagenet_hub
    layer = zoo.preprocessing(IMAGENET, hub=hub)
    dataset = tf.data.Dataset.from_generator(lambda: iter(photos), output_signature=tf.TensorSpec(
        (None, None, 3), tf.uint8)).map(lambda x: layer(x[None])[0])
    got = np.stack([x.numpy() for x in dataset])
    steps = Preprocessing.from_dict(_info(IMAGENET, hub).preprocessing)
    want = np.concatenate([steps.apply(photo[None]) for photo in photos])
    # The antialiased resize: PIL's kernel in NumPy, matrix products in the layer (test_export_layer.py)
    assert got.shape == want.shape == (len(photos), 224, 224, 3) and np.abs(got - want).max() < 1e-3


def test_caffe_tag_preprocessing_resizes_any_photo_to_its_raw_size_first(imagenet_hub):
    """googlenet.imagenet's raw size is 256x256 (as Caffe): its layer resizes any photo to it first, then
    its steps, as zoo predict reads a file (whose PIL resize rounds to whole levels: within 1.5 levels)."""
    import tensorflow as tf

    import cnn_zoo as zoo
    from cnn_zoo.hub import read_image
    from cnn_zoo.preprocessing_spec import Preprocessing

    _, photos = imagenet_hub
    layer = zoo.preprocessing("googlenet.imagenet")
    assert [type(one).__name__ for one in layer.layers] == ["ResizeLayer", "PreprocessingLayer"]
    steps = Preprocessing.from_dict(_info("googlenet.imagenet", None).preprocessing)
    dataset = tf.data.Dataset.from_generator(lambda: iter(photos), output_signature=tf.TensorSpec(
        (None, None, 3), tf.uint8)).map(lambda x: layer(x[None])[0])
    for got, photo in zip(dataset, photos):
        want = steps.apply(read_image(photo, steps.raw_shape)[None])[0]
        assert got.shape == want.shape == (224, 224, 3) and np.abs(got.numpy() - want).max() < 1.5


def _info(tag, hub):
    from cnn_zoo.hub import info

    return info(tag, hub=hub)


def test_readme_classifies_a_raw_photo_in_two_lines(imagenet_hub, tmp_path, monkeypatch, capsys):
    """The README's Python block, as written: its imports, then the two lines with raw=True."""
    import cnn_zoo as zoo

    hub, _ = imagenet_hub
    block = re.search(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1).splitlines()
    imports = [line for line in block if re.match(r"(import|from) \S+", line)]
    first = next(i for i, line in enumerate(block) if "raw=True" in line and IMAGENET in line)
    two = block[first:first + 2]
    assert "load_img" in two[1] and "print(" in two[1]
    write_photos(tmp_path, sizes=[(500, 375)])[0].rename(tmp_path / "cat.jpg")
    monkeypatch.setenv("ZOO_HOME", str(hub.home))
    monkeypatch.chdir(tmp_path)
    exec("\n".join(imports + two), {})
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed == zoo.hub.predict(zoo.load(IMAGENET, hub=hub), "cat.jpg", top_k=1)[0].labels[0]


def test_raw_model_of_a_run_folder(tmp_path):
    """A run folder (model.keras + preprocessing.json, as zoo train writes them) loads raw too."""
    import cnn_zoo as zoo
    from cnn_zoo.hub.loading import load_run

    model = zoo.get_model("lenet5_modern")
    model.save(tmp_path / "model.keras")
    (tmp_path / "preprocessing.json").write_text(json.dumps({
        "steps": [{"pad": 2}, "lenet_scale"], "raw_shape": [28, 28, 1], "input_shape": [32, 32, 1],
        "class_names": list("abcdefghij")}))
    raw = zoo.load(tmp_path, raw=True)
    images = np.random.default_rng(0).integers(0, 256, (6, 28, 28, 1), dtype=np.uint8)
    got, want = raw.predict(images, verbose=0), predict_probabilities(load_run(tmp_path), images)
    assert raw.zoo_info.class_names == tuple("abcdefghij") and np.abs(got - want).max() < 1e-6
    assert tuple(zoo.preprocessing(tmp_path)(images).shape) == (6, 32, 32, 1)


def test_raw_mistakes_are_one_clear_error(tmp_path):
    import keras

    import cnn_zoo as zoo

    with pytest.raises(zoo.ZooError, match="`raw` must be True or False"):
        zoo.load(TAG, raw="yes")
    with pytest.raises(zoo.ZooError, match=r"include_top=False.*zoo.preprocessing\(tag\)"):
        zoo.load(TAG, raw=True, include_top=False)
    with pytest.raises(zoo.ZooError, match="a run folder loads as it was trained.*num_classes=3"):
        zoo.load(tmp_path, num_classes=3)
    with pytest.raises(zoo.ZooError, match="without zoo_info"):
        zoo.preprocessing(keras.Sequential([keras.layers.Dense(2)]))
