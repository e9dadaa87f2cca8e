"""The engines of `zoo predict` (cnn_zoo.hub.engine): LiteRT gives predict_on_batch's probabilities
within 1e-4, auto picks it only where it pays, and every backend keeps a working path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from hub_fixtures import TAG, hub_for, published, standin, write_photos  # noqa: F401  (fixture)
from cnn_zoo.cli import main
from cnn_zoo.errors import ArgumentError
from cnn_zoo.hub import engine, litert_engine
from cnn_zoo.hub.loading import family_of
from cnn_zoo.hub.prediction import predict
from cnn_zoo.preprocessing_spec import Preprocessing

TOLERANCE = 1e-4


@pytest.fixture
def lenet(tmp_path, published):  # noqa: F811
    from cnn_zoo.hub import load

    return load(TAG, hub=hub_for(tmp_path, published))


def raw_images(model, count, seed=0):
    shape = Preprocessing.from_dict(model.zoo_info.preprocessing).raw_shape
    return np.random.default_rng(seed).integers(0, 256, size=(count, *shape), dtype=np.uint8)


def as_inputs(raw):
    """The arrays as predict takes them (Pillow reads a grey image as (H, W), not (H, W, 1))."""
    return [a[..., 0] if a.shape[-1] == 1 else a for a in raw]


def by_predict_on_batch(model, raw):
    """What the Keras path computes, written out: the steps in NumPy, then predict_on_batch."""
    pre = Preprocessing.from_dict(model.zoo_info.preprocessing)
    return np.asarray(model.predict_on_batch(pre.apply(raw, training=False)), dtype=np.float64)


def probabilities(results, classes):
    got = np.zeros((len(results), classes))
    for row, r in zip(got, results):
        row[list(r.indices)] = r.probabilities
    return got


def check_engine_agrees(model, count=40, engines=("keras", "litert")):
    raw = raw_images(model, count)
    want = by_predict_on_batch(model, raw)
    for name in engines:
        results = predict(model, as_inputs(raw), top_k=want.shape[-1], engine=name)
        assert {r.engine.split(":")[0] for r in results} == {name}
        np.testing.assert_allclose(probabilities(results, want.shape[-1]), want, atol=TOLERANCE, rtol=0)
    return want


def test_litert_equals_predict_on_batch_for_lenet5(lenet):
    want = check_engine_agrees(lenet)
    assert want.std(axis=0).max() > 1e-3  # the images are told apart: agreement proves something


def test_litert_equals_predict_on_batch_for_convnet():
    check_engine_agrees(standin("convnet.fashion_mnist"))


@pytest.mark.slow
def test_a_224_model_goes_to_onnxruntime_and_every_engine_agrees(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    model = standin("googlenet.imagenet")  # a fixed 256x256 raw size, cropped to 224
    chosen = engine.engine_for(model, Preprocessing.from_dict(model.zoo_info.preprocessing),
                               family_of(model.zoo_info), images=engine.ONNX_AFTER_IMAGES)
    assert chosen.name == "onnxruntime" and "large input" in chosen.reason
    check_engine_agrees(model, count=2, engines=("keras", "litert", "onnxruntime"))


def test_auto_converts_once_it_pays_and_keeps_the_conversion(lenet, monkeypatch):
    raw = as_inputs(raw_images(lenet, 3))
    first = predict(lenet, raw, engine="auto")[0].engine
    assert first.startswith("keras: converting to LiteRT") and "cost more than it had saved" in first
    monkeypatch.setattr(engine, "CONVERSION_S", 1e-3)  # as after many calls: the next one converts
    assert predict(lenet, raw[:1])[0].engine.startswith("litert: a small input")
    monkeypatch.setattr(engine, "CONVERSION_S", 1e9)  # kept for the model's lifetime, not re-decided
    assert predict(lenet, raw[:1])[0].engine.startswith("litert")


def test_training_after_a_litert_conversion_converts_again_and_predicting_reads_no_counter(
        lenet, monkeypatch):
    import keras

    raw = raw_images(lenet, 8)
    reads = []
    counter = engine._optimizer_steps
    monkeypatch.setattr(engine, "_optimizer_steps", lambda m: reads.append(counter(m)) or reads[-1])
    lenet.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    before = predict(lenet, as_inputs(raw), top_k=10, engine="litert")
    predict(lenet, as_inputs(raw), engine="litert")
    assert reads == [None, None]  # compiled, never trained here: no variable read on the hot path
    pre = Preprocessing.from_dict(lenet.zoo_info.preprocessing)
    lenet.fit(pre.apply(raw, training=False), np.arange(8) % 10, epochs=2, verbose=0)
    after = predict(lenet, as_inputs(raw), top_k=10, engine="litert")
    assert reads[-1] == 2  # two steps of one batch: the record emptied, converted again
    want = by_predict_on_batch(lenet, raw)
    np.testing.assert_allclose(probabilities(after, 10), want, atol=TOLERANCE, rtol=0)
    assert np.abs(probabilities(before, 10) - want).max() > 1e-3  # the new weights, not the old file


def test_tensorflows_own_interpreter_runs_it_without_the_extra(lenet, monkeypatch):
    import tensorflow as tf

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # as on the main install
    assert litert_engine.interpreter_class() is tf.lite.Interpreter
    check_engine_agrees(lenet, count=5)
    monkeypatch.setattr(litert_engine, "interpreter_class", lambda: None)
    fresh = standin("lenet5_modern.mnist")
    chosen = engine.engine_for(fresh, Preprocessing.from_dict(fresh.zoo_info.preprocessing),
                               family_of(fresh.zoo_info), 10 ** 7)
    assert chosen.name == "keras" and "no LiteRT interpreter" in chosen.reason
    with pytest.raises(ArgumentError, match="litert engine cannot run this model"):
        predict(fresh, as_inputs(raw_images(fresh, 1)), engine="litert")


def test_an_unknown_engine_is_refused_before_the_model_loads():
    with pytest.raises(ArgumentError, match=r"`engine` must be one of auto, keras, litert, onnxruntime"):
        predict("no.such_tag", [], engine="onnx")


def test_cli_says_which_engine_ran(tmp_path, published, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_HUB_URL", published.dest.as_uri())
    photo = write_photos(tmp_path / "photos", sizes=((120, 90),))[0]
    result = CliRunner().invoke(main, ["predict", TAG, str(photo), "--engine", "litert", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["engine"] == "litert: asked for"
    result = CliRunner().invoke(main, ["predict", TAG, str(photo), "-v"])
    assert result.exit_code == 0, result.output
    assert "engine: keras: converting to LiteRT" in result.stderr


SCRIPT = """
import json, numpy as np, keras
from hub_fixtures import standin
from cnn_zoo.errors import ArgumentError
from cnn_zoo.hub import predict
from cnn_zoo.preprocessing_spec import Preprocessing
model = standin("lenet5_modern.mnist")
raw = np.random.default_rng(0).integers(0, 256, size=(4, 28, 28, 1), dtype=np.uint8)
got = predict(model, list(raw[..., 0]), top_k=10)
x = Preprocessing.from_dict(model.zoo_info.preprocessing).apply(raw, training=False)
want = np.asarray(model.predict_on_batch(x))
rows = np.zeros_like(want)
for row, r in zip(rows, got):
    row[list(r.indices)] = r.probabilities

def refusal(model, images, engine, **kwargs):
    try:
        predict(model, images, engine=engine, **kwargs)
        return ""
    except ArgumentError as error:
        return str(error)

# A large input (the onnxruntime engine's): auto stays on Keras however many images, and says why.
from test_predict_onnx_engine import PRE, raw as large, small_net
big = small_net()
print(json.dumps({"backend": keras.backend.backend(), "engine": got[0].engine,
                  "diff": float(np.abs(rows - want).max()),
                  "refused": refusal(model, list(raw[..., 0]), "litert"),
                  "large": predict(big, list(large(600)), preprocessing=PRE)[0].engine,
                  "refused_large": refusal(big, list(large(1)), "onnxruntime", preprocessing=PRE)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backends_keep_the_keras_path(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                          cwd=os.path.dirname(__file__), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["backend"] == backend and found["engine"].startswith(f"keras: the {backend} backend")
    assert found["diff"] < TOLERANCE and "needs TensorFlow" in found["refused"]
    assert found["large"].startswith(f"keras: the {backend} backend: ONNX's converter needs TensorFlow's")
    assert "the onnxruntime engine cannot run this model: the " + backend in found["refused_large"]
