"""Runs an exported file with its runtime alone: no cnn-zoo, no Keras model code.

    python -I -S export_runner.py FORMAT MODEL IMAGES.npy[,IMAGES2.npy...] OUT.npy[,OUT2.npy...] SITE_DIR...

Several batches (of different image shapes) go through the one loaded model, in order.

Started by tests/test_export.py in a fresh process (-I: no PYTHONPATH, no user site,
no script folder; -S: no .pth files, so no editable install of cnn-zoo), with a cwd
outside the repository; only SITE_DIR (the runtimes' site-packages) is on sys.path.
"""

import importlib.util
import sys

fmt, model, images, out, *site_dirs = sys.argv[1:]
sys.path.extend(site_dirs)
assert importlib.util.find_spec("cnn_zoo") is None, "cnn_zoo must not be importable here"

import numpy as np  # noqa: E402

if fmt == "onnx":
    import onnxruntime

    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    labels = dict(session.get_modelmeta().custom_metadata_map)["labels"].split("\n")

    def run(x):
        return session.run(["probabilities"], {"image": x})[0]
elif fmt == "savedmodel":
    import tensorflow as tf

    serve = tf.saved_model.load(model).signatures["serving_default"]

    def run(x):
        return serve(image=tf.constant(x))["probabilities"].numpy()
elif fmt == "keras":  # a file of stock Keras layers only
    import keras

    loaded = keras.saving.load_model(model, compile=False)

    def run(x):
        return keras.ops.convert_to_numpy(loaded(x, training=False))
elif fmt == "tflite":
    from ai_edge_litert.interpreter import Interpreter  # LiteRT: tf.lite.Interpreter is deprecated

    interpreter = Interpreter(model_path=model)
    (inp,), (outp,) = interpreter.get_input_details(), interpreter.get_output_details()

    def run(x):
        interpreter.resize_tensor_input(inp["index"], x.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(outp["index"])
else:
    raise SystemExit(f"unknown format {fmt}")
shapes = []
for source, target in zip(images.split(","), out.split(","), strict=True):
    y = run(np.load(source))
    np.save(target, np.asarray(y, np.float32))
    shapes.append(y.shape)
assert "cnn_zoo" not in sys.modules
print("ok", shapes, "cnn_zoo" in sys.modules)
