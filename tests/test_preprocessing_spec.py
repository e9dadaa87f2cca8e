"""The typed preprocessing contract: its JSON form is a plain dict, its steps are preprocess.py's."""

import json
from importlib import resources

import numpy as np
import pytest

from cnn_zoo import preprocess
from cnn_zoo.errors import ZooError
from cnn_zoo.preprocessing_spec import Preprocessing

LENET = [{"pad": 2}, "lenet_scale"]


def test_of_computes_the_input_shape_and_normalises_the_steps():
    spec = Preprocessing.of(LENET, (28, 28, 1))
    assert spec.input_shape == (32, 32, 1) and spec.raw_shape == (28, 28, 1)
    assert list(spec.steps) == preprocess.normalize_steps(LENET)
    assert spec.to_dict() == {"steps": preprocess.normalize_steps(LENET), "raw_shape": [28, 28, 1],
                              "input_shape": [32, 32, 1]}


def test_a_run_folders_dict_round_trips_and_extra_keys_are_ignored():
    stored = {"steps": preprocess.normalize_steps(LENET), "raw_shape": [28, 28, 1],
              "input_shape": [32, 32, 1], "class_names": list("0123456789"), "dataset": "embedded:mnist5k"}
    spec = Preprocessing.from_dict(json.loads(json.dumps(stored)))
    assert spec.to_dict() == {k: stored[k] for k in ("steps", "raw_shape", "input_shape")}
    assert Preprocessing.from_dict(spec) is spec
    # A user's {"steps", "raw_shape"} (predict's preprocessing=) gets its input shape computed.
    assert Preprocessing.from_dict({"steps": LENET, "raw_shape": [28, 28, 1]}) == spec


def test_apply_is_preprocess_apply():
    x = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    spec = Preprocessing.of([*LENET, {"random_shift": 2}], (28, 28, 1))
    np.testing.assert_array_equal(spec.apply(x), preprocess.apply(x, list(spec.steps), training=False))
    assert spec.apply(x).shape == (3, *spec.input_shape)


def test_every_shipped_manifest_entry_reads():
    text = resources.files("cnn_zoo.saved_models").joinpath("manifest.json").read_text("utf-8")
    for tag, entry in json.loads(text)["tags"].items():
        spec = Preprocessing.from_dict(entry["preprocessing"])
        assert list(spec.input_shape) == entry["preprocessing"]["input_shape"], tag
        assert tuple(preprocess.input_shape_after(list(spec.steps), spec.raw_shape)) == spec.input_shape, tag


@pytest.mark.parametrize("data, fragment", [
    ({"steps": []}, "'steps' and 'raw_shape'"),
    ([1, 2], "'steps' and 'raw_shape'"),
    ({"steps": [], "raw_shape": [28, 0, 1], "input_shape": [28, 28, 1]}, "raw_shape=[28, 0, 1]"),
    ({"steps": [], "raw_shape": "28x28", "input_shape": [28, 28, 1]}, "raw_shape='28x28'"),
    ({"steps": [], "raw_shape": [28, 28, 1], "input_shape": [28, True, 1]}, "input_shape=[28, True, 1]"),
])
def test_a_bad_contract_is_one_line(data, fragment):
    with pytest.raises(ZooError) as caught:
        Preprocessing.from_dict(data)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_step_is_preprocess_error():
    with pytest.raises(preprocess.PreprocessError, match="nope"):
        Preprocessing.of([{"nope": 1}], (28, 28, 1))


@pytest.mark.parametrize("steps,raw", [(LENET, (28, 28, 1)),
                                      ([{"center_crop": {"size": [24, 24]}}, {"rescale": {"scale": 1 / 255}},
                                        {"normalize": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.3, 0.25]}}],
                                       (32, 32, 3))])
def test_layer_is_the_evaluation_time_steps_as_keras_and_agrees_with_apply(steps, raw):
    spec = Preprocessing.of(steps, raw)
    x = np.random.default_rng(0).integers(0, 256, size=(3, *raw), dtype=np.uint8)
    layer = spec.layer()
    got = np.asarray(layer(x))
    assert got.shape == (3, *spec.input_shape)
    np.testing.assert_allclose(got, spec.apply(x), rtol=1e-5, atol=1e-5)
