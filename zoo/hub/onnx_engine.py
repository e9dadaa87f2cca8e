"""`zoo predict`'s engine for large inputs: the network converted to ONNX once, cached, run by onnxruntime.

    key = fingerprint(model, input_shape)                       # sha256 of what the file depends on
    session = converted(model, family, input_shape, home, key)  # home/engines/<key>.onnx, made once
    run = onnx_runner(session, batch)         # preprocessed float32 (N, H, W, C) -> probabilities

Why: at 224×224 onnxruntime's CPU kernels (MLAS, with BatchNorm folded into the
convolutions when the session optimises the graph) ran ResNet-50 1.2–1.6× faster than
Keras' ``predict_on_batch`` at batch 32 and 2.4× faster for one image (45 against
110 ms), ahead of torch.compile (docs/benchmarks.md). LiteRT lost there, and OpenVINO
was no faster than onnxruntime on this CPU.

The conversion is Keras' own ONNX export (tf2onnx: TensorFlow backend only) of the
network with its main output and a softmax where it returns logits, so the file gives
the probabilities Keras gives (tests/test_predict_engine.py: within 1e-4). It takes
seconds (ResNet-50: 16 s), so the file is kept under ``ZOO_HOME/engines``, named by the
sha256 of everything it depends on: the architecture, every weight's bytes, the input
shape and the converter's versions (hashing them takes 0.45 s for ResNet-50's 102 MB, 1.6 s
for VGG-16's 553 MB, once per loaded model). A fine-tuned model gets a file of its own; the
folder can be deleted at any time (it is made again when needed). A cached file that
onnxruntime cannot open (cut short by a crash) is made again.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

from cnn_zoo import atomic
from cnn_zoo.errors import ZooError
from cnn_zoo.hardware import cores
from cnn_zoo.serving import probabilities_output

PACKAGES = ("onnxruntime", "tf2onnx", "onnx")  # run, convert (Keras' ONNX export), write
FORMAT = 1  # of the file this module writes: bump when the graph it exports changes


def missing_package() -> str | None:
    """The first package the engine needs that is not installed, else None."""
    for name in PACKAGES:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            return name
    return None


def fingerprint(model, input_shape) -> str:
    """sha256 over what the converted file depends on (see the module docstring)."""
    import keras  # a model is loaded: Keras is there already

    digest = hashlib.sha256()
    versions = {name: metadata.version(name) for name in PACKAGES}
    try:
        architecture = json.loads(model.to_json())
    except Exception:  # noqa: BLE001  (a custom layer whose config does not serialise)
        architecture = [type(layer).__qualname__ for layer in model.layers]  # the weights' paths say the rest
    head = {"format": FORMAT, "keras": keras.__version__, "packages": versions,
            "input_shape": list(input_shape), "model": architecture}
    digest.update(json.dumps(head, sort_keys=True, default=str).encode())
    for weight in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f"{weight.path}:{value.dtype}:{value.shape}".encode())
        digest.update(memoryview(value).cast("B"))
    return digest.hexdigest()


def _probabilities_model(model, family, input_shape):
    """The network as exported: its main output, and a softmax where it returns logits."""
    import keras  # a model is loaded: Keras is there already

    inputs = keras.Input(tuple(input_shape), dtype="float32", name="inputs")
    y = family.main_output(model(inputs, training=False))
    return keras.Model(inputs, probabilities_output(model, y))


def _export(model, family, input_shape, path: Path) -> None:
    import tensorflow as tf  # the TensorFlow backend only (engine checks it first)

    served = _probabilities_model(model, family, input_shape)
    signature = [tf.TensorSpec((None, *input_shape), tf.float32)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path, suffix=".onnx") as tmp, warnings.catch_warnings():
        # Keras' tf2onnx patch probes np.object, which NumPy 2 warns about: not the user's concern.
        warnings.simplefilter("ignore", FutureWarning)
        served.export(str(tmp), format="onnx", verbose=False, input_signature=signature)


def _session(path: Path):
    import onnxruntime  # only where this engine runs: a CLI call that never needs it stays quick

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = cores()  # its default counts the host's cores, not ours
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def converted(model, family, input_shape, home: Path, key: str):
    """An onnxruntime session of ``model``'s file under ``home/engines``, converting first where
    there is none (or the one there does not open). ``key``: the model's :func:`fingerprint`."""
    path = Path(home) / "engines" / f"{key}.onnx"
    if path.is_file():
        try:
            return _session(path)
        except Exception:  # noqa: BLE001  (onnxruntime raises its own Fail/InvalidProtobuf): made again
            pass
    _export(model, family, input_shape, path)
    path.with_suffix(".images").unlink(missing_ok=True)  # the count served its purpose
    return _session(path)


def cached(home: Path, key: str) -> bool:
    return (Path(home) / "engines" / f"{key}.onnx").is_file()


def tally(home: Path, key: str, images: int) -> int:
    """The images asked of these weights in every process so far, ``images`` added: kept in
    ``home/engines/<key>.images`` until the conversion. 0 where the folder cannot be written
    (the caller keeps its own count then); two processes at once may lose a few, harmlessly."""
    path = Path(home) / "engines" / f"{key}.images"
    try:
        before = int(path.read_text(encoding="utf-8").strip() or 0) if path.is_file() else 0
    except (OSError, ValueError):
        before = 0  # unreadable or garbled: counted again from here
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, f"{before + images}\n")
    except (OSError, ZooError):  # a read-only or full cache: the count is only an estimate
        return 0
    return before + images


def onnx_runner(session, batch: int):
    """Preprocessed float32 (N, H, W, C) -> probabilities (N, classes), ``batch`` images a call."""
    feed = session.get_inputs()[0].name

    def run(x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        return np.concatenate([session.run(None, {feed: x[i:i + batch]})[0]
                               for i in range(0, len(x), batch)])

    return run
