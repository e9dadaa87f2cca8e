"""A model's test metrics, and a run folder's (``zoo eval``)."""

from __future__ import annotations

from pathlib import Path

import keras

import cnn_zoo.schedules  # noqa: F401  (registers the optimizer's schedule)
from cnn_zoo import run as runs
from cnn_zoo.data import load_dataset, make_pipeline
from cnn_zoo.family import DEFAULT
from cnn_zoo.layers import register_all
from cnn_zoo.recipe import load_recipe
from cnn_zoo.registry import get_family


def evaluate_model(model, dataset, steps, batch_size=256, family=None) -> dict:
    """Test metrics of ``model`` on ``dataset`` (a cnn_zoo.data.Dataset) after ``steps``;
    ``family`` (a cnn_zoo.family.Family) names the main output of a multi-output model."""
    data = make_pipeline(dataset.x, dataset.y, batch_size, steps=steps)
    if isinstance(model.output, dict):
        model = (family or DEFAULT).inference_model(model)
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    results = model.evaluate(data, return_dict=True, verbose=0)
    return {k: float(v) for k, v in results.items()}


def evaluate_recipe(model, recipe, steps, *, split="test", data=None, data_dir=None, raw_shape=None,
                    match=None, compile=False, where="the run's recipe", family=None) -> dict:
    """The one evaluation: ``model`` on ``split`` of ``recipe``'s dataset, preprocessed by ``steps``.

    ``data`` (a dataset spec) evaluates on another dataset with the recipe's seed and
    validation fraction, its images read at ``raw_shape`` (H, W, C) when given. ``match``
    (dataset -> (dataset, how)) maps its classes onto the model's; ``how`` is the result's
    "classes". ``compile``: give the model the zoo's loss and accuracy first. ``family``:
    as for :func:`evaluate_model`.
    """
    if data is None:
        dataset = recipe.dataset.load(seed=recipe.seed, data_dir=data_dir).get(split)
        if dataset is None:
            raise runs.RunError(f"{where} has no {split!r} split")
    else:
        size = {} if raw_shape is None else dict(
            image_size=raw_shape[:2], color_mode="grayscale" if raw_shape[2] == 1 else "rgb")
        dataset = load_dataset(data, split, data_dir=data_dir, seed=recipe.seed,
                               validation_fraction=recipe.dataset.validation_fraction, **size)
    classes = {}
    if match is not None:
        dataset, how = match(dataset)
        classes = {"classes": how}
    if compile:
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    metrics = evaluate_model(model, dataset, steps, family=family)
    return {"split": split, "examples": len(dataset), "dataset": dataset.source, **classes, **metrics}


def evaluate(run_or_model, *, data=None, split="test", data_dir=None) -> dict:
    """Metrics of a run folder's model on ``split`` of its recipe's dataset (see :func:`evaluate_recipe`).

    ``run_or_model`` may also be a .keras file inside a run folder.
    """
    register_all()  # cnn_zoo.layers is lazy: every layer class, so that load_model finds them
    path = Path(run_or_model)
    run_dir = path if path.is_dir() else path.parent
    model_path = path / "model.keras" if path.is_dir() else path
    if not model_path.exists():
        raise runs.RunError(f"no model at {model_path}; give a finished run folder or its model.keras")
    if not (run_dir / "config.yaml").exists():
        raise runs.RunError(f"no config.yaml beside {model_path}: its data and preprocessing are unknown")
    recipe = load_recipe(run_dir / "config.yaml")
    model = keras.saving.load_model(model_path)
    return evaluate_recipe(model, recipe, recipe.preprocessing, split=split, data=data, data_dir=data_dir,
                           family=get_family(recipe.model.name))
