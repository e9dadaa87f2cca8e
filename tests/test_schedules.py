"""cnn_zoo.schedules.RecipeSchedule: the learning-rate schedule training runs, against a NumPy reference."""

import math

import keras
import numpy as np
import pytest

from cnn_zoo.recipe import load_recipe
from cnn_zoo.schedules import RecipeSchedule


def reference(step, base, spe, total, name, warmup=0.0, alpha=0.0, decay_epochs=10.0, decay_rate=0.1):
    """The textbook formulas at epoch t = (step + 1) / steps_per_epoch."""
    t = (step + 1) / spe
    if t < warmup:
        return base * t / warmup
    after = t - warmup
    if name == "cosine":
        return base * (alpha + (1 - alpha) * 0.5 * (1 + math.cos(math.pi * min(after / (total - warmup), 1))))
    if name == "step":
        return base * decay_rate ** math.floor(after / decay_epochs)
    if name == "exponential":
        return base * decay_rate ** (after / decay_epochs)
    return base


@pytest.mark.parametrize("name,kw", [("constant", {}), ("cosine", {"alpha": 0.1}), ("cosine", {"warmup": 2.0}),
                                     ("step", {"decay_epochs": 3.0, "decay_rate": 0.5}),
                                     ("exponential", {"decay_epochs": 4.0, "decay_rate": 0.25, "warmup": 1.0})])
def test_every_step_matches_the_reference(name, kw):
    spe, total = 7, 12
    schedule = RecipeSchedule(0.05, spe, total, name, kw.get("warmup", 0.0), kw.get("alpha", 0.0),
                              kw.get("decay_epochs", 10.0), kw.get("decay_rate", 0.1))
    steps = range(spe * total + 5)  # past the end: cosine stays at its floor
    got = np.array([float(schedule(step)) for step in steps])
    want = np.array([reference(step, 0.05, spe, total, name, **kw) for step in steps])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)


def test_from_recipe_reads_the_recipe_and_serializes():
    recipe = load_recipe("lenet5_modern-mnist")
    schedule = RecipeSchedule.from_recipe(recipe, steps_per_epoch=5)
    assert schedule.name == recipe.schedule.name and schedule.base_lr == recipe.optimizer.learning_rate
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(again, RecipeSchedule) and again.get_config() == schedule.get_config()
    # ScheduleConfig.learning_rate is this schedule read per epoch, not a second definition
    for epoch in (0.5, 1, 3, recipe.epochs):
        assert recipe.schedule.learning_rate(1.0, epoch, recipe.epochs) == pytest.approx(
            float(RecipeSchedule(1.0, 1, recipe.epochs, recipe.schedule.name, recipe.schedule.warmup_epochs,
                                 recipe.schedule.alpha, recipe.schedule.decay_epochs,
                                 recipe.schedule.decay_rate)(epoch - 1)))


def test_the_optimizer_follows_the_schedule_while_training():
    schedule = RecipeSchedule(0.1, 2, 4, "step", decay_epochs=1.0, decay_rate=0.5)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 1)), batch_size=2, epochs=1, verbose=0)  # 2 steps
    assert float(model.optimizer.learning_rate) == pytest.approx(reference(2, 0.1, 2, 4, "step", decay_epochs=1.0,
                                                                           decay_rate=0.5))


def test_piecewise_in_steps_is_caffes_multistep():
    """He et al. 2015: 0.1, ×0.1 at 32k and 48k iterations; step k (from 0) past b when k >= b."""
    schedule = RecipeSchedule(0.1, 352, 182, "piecewise", decay_rate=0.1, boundaries=[32000, 48000],
                              boundaries_unit="steps")
    rates = {k: float(schedule(k)) for k in (0, 31999, 32000, 47999, 48000, 64063)}
    assert rates == pytest.approx({0: 0.1, 31999: 0.1, 32000: 0.01, 47999: 0.01, 48000: 0.001,
                                   64063: 0.001})
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert again.get_config() == schedule.get_config() and again.boundaries == (32000.0, 48000.0)


def test_piecewise_in_epochs_and_from_a_recipe():
    schedule = RecipeSchedule(1.0, 4, 10, "piecewise", decay_rate=0.5, boundaries=[2, 5])
    # epoch t = (k + 1)/4: the rate halves once t reaches 2, again at 5
    got = [float(schedule(k)) for k in range(24)]
    assert got == pytest.approx([1.0] * 7 + [0.5] * 12 + [0.25] * 5)
    recipe = load_recipe("resnet20-cifar10")
    assert recipe.schedule.boundaries == [32000, 48000] and recipe.schedule.boundaries_unit == "steps"
    assert recipe.schedule.learning_rate(0.1, 100, recipe.epochs, steps_per_epoch=352) == pytest.approx(0.01)
    assert recipe.schedule.learning_rate(0.1, 90, recipe.epochs, steps_per_epoch=352) == pytest.approx(0.1)
    from cnn_zoo.recipe import Recipe

    assert Recipe.from_dict(recipe.to_dict()) == recipe
    # Recipes without boundaries (stored in run folders and manifests before) read back unchanged.
    other = load_recipe("lenet5-mnist")
    assert "boundaries" not in other.to_dict()["schedule"] and Recipe.from_dict(other.to_dict()) == other


@pytest.mark.parametrize("schedule, fragment", [
    ({"name": "piecewise"}, "must be given with name: piecewise"),
    ({"name": "step", "boundaries": [3]}, "must be given with name: piecewise"),
    ({"name": "piecewise", "boundaries": [5, 3]}, "increasing positive"),
])
def test_piecewise_boundaries_are_checked(schedule, fragment):
    from cnn_zoo.recipe import Recipe, RecipeError

    with pytest.raises(RecipeError, match=fragment):
        Recipe.from_dict({"name": "x", "version": 1, "dataset": {"source": "mnist"},
                          "model": {"name": "lenet5"}, "schedule": schedule})
