"""Train a recipe into a run folder a person can trust (see :mod:`cnn_zoo.run`).

``train(recipe, out_dir)`` loads the data, applies the recipe's preprocessing
once, builds the model by name, fits it with a per-step learning-rate
schedule, and writes the run folder. A killed run loses at most the current
epoch: ``train(..., resume=True)`` continues from Keras' BackupAndRestore
state. A NaN loss stops the run cleanly with the last good checkpoint.

Determinism: the same seed, backend and machine give the same metrics (the
seed fixes the weights, the validation split, the shuffling and the
augmentation). Different backends or thread counts may differ in the last
bits of float sums, and so in the metrics.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
from pathlib import Path

import keras

from cnn_zoo import run as runs
from cnn_zoo.recipe import Recipe, load_recipe

KERAS_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
                    "nadam": "Nadam", "adamax": "Adamax", "adagrad": "Adagrad",
                    "adadelta": "Adadelta", "lion": "Lion", "ftrl": "Ftrl"}


@dataclasses.dataclass
class RunResult:
    run_dir: Path
    status: str                 # "finished", "nan", "interrupted"
    epochs: int                 # epochs completed
    metrics: dict               # test metrics (empty unless evaluated)
    images_per_second: float
    message: str = ""


def _jit(recipe):
    if recipe.jit_compile != "auto":
        return recipe.jit_compile
    # XLA pays off on accelerators; on this class of CPU it made LeNet-5 slower.
    return any("GPU" in d.upper() or "CUDA" in d.upper() for d in runs.devices())


@contextlib.contextmanager
def _dtype_policy(name):
    previous = keras.config.dtype_policy()
    if name:
        keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def _distribution(recipe):
    """The backend's own data-parallel engine, over every visible device, if asked."""
    if not recipe.distribute:
        yield 1
        return
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        gpus = tf.config.list_logical_devices("GPU")
        # MirroredStrategy() alone takes only /cpu:0 when there is no GPU.
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
        with strategy.scope():
            yield strategy.num_replicas_in_sync
    elif backend == "jax":
        distribution = keras.distribution.DataParallel()
        keras.distribution.set_distribution(distribution)
        try:
            yield len(distribution.device_mesh.devices.flatten())
        finally:
            keras.distribution.set_distribution(None)
    else:
        raise runs.RunError(f"distribute: true is not supported on the {backend} backend; "
                            "use tensorflow or jax")


def build_and_compile(recipe: Recipe, input_shape, num_classes, steps_per_epoch):
    import cnn_zoo as zoo
    from cnn_zoo.schedules import RecipeSchedule

    kwargs = dict(recipe.model.kwargs)
    kwargs.setdefault("input_shape", tuple(input_shape))
    kwargs.setdefault("num_classes", num_classes)
    model = zoo.get_model(recipe.model.name, **kwargs)
    optimizer = getattr(keras.optimizers, KERAS_OPTIMIZERS[recipe.optimizer.name])(
        learning_rate=RecipeSchedule.from_recipe(recipe, steps_per_epoch), **recipe.optimizer.kwargs)
    heads = _aux_heads(model)
    if heads:  # GoogLeNet's auxiliary classifiers: weighted 0.3 in the loss
        from cnn_zoo.models.googlenet import aux_loss_weights
        loss = {name: "sparse_categorical_crossentropy" for name in ["predictions", *heads]}
        metrics = {"predictions": ["accuracy"]}
        loss_weights = aux_loss_weights(model)
    else:
        loss, metrics, loss_weights = "sparse_categorical_crossentropy", ["accuracy"], None
    model.compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics,
                  jit_compile=_jit(recipe), steps_per_execution=steps_per_execution(recipe))
    return model


def steps_per_execution(recipe):
    """The recipe's value, except 1 under tf.distribute: Keras 3.15's multi-step loop fails
    inside MirroredStrategy ("You must feed a value for placeholder tensor ... while/cond")."""
    if recipe.distribute and keras.backend.backend() == "tensorflow":
        return 1
    return recipe.steps_per_execution


def _aux_heads(model):
    return [layer.name for layer in model.layers if layer.name in ("aux1", "aux2")]


class RepeatLabels(keras.utils.PyDataset):
    """Batches whose labels go to every head of a multi-output model (GoogLeNet's aux heads)."""

    def __init__(self, data, heads):
        super().__init__()
        self.data, self.heads = data, ["predictions", *heads]

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        x, y = self.data[i]
        return x, {head: y for head in self.heads}

    def on_epoch_end(self):
        self.data.on_epoch_end()


def repeat_labels(data, model):
    """``data`` with its labels given to every head of ``model`` (GoogLeNet's aux heads)."""
    heads = _aux_heads(model)
    if not heads or data is None:
        return data
    if hasattr(data, "map"):  # tf.data
        names = ["predictions", *heads]
        return data.map(lambda x, y: (x, {head: y for head in names}))
    return RepeatLabels(data, heads)


def _callbacks(recipe, run_dir, images_per_epoch, resume):
    from cnn_zoo.callbacks import Backup, EpochCheckpoint, StopOnNaN, Throughput

    nan = StopOnNaN()
    throughput = Throughput(images_per_epoch)
    cbs = [
        nan,
        throughput,
        # The history row is written before the backup: a process killed between
        # the two redoes that epoch, and read_history keeps the later row.
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resume),
        Backup(str(run_dir / "backup")),
        EpochCheckpoint(run_dir / "checkpoints", stop_on_nan=nan),
    ]
    # Keras writes TensorBoard logs through tf.summary: on another backend only if
    # TensorFlow is loaded anyway, so a JAX run never pays for (or needs) it.
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        cbs.append(keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False))
    return cbs + recipe_callbacks(recipe), nan, throughput


def recipe_callbacks(recipe) -> list:
    """Early stopping and learning-rate reduction, as the recipe asks (also inside a tuning trial)."""
    out = []
    es = recipe.callbacks.early_stopping
    if es:
        out.append(keras.callbacks.EarlyStopping(monitor=es.monitor, patience=es.patience,
                                                 min_delta=es.min_delta, mode=es.mode,
                                                 restore_best_weights=es.restore_best_weights))
    rl = recipe.callbacks.reduce_lr_on_plateau
    if rl:
        out.append(keras.callbacks.ReduceLROnPlateau(monitor=rl.monitor, factor=rl.factor,
                                                     patience=rl.patience, min_lr=rl.min_lr))
    return out


def load_data(recipe: Recipe, data_dir=None):
    """The recipe's splits as raw arrays, and the preprocessing contract for the model."""
    from cnn_zoo import preprocess

    splits = recipe.dataset.load(seed=recipe.seed, data_dir=data_dir)
    train = splits["train"]
    contract = {
        "steps": preprocess.normalize_steps(recipe.preprocessing),
        "raw_shape": list(train.image_shape),
        "input_shape": list(preprocess.input_shape_after(recipe.preprocessing, train.image_shape)),
        "class_names": list(train.class_names),
        "dataset": train.source,
    }
    return splits, contract


def train(recipe, out_dir, *, overrides=(), resume=False, data_dir=None, verbose="auto",
          callbacks=()) -> RunResult:
    """Train ``recipe`` (a name, a path or a :class:`Recipe`) into ``out_dir``.

    ``overrides`` are ``key=value`` strings applied after the recipe file.
    With ``resume=True`` the recipe is the one stored in ``out_dir``.
    ``callbacks`` are extra Keras callbacks (the tuner adds its own).
    """
    run_dir = runs.prepare_folder(out_dir, resume)
    if resume:
        recipe = load_recipe(run_dir / "config.yaml", overrides=list(overrides))
    elif not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides=list(overrides))
    from cnn_zoo.data import make_pipeline

    keras.utils.set_random_seed(recipe.seed)
    splits, contract = load_data(recipe, data_dir)
    train_ds, val_ds, test_ds = splits["train"], splits.get("validation"), splits["test"]
    manifest_path = run_dir / "manifest.json"
    manifest = runs.read_json(manifest_path) if resume else {
        "recipe": recipe.name, "created": runs.now(), "seed": recipe.seed,
        "backend": keras.backend.backend(), "versions": runs.versions(),
        "git_commit": runs.git_commit(), "devices": runs.devices(), "command": sys.argv,
    }
    manifest.update(status="running", started=runs.now(),
                    examples={k: len(v) for k, v in splits.items()})
    if not resume:
        (run_dir / "config.yaml").write_text(recipe.to_yaml())
        runs.write_json(run_dir / "preprocessing.json", contract)
    runs.write_json(manifest_path, manifest)

    steps = recipe.preprocessing
    fit_data = make_pipeline(train_ds.x, train_ds.y, recipe.batch_size, steps=steps, shuffle=True,
                             seed=recipe.seed, augment=True)
    val_data = None if val_ds is None else make_pipeline(val_ds.x, val_ds.y, recipe.batch_size,
                                                         steps=steps)
    steps_per_epoch = math.ceil(len(train_ds) / recipe.batch_size)
    status, message, good = "finished", "", []
    with _dtype_policy(recipe.dtype_policy), _distribution(recipe) as replicas:
        model = build_and_compile(recipe, contract["input_shape"], train_ds.num_classes, steps_per_epoch)
        manifest.update(replicas=replicas, steps_per_execution=steps_per_execution(recipe))
        standard, nan, throughput = _callbacks(recipe, run_dir, len(train_ds), resume)
        fit_data, val_data = repeat_labels(fit_data, model), repeat_labels(val_data, model)
        try:
            # The pipeline shuffles (seeded) itself.
            model.fit(fit_data, validation_data=val_data, epochs=recipe.epochs,
                      callbacks=[*standard, *callbacks], shuffle=False, verbose=verbose)
        except KeyboardInterrupt:
            status = "interrupted"
            message = f"interrupted; continue with: zoo train --resume --out {run_dir}"
        except BaseException as error:
            manifest.update(status="failed", finished=runs.now(),
                            message=f"{type(error).__name__}: {error}")
            runs.write_json(manifest_path, manifest)
            raise
    if nan.stopped_at:
        status = "nan"
        from cnn_zoo.callbacks import checkpoints
        good = checkpoints(run_dir / "checkpoints")
        epoch, batch = nan.stopped_at
        where = f"epoch {epoch}" + (f", batch {batch}" if batch else "")
        if good:
            model.load_weights(good[-1][1])
            message = (f"loss became NaN at {where}; stopped and kept the "
                       f"last good checkpoint (epoch {good[-1][0]}): {good[-1][1]}")
        else:
            message = f"loss became NaN at {where}, before any epoch finished"
    history = runs.read_history(run_dir)
    runs.write_json(run_dir / "history.json", history)
    if history:
        runs.plot_curves(history, run_dir / "curves.png")
    metrics = {}
    if status != "interrupted" and (status != "nan" or good):
        metrics = evaluate_model(model, test_ds, steps, recipe.batch_size)
        runs.write_json(run_dir / "metrics.json", {"split": "test", "examples": len(test_ds), **metrics})
        model.save(run_dir / "model.keras")
        model.save_weights(run_dir / "model.weights.h5")
    manifest.update(status=status, finished=runs.now(), epochs=len(history), message=message,
                    train_images_per_second=round(throughput.images_per_second, 1)
                    if throughput.epoch_seconds else None)
    runs.write_json(manifest_path, manifest)
    return RunResult(run_dir, status, len(history), metrics, throughput.images_per_second, message)


def evaluate_model(model, dataset, steps, batch_size=256) -> dict:
    """Test metrics of ``model`` on ``dataset`` (a cnn_zoo.data.Dataset) after ``steps``."""
    from cnn_zoo.data import make_pipeline

    data = make_pipeline(dataset.x, dataset.y, batch_size, steps=steps)
    if isinstance(model.output, dict):
        from cnn_zoo.models.googlenet import inference_model
        model = inference_model(model)
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
    metrics = evaluate_model(model, dataset, recipe.preprocessing)
    return {"split": split, "examples": len(dataset), "dataset": dataset.source, **metrics}
