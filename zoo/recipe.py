"""Recipes: everything a training run needs, as plain frozen dataclasses.

A recipe is one YAML file (recipes/*.yaml, shipped with the package, or any
path). Values resolve in TF Model Garden's order:

    defaults (the dataclass defaults below) -> recipe file -> --set key=value

`--set` keys are dotted (optimizer.learning_rate) and values are YAML, so
"0.01" and "1e-3" are floats, "true" a bool and "[1, 2]" a list. A mapping set on a
section (--set 'optimizer={name: sgd}') merges into it; anything else
replaces. An unknown key, a wrong type or a bad value is a RecipeError that
names the file (or the --set), the key path and what is allowed.

Reading a recipe imports neither Keras nor TensorFlow.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Union

import yaml

from cnn_zoo.data.sources import DataError, load_splits, parse_spec
from cnn_zoo.errors import closest
from cnn_zoo.keras_private import NO_DEFAULT, optimizer_arguments
from cnn_zoo.layers.arguments import is_number
from cnn_zoo.recipe_schema import RecipeError, apply_overrides, build, load_yaml, parse_override, plain

__all__ = ["Recipe", "RecipeError", "load_recipe", "list_recipes", "parse_override"]

RECIPE_VERSION = 1
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "nadam", "adamax", "adagrad", "adadelta",
              "lion", "ftrl")


# --------------------------------------------------------------------------- schema

@dataclass(frozen=True, kw_only=True)
class DatasetConfig:
    source: str  # cnn_zoo.data spec: mnist, tfds:NAME, idx:DIR, npz:PATH, folder:DIR, embedded:mnist5k
    validation_fraction: float = 0.1  # taken from train, seeded by the recipe's seed
    stratify: bool = True
    max_examples: Optional[int] = None  # cap on every split (quick runs)
    class_names: Optional[list[str]] = None
    image_size: Optional[list[int]] = None  # folder sources: resize on load
    color_mode: Literal["auto", "grayscale", "rgb"] = "auto"  # folder sources
    stream: Literal["auto", True, False] = "auto"  # folder: and tfds: sources read while training (cnn_zoo.data.stream)

    def _problems(self):
        try:
            parse_spec(self.source)
        except DataError as e:
            yield "source", f"is invalid: {e}"
        if not 0 <= self.validation_fraction < 1:
            yield "validation_fraction", "must lie in [0, 1)"
        if self.max_examples is not None and self.max_examples < 1:
            yield "max_examples", "must be a positive integer or null"
        if self.image_size is not None and (len(self.image_size) != 2 or min(self.image_size) < 1):
            yield "image_size", "must be [height, width] with positive integers"

    def load(self, seed: int = 0, data_dir=None):
        """{"train", "validation" (if any), "test"} -> cnn_zoo.data.Dataset."""
        return load_splits(self.source, validation_fraction=self.validation_fraction, seed=seed,
                           stratify=self.stratify, max_examples=self.max_examples,
                           data_dir=data_dir, class_names=self.class_names,
                           image_size=self.image_size, color_mode=self.color_mode,
                           stream=self.stream)


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    name: str  # a registered builder: lenet5, lenet5_modern, googlenet, googlenet_bn, convnet
    kwargs: dict = field(default_factory=dict)  # passed through to the builder

    def _problems(self):
        if not self.name.strip():
            yield "name", "must name a model builder"


@dataclass(frozen=True, kw_only=True)
class OptimizerConfig:
    name: Literal[OPTIMIZERS] = "adam"  # Keras' own names
    learning_rate: float = 1e-3
    kwargs: dict = field(default_factory=dict)  # momentum, nesterov, weight_decay, ...

    def _problems(self):
        if not self.learning_rate > 0:
            yield "learning_rate", "must be positive"
        yield from _optimizer_kwargs_problems(self.name, self.kwargs)


def _optimizer_kwargs_problems(name: str, kwargs: dict):
    """The optimizer.kwargs that Keras' optimizer ``name`` would refuse (an unknown argument,
    a number or a flag of the wrong type), found without importing Keras."""
    if "learning_rate" in kwargs:
        yield "kwargs.learning_rate", "is set by optimizer.learning_rate (and the schedule): move it there"
    # Keras ignores `decay` with a warning: a recipe's setting would have no effect.
    known = {k: v for k, v in (optimizer_arguments(name) or {}).items() if k not in ("learning_rate", "decay")}
    if not known:
        return  # an unknown layout of Keras: the optimizer answers when it is built
    for key, value in kwargs.items():
        if key not in known:
            hint = closest(key, known, n=1)
            yield f"kwargs.{key}", (f"is not an argument of Keras' {name} optimizer"
                                    f"{f' (did you mean {hint[0]}?)' if hint else ''}; it takes: "
                                    f"{', '.join(sorted(known))}")
            continue
        default = known[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            yield f"kwargs.{key}", f"must be true or false; Received: {key}={value!r}"
        elif default is not NO_DEFAULT and is_number(default) and not is_number(value):
            yield f"kwargs.{key}", f"must be a number; Received: {key}={value!r}"


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    """Learning rate per epoch: optional linear warmup, then name's decay.

    constant: lr. cosine: from lr down to alpha*lr at the last epoch.
    step: lr * decay_rate ** floor(t / decay_epochs). exponential: lr *
    decay_rate ** (t / decay_epochs) (Keras' ExponentialDecay, staircase or not),
    t = epochs since warmup ended. piecewise: lr * decay_rate ** (boundaries
    passed), the boundaries counted in ``boundaries_unit``: epochs, or steps
    (iterations, as papers such as He et al. 2015 state them: [32000, 48000]).
    """

    name: Literal["constant", "cosine", "step", "exponential", "piecewise"] = "constant"
    warmup_epochs: float = 0.0
    alpha: float = 0.0  # cosine: final learning rate as a fraction of the initial one
    decay_epochs: float = 10.0  # step, exponential
    decay_rate: float = 0.1  # step, exponential, piecewise
    boundaries: Optional[list[float]] = None  # piecewise: increasing, > 0
    boundaries_unit: Literal["epochs", "steps"] = "epochs"  # piecewise

    def _problems(self):
        if self.warmup_epochs < 0:
            yield "warmup_epochs", "must be >= 0"
        if not 0 <= self.alpha <= 1:
            yield "alpha", "must lie in [0, 1]"
        if not self.decay_epochs > 0:
            yield "decay_epochs", "must be positive"
        if not 0 < self.decay_rate <= 1:
            yield "decay_rate", "must lie in (0, 1]"
        if (self.name == "piecewise") != (self.boundaries is not None):
            yield ("boundaries", "must be given with name: piecewise, and only then, e.g. "
                   "boundaries: [32000, 48000] with boundaries_unit: steps")
        elif self.boundaries is not None and (not self.boundaries or min(self.boundaries) <= 0 or any(
                a >= b for a, b in zip(self.boundaries, self.boundaries[1:]))):
            yield "boundaries", f"must be increasing positive numbers; Received: {self.boundaries}"

    def learning_rate(self, base_lr: float, epoch: float, total_epochs: int,
                      steps_per_epoch: int = 1) -> float:
        """The rate at (fractional) epoch t, counting from 0, as training computes it: the one
        definition is :class:`cnn_zoo.schedules.RecipeSchedule` (this imports Keras).
        ``steps_per_epoch`` places boundaries given in steps."""
        from cnn_zoo.schedules import RecipeSchedule  # Keras: a recipe is read without it

        schedule = RecipeSchedule(base_lr, steps_per_epoch, total_epochs, self.name, self.warmup_epochs,
                                  self.alpha, self.decay_epochs, self.decay_rate, self.boundaries or (),
                                  self.boundaries_unit)
        # step k is epoch (k + 1)/steps_per_epoch
        return float(schedule(epoch * steps_per_epoch - 1))


@dataclass(frozen=True, kw_only=True)
class EarlyStoppingConfig:
    monitor: str = "val_loss"
    patience: int = 5
    min_delta: float = 0.0
    mode: Literal["auto", "min", "max"] = "auto"
    restore_best_weights: bool = True

    def _problems(self):
        if self.patience < 0:
            yield "patience", "must be >= 0"


@dataclass(frozen=True, kw_only=True)
class ReduceLROnPlateauConfig:
    monitor: str = "val_loss"
    factor: float = 0.1
    patience: int = 3
    min_lr: float = 0.0

    def _problems(self):
        if not 0 < self.factor < 1:
            yield "factor", "must lie in (0, 1)"
        if self.patience < 0:
            yield "patience", "must be >= 0"


@dataclass(frozen=True, kw_only=True)
class CallbacksConfig:
    early_stopping: Optional[EarlyStoppingConfig] = None  # null: off
    reduce_lr_on_plateau: Optional[ReduceLROnPlateauConfig] = None  # null: off


TUNERS = ("random", "grid", "bayesian", "hyperband")


@dataclass(frozen=True, kw_only=True)
class TuningConfig:
    """How `zoo tune` searches the recipe's search_space (cnn_zoo.tune checks the space itself)."""

    tuner: Literal[TUNERS] = "random"
    objective: str = "val_accuracy"  # a metric logged by model.fit
    direction: Literal["auto", "min", "max"] = "auto"  # auto: min for *loss*/*error*, else max
    max_trials: int = 20  # trials that train; infeasible samples are rejected without counting
    executions_per_trial: int = 1  # models trained per trial (averaged), to tame seed noise
    keep_checkpoints: int = 3  # best trials whose weights stay on disk
    max_consecutive_failed_trials: int = 3  # real failures only; infeasible shapes never count
    hyperband_factor: int = 3  # hyperband: keep 1/factor of the trials per round
    seed: Optional[int] = None  # sampling seed; null: the recipe's seed
    # bayesian: random trials before the Gaussian process takes over; null: Keras Tuner's
    # 3 per hyperparameter (27 for 9), more than a short search on a CPU ever runs.
    initial_points: Optional[int] = None
    # convnet: a trial whose conv and hidden FC layers need more multiply-adds per image
    # is rejected before building, like a shape that cannot exist; null: no budget.
    max_multiply_adds: Optional[int] = None

    def _problems(self):
        if not self.objective.strip():
            yield "objective", "must name a metric, e.g. val_accuracy"
        for key in ("max_trials", "executions_per_trial", "max_consecutive_failed_trials"):
            if getattr(self, key) < 1:
                yield key, "must be a positive integer"
        if self.keep_checkpoints < 0:
            yield "keep_checkpoints", "must be >= 0"
        if self.hyperband_factor < 2:
            yield "hyperband_factor", "must be >= 2"
        if self.seed is not None and self.seed < 0:
            yield "seed", "must be >= 0"
        if self.initial_points is not None and self.initial_points < 1:
            yield "initial_points", "must be a positive integer or null"
        if self.max_multiply_adds is not None and self.max_multiply_adds < 1:
            yield "max_multiply_adds", "must be a positive integer or null"


@dataclass(frozen=True, kw_only=True)
class Recipe:
    name: str
    description: str = ""
    version: int
    dataset: DatasetConfig
    preprocessing: tuple = field(default=(), metadata={"convert": "steps"})
    model: ModelConfig
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0
    # How it computes: resolved for the backend and the machine by cnn_zoo.compute.plan_for.
    mixed_precision: Literal["auto", "none", "bfloat16", "float16"] = "none"
    jit_compile: Union[bool, Literal["auto"]] = "auto"
    distribute: bool = False
    steps_per_execution: int = 1
    fused_batch_norm: Union[bool, Literal["auto"]] = "auto"  # auto: on TensorFlow (cnn_zoo.fused_batch_norm)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    search_space: dict = field(default_factory=dict)  # checked by the tuning code (cnn_zoo.tune.space)
    tuning: TuningConfig = field(default_factory=TuningConfig)

    def _problems(self):
        if self.version != RECIPE_VERSION:
            yield "version", f"must be {RECIPE_VERSION} (the recipe format this zoo reads)"
        for key in ("epochs", "batch_size", "steps_per_execution"):
            if getattr(self, key) < 1:
                yield key, "must be a positive integer"
        if self.seed < 0:
            yield "seed", "must be >= 0"

    def _cross_problems(self):
        """Rules between sections, checked once every --set is applied."""
        if self.schedule.warmup_epochs and self.schedule.warmup_epochs >= self.epochs:
            yield "schedule.warmup_epochs", f"must be smaller than epochs ({self.epochs})"
        if self.callbacks.reduce_lr_on_plateau and self.schedule.name != "constant":
            yield ("callbacks.reduce_lr_on_plateau",
                   "needs schedule.name: constant (a schedule already sets the learning rate)")
        for key in ("early_stopping", "reduce_lr_on_plateau"):
            cb = getattr(self.callbacks, key)
            if cb and cb.monitor.startswith("val_") and not self.dataset.validation_fraction:
                yield (f"callbacks.{key}.monitor",
                       f"{cb.monitor!r} needs a validation split: dataset.validation_fraction > 0")

    def to_dict(self) -> dict:
        """Plain dict (lists, dicts, scalars) of every resolved value. A schedule without
        ``boundaries`` leaves out the piecewise keys, so that a recipe reads back as it was
        written before they existed (the recipes stored in run folders and manifests)."""
        data = plain(dataclasses.asdict(self))
        if data["schedule"]["boundaries"] is None:
            for key in ("boundaries", "boundaries_unit"):
                del data["schedule"][key]
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping, source: str = "<dict>") -> "Recipe":
        return build(cls, data, source)

    def with_overrides(self, overrides) -> "Recipe":
        """This recipe with --set style overrides ("optimizer.learning_rate=0.01") applied in
        order, each checked as :func:`load_recipe` checks them."""
        overrides = [overrides] if isinstance(overrides, str) else list(overrides)
        return apply_overrides(type(self), self.to_dict(), overrides, f"recipe {self.name!r}")


# --------------------------------------------------------------------------- files

def _shipped():
    return importlib.resources.files("cnn_zoo.recipes")


def _resolve(name_or_path) -> tuple[Path | Any, str, str]:
    """-> (file, label for messages, default recipe name)."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text:
        path = Path(text).expanduser()
        try:
            found = path.is_file()
        except OSError as e:  # a folder on the way that this user may not enter
            raise RecipeError(f"{text}: cannot read the recipe file ({e.strerror or e})") from None
        if not found:
            raise RecipeError(f"{text}: recipe file not found"
                              + (" (it is a folder)" if path.is_dir() else ""))
        return path, text, path.stem
    ref = _shipped() / f"{text}.yaml"
    if not ref.is_file():
        names = ", ".join(n for n, _ in list_recipes())
        raise RecipeError(f"unknown recipe {text!r}; shipped recipes: {names} "
                          "(or give the path of a .yaml file)")
    return ref, f"recipes/{text}.yaml", text


def _read(file, label: str) -> dict:
    try:
        data = load_yaml(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise RecipeError(f"{label}: not valid YAML: {' '.join(str(e).split())} (a text value "
                          "that starts with [, {, * or & needs quotes, e.g. spec: \"[(CONV-RELU)*2]-SOFTMAX\")") \
            from None
    except UnicodeDecodeError as e:
        raise RecipeError(f"{label}: not a text (UTF-8) recipe file ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise RecipeError(f"{label}: cannot read the recipe file ({e.strerror or e}); check that it "
                          "is a readable file") from None
    if not isinstance(data, Mapping):
        raise RecipeError(f"{label}: a recipe file holds a mapping of keys "
                          f"({', '.join(f.name for f in dataclasses.fields(Recipe))}); "
                          f"Received: {type(data).__name__}")
    return dict(data)


def load_recipe(name_or_path, overrides=()) -> Recipe:
    """A shipped recipe by name ("lenet5-mnist") or a YAML file by path, with
    --set style overrides ("optimizer.learning_rate=0.01") applied in order."""
    if isinstance(overrides, str):
        overrides = [overrides]
    file, label, stem = _resolve(name_or_path)
    raw = _read(file, label)
    raw.setdefault("name", stem)
    return apply_overrides(Recipe, raw, list(overrides), label)


def list_recipes() -> list[tuple[str, str]]:
    """(name, one-line description) of every shipped recipe, sorted by name."""
    out = []
    for ref in sorted(_shipped().iterdir(), key=lambda r: r.name):
        if ref.name.endswith(".yaml"):
            try:
                desc = str(load_yaml(ref.read_text(encoding="utf-8")).get("description", ""))
            except (yaml.YAMLError, AttributeError, OSError, UnicodeDecodeError):
                desc = "(unreadable recipe file)"
            out.append((ref.name[: -len(".yaml")], (desc.strip().splitlines() or [""])[0]))
    return out
