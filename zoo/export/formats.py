"""One writer per format: the served Keras model -> a file (or folder) at ``tmp``.

Each writer gets the serving model (uint8 images -> probabilities) and writes
into a temporary path that the caller renames over the destination.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

from cnn_zoo import errors
from cnn_zoo.errors import ZooError
from cnn_zoo.serving import INPUT_NAME, OUTPUT_NAME

FORMATS = ("keras", "savedmodel", "tflite", "onnx")
INT8 = ("dynamic", "full")
SUFFIX = {"keras": ".keras", "savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}
# The packages a format needs beyond TensorFlow, all in the `export` extra: (module, PyPI name).
NEEDS = {"onnx": (("onnx", None), ("tf2onnx", None))}
LITERT = ("ai_edge_litert.interpreter", "ai-edge-litert")  # runs .tflite files (the int8 check)
# The backends on which Keras can trace the serving model into each format: on PyTorch,
# torch.export rejects its any-size input; ONNX from JAX needs jax2onnx, which we do not ship.
BACKENDS = {"savedmodel": ("tensorflow", "jax"), "tflite": ("tensorflow", "jax"), "onnx": ("tensorflow",)}


class ExportError(ZooError):
    """An export that cannot be done: a bad format or option, or a layer the format cannot express."""


class MissingExtraError(ExportError, errors.MissingExtraError):
    """A package of the `export` extra (onnx, tf2onnx, ai-edge-litert) is not installed."""


def check_ready(fmt: str, int8=None) -> None:
    """One line, before any model is loaded, when this backend cannot write ``fmt`` or a package
    it needs is missing."""
    import keras  # the CLI imports this module to check --format before Keras loads

    backend = keras.backend.backend()
    allowed = BACKENDS.get(fmt, (backend,))
    if backend not in allowed:
        raise ExportError(f"{fmt} export runs on the {' or '.join(allowed)} backend, not {backend}: "
                          f"run it with KERAS_BACKEND=tensorflow (the file runs without Keras)")
    for module, package in (*NEEDS.get(fmt, ()), *((LITERT,) if int8 else ())):
        errors.need(module, "export", f"{fmt} export", package=package, error=MissingExtraError)


def layer_in(message: str, model) -> tuple[str, str] | None:
    """(name, class) of the deepest layer of ``model`` named in the first op path of a converter's
    message ("served/googlenet_1/lrn1_1/Pow"; tracing adds the "_1" suffixes)."""
    layers = {layer.name: type(layer).__name__ for layer in _all_layers(model)
              if type(layer).__name__ != "InputLayer"}
    for path in re.findall(r"[\w.\-]+(?:/[\w.\-]+)+", message):
        found = None
        for segment in path.split("/"):
            for name in (segment, re.sub(r"_\d+$", "", segment)):
                if name in layers:
                    found = (name, layers[name])
                    break
        if found:
            return found
    return None


def _all_layers(model):
    for layer in getattr(model, "layers", ()):
        yield layer
        yield from _all_layers(layer)


def cannot_express(fmt: str, error: Exception, model, instead: str) -> ExportError:
    where = layer_in(str(error), model)
    what = f"layer {where[0]!r} ({where[1]})" if where else "a layer of this model"
    ops = sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", str(error))))
    if ops:
        why = f"no {fmt} kernel for the TensorFlow op(s) {', '.join(ops)}"
    else:
        why = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return ExportError(f"{fmt} cannot express {what}: {why[:300]}. Instead: {instead}")


def write_keras(served, tmp: Path, **_):
    served.save(tmp)


def write_savedmodel(served, tmp: Path, **_):
    """Keras' export (endpoint "serve", uint8 input "image"), saved again with the signatures
    "serving_default" and "serve" returning {"probabilities": ...}: Keras names a single
    output "output_0"."""
    import tensorflow as tf  # TensorFlow's SavedModel API, on any Keras backend

    with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=f".{tmp.name}.keras") as folder:
        served.export(folder, format="tf_saved_model", verbose=False)
        loaded = tf.saved_model.load(folder)
        (spec,) = loaded.signatures["serving_default"].structured_input_signature[1].values()

        @tf.function(input_signature=[tf.TensorSpec(spec.shape, spec.dtype, name=INPUT_NAME)])
        def serve(image):
            return {OUTPUT_NAME: loaded.serve(image)}

        # Serving needs no gradients (and jax2tf's custom ones do not save again).
        tf.saved_model.save(loaded, str(tmp), signatures={"serving_default": serve, "serve": serve},
                            options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))


def write_onnx(served, tmp: Path, *, labels=(), metadata=None, **_):
    """Keras' own ONNX export (it runs tf2onnx on the TensorFlow backend), then the output
    renamed "probabilities" and the labels stored in the file's metadata_props."""
    import onnx  # an optional extra, needed only for this format

    # Why: Keras' ONNX export refuses a model that was never called (it traces the call).
    served(np.zeros((1, *[d or 32 for d in served.input_shape[1:]]), np.uint8))
    try:
        served.export(str(tmp), format="onnx", verbose=False)
    except Exception as error:  # tf2onnx reports an op it has no mapping for
        raise cannot_express("onnx", error, served, "export --format savedmodel (TensorFlow runs "
                             "every op), or tflite") from error
    proto = onnx.load(str(tmp))
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = [OUTPUT_NAME if o == old else o for o in node.output]
    proto.graph.output[0].name = OUTPUT_NAME
    for key, value in {"labels": "\n".join(labels), **(metadata or {})}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))


def write_tflite(served, tmp: Path, *, int8=None, calibration=None, **_):
    """Float32 by default; int8="dynamic": int8 weights, float activations; int8="full": int8
    weights and activations, calibrated on ``calibration`` (raw uint8 images)."""
    import tensorflow as tf  # TensorFlow's converter, on any Keras backend

    with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=f".{tmp.name}.sm") as folder:
        write_savedmodel(served, Path(folder) / "sm")  # its signature names the output "probabilities"
        converter = tf.lite.TFLiteConverter.from_saved_model(str(Path(folder) / "sm"))
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if int8 == "full":
            def representative():
                for i in range(len(calibration)):
                    yield [calibration[i:i + 1]]

            converter.representative_dataset = representative
            # Why: only int8 kernels, so that a layer with no int8 kernel fails here, named,
            # rather than running in float unnoticed. Input stays uint8, output float32.
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        try:
            data = converter.convert()
        except Exception as error:
            instead = ("--int8 dynamic (int8 weights, float activations), or float tflite"
                       if int8 == "full" else "export --format savedmodel or onnx")
            raise cannot_express(f"tflite{' full int8' if int8 == 'full' else ''}", error,
                                 served, instead) from error
    tmp.write_bytes(data)


WRITERS = {"keras": write_keras, "savedmodel": write_savedmodel, "tflite": write_tflite, "onnx": write_onnx}
