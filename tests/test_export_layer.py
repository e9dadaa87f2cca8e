"""PreprocessingLayer against preprocess.apply(training=False), the NumPy reference, step by step.

Tiny random uint8 images; each case once on the default backend (TensorFlow) in
this process and once each on JAX and PyTorch in a subprocess (the backend is fixed at import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# (steps, raw_shape): every step, augmentation ones at evaluation, and the shipped tags' lists.
CASES = [
    ([{"pad": 2}], (6, 5, 1)),
    ([{"pad": {"width": [1, 3], "value": 7.0}}, "lenet_scale"], (6, 5)),
    (["lenet_scale"], (6, 5, 1)),
    ([{"rescale": {"scale": 0.5, "offset": -3.0}}], (6, 5, 3)),
    ([{"normalize": {"mean": 0.286, "std": 0.353}}], (6, 5, 1)),
    ([{"normalize": {"mean": [104.0, 117.0, 123.0], "std": [2.0, 1.0, 0.5]}}], (6, 5, 3)),
    ([{"resize": [9, 4]}], (6, 5, 3)),
    ([{"resize": {"size": [3, 11], "method": "nearest"}}], (6, 5, 1)),
    ([{"channels": 3}], (6, 5, 1)),
    ([{"channels": 1}], (6, 5, 3)),
    ([{"channels": 3}], (6, 5, 3)),
    ([{"channel_order": "bgr"}], (6, 5, 3)),
    ([{"channel_order": "rgb"}], (6, 5, 3)),
    ([{"center_crop": [4, 3]}], (7, 6, 3)),
    ([{"random_shift": 2}, {"random_flip": "both"}], (6, 5, 1)),
    ([{"random_crop": {"size": [4, 3], "padding": 0}}], (7, 6, 1)),
    ([{"random_crop": {"size": [8, 9], "padding": 2, "fill": "edge"}}], (6, 5, 1)),
    ([{"random_crop": {"size": [9, 7], "padding": 2, "fill": "constant", "value": 5.0}}], (6, 5, 3)),
    ([{"resize_shorter": 4}], (6, 5, 3)),
    ([{"resize_shorter": 9}], (7, 6, 1)),
    ([{"resize_shorter": {"size": 3, "method": "nearest"}}], (5, 8, 3)),
    ([{"resize_shorter": {"size": 7, "antialias": True}}], (12, 17, 3)),
    ([{"random_resized_crop": [4, 4]}], (9, 7, 3)),
    ([{"random_resized_crop": {"size": [5, 3], "eval_crop": 0.5}}], (6, 8, 1)),
    ([{"color_jitter": {}}], (6, 5, 3)),
    # the shipped tags
    ([{"pad": 2}, "lenet_scale", {"random_flip": "horizontal"}], (28, 28, 1)),
    ([{"rescale": 1 / 255}, {"normalize": {"mean": 0.286, "std": 0.353}}, {"random_shift": 1},
      {"random_flip": "horizontal"}], (28, 28, 1)),
    ([{"pad": 2}, {"rescale": 1 / 255}, {"normalize": {"mean": 0.286, "std": 0.353}},
      {"random_flip": "horizontal"}, {"random_crop": {"size": [32, 32], "padding": 2, "fill": "edge"}}],
     (28, 28, 1)),
    ([{"center_crop": [24, 24]}, {"channel_order": "bgr"},
      {"normalize": {"mean": [104.0, 117.0, 123.0], "std": 1.0}}], (32, 32, 3)),
    # the ImageNet tags' lists, scaled down (resize_shorter 256, center_crop 224 on photos)
    ([{"resize_shorter": {"size": 24, "antialias": True}}, {"center_crop": [20, 20]}, {"rescale": 1 / 255},
      {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}], (30, 41, 3)),
    ([{"resize_shorter": {"size": 24, "antialias": True}}, {"center_crop": [20, 20]},
      {"channel_order": "bgr"}, {"normalize": {"mean": [104.0, 117.0, 123.0], "std": 1.0}}], (37, 29, 3)),
]
# The antialiased resize is PIL's in the NumPy form and the backend's (TF, JAX) in the layer: the
# same widened triangle kernel, measured apart by up to 0.0004 of a 0..255 level on these cases (0.005
# on 400x300 photos to 256), where the other steps agree to float32 rounding.
ANTIALIAS_TOLERANCE, TOLERANCE = 1e-3, 2e-6


def tolerances() -> list[float]:
    return [ANTIALIAS_TOLERANCE if "antialias" in json.dumps(steps) else TOLERANCE for steps, _ in CASES]


def max_errors() -> list[float]:
    """For every case: max |layer - reference| relative to max(1, |reference|)."""
    import keras

    from cnn_zoo import preprocess
    from cnn_zoo.preprocess_layer import PreprocessingLayer

    rng = np.random.default_rng(0)
    errors = []
    for steps, raw in CASES:
        x = rng.integers(0, 256, (3, *raw), dtype=np.uint8)
        layer = PreprocessingLayer(steps, raw)
        got = keras.ops.convert_to_numpy(layer(x))
        want = preprocess.apply(x, steps, training=False)
        assert got.dtype == np.float32 and got.shape == want.shape, (steps, got.shape, want.shape)
        errors.append(float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)))))
    return errors


def test_matches_numpy_reference_on_tensorflow():
    errors = max_errors()
    assert all(e < t for e, t in zip(errors, tolerances())), list(zip([c[0] for c in CASES], errors))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_matches_numpy_reference_on_jax_and_torch(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    code = ("import json, sys; sys.path.insert(0, 'tests'); sys.modules.setdefault('triton', None); "
            "import test_export_layer as t; import keras; "
            f"assert keras.backend.backend() == {backend!r}; print(json.dumps(t.max_errors()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    errors = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(errors) == len(CASES) and all(e < t for e, t in zip(errors, tolerances())), errors


def test_symbolic_shape_and_config_round_trip():
    import keras

    from cnn_zoo.preprocess_layer import PreprocessingLayer

    layer = PreprocessingLayer([{"pad": 2}, "lenet_scale"], (28, 28))
    inputs = keras.Input((28, 28, 1), dtype="uint8")
    assert tuple(layer(inputs).shape) == (None, 32, 32, 1)
    again = PreprocessingLayer.from_config(layer.get_config())
    assert again.steps == layer.steps and again.raw_shape == (28, 28, 1)
    json.dumps(layer.get_config())  # plain data


def test_any_size_input_in_a_graph_matches_numpy_per_image():
    """raw_shape [null, null, 3]: one model takes photos of any size (a traced graph, free H and W)."""
    import keras

    from cnn_zoo import preprocess
    from cnn_zoo.preprocess_layer import PreprocessingLayer

    steps = [{"resize_shorter": {"size": 12, "antialias": True}}, {"center_crop": [10, 10]},
             {"rescale": 1 / 255}, {"random_resized_crop": [8, 8]}, {"color_jitter": {}}]
    inputs = keras.Input((None, None, 3), dtype="uint8")
    layer = PreprocessingLayer(steps, (None, None, 3))
    assert tuple(layer(inputs).shape) == (None, 8, 8, 3)
    model = keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(1)
    for hw in ((15, 23), (23, 15), (12, 12), (40, 31)):
        x = rng.integers(0, 256, (2, *hw, 3), dtype=np.uint8)
        got = model.predict(x, verbose=0)
        want = preprocess.apply(x, steps, training=False)
        assert got.shape == want.shape == (2, 8, 8, 3) and np.max(np.abs(got - want)) < 1e-5, hw


def test_bad_steps_fail_in_init():
    from cnn_zoo.preprocess import PreprocessError
    from cnn_zoo.preprocess_layer import PreprocessingLayer

    with pytest.raises(PreprocessError, match="center_crop.size"):
        PreprocessingLayer([{"center_crop": [40, 40]}], (28, 28, 1))
    with pytest.raises(PreprocessError, match="unknown preprocessing step"):
        PreprocessingLayer(["blur"], (28, 28, 1))


def test_every_step_has_a_keras_form_and_a_case():
    from cnn_zoo import preprocess
    from cnn_zoo.preprocess_layer import KERAS_FORMS

    assert set(KERAS_FORMS) == set(preprocess.STEPS.values())
    named = {next(iter(s)) if isinstance(s, dict) else s for steps, _ in CASES for s in steps}
    assert set(preprocess.STEPS) <= named
