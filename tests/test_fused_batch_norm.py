"""TensorFlow's fused batch norm behind Keras' BatchNormalization (cnn_zoo.fused_batch_norm) computes
what Keras' own layer does: outputs, gradients and moving statistics, in float32 and mixed bfloat16,
frozen, saved and reloaded; the compute plan turns it on for TensorFlow only, and a run gets it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from cnn_zoo import compute, registry
from cnn_zoo import run as runs
from cnn_zoo.compute import plan_for
from cnn_zoo.evaluation import evaluate
from cnn_zoo.fused_batch_norm import fuse_batch_norm, is_fused
from cnn_zoo.keras_private import every_layer
from cnn_zoo.recipe import load_recipe
from cnn_zoo.train import build_and_compile, train

ROOT = Path(__file__).resolve().parents[1]
on_tensorflow = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                   reason="the fused kernel is TensorFlow's (other backends: the subprocess test)")
L = keras.layers


def small_net():
    """Convs with four BatchNormalizations between nonlinearities (so that no BN's scale is
    undone by the next one): every option the fused call handles, and a 2-D BN it leaves alone."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((9, 9, 3))
    x = L.BatchNormalization(momentum=0.9)(L.Conv2D(4, 3)(inputs))
    x = L.Conv2D(5, 3, activation="relu")(L.ReLU()(x))
    x = L.BatchNormalization(center=False, epsilon=1e-5)(x)
    x = L.Conv2D(6, 1)(L.BatchNormalization(axis=3, scale=False)(L.ReLU()(x)))
    x = L.BatchNormalization(center=False, scale=False)(x)
    x = L.Dense(3)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, L.BatchNormalization()(x))  # 2-D: not the kernel's NHWC, left to Keras


def resnet18():
    keras.utils.set_random_seed(0)
    return registry.get_model("resnet18", input_shape=(32, 32, 3), num_classes=10)


MODELS = {small_net: ((6, 9, 9, 3), 4), resnet18: ((6, 32, 32, 3), 20)}  # input, BNs the kernel takes


def batch(shape=(6, 9, 9, 3)):
    return np.random.default_rng(1).normal(1.5, 2.0, shape).astype("float32")


def gradients(model, x):
    """d(loss)/d(input) and d(loss)/d(every trainable weight) of one training-mode forward pass,
    traced as fit traces it (graph mode, where oneDNN's kernels run)."""
    import tensorflow as tf  # the TensorFlow backend's tape

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.cast(model(x, training=True), "float32")
            loss = tf.reduce_sum(y * tf.sin(y))  # not scale-invariant, unlike a plain sum after a BN
        return tape.gradient(loss, [x, *model.trainable_variables])

    return [np.asarray(g, "float64") for g in step(tf.constant(x, model.inputs[0].dtype))]


def close(got, want, rtol):
    scale = max(np.abs(want).max(), 1e-30)
    assert np.abs(np.asarray(got, "float64") - want).max() <= rtol * scale


def moving_statistics(model):
    return [np.asarray(v) for layer in every_layer(model) if isinstance(layer, L.BatchNormalization)
            for v in (layer.moving_mean, layer.moving_variance)]


@on_tensorflow
@pytest.mark.parametrize("build, rtol", [(small_net, 1e-5), (resnet18, 3e-5)], ids=["small_net", "resnet18"])
def test_fused_computes_what_keras_does(build, rtol):
    """``rtol``: ResNet-18's 18 training-mode BNs in float32 put either side 1.2e-5 from the
    float64 output (test_fused_is_as_close_to_float64_as_keras), so 1e-5 apart is not float32's."""
    stock, fused = build(), build()
    shape, count = MODELS[build]
    assert fuse_batch_norm(fused) == count
    assert fuse_batch_norm(fused) == count  # again: the same layers, rebound once
    x = batch(shape)
    for training in (True, False):
        close(fused(x, training=training), np.asarray(stock(x, training=training), "float64"), rtol)
    # A forward pass in training mode updated the moving statistics alike.
    for got, want in zip(moving_statistics(fused), moving_statistics(stock), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    grads_stock, grads_fused = gradients(stock, x), gradients(fused, x)
    # Within 1e-4 of the largest gradient: a BN's scale gradient sums terms of that size that
    # cancel to a small value, whose last float32 digits neither side has (see the float64 test).
    scale = max(np.abs(g).max() for g in grads_stock)
    assert len(grads_fused) == len(grads_stock) == 1 + len(stock.trainable_variables)
    for got, want in zip(grads_fused, grads_stock):
        assert np.abs(got - want).max() <= 1e-4 * scale
    # One SGD step through fit: the weights and moving statistics after it agree too.
    for model in (stock, fused):
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        model.fit(x, np.zeros(model.output.shape[1:], "float32")[None].repeat(len(x), 0), epochs=1, verbose=0)
    for got, want in zip(moving_statistics(fused), moving_statistics(stock), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    for got, want in zip(fused.get_weights(), stock.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


@on_tensorflow
@pytest.mark.parametrize("build", MODELS, ids=lambda b: b.__name__)
def test_fused_is_as_close_to_float64_as_keras(build):
    """Both float32 paths held to the float64 one (which the kernel, float32 at most, cannot
    compute): the fused outputs and gradients are no further from it than Keras' own."""
    with compute.dtype_policy("float64"):
        exact = build()
    stock, fused = build(), build()
    exact.set_weights(stock.get_weights())
    fuse_batch_norm(fused)
    x = batch(MODELS[build][0])

    def error(got, want, scale):
        return max(np.abs(np.asarray(g, "float64") - np.asarray(w, "float64")).max() for g, w in zip(got, want)) / scale

    for training in (True, False):
        want = np.asarray(exact(x, training=training))
        scale = np.abs(want).max()
        ours, keras_own = (error([m(x, training=training)], [want], scale) for m in (fused, stock))
        assert ours <= 1.5 * keras_own + 1e-6
    want = gradients(exact, x)
    scale = max(np.abs(g).max() for g in want)
    ours, keras_own = (error(gradients(m, x), want, scale) for m in (fused, stock))
    assert ours <= 1.5 * keras_own + 1e-6


@on_tensorflow
def test_mixed_bfloat16_matches_keras_dtypes_and_values():
    with compute.dtype_policy("mixed_bfloat16"):
        stock, fused = small_net(), small_net()
    assert fuse_batch_norm(fused) == 4
    x = batch()
    for training in (True, False):
        want, got = stock(x, training=training), fused(x, training=training)
        assert got.dtype == want.dtype  # Keras' BN returns its compute dtype: bfloat16
        # bfloat16 keeps 8 bits: the two may round the same float32 value one step apart.
        close(got, np.asarray(want, "float64"), 2 ** -7)
    assert {v.dtype for layer in every_layer(fused) if is_fused(layer)
            for v in (layer.moving_mean, layer.moving_variance)} == {"float32"}
    for got, want in zip(moving_statistics(fused), moving_statistics(stock), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


@on_tensorflow
def test_a_frozen_batch_norm_normalises_with_its_moving_statistics_even_in_training():
    stock, fused = small_net(), small_net()
    for model in (stock, fused):
        for layer in model.layers:
            if isinstance(layer, L.BatchNormalization):
                layer.trainable = False  # Keras: inference mode, whatever training says
    fuse_batch_norm(fused)
    before = moving_statistics(fused)
    x = batch()
    close(fused(x, training=True), np.asarray(stock(x, training=False), "float64"), 1e-5)
    for got, want in zip(moving_statistics(fused), before):
        np.testing.assert_array_equal(got, want)
    grads_stock, grads_fused = gradients(stock, x), gradients(fused, x)
    scale = max(np.abs(g).max() for g in grads_stock)
    for got, want in zip(grads_fused, grads_stock, strict=True):
        assert np.abs(got - want).max() <= 1e-4 * scale


@on_tensorflow
def test_a_mask_falls_back_to_keras_own_call():
    layer = L.BatchNormalization()
    x = batch()
    layer(x)
    fuse_batch_norm(keras.Sequential([keras.Input(x.shape[1:]), layer]))
    mask = np.random.default_rng(2).random(x.shape[:-1]) > 0.3
    stock = L.BatchNormalization()
    stock(x)
    close(layer(x, training=True, mask=mask), np.asarray(stock(x, training=True, mask=mask), "float64"), 1e-6)


@on_tensorflow
def test_saved_model_is_a_stock_batch_norm_computing_the_same(tmp_path):
    model = small_net()
    fuse_batch_norm(model)
    x = batch()
    model(x, training=True)  # moving statistics that are not the initial ones
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    # The class's own config, nothing of the fusing (through JSON, as the file keeps it: lists for tuples).
    assert json.loads(json.dumps(loaded.get_config())) == json.loads(json.dumps(model.get_config()))
    norms = [layer for layer in loaded.layers if isinstance(layer, L.BatchNormalization)]
    assert norms and all(type(layer) is L.BatchNormalization and not is_fused(layer) for layer in norms)
    close(loaded(x, training=False), np.asarray(model(x, training=False), "float64"), 1e-5)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backends_keep_keras_batch_norm_and_say_why(backend):
    code = ("import json, keras\n"
            "from cnn_zoo.compute import plan_for\n"
            "from cnn_zoo.fused_batch_norm import fuse_batch_norm\n"
            "from cnn_zoo.recipe import load_recipe\n"
            "plan = plan_for(load_recipe('default'))\n"
            "model = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.BatchNormalization()])\n"
            "print(json.dumps({**plan.record()['fused_batch_norm'], 'fused': fuse_batch_norm(model),\n"
            "                  'applied': plan.apply(model)}))\n")
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["recipe"] == "auto" and got["chosen"] is False and got["fused"] == got["applied"] == 0
    assert got["why"].startswith(f"{backend}: the fused kernel is TensorFlow's")


def test_the_plan_fuses_on_tensorflow_unless_the_recipe_says_false():
    on = plan_for(load_recipe("default"), backend="tensorflow", devices=["/device:CPU:0"])
    assert on.fused_batch_norm.chosen is True and "TensorFlow" in on.fused_batch_norm.why
    off = plan_for(load_recipe("default", ["fused_batch_norm=false"]), backend="tensorflow",
                   devices=["/device:CPU:0"])
    assert off.record()["fused_batch_norm"] == {"recipe": False, "chosen": False,
                                                "why": "set false by the recipe: Keras' own batch norm ops"}


@on_tensorflow
@pytest.mark.parametrize("setting, fused", [([], True), (["fused_batch_norm=false"], False)])
def test_build_and_compile_applies_the_plan(setting, fused):
    recipe = load_recipe("resnet20-cifar10", setting)
    compiled = build_and_compile(recipe, (32, 32, 3), 10, 10, plan_for(recipe))
    norms = [layer for layer in every_layer(compiled.fit_model) if isinstance(layer, L.BatchNormalization)]
    assert norms and {is_fused(layer) for layer in norms} == {fused}


@on_tensorflow
def test_a_run_of_a_batch_norm_recipe_trains_fused_and_records_it(tmp_path):
    result = train("default", tmp_path / "run", verbose=0, overrides=[
        "model.name=resnet_cifar", "model.kwargs={depth: 8}", "dataset.max_examples=64", "batch_size=16",
        "epochs=1", "steps_per_execution=1", "callbacks.early_stopping=null", "dataset.validation_fraction=0"])
    assert result.status == "finished" and np.isfinite(result.metrics["loss"])
    plan = runs.read_json(tmp_path / "run" / "manifest.json")["compute"]
    assert plan["fused_batch_norm"]["chosen"] is True and plan["fused_batch_norm"]["recipe"] == "auto"
    saved = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert any(type(layer) is L.BatchNormalization for layer in every_layer(saved))
    # The run evaluated its fused model; the saved stock one scores the same.
    again = evaluate(tmp_path / "run")
    assert again["accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1e-6)
    assert again["loss"] == pytest.approx(result.metrics["loss"], rel=1e-4)
