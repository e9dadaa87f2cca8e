"""Running an exported file in its own runtime, batch by batch: probabilities for raw uint8 images.

Used for the int8 accuracy check and the benchmarks; the tests run the files
without cnn-zoo at all (tests/export_runner.py).
"""

from __future__ import annotations

import numpy as np

from cnn_zoo.errors import need
from cnn_zoo.export.formats import LITERT, MissingExtraError
from cnn_zoo.layers import register_all


class Runner:
    """``Runner(path, format)(images)`` -> float32 probabilities; images uint8 (N, H, W, C)."""

    def __init__(self, path, fmt: str):
        self.path, self.format = str(path), fmt
        getattr(self, f"_open_{fmt}")()

    def _open_keras(self):
        import keras  # each runtime imported for its own format: only the one asked for must be installed

        register_all()
        model = keras.saving.load_model(self.path, compile=False)
        self.run = lambda x: np.asarray(model(x, training=False))

    def _open_savedmodel(self):
        import tensorflow as tf  # idem

        serve = tf.saved_model.load(self.path).signatures["serving_default"]
        self.run = lambda x: serve(image=tf.constant(x))["probabilities"].numpy()

    def _open_onnx(self):
        import onnxruntime  # idem (pip install 'cnn-zoo[export]')

        session = onnxruntime.InferenceSession(self.path, providers=["CPUExecutionProvider"])
        self.run = lambda x: session.run(["probabilities"], {"image": x})[0]

    def _open_tflite(self):
        interpreter = _interpreter(self.path)
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        shape = [None]

        def run(x):
            if shape[0] != x.shape:
                interpreter.resize_tensor_input(inp["index"], x.shape)
                interpreter.allocate_tensors()
                shape[0] = x.shape
            interpreter.set_tensor(inp["index"], x)
            interpreter.invoke()
            y = interpreter.get_tensor(out["index"])
            if out["dtype"] != np.float32:  # a quantized output: back to probabilities
                scale, zero = out["quantization"]
                y = (y.astype(np.float32) - zero) * scale
            return y

        self.run = run

    def __call__(self, images, batch_size: int = 256) -> np.ndarray:
        images = np.ascontiguousarray(images, dtype=np.uint8)
        return np.concatenate([self.run(images[i:i + batch_size])
                               for i in range(0, len(images), batch_size)]).astype(np.float32)


def _interpreter(path):
    """LiteRT's interpreter (ai-edge-litert, in the export extra): tf.lite.Interpreter is deprecated."""
    module, package = LITERT
    return need(module, "export", "Running a .tflite file", package=package,
                error=MissingExtraError).Interpreter(model_path=path)
