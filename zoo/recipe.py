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
import difflib
import importlib.resources
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Union

import yaml

from cnn_zoo import preprocess
from cnn_zoo.data.sources import DataError, parse_spec
from cnn_zoo.errors import ZooError

RECIPE_VERSION = 1
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "nadam", "adamax", "adagrad", "adadelta",
              "lion", "ftrl")
_DTYPE_POLICIES = {"none": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


class RecipeError(ZooError):
    """A recipe that cannot be used as written; the message says where and why."""


class _Loader(yaml.SafeLoader):
    """YAML 1.1 (PyYAML) with the numbers people write: ``1e-3``, ``1e6``, ``3E-4``.

    YAML 1.1 wants a dot in a float (``1.0e-3``) and reads ``1e-3`` as a string;
    YAML 1.2, JSON and Python read it as the number everyone means.
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"))


def _load_yaml(text: str):
    return yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)


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
        from cnn_zoo.data.sources import load_splits

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


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    """Learning rate per epoch: optional linear warmup, then name's decay.

    constant: lr. cosine: from lr down to alpha*lr at the last epoch.
    step: lr * decay_rate ** floor(t / decay_epochs). exponential: lr *
    decay_rate ** (t / decay_epochs) (Keras' ExponentialDecay, staircase or not),
    t = epochs since warmup ended.
    """

    name: Literal["constant", "cosine", "step", "exponential"] = "constant"
    warmup_epochs: float = 0.0
    alpha: float = 0.0  # cosine: final learning rate as a fraction of the initial one
    decay_epochs: float = 10.0  # step, exponential
    decay_rate: float = 0.1  # step, exponential

    def _problems(self):
        if self.warmup_epochs < 0:
            yield "warmup_epochs", "must be >= 0"
        if not 0 <= self.alpha <= 1:
            yield "alpha", "must lie in [0, 1]"
        if not self.decay_epochs > 0:
            yield "decay_epochs", "must be positive"
        if not 0 < self.decay_rate <= 1:
            yield "decay_rate", "must lie in (0, 1]"

    def learning_rate(self, base_lr: float, epoch: float, total_epochs: int) -> float:
        """The rate at (fractional) epoch t, counting from 0. A trainer calls it
        per step with t = (step + 1) / steps_per_epoch, or per epoch."""
        if epoch < self.warmup_epochs:
            return base_lr * epoch / self.warmup_epochs
        t = epoch - self.warmup_epochs
        if self.name == "cosine":
            span = max(total_epochs - self.warmup_epochs, 1e-12)
            cos = 0.5 * (1 + math.cos(math.pi * min(t / span, 1.0)))
            return base_lr * (self.alpha + (1 - self.alpha) * cos)
        if self.name == "step":
            return base_lr * self.decay_rate ** math.floor(t / self.decay_epochs)
        if self.name == "exponential":
            return base_lr * self.decay_rate ** (t / self.decay_epochs)
        return base_lr


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
    mixed_precision: Literal["none", "bfloat16", "float16"] = "none"
    jit_compile: Union[bool, Literal["auto"]] = "auto"
    distribute: bool = False
    steps_per_execution: int = 1
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

    @property
    def dtype_policy(self) -> str | None:
        """Keras dtype policy name for mixed_precision: None, mixed_bfloat16 or mixed_float16."""
        return _DTYPE_POLICIES[self.mixed_precision]

    def to_dict(self) -> dict:
        """Plain dict (lists, dicts, scalars) of every resolved value."""
        return _plain(dataclasses.asdict(self))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping, source: str = "<dict>") -> "Recipe":
        return _build(cls, data, "", source)


def _plain(v):
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


# --------------------------------------------------------------------------- validation

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _unwrap(tp):
    """Optional[X] -> X; anything else unchanged."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _describe(tp) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _describe(a) for a in args)
    if origin is Literal:
        return str(args[0]) if len(args) == 1 else "one of " + ", ".join(map(str, args))
    if origin is list:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            dict: "a mapping", tuple: "a list"}.get(tp, str(tp))


def _path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _err(source: str, path: str, msg: str) -> RecipeError:
    return RecipeError(f"{source}: {path} {msg}")


def _type_error(source, path, tp, value) -> RecipeError:
    return _err(source, path, f"must be {_describe(tp)}; Received: {path}={value!r}")


def _convert(tp, value, path: str, source: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise _type_error(source, path, tp, value)
        return _build(tp, value, path, source)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path, source)
            except RecipeError as e:
                # A mapping for a section reports the inner problem, not the union.
                if dataclasses.is_dataclass(arg) and isinstance(value, Mapping):
                    raise e
        raise _type_error(source, path, tp, value)
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):  # True is not 1
            return value
        raise _err(source, path, f"must be one of {', '.join(map(str, args))}; "
                                 f"Received: {path}={value!r}")
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif tp is str:
        ok = isinstance(value, str)
    elif tp is dict:
        ok = isinstance(value, Mapping) and all(isinstance(k, str) for k in value)
        value = dict(value) if ok else value
    elif origin is list:
        if not isinstance(value, (list, tuple)):
            raise _type_error(source, path, tp, value)
        return [_convert(args[0], v, f"{path}[{i}]", source) for i, v in enumerate(value)]
    else:
        ok = True
    if not ok:
        raise _type_error(source, path, tp, value)
    return value


def _unknown_key(source, path, key, allowed) -> RecipeError:
    guess = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {guess[0]}?" if guess else ";"
    return _err(source, _path(path, key),
                f"is not a recipe key{hint} allowed: {', '.join(allowed)}")


def _build(cls, data: Mapping, path: str, source: str, cross: bool = True):
    if not isinstance(data, Mapping):
        raise _err(source, path or "the recipe", f"must be a mapping; Received: {data!r}")
    hints, fs = _hints(cls), dataclasses.fields(cls)
    allowed = [f.name for f in fs]
    for key in data:
        if key not in allowed:
            raise _unknown_key(source, path, str(key), allowed)
    values = {}
    for f in fs:
        p = _path(path, f.name)
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _err(source, p, f"is required ({_describe(hints[f.name])})")
            continue
        if f.metadata.get("convert") == "steps":
            try:
                values[f.name] = tuple(preprocess.normalize_steps(data[f.name]))
            except preprocess.PreprocessError as e:
                raise _err(source, p, f"is invalid: {e}") from None
        else:
            values[f.name] = _convert(hints[f.name], data[f.name], p, source)
    obj = cls(**values)
    for key, msg in getattr(obj, "_problems", lambda: ())():
        raise _err(source, _path(path, key), msg)
    for key, msg in getattr(obj, "_cross_problems", lambda: ())() if cross else ():
        raise _err(source, _path(path, key), msg)
    return obj


# --------------------------------------------------------------------------- overrides

def parse_override(text: str) -> tuple[list[str], Any]:
    """'optimizer.learning_rate=0.01' -> (['optimizer', 'learning_rate'], 0.01)."""
    key, sep, raw = str(text).partition("=")
    key = key.strip()
    parts = key.split(".")
    if not sep or not key or not all(p.strip() for p in parts) or any(" " in p for p in parts):
        raise RecipeError(f"--set {text}: expected KEY=VALUE with a dotted key, e.g. "
                          "--set optimizer.learning_rate=0.01")
    try:
        value = _load_yaml(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        first = str(e).splitlines()[0]
        raise RecipeError(f"--set {text}: the value {raw!r} is not valid YAML ({first}); "
                          f"{_quote_hint(key, raw)}") from None
    return parts, value


def _quote_hint(key: str, raw: str) -> str:
    # The shell's quotes only keep the value in one piece; YAML then reads a value
    # that starts with [ or { as a list or mapping (a convnet spec is neither).
    text = f"quote it inside the shell's quotes: --set '{key}=\"{raw.strip()}\"'"
    if raw.lstrip().startswith(("[", "{")):
        return (f"YAML reads a value starting with {raw.lstrip()[0]} as a list or mapping: close it "
                f"(--set 'key=[1, 2]'), or, to give text such as a convnet spec, {text}")
    return f"to give it as text, {text}"


def _set(raw: dict, parts: list[str], value, source: str) -> None:
    cls, node = Recipe, raw
    for i, key in enumerate(parts):
        path = ".".join(parts[:i])
        if cls is not None:
            allowed = [f.name for f in dataclasses.fields(cls)]
            if key not in allowed:
                raise _unknown_key(source, path, key, allowed)
            tp = _unwrap(_hints(cls)[key])
        else:
            tp = None  # inside an opaque mapping (model.kwargs, search_space): any key
        if i == len(parts) - 1:
            old = node.get(key)
            if dataclasses.is_dataclass(tp) and isinstance(value, Mapping) and isinstance(old, Mapping):
                node[key] = _merge(old, value)
            else:
                node[key] = value
            return
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, Mapping):
            raise _err(source, _path(path, key), f"is not a mapping, so it has no key {parts[i + 1]!r}; "
                                                 f"set it whole: --set '{_path(path, key)}=...'")
        else:
            child = node[key] = dict(child)
        node = child
        cls = tp if dataclasses.is_dataclass(tp) else None


def _merge(base: Mapping, new: Mapping) -> dict:
    out = dict(base)
    for k, v in new.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


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
        data = _load_yaml(file.read_text(encoding="utf-8"))
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
    recipe = _build(Recipe, raw, "", label)  # the file alone must be valid
    for text in overrides:
        source = f"--set {text}"
        parts, value = parse_override(text)
        _set(raw, parts, value, source)
        _build(Recipe, raw, "", source, cross=False)  # blames the --set that broke it
    if overrides:
        recipe = _build(Recipe, raw, "", f"{label} with --set {' '.join(overrides)}")
    return recipe


def list_recipes() -> list[tuple[str, str]]:
    """(name, one-line description) of every shipped recipe, sorted by name."""
    out = []
    for ref in sorted(_shipped().iterdir(), key=lambda r: r.name):
        if ref.name.endswith(".yaml"):
            try:
                desc = str(_load_yaml(ref.read_text(encoding="utf-8")).get("description", ""))
            except (yaml.YAMLError, AttributeError, OSError, UnicodeDecodeError):
                desc = "(unreadable recipe file)"
            out.append((ref.name[: -len(".yaml")], (desc.strip().splitlines() or [""])[0]))
    return out
