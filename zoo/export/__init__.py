"""Export a model with its preprocessing to a file that runs without cnn-zoo.

    import cnn_zoo as zoo
    zoo.export("lenet5.mnist", "tflite", "lenet5.tflite")            # or cnn_zoo.export.export(...)
    zoo.export("runs/fashion", "tflite", "f.tflite", int8="full")    # calibrated on the recipe's data

The file takes raw uint8 images (N, H, W, C) named "image" and returns "probabilities"
(N, classes). Beside it, PATH + ".json" records the tag, the sha256 of the source
weights, the input contract, the labels and the versions (and, for int8, the
accuracy drop). Nothing is written at PATH unless the export succeeds.

A .keras file is written in stock Keras layers where every layer has an exact stock
form (cnn_zoo.export.stock), so it loads with keras.saving.load_model alone; else it
holds cnn-zoo's layers, and the record's ``needs_cnn_zoo`` says which and why.
"""

from __future__ import annotations

import hashlib
import sys
import types
from importlib import metadata
from pathlib import Path

import numpy as np

from cnn_zoo import atomic, serving
from cnn_zoo.convert.pulling import pull
from cnn_zoo.export.formats import FORMATS, INT8, WRITERS, ExportError, MissingExtraError, check_ready
from cnn_zoo.export.int8 import accuracy_drop, recipe_images
from cnn_zoo.export.stock import LOAD_CNN_ZOO, LOAD_STOCK, portable
from cnn_zoo.hub.loading import is_run, resolve, run_paths
from cnn_zoo.run import now, versions, write_json
from cnn_zoo.weights.manifest import file_sha256

__all__ = ["export", "ExportError", "FORMATS", "INT8", "MissingExtraError"]

CALIBRATION_IMAGES = 200   # representative images for full int8 (TFLite's guide: ~100-500)
INT8_EVAL_IMAGES = 1000    # test images on which the int8 accuracy drop is measured


def _check(fmt, int8, path, overwrite):
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}. Received: format={fmt!r}")
    if int8 is not None and int8 not in INT8:
        raise ExportError(f"int8 must be one of {', '.join(INT8)} or None. Received: int8={int8!r}")
    if int8 is not None and fmt != "tflite":
        raise ExportError(f"int8 quantization is a tflite option. Received: format={fmt!r}, int8={int8!r}")
    path = Path(path).expanduser()
    if fmt == "keras" and path.suffix != ".keras":
        raise ExportError(f"a Keras file's name ends in .keras. Received: path={str(path)!r}")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise ExportError(f"{path} exists; choose another path, or pass overwrite=True (zoo export --force)")
    if not path.parent.is_dir():
        raise ExportError(f"{path.parent} is not a folder; create it first")
    return path


def _source(model_or_tag_or_run):
    """(model, info, source record) of a tag, a run folder (or its model.keras) or a loaded model."""
    if isinstance(model_or_tag_or_run, (str, Path)):
        name = str(model_or_tag_or_run)
        model, info = resolve(name)
        if is_run(name):
            file = run_paths(name)[0]
            return model, info, {"kind": "run", "run": str(Path(name).resolve()), "file": str(file),
                                 "sha256": file_sha256(file)}
        file = pull(name, quiet=True)
        return model, info, {"kind": "tag", "tag": name, "file": Path(file).name,
                             "sha256": file_sha256(file)}
    model, info = resolve(model_or_tag_or_run)
    if info is None:
        raise ExportError("this model carries no preprocessing or class names (it was not made by "
                          "zoo.load or zoo.load_run): export a tag or a run folder instead")
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(np.asarray(weight.numpy() if hasattr(weight, "numpy")
                                                      else weight)).tobytes())
    return model, info, {"kind": "model", "tag": getattr(info, "tag", None),
                         "sha256": digest.hexdigest(), "sha256_of": "the in-memory weights, in order"}


def _versions() -> dict:
    out = versions()
    for name in ("onnx", "tf2onnx", "onnxruntime", "ai-edge-litert"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _atomic_write(path: Path, write, size=None):
    """write(tmp) into a temporary sibling, then renamed over ``path`` (cnn_zoo.atomic, folders
    included); on any error nothing is left. ``size``: about the bytes it takes (a full disk
    is then refused before anything is written)."""
    with atomic.replacing(path, suffix=_tmp_suffix(path), size=size) as tmp:
        return write(tmp)


def _tmp_suffix(path: Path) -> str:
    """Keras saves only to names ending in .keras."""
    return ".keras" if path.suffix == ".keras" else ""


def export(model_or_tag_or_run, format: str, path, *, int8: str | None = None, calibration=None,
           evaluation=None, overwrite: bool = False, data_dir=None) -> dict:
    """Writes the model, its preprocessing inside, to ``path`` in ``format``; returns the JSON record.

    ``format``: keras, savedmodel, tflite or onnx. ``int8`` (tflite only): "dynamic"
    (int8 weights) or "full" (int8 weights and activations). ``calibration``: raw
    uint8 images for "full" (default: 200 images of the recipe's training split,
    through the data layer). ``evaluation``: (images, labels) for the int8 accuracy
    drop (default: a fixed sample of 1,000 images of the recipe's test split).
    """
    path = _check(format, int8, path, overwrite)
    check_ready(format, int8)
    model, info, source = _source(model_or_tag_or_run)
    contract = serving.contract_of(info)
    served, needs = serving.serving_model(model, contract), []
    if format == "keras":
        served, needs = portable(served)
    if int8 == "full" and calibration is None:
        calibration = recipe_images(info, "train", CALIBRATION_IMAGES, data_dir)[0]
    if int8 is not None and evaluation is None:
        evaluation = recipe_images(info, "test", INT8_EVAL_IMAGES, data_dir, required=False)
    record = {"format": format, "int8": int8, "file": path.name, "created": now(), "source": source,
              "tag": source.get("tag"), "sha256": source["sha256"], **contract.as_dict(),
              "labels": list(contract.class_names), "needs_cnn_zoo": needs}
    if format == "keras":
        record["load"] = LOAD_CNN_ZOO if needs else LOAD_STOCK
    metadata = {"cnn_zoo.tag": str(source.get("tag") or ""), "cnn_zoo.source_sha256": source["sha256"]}

    def write(tmp):
        WRITERS[format](served, tmp, labels=contract.class_names, metadata=metadata, int8=int8,
                        calibration=None if calibration is None else np.asarray(calibration, np.uint8))
        if int8 is not None:
            record["int8_check"] = accuracy_drop(served, tmp, evaluation, calibration)

    # The file holds every weight: as float32, or about a byte each in int8.
    _atomic_write(path, write, size=served.count_params() * (1 if int8 else 4))
    record["versions"] = _versions()
    write_json(Path(f"{path}.json"), record)
    return record


class _CallableModule(types.ModuleType):
    """``cnn_zoo.export`` is this package once imported; ``zoo.export(...)`` calls :func:`export`."""

    def __call__(self, *args, **kwargs):
        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
