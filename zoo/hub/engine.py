"""What runs `zoo predict`'s model call: Keras' predict step, LiteRT for small inputs, onnxruntime for large.

    engine = engine_for(model, preprocessing, family, images=1024)   # once per call
    engine.name, engine.reason        # "litert", "a small input (1,024 values an image) ..."
    probs = engine(raw_uint8)         # (N, classes) float64, from raw uint8 (N, H, W, C)
    probs = engine.on_inputs(x)       # idem from preprocessed input (images of any size)

Three engines, outputs equal within 1e-4 (tests/test_predict_engine.py):

- ``keras``: ``Preprocessing.apply`` in NumPy, then ``predict_on_batch`` in chunks,
  softmax added to logits. Every backend (on JAX the step is jit-compiled by XLA).
- ``litert`` (:mod:`cnn_zoo.hub.litert_engine`), for small inputs (up to 64×64×3): the
  served graph, preprocessing inside, as TFLite with XNNPACK. LeNet-5: 0.04 ms an image
  against Keras' 1.2 ms, 1.2× torch.compile at batch 1,024. At 224×224 it lost to Keras
  (googlenet_bn: 11.5–16.7 against 18.9–19.1 images/s).
- ``onnxruntime`` (:mod:`cnn_zoo.hub.onnx_engine`), for larger inputs: the network as
  ONNX, converted once and cached on disk. ResNet-50 at 224: 1.2–1.6× Keras at batch 32,
  2.4× for one image.

Both conversions need the TensorFlow backend; on JAX and PyTorch ``auto`` is Keras.

When ``auto`` converts. LiteRT's conversion takes 0.5–1 s and is kept for the loaded
model's lifetime: ``auto`` converts once the calls made with the model, this one
included, would have saved more than that (per call ~1 ms, per input value ~25 ns), so a
CLI call of a few photos stays on Keras while a loop switches after ~1,000 calls or
~40,000 LeNet images. The ONNX conversion takes seconds (ResNet-50: 16 s) but is cached
on disk for every later process: ``auto`` uses a cached file at once, and converts on the
call that brings the images asked of the same weights to ``ONNX_AFTER_IMAGES`` (500),
counted across processes beside the cache (``onnx_engine.tally``), so CLI calls of a few
photos each get there too. By then Keras has spent about what the conversion costs, as
both grow with the network (ResNet-50: 500 images ≈ 25 s in Keras against a 16 s
conversion). ``--engine onnxruntime`` converts at once.

A converted model computes with the weights it had when converted: a model whose weights
change later (trained further) is converted again, as its optimizer's step count says.
"""

from __future__ import annotations

import dataclasses
import math
import weakref

import numpy as np

from cnn_zoo.errors import ArgumentError, ZooError
from cnn_zoo.hub import litert_engine, onnx_engine
from cnn_zoo.weights.store import Hub

ENGINES = ("auto", "keras", "litert", "onnxruntime")
# Input values an image up to which LiteRT is chosen: LeNet-5 (32×32×1) and convnet
# (28×28×1) won there; googlenet_bn at 224×224×3 lost (measured above).
SMALL_INPUT = 64 * 64 * 3
CONVERSION_S = 1.0          # LeNet-5's conversion: 0.5 s on a quiet 2-core Xeon, 1.1 s loaded
SAVED_PER_CALL_S = 1e-3     # TensorFlow's per-call cost that LiteRT has not (1.1–1.9 ms vs 0.04)
SAVED_PER_VALUE_S = 2.5e-8  # LeNet-5 at batch 1,024: ~25 µs an image of 1,024 values
ONNX_AFTER_IMAGES = 500     # see the module docstring
# Input values per model call (8 M floats, 32 MB): bounds the activations' memory.
MAX_BATCH_VALUES = 2 ** 23


def batch_size_for(input_shape) -> int:
    """Images per model call: up to 1,024, fewer for large inputs (GoogLeNet at 224×224: 64)."""
    return max(64, min(1024, MAX_BATCH_VALUES // max(1, int(np.prod(input_shape)))))


@dataclasses.dataclass
class _Usage:
    saved_s: float = 0.0      # what LiteRT would have saved so far on this model
    images: int = 0           # images asked of this model in this process (onnx_engine.tally: in all)
    steps: object = None      # its optimizer's step count when converted (None: no optimizer)
    key: str | None = None    # onnx_engine.fingerprint, once computed
    litert: object = None     # the converted model's runner, once made
    onnx: object = None       # idem
    failed: str | None = None  # why the ONNX conversion failed: auto does not try it again


_USAGE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # per loaded model, dies with it


@dataclasses.dataclass(frozen=True)
class Engine:
    name: str
    reason: str
    run: object        # raw uint8 (N, H, W, C) -> probabilities (N, classes)
    inputs: object     # preprocessed (N, *input_shape) -> probabilities; None: raw only (LiteRT)

    def __call__(self, raw) -> np.ndarray:
        return np.asarray(self.run(raw), dtype=np.float64)

    def on_inputs(self, x) -> np.ndarray:
        return np.asarray(self.inputs(x), dtype=np.float64)


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


def _backend_blocks(what: str) -> str | None:
    import keras  # a model is loaded: Keras is imported already

    backend = keras.backend.backend()
    if backend != "tensorflow":
        return (f"the {backend} backend: {what}'s converter needs TensorFlow's "
                "(predict_on_batch is jit-compiled on JAX)")
    return None


def _why_not_litert(model, preprocessing, family) -> str | None:
    blocked = _backend_blocks("LiteRT")
    if blocked:
        return blocked
    if not all(preprocessing.raw_shape[:2]):
        return "images of any size (each brought to size by its own steps)"
    if isinstance(model.output, dict) and family.output not in model.output:
        return "a model whose main output is not named 'predictions'"
    if litert_engine.interpreter_class() is None:
        return "no LiteRT interpreter (pip install 'cnn-zoo[export]')"
    return None


def _why_not_onnx() -> str | None:
    blocked = _backend_blocks("ONNX")
    if blocked:
        return blocked
    missing = onnx_engine.missing_package()
    return f"{missing} is not installed (pip install --upgrade cnn-zoo)" if missing else None


def check_engine(engine) -> None:
    if engine not in ENGINES:
        raise ArgumentError(f"`engine` must be one of {', '.join(ENGINES)}. Received: engine={engine!r}")


def _optimizer_steps(model):
    # Only a model with a train step made in this process can have been trained since its
    # conversion; reading the count costs ~75 µs on TensorFlow (more than a LiteRT call of one
    # image), so a model only predicted with never reads it.
    if getattr(model, "train_function", None) is None:
        return None
    optimizer = getattr(model, "optimizer", None)
    iterations = getattr(optimizer, "iterations", None)
    return None if iterations is None else int(np.asarray(iterations))


def _usage(model) -> _Usage:
    """The model's record, emptied where its weights were trained since a conversion."""
    usage = _USAGE.setdefault(model, _Usage())
    steps = _optimizer_steps(model)
    if steps != usage.steps:
        usage.steps, usage.key, usage.litert, usage.onnx, usage.failed = steps, None, None, None, None
    return usage


def engine_for(model, preprocessing, family, images: int, engine: str = "auto", home=None) -> Engine:
    """The engine for a call of ``images`` images on ``model``; ``engine`` forces one.
    ``home``: the cache root that holds converted files (``ZOO_HOME``, by default)."""
    check_engine(engine)

    def keras_inputs(x):
        return keras_probabilities(model, x, family)

    def keras(reason):
        return Engine("keras", reason, lambda raw: keras_inputs(preprocessing.apply(raw, training=False)),
                      keras_inputs)

    if engine == "keras":
        return keras("asked for")
    values = int(np.prod(preprocessing.input_shape))
    if engine == "litert" or (engine == "auto" and values <= SMALL_INPUT):
        return _litert(model, preprocessing, family, values, images, engine, keras)
    return _onnx(model, preprocessing, family, values, images, engine, keras, home)


def _refused(engine, blocked):
    return ArgumentError(f"the {engine} engine cannot run this model: {blocked}. Received: engine={engine!r}")


def _litert(model, preprocessing, family, values, images, engine, keras) -> Engine:
    blocked = _why_not_litert(model, preprocessing, family)
    if blocked:
        if engine == "litert":
            raise _refused(engine, blocked)
        return keras(blocked)
    usage = _usage(model)
    if engine == "auto" and usage.litert is None:
        calls = math.ceil(images / batch_size_for(preprocessing.input_shape))
        usage.saved_s += calls * SAVED_PER_CALL_S + images * values * SAVED_PER_VALUE_S
        if usage.saved_s < CONVERSION_S:
            return keras(f"converting to LiteRT (~{CONVERSION_S:g} s) would cost more than "
                         f"it had saved on this model's calls so far (~{usage.saved_s:.3f} s)")
    if usage.litert is None:
        usage.litert = litert_engine.litert_runner(model, preprocessing,
                                                   batch_size_for(preprocessing.raw_shape))
    reason = "asked for" if engine == "litert" else \
        f"a small input ({values:,} values an image): XNNPACK, preprocessing fused, no per-call runtime cost"
    return Engine("litert", reason, usage.litert, None)


def _onnx(model, preprocessing, family, values, images, engine, keras, home) -> Engine:
    blocked = _why_not_onnx()
    if blocked:
        if engine == "onnxruntime":
            raise _refused(engine, blocked)
        return keras(blocked)
    usage = _usage(model)
    shape = tuple(preprocessing.input_shape)
    if usage.failed and engine == "auto":
        return keras(usage.failed)
    if usage.onnx is None:
        if home is None:
            home = Hub.from_env().home  # the cache root, as the weights'
        usage.key = usage.key or onnx_engine.fingerprint(model, shape)
        if engine == "auto" and not onnx_engine.cached(home, usage.key):
            usage.images += images
            seen = max(usage.images, onnx_engine.tally(home, usage.key, images))
            if seen < ONNX_AFTER_IMAGES:
                return keras(f"converting to ONNX for onnxruntime (seconds, once: then cached) pays from "
                             f"{ONNX_AFTER_IMAGES} images with these weights, {seen} so far "
                             "(--engine onnxruntime converts now)")
        try:
            session = onnx_engine.converted(model, family, shape, home, usage.key)
        except Exception as error:  # noqa: BLE001  (a full disk; tf2onnx: an op it has no mapping for)
            line = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
            if engine == "onnxruntime":
                if isinstance(error, ZooError):
                    raise  # its one line says what to do
                raise _refused(engine, f"the ONNX conversion failed: {line}") from error
            usage.failed = f"the ONNX conversion failed, so Keras runs it: {line}"
            return keras(usage.failed)
        usage.onnx = onnx_engine.onnx_runner(session, batch_size_for(shape))
    inputs = usage.onnx

    def run(raw):
        return inputs(preprocessing.apply(raw, training=False))

    reason = "asked for" if engine == "onnxruntime" else \
        f"a large input ({values:,} values an image): onnxruntime's kernels, the conversion cached"
    return Engine("onnxruntime", reason, run, inputs)
