"""Train a recipe into a run folder a person can trust (see :mod:`cnn_zoo.run`).

``train(recipe, out_dir)`` is prepare → fit → finish. Prepare reads and checks
everything (the recipe, the stored state and its checksums, the data, the
model) before it writes anything; fit trains with a per-step learning-rate
schedule; finish evaluates and writes the final files, each atomically. A
killed run loses at most the current epoch: ``train(..., resume=True)``
continues from the newest intact state (:mod:`cnn_zoo.run_state`), also after
``fit`` or a NaN stop. A NaN loss stops the run cleanly with the last good checkpoint.

Determinism: the same seed, backend and machine give the same metrics (the
seed fixes the weights, the validation split, the shuffling and the
augmentation). Different backends or thread counts may differ in the last
bits of float sums, and so in the metrics.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import shutil
import sys
from pathlib import Path

import keras

from cnn_zoo import cluster as clusters
from cnn_zoo import compute, keras_private, registry, run_state
from cnn_zoo import run as runs
from cnn_zoo.callbacks import Backup, EpochCheckpoint, StopOnNaN, Throughput, checkpoints, save_weights_atomically
from cnn_zoo.errors import DiskFullError
from cnn_zoo.evaluation import evaluate_model
from cnn_zoo.fit_data import fit_inputs
from cnn_zoo.data.stream import input_record, skipped_rows
from cnn_zoo.preprocessing_spec import Preprocessing
from cnn_zoo.recipe import Recipe, load_recipe
from cnn_zoo.schedules import RecipeSchedule

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


@dataclasses.dataclass
class Compiled:
    """A recipe's model, compiled twice over the same layers and the same optimizer."""
    model: keras.Model      # probabilities: what is evaluated, saved and published
    fit_model: keras.Model  # the same layers up to the logits: what fit trains (the family's fit_outputs)


def build_and_compile(recipe: Recipe, input_shape, num_classes, steps_per_epoch, plan=None) -> Compiled:
    """The recipe's model, built under ``plan``'s dtype policy (default: this machine's
    :func:`~cnn_zoo.compute.plan_for`), changed as the plan says (:meth:`ComputePlan.apply`)
    and compiled with its arguments, for a run and a tuning trial alike."""
    plan = plan or compute.plan_for(recipe)
    kwargs = dict(recipe.model.kwargs)
    kwargs.setdefault("input_shape", tuple(input_shape))
    kwargs.setdefault("num_classes", num_classes)
    family = registry.get_family(recipe.model.name)
    with compute.dtype_policy(plan.dtype_policy):
        model = registry.get_model(recipe.model.name, **kwargs)
        # Fitted on the logits where the family has them; the probabilities stay what is saved.
        fitted = family.fit_outputs(model)
        multi = isinstance(model.output, dict)
        given = model.output if multi else {family.output: model.output}
        fit_model = model
        if any(tensor is not given[name] for name, (tensor, _) in fitted.items()):
            outputs = {name: tensor for name, (tensor, _) in fitted.items()}
            fit_model = keras.Model(model.input, outputs if multi else outputs[family.output],
                                    name=model.name)
    plan.apply(model)  # fit_model shares model's layers
    optimizer = getattr(keras.optimizers, KERAS_OPTIMIZERS[recipe.optimizer.name])(
        learning_rate=RecipeSchedule.from_recipe(recipe, steps_per_epoch), **recipe.optimizer.kwargs)
    loss_weights = family.loss_weights(model)  # auxiliary outputs (GoogLeNet's): the family weighs them
    metrics = {family.output: ["accuracy"]} if multi else ["accuracy"]

    def compile_as(target, losses):
        target.compile(optimizer=optimizer, loss=losses if multi else losses[family.output],
                       loss_weights=loss_weights, metrics=metrics, **plan.compile_args())

    compile_as(fit_model, {name: keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
                           for name, (_, logits) in fitted.items()})
    if fit_model is not model:  # the saved model's own loss reads its probabilities
        compile_as(model, {name: "sparse_categorical_crossentropy" for name in fitted})
    return Compiled(model, fit_model)


def _callbacks(recipe, run_dir, images_per_epoch, resume, ledger):
    nan = StopOnNaN()
    throughput = Throughput(images_per_epoch)
    cbs = [
        nan,
        throughput,
        # The history row is written before the backup: a process killed between
        # the two redoes that epoch, and read_history keeps the later row.
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resume),
        # Kept after fit (Keras deletes it there): finish deletes it once the run is finished.
        Backup(str(run_dir / "backup"), delete_checkpoint=False, ledger=ledger, stop_on_nan=nan),
        EpochCheckpoint(run_dir / "checkpoints", stop_on_nan=nan, ledger=ledger),
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
    """The recipe's splits as raw arrays, and the preprocessing contract for the model
    (a :class:`~cnn_zoo.preprocessing_spec.Preprocessing` as a dict, with the class names and source)."""
    splits = recipe.dataset.load(seed=recipe.seed, data_dir=data_dir)
    train = splits["train"]
    contract = {
        **Preprocessing.of(recipe.preprocessing, train.image_shape).to_dict(),
        "class_names": list(train.class_names),
        "dataset": train.source,
    }
    return splits, contract


@dataclasses.dataclass
class _Run:
    """What prepare checked and fit and finish use."""
    run_dir: Path
    recipe: Recipe
    resume: bool
    splits: dict
    contract: dict
    manifest: dict
    ledger: run_state.Ledger
    start: run_state.ResumePoint
    notes: list                  # what was wrong with the stored state, and what was done
    plan: compute.ComputePlan
    compiled: Compiled = None
    epochs_done: int = 0


def train(recipe, out_dir, *, overrides=(), resume=False, data_dir=None, verbose="auto",
          callbacks=()) -> RunResult:
    """Train ``recipe`` (a name, a path or a :class:`Recipe`) into ``out_dir``.

    ``overrides`` are ``key=value`` strings applied after the recipe file.
    With ``resume=True`` the recipe is the one stored in ``out_dir`` (``recipe``,
    if given, must name it). ``callbacks`` are extra Keras callbacks (the tuner adds its own).
    """
    cluster = clusters.from_env(keras.backend.backend())
    if cluster is not None:  # before any TensorFlow op: the strategy must come first
        out_dir = clusters.worker_folder(clusters.connect(cluster), out_dir, resume)
    run_dir = runs.prepare_folder(out_dir, resume)
    with contextlib.ExitStack() as held:
        if resume:
            held.enter_context(run_state.run_lock(run_dir))
        run = _prepare(recipe, run_dir, overrides, resume, data_dir, cluster)
        with run.plan.scope(cluster) as replicas:
            # Built before anything is written: a bad model argument leaves no folder behind.
            run.compiled = _build(run, run.plan)
            run.manifest.update(compute={**run.plan.record(), "replicas": replicas},
                                cluster=cluster.record() if cluster else None)
            if not resume:
                runs.make_folder(run_dir)
                held.enter_context(run_state.run_lock(run_dir))
                runs.prepare_folder(run_dir, False)  # again, now that no other start can race us
                runs.clear_failed_start(run_dir)
            _write_start(run)
            status, message, nan, throughput = _fit(run, verbose, callbacks, cluster)
        return _finish(run, status, message, nan, throughput)


def _build(run: _Run, plan) -> Compiled:
    train_ds = run.splits["train"]
    return build_and_compile(run.recipe, run.contract["input_shape"], train_ds.num_classes,
                             math.ceil(len(train_ds) / run.recipe.batch_size), plan)


def _prepare(recipe, run_dir, overrides, resume, data_dir, cluster=None) -> _Run:
    """Read and check the recipe, the stored state and the data; write nothing."""
    notes = []
    if resume:
        ledger, recipe = run_state.resumed_recipe(run_dir, recipe, overrides)
        start = run_state.resume_point(ledger)
        try:
            manifest = runs.read_json(run_dir / "manifest.json")
            manifest["status"]
        except (OSError, runs.RunError, TypeError, KeyError) as error:
            manifest = _new_manifest(recipe)
            what = "missing" if isinstance(error, OSError) else "damaged"
            notes.append(f"manifest.json is {what}: rewritten (the first start's time and command "
                         "are lost)")
        if ledger.problem("preprocessing.json"):
            notes.append(f"preprocessing.json is {ledger.problem('preprocessing.json')}: "
                         "rewritten from the recipe")
        # A damaged history.csv is named now, not after training.
        have = {row["epoch"] for row in runs.read_history(run_dir)}
        gap = [str(e + 1) for e in range(start.epoch) if e not in have]
        if gap:
            notes.append(f"history.csv has no row for epoch{'s' * (len(gap) > 1)} {', '.join(gap)}: "
                         "its curves will have a gap there")
    else:
        if not isinstance(recipe, Recipe):
            recipe = load_recipe(recipe, overrides=list(overrides))
        manifest = _new_manifest(recipe)
        ledger, start = run_state.Ledger(run_dir), run_state.ResumePoint(0, None)
    if start.message:
        notes.insert(0, start.message)
    plan = compute.plan_for(recipe, cluster=cluster)  # a distribute: true it cannot run fails here
    compute.seed(recipe.seed)
    splits, contract = load_data(recipe, data_dir)
    manifest.update(status="running", started=runs.now(), examples={k: len(v) for k, v in splits.items()})
    manifest.update(input=input_record(splits))
    return _Run(run_dir, recipe, resume, splits, contract, manifest, ledger, start, notes, plan)


def _new_manifest(recipe):
    return {"recipe": recipe.name, "created": runs.now(), "seed": recipe.seed,
            "backend": keras.backend.backend(), "versions": runs.versions(),
            "git_commit": runs.git_commit(), "command": sys.argv}


def _write_start(run: _Run) -> None:
    """The recipe, the preprocessing contract and a "running" manifest; on resume, the
    history cut back to the epoch the run resumes from."""
    run_dir = run.run_dir
    if not run.resume:
        runs.write_text(run_dir / "config.yaml", run.recipe.to_yaml())
        run.ledger.record(run_dir / "config.yaml")
    if not run.resume or run.ledger.problem("preprocessing.json"):
        runs.write_json(run_dir / "preprocessing.json", run.contract)  # derived: rewritten if damaged
        run.ledger.record(run_dir / "preprocessing.json")
    if run.resume:
        runs.truncate_history(run_dir, run.start.epoch)
    skipped = skipped_rows(run.splits)
    if skipped:
        runs.write_json(run_dir / "skipped.json", skipped)
    runs.write_json(run_dir / "manifest.json", run.manifest)


def _fit(run: _Run, verbose, callbacks, cluster=None):
    recipe, model, start = run.recipe, run.compiled.fit_model, run.start
    if start.weights is not None:
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(start.weights)
    run.epochs_done = start.epoch
    standard, nan, throughput = _callbacks(recipe, run.run_dir, len(run.splits["train"]), run.resume,
                                           run.ledger)
    if start.fit_done:  # killed after fit: only the final files are left to write
        return "finished", "", nan, throughput
    fit_data, val_data = fit_inputs(recipe, run.splits, model, seed=recipe.seed, skip_epochs=start.epoch,
                                    cluster=cluster)
    if cluster is not None and cluster.strategy is not None:
        # As fit_inputs does for the fitted model: the saved one is evaluated after fit, outside the strategy.
        keras_private.defer_symbolic_build(run.compiled.model)
    status, message = "finished", ""
    try:
        # The pipeline shuffles (seeded) itself.
        history = model.fit(fit_data, validation_data=val_data, epochs=recipe.epochs,
                            initial_epoch=start.epoch, callbacks=[*standard, *callbacks],
                            shuffle=False, verbose=verbose)
    except KeyboardInterrupt:
        status = "interrupted"
        message = f"interrupted; continue with: zoo train --resume --out {run.run_dir}"
    except BaseException as error:
        run.manifest.update(status="failed", finished=runs.now(),
                            message=f"{type(error).__name__}: {error}")
        try:
            runs.write_json(run.run_dir / "manifest.json", run.manifest)
        except DiskFullError:
            pass  # a full disk stopped fit: that error is the one to tell; the resume state is intact
        raise
    else:
        run.epochs_done = max(history.epoch, default=start.epoch - 1) + 1
        if not nan.stopped_at:
            # The weights fit ended with (EarlyStopping may have restored the best), as
            # state: a kill while the final files are written resumes here, not at epoch 1.
            path = run.run_dir / run_state.FIT_WEIGHTS
            path.parent.mkdir(parents=True, exist_ok=True)
            save_weights_atomically(model, path)
            run.ledger.data["fit"] = {"epochs": run.epochs_done}
            run.ledger.record(path)
            run_state.fault_point("fit_end")
    return status, message, nan, throughput


def _finish(run: _Run, status, message, nan, throughput) -> RunResult:
    """Evaluate, write the final files (each atomically), then mark the run finished."""
    run_dir, recipe = run.run_dir, run.recipe
    good = []
    if nan.stopped_at:
        status = "nan"
        good = checkpoints(run_dir / "checkpoints")
        epoch, batch = nan.stopped_at
        where = f"epoch {epoch}" + (f", batch {batch}" if batch else "")
        if good:
            run.compiled.fit_model.load_weights(good[-1][1])
            message = (f"loss became NaN at {where}; stopped and kept the "
                       f"last good checkpoint (epoch {good[-1][0]}): {good[-1][1]}")
        else:
            message = f"loss became NaN at {where}, before any epoch finished"
    message = "; ".join([*run.notes, message] if message else run.notes)
    history = runs.read_history(run_dir)
    runs.write_json(run_dir / "history.json", history)
    if history:
        runs.plot_curves(history, run_dir / "curves.png")
    metrics = {}
    if status != "interrupted" and (status != "nan" or good):
        test_ds = run.splits["test"]
        model = compute.float32_twin(run.compiled.model, lambda: _build(run, run.plan.in_float32()).model)
        metrics = evaluate_model(model, test_ds, recipe.preprocessing, recipe.batch_size,
                                 family=registry.get_family(recipe.model.name))
        runs.write_json(run_dir / "metrics.json", {"split": "test", "examples": len(test_ds), **metrics})
        with run_state.atomic_path(run_dir / "model.keras", suffix=".keras", fault="final_save") as tmp:
            model.save(tmp)  # Keras builds its weights part in memory: a full disk fails zipfile, not h5py
        save_weights_atomically(model, run_dir / "model.weights.h5")
    run.manifest.update(status=status, finished=runs.now(), epochs=max(len(history), run.epochs_done),
                        message=message,
                        train_images_per_second=round(throughput.images_per_second, 1)
                        if throughput.epoch_seconds else None)
    runs.write_json(run_dir / "manifest.json", run.manifest)
    if status == "finished":  # the resume state is no longer needed
        shutil.rmtree(run_dir / "backup", ignore_errors=True)
        run.ledger.data.update(fit=None, finished=True)
        run.ledger.forget(*(run_dir / rel for rel in list(run.ledger.data["files"])
                            if rel.startswith("backup/")))
    return RunResult(run_dir, status, run.manifest["epochs"], metrics, throughput.images_per_second,
                     message)
