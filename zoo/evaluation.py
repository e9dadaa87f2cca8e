"""A model's test metrics, and a run folder's (``zoo eval``)."""

from __future__ import annotations

from pathlib import Path

import keras

from cnn_zoo import run as runs
from cnn_zoo.recipe import load_recipe


def evaluate_model(model, dataset, steps, batch_size=256, family=None) -> dict:
    """Test metrics of ``model`` on ``dataset`` (a cnn_zoo.data.Dataset) after ``steps``;
    ``family`` (a cnn_zoo.family.Family) names the main output of a multi-output model."""
    from cnn_zoo.data import make_pipeline

    data = make_pipeline(dataset.x, dataset.y, batch_size, steps=steps)
    if isinstance(model.output, dict):
        from cnn_zoo.family import DEFAULT
        model = (family or DEFAULT).inference_model(model)
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    results = model.evaluate(data, return_dict=True, verbose=0)
    return {k: float(v) for k, v in results.items()}


def evaluate(run_or_model, *, data=None, split="test", data_dir=None) -> dict:
    """Metrics of a run folder's model on ``split`` of its recipe's dataset.

    ``data`` (a dataset spec) evaluates on another dataset with the same
    preprocessing; ``run_or_model`` may also be a .keras file inside a run folder.
    """
    from cnn_zoo.layers import register_all  # cnn_zoo.layers is lazy: load every layer class
    register_all()  # so that load_model finds them
    import cnn_zoo.schedules  # noqa: F401  (registers the optimizer's schedule)
    from cnn_zoo.data import load_dataset

    path = Path(run_or_model)
    run_dir = path if path.is_dir() else path.parent
    model_path = path / "model.keras" if path.is_dir() else path
    if not model_path.exists():
        raise runs.RunError(f"no model at {model_path}; give a finished run folder or its model.keras")
    if not (run_dir / "config.yaml").exists():
        raise runs.RunError(f"no config.yaml beside {model_path}: its data and preprocessing are unknown")
    recipe = load_recipe(run_dir / "config.yaml")
    if data is None:
        dataset = recipe.dataset.load(seed=recipe.seed, data_dir=data_dir).get(split)
        if dataset is None:
            raise runs.RunError(f"the run's recipe has no {split!r} split")
    else:
        dataset = load_dataset(data, split, data_dir=data_dir, seed=recipe.seed,
                               validation_fraction=recipe.dataset.validation_fraction)
    model = keras.saving.load_model(model_path)
    from cnn_zoo.registry import get_family
    metrics = evaluate_model(model, dataset, recipe.preprocessing, family=get_family(recipe.model.name))
    return {"split": split, "examples": len(dataset), "dataset": dataset.source, **metrics}
