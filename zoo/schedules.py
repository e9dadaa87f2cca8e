"""The recipe's learning-rate schedule as a Keras schedule, evaluated per step.

The one definition of the schedules a recipe names (``ScheduleConfig``:
constant, cosine, step, exponential, piecewise, with optional linear warmup), in
``keras.ops`` from the optimizer's step counter, so it runs inside the compiled
train step, is saved with the optimizer and resumes exactly where a run stopped.
``ScheduleConfig.learning_rate`` reads it per epoch.
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cnn_zoo")
class RecipeSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, base_lr, steps_per_epoch, total_epochs, name="constant", warmup_epochs=0.0,
                 alpha=0.0, decay_epochs=10.0, decay_rate=0.1, boundaries=(), boundaries_unit="epochs"):
        self.base_lr = float(base_lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.total_epochs = int(total_epochs)
        self.name = name
        self.warmup_epochs = float(warmup_epochs)
        self.alpha = float(alpha)
        self.decay_epochs = float(decay_epochs)
        self.decay_rate = float(decay_rate)
        self.boundaries = tuple(float(b) for b in boundaries or ())
        self.boundaries_unit = boundaries_unit

    @classmethod
    def from_recipe(cls, recipe, steps_per_epoch):
        s = recipe.schedule
        return cls(recipe.optimizer.learning_rate, steps_per_epoch, recipe.epochs, s.name,
                   s.warmup_epochs, s.alpha, s.decay_epochs, s.decay_rate, s.boundaries or (),
                   s.boundaries_unit)

    def __call__(self, step):
        # The rate for step k is the recipe's rate at epoch t = (k + 1) / steps_per_epoch.
        t = ops.cast(step + 1, "float32") / self.steps_per_epoch
        lr = self.base_lr
        after = t - self.warmup_epochs
        if self.name == "cosine":
            span = max(self.total_epochs - self.warmup_epochs, 1e-12)
            cos = 0.5 * (1 + ops.cos(math.pi * ops.minimum(after / span, 1.0)))
            decayed = lr * (self.alpha + (1 - self.alpha) * cos)
        elif self.name == "step":
            decayed = lr * ops.power(self.decay_rate, ops.floor(after / self.decay_epochs))
        elif self.name == "piecewise":
            # ×decay_rate at each boundary passed: in steps, step k (from 0) is past b when k >= b
            # (Caffe's multistep, torch's MultiStepLR stepped per iteration); in epochs, when t >= b.
            position = ops.cast(step, "float32") if self.boundaries_unit == "steps" else t
            passed = sum((ops.cast(position >= b, "float32") for b in self.boundaries),
                         ops.convert_to_tensor(0.0, "float32"))
            decayed = lr * ops.power(self.decay_rate, passed)
        elif self.name == "exponential":
            decayed = lr * ops.power(self.decay_rate, after / self.decay_epochs)
        else:
            decayed = ops.convert_to_tensor(lr, "float32")
        if self.warmup_epochs > 0:
            warm = lr * t / self.warmup_epochs
            return ops.where(t < self.warmup_epochs, warm, decayed)
        return decayed

    def get_config(self):
        return dict(base_lr=self.base_lr, steps_per_epoch=self.steps_per_epoch,
                    total_epochs=self.total_epochs, name=self.name, warmup_epochs=self.warmup_epochs,
                    alpha=self.alpha, decay_epochs=self.decay_epochs, decay_rate=self.decay_rate,
                    boundaries=list(self.boundaries), boundaries_unit=self.boundaries_unit)
