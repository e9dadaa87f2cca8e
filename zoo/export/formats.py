"""One writer per format: the served Keras model -> a file (or folder) at ``tmp``.

Each writer gets the serving model (uint8 images -> probabilities) and writes
into a temporary path that the caller renames over the destination.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

from cnn_zoo.errors import ZooError

FORMATS = ("keras", "savedmodel", "tflite", "onnx")
INT8 = ("dynamic", "full")
SUFFIX = {"keras": ".keras", "savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}


class ExportError(ZooError):
    """An export that cannot be done: a bad format or option, or a layer the format cannot express."""


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
    # Keras' ExportArchive: endpoints "serve" and "serving_default", input "image" (uint8).
    served.export(str(tmp), format="tf_saved_model", verbose=False)


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
        node.output[:] = ["probabilities" if o == old else o for o in node.output]
    proto.graph.output[0].name = "probabilities"
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
        served.export(folder, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
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
