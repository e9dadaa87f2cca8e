"""zoo.export's refusals: one clear error, and nothing left at PATH (or beside it) when an export fails."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_zoo.hub.loading import RunInfo


def tiny_model(extra=None):
    """A 4x4 grey classifier with a run's zoo_info; ``extra`` (a layer) goes before the head."""
    import keras

    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Flatten(name="flat")(inputs)
    if extra is not None:
        x = extra(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    model.zoo_info = RunInfo("", {"steps": [{"rescale": 1 / 255}], "raw_shape": [4, 4, 1],
                                  "input_shape": [4, 4, 1]}, ("a", "b", "c"), {}, {})
    return model


def _left(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_layer_tflite_cannot_express_is_named_and_nothing_is_left(tmp_path):
    import keras

    from cnn_zoo.export import ExportError, export

    class Erfinv(keras.layers.Layer):  # Erfinv: a TensorFlow op with no TFLite builtin
        def call(self, x):
            return keras.ops.erfinv(keras.ops.tanh(x))

    model = tiny_model(Erfinv(name="inverse_erf"))
    with pytest.raises(ExportError) as error:
        export(model, "tflite", tmp_path / "m.tflite")
    message = str(error.value)
    assert "tflite" in message and "'inverse_erf' (Erfinv)" in message and "Instead:" in message
    assert _left(tmp_path) == []  # no file, no temporary sibling, no record


def test_a_failed_export_keeps_the_file_already_there(tmp_path, monkeypatch):
    from cnn_zoo.export import formats
    from cnn_zoo.export import export

    path = tmp_path / "m.onnx"
    export(tiny_model(), "onnx", path)
    before = path.read_bytes()

    def broken(served, tmp, **_):  # a writer that dies half-way through its file
        tmp.write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setitem(formats.WRITERS, "onnx", broken)
    with pytest.raises(OSError, match="disk full"):
        export(tiny_model(), "onnx", path, overwrite=True)
    assert path.read_bytes() == before and _left(tmp_path) == ["m.onnx", "m.onnx.json"]


def test_savedmodel_folder_is_replaced_whole(tmp_path):
    from cnn_zoo.export import export

    path = tmp_path / "sm"
    export(tiny_model(), "savedmodel", path)
    export(tiny_model(), "savedmodel", path, overwrite=True)
    assert (path / "saved_model.pb").is_file() and _left(tmp_path) == ["sm", "sm.json"]


@pytest.mark.parametrize("kwargs, match", [
    ({"format": "pt"}, "format must be one of keras, savedmodel, tflite, onnx"),
    ({"format": "onnx", "int8": "full"}, "int8 quantization is a tflite option"),
    ({"format": "tflite", "int8": "int4"}, "int8 must be one of dynamic, full"),
    ({"format": "keras"}, "ends in .keras"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    from cnn_zoo.export import ExportError, export

    with pytest.raises(ExportError, match=match):
        export(tiny_model(), path=tmp_path / "m.bin", **kwargs)
    assert _left(tmp_path) == []


def test_existing_path_needs_overwrite(tmp_path):
    from cnn_zoo.export import ExportError, export

    (tmp_path / "m.tflite").write_bytes(b"mine")
    with pytest.raises(ExportError, match="exists"):
        export(tiny_model(), "tflite", tmp_path / "m.tflite")
    assert (tmp_path / "m.tflite").read_bytes() == b"mine"


def test_keras_format_round_trips_and_zoo_export_is_callable(tmp_path):
    import keras

    import cnn_zoo as zoo

    record = zoo.export(tiny_model(), "keras", tmp_path / "m.keras")
    assert callable(zoo.export) and record["input"]["shape"] == [None, 4, 4, 1]
    from cnn_zoo.layers import register_all

    register_all()
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = np.arange(32, dtype=np.uint8).reshape(2, 4, 4, 1)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), zoo.serving.serving_model(
        tiny_model(), zoo.serving.contract_of(tiny_model().zoo_info)).predict(x, verbose=0), atol=1)


def test_cli_error_is_one_line(tmp_path):
    from click.testing import CliRunner

    from cnn_zoo.cli import main

    result = CliRunner().invoke(main, ["export", "lenet5.mnist", "--format", "onnx", "--int8", "full",
                                       "--out", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2 and "int8 quantization is a tflite option" in result.output
    assert "Traceback" not in result.output and _left(tmp_path) == []


def test_savedmodel_and_tflite_name_their_output_probabilities(tmp_path):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from cnn_zoo.export import export

    export(tiny_model(), "savedmodel", tmp_path / "sm")
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    x = np.arange(32, dtype=np.uint8).reshape(2, 4, 4, 1)
    for name in ("serving_default", "serve"):
        out = loaded.signatures[name](image=tf.constant(x))
        assert list(out) == ["probabilities"] and out["probabilities"].shape == (2, 3)
    export(tiny_model(), "tflite", tmp_path / "m.tflite")
    assert Interpreter(model_path=str(tmp_path / "m.tflite")).get_signature_list() == {
        "serving_default": {"inputs": ["image"], "outputs": ["probabilities"]}}


@pytest.mark.parametrize("fmt, int8, module, package", [
    ("onnx", None, "tf2onnx", "tf2onnx"),
    ("onnx", None, "onnx", "onnx"),
    ("tflite", "dynamic", "ai_edge_litert.interpreter", "ai-edge-litert"),
])
def test_a_missing_optional_package_is_one_line_naming_the_extra(tmp_path, monkeypatch, fmt, int8, module,
                                                                 package):
    from cnn_zoo.export import MissingExtraError, export

    monkeypatch.setitem(__import__("sys").modules, module, None)  # as if it were not installed
    with pytest.raises(MissingExtraError) as info:
        export(tiny_model(), fmt, tmp_path / f"m.{fmt}", int8=int8, evaluation=(np.zeros((1, 4, 4, 1)), [0]))
    assert str(info.value) == (f"{fmt} export needs the {package!r} package, which is not installed: "
                               f'pip install "cnn-zoo[export]" (or pip install {package})')
    assert _left(tmp_path) == []


def test_formats_the_backend_cannot_write_are_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "KERAS_BACKEND": "torch"}  # torch in its own process: never beside TensorFlow
    proc = subprocess.run([sys.executable, "-m", "cnn_zoo.cli", "export", "lenet5.mnist", "--format", "onnx",
                           "--out", str(tmp_path / "m.onnx")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == ("Error: onnx export runs on the tensorflow backend, not torch: run it with "
                                   "KERAS_BACKEND=tensorflow (the file runs without Keras)")
    assert _left(tmp_path) == []
