"""Runs an exported file with its runtime alone: no cnn-zoo, no Keras model code.

    python -I -S export_runner.py FORMAT MODEL IMAGES.npy OUT.npy SITE_DIR...

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

x = np.load(images)
if fmt == "onnx":
    import onnxruntime

    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    labels = dict(session.get_modelmeta().custom_metadata_map)["labels"].split("\n")
    y = session.run(["probabilities"], {"image": x})[0]
elif fmt == "savedmodel":
    import tensorflow as tf

    serve = tf.saved_model.load(model).signatures["serving_default"]
    y = serve(image=tf.constant(x))["probabilities"].numpy()
elif fmt == "keras":  # a file of stock Keras layers only
    import keras

    y = keras.ops.convert_to_numpy(keras.saving.load_model(model, compile=False)(x, training=False))
elif fmt == "tflite":
    from ai_edge_litert.interpreter import Interpreter  # LiteRT: tf.lite.Interpreter is deprecated

    interpreter = Interpreter(model_path=model)
    (inp,), (outp,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    y = interpreter.get_tensor(outp["index"])
else:
    raise SystemExit(f"unknown format {fmt}")
assert "cnn_zoo" not in sys.modules
np.save(out, np.asarray(y, np.float32))
print("ok", y.shape, "cnn_zoo" in sys.modules)
