"""What runs `zoo predict`'s model call: Keras' traced predict step, or LiteRT for small models.

    engine = engine_for(model, preprocessing, family, images=1024)   # once per call
    engine.name, engine.reason        # "litert", "a small input (1,024 values an image) ..."
    probs = engine(raw_uint8)         # (N, classes) float64, from raw uint8 (N, H, W, C)

Two engines, outputs equal within 1e-4 (tests/test_predict_engine.py):

- ``keras``: ``Preprocessing.apply`` in NumPy, then ``predict_on_batch`` in chunks,
  softmax added to logits. Every backend; the one for large inputs: at 224×224
  (googlenet_bn) it ran 18.9–19.1 images/s against LiteRT's 11.5–16.7.
- ``litert``: the served graph (uint8 in: the preprocessing fused with the
  network, softmax appended; :func:`cnn_zoo.serving.serving_model`) converted to
  TFLite and run by LiteRT's interpreter with XNNPACK. For LeNet-5 one image took
  0.04 ms against ~1.2–1.9 ms through TensorFlow's runtime (its per-call cost), and
  1,024 images 1.5–1.9× faster from uint8 (docs/benchmarks.md). It needs the
  TensorFlow backend (the converter) and an interpreter: ``ai-edge-litert`` (the
  ``export`` and ``test`` extras), else TensorFlow's own ``tf.lite.Interpreter``.

Converting takes 0.5–1 s, which a call of a few images never earns back. ``auto``
converts a model once the calls made with it, this one included, would have
saved more than that (per call ~1 ms, per input value ~25 ns), then keeps the
conversion for the model's lifetime: a CLI call of a few photos stays on Keras,
a loop over many images switches after its first ~1,000 calls or ~40,000 LeNet images.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
import weakref

import numpy as np

from cnn_zoo import preprocess
from cnn_zoo.errors import ArgumentError
from cnn_zoo.hardware import cores
from cnn_zoo.serving import Contract, serving_model

ENGINES = ("auto", "keras", "litert")
# Input values an image up to which LiteRT is chosen: LeNet-5 (32×32×1) and convnet
# (28×28×1) won there; googlenet_bn at 224×224×3 lost (measured above).
SMALL_INPUT = 64 * 64 * 3
CONVERSION_S = 1.0          # LeNet-5's conversion: 0.5 s on a quiet 2-core Xeon, 1.1 s loaded
SAVED_PER_CALL_S = 1e-3     # TensorFlow's per-call cost that LiteRT has not (1.1–1.9 ms vs 0.04)
SAVED_PER_VALUE_S = 2.5e-8  # LeNet-5 at batch 1,024: ~25 µs an image of 1,024 values
# Input values per model call (8 M floats, 32 MB): bounds the activations' memory.
MAX_BATCH_VALUES = 2 ** 23


def batch_size_for(input_shape) -> int:
    """Images per model call: up to 1,024, fewer for large inputs (GoogLeNet at 224×224: 64)."""
    return max(64, min(1024, MAX_BATCH_VALUES // max(1, int(np.prod(input_shape)))))


@dataclasses.dataclass
class _Usage:
    saved_s: float = 0.0      # what LiteRT would have saved so far on this model
    litert: object = None     # the converted model's runner, once made


_USAGE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # per loaded model, dies with it


@dataclasses.dataclass(frozen=True)
class Engine:
    name: str
    reason: str
    run: object  # raw uint8 (N, H, W, C) -> probabilities (N, classes)

    def __call__(self, raw) -> np.ndarray:
        return np.asarray(self.run(raw), dtype=np.float64)


def keras_probabilities(model, x, family):
    """Probabilities of the preprocessed batch ``x`` through the model's traced predict step."""
    import keras  # called with a built model: Keras is there already

    # predict_on_batch runs the model's traced predict step; model.predict builds a data
    # adapter, a tf.data pipeline and callbacks on each call: about 6x slower for LeNet-5 at
    # 1,024 images and 60-140 ms instead of ~1 ms for one image (bench/inference.py).
    step = batch_size_for(x.shape[1:])
    y = np.concatenate([family.main_output(model.predict_on_batch(x[i:i + step]))
                        for i in range(0, len(x), step)])
    activation = family.output_activation(model)
    if getattr(activation, "__name__", "") == "linear":  # classifier_activation=None: logits
        y = keras.ops.convert_to_numpy(keras.ops.softmax(y, axis=-1))
    return np.asarray(y, dtype=np.float64)


def _interpreter_class():
    """LiteRT's Interpreter, else TensorFlow's deprecated copy of it, else None."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # the export/test extras
        return Interpreter
    except ImportError:
        pass
    import tensorflow as tf  # the TensorFlow backend is loaded already (checked first)

    return getattr(getattr(tf, "lite", None), "Interpreter", None)


def _litert_runner(model, preprocessing):
    """The served graph as TFLite in an interpreter: raw uint8 batch -> probabilities."""
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
        interpreter = _interpreter_class()(model_content=flat, num_threads=cores())
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    allocated = [None]

    def run(raw):
        step = batch_size_for(raw.shape[1:])
        ys = []
        for i in range(0, len(raw), step):
            chunk = np.ascontiguousarray(raw[i:i + step], dtype=np.uint8)
            if allocated[0] != chunk.shape:  # resizing reallocates: only when the batch changes
                interpreter.resize_tensor_input(inp["index"], chunk.shape)
                interpreter.allocate_tensors()
                allocated[0] = chunk.shape
            interpreter.set_tensor(inp["index"], chunk)
            interpreter.invoke()
            ys.append(interpreter.get_tensor(out["index"]).copy())  # the buffer is reused
        return np.concatenate(ys)

    return run


def _why_not_litert(model, preprocessing, family) -> str | None:
    import keras  # a model is loaded: Keras is imported already

    if keras.backend.backend() != "tensorflow":
        return (f"the {keras.backend.backend()} backend: LiteRT's converter needs TensorFlow's "
                "(predict_on_batch is jit-compiled on JAX)")
    if not all(preprocessing.raw_shape[:2]):
        return "images of any size (each brought to size by its own steps)"
    if isinstance(model.output, dict) and family.output not in model.output:
        return "a model whose main output is not named 'predictions'"
    if _interpreter_class() is None:
        return "no LiteRT interpreter (pip install 'cnn-zoo[export]')"
    return None


def check_engine(engine) -> None:
    if engine not in ENGINES:
        raise ArgumentError(f"`engine` must be one of {', '.join(ENGINES)}. Received: engine={engine!r}")


def engine_for(model, preprocessing, family, images: int, engine: str = "auto") -> Engine:
    """The engine for a call of ``images`` images on ``model``; ``engine`` forces one."""
    check_engine(engine)

    def keras_run(raw):
        x = preprocessing.apply(raw, training=False)
        return keras_probabilities(model, x, family)

    values = int(np.prod(preprocessing.input_shape))
    if engine == "keras":
        return Engine("keras", "asked for", keras_run)
    blocked = _why_not_litert(model, preprocessing, family)
    if blocked:
        if engine == "litert":
            raise ArgumentError(f"the litert engine cannot run this model: {blocked}. "
                                "Received: engine='litert'")
        return Engine("keras", blocked, keras_run)
    usage = _USAGE.setdefault(model, _Usage())
    if engine == "auto" and usage.litert is None:
        if values > SMALL_INPUT:
            return Engine("keras", f"a large input ({values:,} values an image > {SMALL_INPUT:,}): "
                          "TensorFlow's kernels beat LiteRT's there", keras_run)
        calls = math.ceil(images / batch_size_for(preprocessing.input_shape))
        usage.saved_s += calls * SAVED_PER_CALL_S + images * values * SAVED_PER_VALUE_S
        if usage.saved_s < CONVERSION_S:
            return Engine("keras", f"converting to LiteRT (~{CONVERSION_S:g} s) would cost more than "
                          f"it had saved on this model's calls so far (~{usage.saved_s:.3f} s)", keras_run)
    if usage.litert is None:
        usage.litert = _litert_runner(model, preprocessing)
    reason = "asked for" if engine == "litert" else \
        f"a small input ({values:,} values an image): XNNPACK, preprocessing fused, no per-call runtime cost"
    return Engine("litert", reason, usage.litert)
