"""PreprocessingLayer against preprocess.apply(training=False), the NumPy reference, step by step.

Tiny random uint8 images; each case once on the default backend (TensorFlow) in
this process and once on JAX in a subprocess (the backend is fixed at import).
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
    # the shipped tags
    ([{"pad": 2}, "lenet_scale", {"random_flip": "horizontal"}], (28, 28, 1)),
    ([{"rescale": 1 / 255}, {"normalize": {"mean": 0.286, "std": 0.353}}, {"random_shift": 1},
      {"random_flip": "horizontal"}], (28, 28, 1)),
    ([{"pad": 2}, {"rescale": 1 / 255}, {"normalize": {"mean": 0.286, "std": 0.353}},
      {"random_flip": "horizontal"}, {"random_crop": {"size": [32, 32], "padding": 2, "fill": "edge"}}],
     (28, 28, 1)),
    ([{"center_crop": [24, 24]}, {"channel_order": "bgr"},
      {"normalize": {"mean": [104.0, 117.0, 123.0], "std": 1.0}}], (32, 32, 3)),
]


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
    assert max(errors) < 2e-6, list(zip([c[0] for c in CASES], errors))


def test_matches_numpy_reference_on_jax():
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    code = ("import json, sys; sys.path.insert(0, 'tests'); import test_export_layer as t; "
            "import keras; assert keras.backend.backend() == 'jax'; print(json.dumps(t.max_errors()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    errors = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(errors) == len(CASES) and max(errors) < 2e-6, errors


def test_symbolic_shape_and_config_round_trip():
    import keras

    from cnn_zoo.preprocess_layer import PreprocessingLayer

    layer = PreprocessingLayer([{"pad": 2}, "lenet_scale"], (28, 28))
    inputs = keras.Input((28, 28, 1), dtype="uint8")
    assert tuple(layer(inputs).shape) == (None, 32, 32, 1)
    again = PreprocessingLayer.from_config(layer.get_config())
    assert again.steps == layer.steps and again.raw_shape == (28, 28, 1)
    json.dumps(layer.get_config())  # plain data


def test_bad_steps_fail_in_init():
    from cnn_zoo.preprocess import PreprocessError
    from cnn_zoo.preprocess_layer import PreprocessingLayer

    with pytest.raises(PreprocessError, match="center_crop.size"):
        PreprocessingLayer([{"center_crop": [40, 40]}], (28, 28, 1))
    with pytest.raises(PreprocessError, match="unknown preprocessing step"):
        PreprocessingLayer(["blur"], (28, 28, 1))
