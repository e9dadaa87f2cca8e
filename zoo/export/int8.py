"""Data for int8 quantization: calibration images from the recipe's data, and the accuracy drop."""

from __future__ import annotations

import numpy as np

from cnn_zoo.data.errors import DataError
from cnn_zoo.export.formats import ExportError
from cnn_zoo.export.runtime import Runner
from cnn_zoo.recipe import Recipe


def recipe_images(info, split: str, count: int, data_dir=None, required: bool = True):
    """(images, labels): the first ``count`` images of ``split`` of the data the model was trained on,
    read through the data layer (raw uint8, as the model's input contract). None if not
    ``required`` and the data cannot be had."""
    config = (getattr(info, "recipe", None) or {}).get("config")
    try:
        if not config:
            raise ExportError("no recipe is recorded with this model, so its data are unknown")
        recipe = Recipe.from_dict(config, source="the model's recipe")
        dataset = recipe.dataset.load(seed=recipe.seed, data_dir=data_dir).get(split)
        if dataset is None:
            raise ExportError(f"the recipe has no {split!r} split")
    except (DataError, ExportError) as error:
        if not required:
            return None
        raise ExportError(f"full int8 needs calibration images: {error}. Pass calibration= "
                          "(raw uint8 images, N x H x W x C) or use int8='dynamic'") from None
    rng = np.random.default_rng(0)  # a fixed sample across the classes, not the first N
    pick = np.sort(rng.choice(len(dataset.x), size=min(count, len(dataset.x)), replace=False))
    return dataset.x[pick], dataset.y[pick]


def accuracy_drop(served, path, evaluation, calibration) -> dict:
    """Top-1 of the quantized file against the float model: agreement, and the accuracy of both."""
    if evaluation is not None:
        images, labels = evaluation
    elif calibration is not None:
        images, labels = np.asarray(calibration, np.uint8), None
    else:
        return {"images": 0, "note": "no test data to measure the accuracy drop on"}
    images = np.asarray(images, np.uint8)
    reference = np.asarray(served.predict(images, batch_size=256, verbose=0)).argmax(-1)
    quantized = Runner(path, "tflite")(images).argmax(-1)
    out = {"images": int(len(images)), "top1_agreement": float(np.mean(reference == quantized))}
    if labels is not None:
        labels = np.asarray(labels)
        out["float_accuracy"] = float(np.mean(reference == labels))
        out["int8_accuracy"] = float(np.mean(quantized == labels))
        out["accuracy_drop"] = out["float_accuracy"] - out["int8_accuracy"]
    else:
        out["note"] = "measured on the calibration images, which have no labels: no accuracy"
    return out
