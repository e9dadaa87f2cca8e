"""The HyperModel: a trial's values -> the trial's recipe -> a compiled model -> ``fit``.

A trial is a recipe: :meth:`cnn_zoo.tune.space.SearchSpace.recipe_for` applies
the trial's values to the base recipe, and the model is built and compiled
exactly as ``zoo train`` does (:func:`cnn_zoo.train.build_and_compile`), under the
same :class:`~cnn_zoo.compute.ComputePlan` (number format, XLA, steps per
execution: what ``zoo train`` of that recipe resolves on this machine). Before
anything is built the shapes are planned; an impossible one raises
:class:`InfeasibleTrial` with the arithmetic's reason, so no layer, graph or
epoch is spent on it, and the search goes on (in Keras Tuner a convolution
or pool that does not fit its input crashes the search: keras-tuner
issues 1011, 296).
"""

from __future__ import annotations

import math

import keras
import keras_tuner

from cnn_zoo import compute
from cnn_zoo.callbacks import StopOnNaN
from cnn_zoo.fit_data import fit_inputs
from cnn_zoo.layers.arithmetic import ShapeError
from cnn_zoo.train import build_and_compile, recipe_callbacks
from cnn_zoo.tune.space import SearchSpace


class InfeasibleTrial(keras_tuner.errors.FailedTrialError):
    """The trial's values give a shape that cannot exist; ``reason`` says which and why."""

    def __init__(self, reason):
        self.reason = reason
        super().__init__(reason)


class ObjectiveAlias(keras.callbacks.Callback):
    """A model with auxiliary outputs logs ``val_<main output>_accuracy``: also log it as
    ``val_accuracy``, so one objective names the main classifier of every model."""

    def __init__(self, output: str):
        super().__init__()
        self.prefix = f"{output}_"

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for key in list(logs):
            if key.startswith((self.prefix, f"val_{self.prefix}")):
                logs.setdefault(key.replace(self.prefix, "", 1), logs[key])


class ZooHyperModel(keras_tuner.HyperModel):
    """Builds and fits the trials of ``space`` on ``splits`` (cnn_zoo.train.load_data)."""

    def __init__(self, space: SearchSpace, splits, contract):
        super().__init__(name="zoo")
        self.space = space
        self.splits = splits
        self.contract = contract

    def declare_hyperparameters(self, hp):
        for param in self.space.params:
            param.declare(hp)

    def recipe(self, hp):
        """The trial's recipe; :class:`InfeasibleTrial` if its shapes cannot exist."""
        values = self.space.decode(hp.values)
        ok, reason = self.space.check(values)
        if not ok:
            raise InfeasibleTrial(reason)
        return self.space.recipe_for(values, source="the trial's values")

    def plan(self, recipe) -> compute.ComputePlan:
        """The trial's compute plan: resolved from its recipe and this machine, as ``zoo train`` does."""
        return compute.plan_for(recipe)

    def steps_per_epoch(self, recipe) -> int:
        return math.ceil(len(self.splits["train"]) / recipe.batch_size)

    def build(self, hp):
        recipe = self.recipe(hp)
        planner = self.space.family.planner
        try:
            return build_and_compile(recipe, self.contract["input_shape"], self.splits["train"].num_classes,
                                     self.steps_per_epoch(recipe), self.plan(recipe)).fit_model
        except (planner.rejects if planner else ShapeError) as e:  # shapes the plan does not cover
            raise InfeasibleTrial(str(e)) from None

    def fit(self, hp, model, *, callbacks=(), epochs=None, initial_epoch=0, seed=0, verbose=0):
        recipe = self.recipe(hp)
        fit_data, val_data = fit_inputs(recipe, self.splits, model, seed=seed)
        # The alias first, so that early stopping and the tuner's callbacks see it.
        own = [ObjectiveAlias(self.space.family.output), StopOnNaN(), *recipe_callbacks(recipe)]
        return model.fit(fit_data, validation_data=val_data, epochs=epochs or recipe.epochs,
                         initial_epoch=initial_epoch, callbacks=[*own, *callbacks], shuffle=False,
                         verbose=verbose)
