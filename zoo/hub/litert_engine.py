"""`zoo predict`'s engine for small inputs: the served graph as TFLite, run by LiteRT's interpreter.

The served graph (uint8 in: the preprocessing fused with the network, softmax appended;
:func:`cnn_zoo.serving.serving_model`) converted to TFLite and run with XNNPACK. For
LeNet-5 one image took 0.04 ms against ~1.2–1.9 ms through TensorFlow's runtime (its
per-call cost), and 1,024 images 1.5–1.9× faster from uint8 (docs/benchmarks.md). It
needs the TensorFlow backend (the converter) and an interpreter: ``ai-edge-litert`` (the
``export`` and ``test`` extras), else TensorFlow's own ``tf.lite.Interpreter``.
"""

from __future__ import annotations

import warnings

import numpy as np

from cnn_zoo import preprocess
from cnn_zoo.hardware import cores
from cnn_zoo.serving import Contract, serving_model


def interpreter_class():
    """LiteRT's Interpreter, else TensorFlow's deprecated copy of it, else None."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # the export/test extras
        return Interpreter
    except ImportError:
        pass
    import tensorflow as tf  # the TensorFlow backend is loaded already (checked first)

    return getattr(getattr(tf, "lite", None), "Interpreter", None)


def litert_runner(model, preprocessing, batch: int):
    """The served graph as TFLite in an interpreter: raw uint8 batch -> probabilities, ``batch``
    images an invocation."""
    import tensorflow as tf  # only on the TensorFlow backend

    raw_shape = tuple(preprocessing.raw_shape)
    contract = Contract(raw_shape, False, preprocess.normalize_steps(list(preprocessing.steps)), ())
    served = serving_model(model, contract)
    module = tf.Module()
    # Why: the converter freezes the variables its trackable object holds; a bare concrete
    # function of a Keras model converted with unset weights (NaN probabilities).
    module.weights = [v.value for v in served.variables]
    module.serve = tf.function(lambda image: served(image, training=False),
                               input_signature=[tf.TensorSpec((None, *raw_shape), tf.uint8)])
    flat = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.serve.get_concrete_function()], module).convert()
    with warnings.catch_warnings():
        # tf.lite.Interpreter warns that it is deprecated (in favour of ai-edge-litert): it still
        # runs the same XNNPACK kernels, so a main install without the extra uses it quietly.
        warnings.simplefilter("ignore")
        interpreter = interpreter_class()(model_content=flat, num_threads=cores())
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    allocated = [None]

    def run(raw):
        ys = []
        for i in range(0, len(raw), batch):
            chunk = np.ascontiguousarray(raw[i:i + batch], dtype=np.uint8)
            if allocated[0] != chunk.shape:  # resizing reallocates: only when the batch changes
                interpreter.resize_tensor_input(inp["index"], chunk.shape)
                interpreter.allocate_tensors()
                allocated[0] = chunk.shape
            interpreter.set_tensor(inp["index"], chunk)
            interpreter.invoke()
            ys.append(interpreter.get_tensor(out["index"]).copy())  # the buffer is reused
        return np.concatenate(ys)

    return run
