"""A recipe's ``search_space`` as data: validated, declared to Keras Tuner, applied to the recipe.

Keys are recipe paths, as for ``--set`` (``optimizer.learning_rate``), with an
optional index per stage or per conv (``model.kwargs.filters[1]`` is stage 2's
K; ``model.kwargs.kernel_size[0][1]`` is stage 1's second conv). The same
space may also be written nested (``model: {kwargs: {filters: {...}}}``).
Each value names one hyperparameter::

    {choice: [16, 32, 64]}                         any values, lists included
    {int: {min: 1, max: 4, step: 1}}               sampling: linear | log
    {float: {min: 0.0001, max: 0.01, sampling: log}}   sampling: linear | log | reverse_log

Every mistake is a :class:`SearchSpaceError` whose one line names the key.

The space also answers, without Keras, whether a trial's values give a
convnet whose shapes exist (:meth:`SearchSpace.check`): the tuner asks before
it builds anything. The check is the pure arithmetic of
:func:`cnn_zoo.models.convnet_spec.plan_convnet`; this module does not use Keras
Tuner, it fills the ``HyperParameters`` object it is handed.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import inspect
import itertools
import json
import math
import random
import re
from typing import Any, Mapping

from cnn_zoo.errors import ZooError  # house (issue 17)
from cnn_zoo.layers.arithmetic import ShapeError
from cnn_zoo.models.convnet_spec import SpecError, parse_spec, plan_convnet
from cnn_zoo.recipe import Recipe, RecipeError

KINDS = ("choice", "int", "float")
OPTIONS = {"choice": (), "int": ("min", "max", "step", "sampling"),
           "float": ("min", "max", "step", "sampling")}
SAMPLINGS = {"int": ("linear", "log"), "float": ("linear", "log", "reverse_log")}
EXAMPLE = ("{choice: [16, 32]}, {int: {min: 1, max: 4}} or "
           "{float: {min: 0.0001, max: 0.01, sampling: log}}")
# Paths a search may not change: they name the search itself or the model family.
FORBIDDEN = ("name", "description", "version", "search_space", "tuning", "model.name")
# convnet arguments that decide shapes: the feasibility check plans exactly these.
PLAN_ARGS = tuple(p for p in inspect.signature(plan_convnet).parameters if p != "input_shape")
PLAN_DEFAULTS = {name: p.default for name, p in inspect.signature(plan_convnet).parameters.items()
                 if p.default is not inspect.Parameter.empty}
PER_STAGE = ("filters", "kernel_size", "strides", "padding")
# Above this many combinations of the shape hyperparameters, feasibility is estimated
# from a seeded sample instead of counted.
ENUMERATE_LIMIT = 5_000

_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$")


class SearchSpaceError(ZooError):  # house (issue 17): one error tree
    """A search_space entry that cannot be searched; ``key`` names it."""

    def __init__(self, key, message):
        self.key = key
        super().__init__(f"search_space: {key} {message}" if key else f"search_space {message}")


@dataclasses.dataclass(frozen=True)
class Param:
    """One hyperparameter. ``key`` is also its name in Keras Tuner."""

    key: str
    path: tuple          # e.g. ("model", "kwargs", "filters", 1)
    kind: str            # choice | int | float
    values: tuple = ()   # choice: the values as written (decoded)
    low: Any = None      # int, float
    high: Any = None
    step: Any = None
    sampling: str = "linear"
    default: Any = None  # decoded

    @property
    def encoded(self) -> bool:
        """Choices Keras Tuner cannot hold (lists, bools, mixed types, None) travel as JSON strings."""
        return self.kind == "choice" and _needs_encoding(self.values)

    @property
    def indexed(self) -> bool:
        return any(isinstance(p, int) for p in self.path)

    @property
    def base_path(self) -> tuple:
        """The recipe path without indices: what --set can name."""
        return tuple(p for p in self.path if not isinstance(p, int))

    def declare(self, hp):
        """Register this hyperparameter on a keras_tuner.HyperParameters."""
        if self.kind == "choice":
            values = [self._encode(v) for v in self.values]
            numeric = not self.encoded and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               for v in values)
            return hp.Choice(self.key, values, ordered=numeric, default=self._encode(self.default))
        factory = hp.Int if self.kind == "int" else hp.Float
        return factory(self.key, self.low, self.high, step=self.step, sampling=self.sampling,
                       default=self.default)

    def decode(self, raw):
        if self.encoded:
            return json.loads(raw)
        if self.kind == "choice" and any(isinstance(v, float) for v in self.values):
            return float(raw)
        return raw

    def candidates(self) -> list:
        """Values that validation tries: every choice, or both ends of a range."""
        return list(self.values) if self.kind == "choice" else [self.low, self.high]

    def _encode(self, value):
        if self.encoded:
            return json.dumps(value)
        if self.kind == "choice" and any(isinstance(v, float) for v in self.values):
            return float(value)  # Keras Tuner wants one type: 0 and 0.5 become 0.0 and 0.5
        return value

    def describe(self) -> str:
        if self.kind == "choice":
            return f"choice of {len(self.values)}: {', '.join(json.dumps(v) for v in self.values)}"
        text = f"{self.kind} in [{self.low}, {self.high}]"
        if self.step is not None:
            text += f" step {self.step}"
        return text + ("" if self.sampling == "linear" else f" ({self.sampling})")

    def as_dict(self) -> dict:
        if self.kind == "choice":
            return {"choice": list(self.values)}
        spec = {"min": self.low, "max": self.high, "sampling": self.sampling}
        if self.step is not None:
            spec["step"] = self.step
        return {self.kind: spec}


def _needs_encoding(values) -> bool:
    kinds = set()
    for v in values:
        # Keras Tuner's Choice turns True/False into 1/0, which a builder's bool check refuses.
        if v is None or isinstance(v, (bool, list, tuple, dict)):
            return True
        kinds.add("number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__)
    return len(kinds) > 1


# --------------------------------------------------------------------------- paths

def parse_key(key) -> tuple:
    """'model.kwargs.filters[1]' -> ('model', 'kwargs', 'filters', 1)."""
    if not isinstance(key, str) or not key.strip():
        raise SearchSpaceError(repr(key), "is not a recipe path; keys look like optimizer.learning_rate "
                                          "or model.kwargs.filters[1]")
    path = []
    for part in key.split("."):
        m = _PART.match(part.strip())
        if not m:
            raise SearchSpaceError(key, f"is not a recipe path: cannot read {part!r}; keys look like "
                                        "optimizer.learning_rate or model.kwargs.filters[1]")
        path.append(m.group(1))
        path += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return tuple(path)


def _flatten(tree: Mapping, prefix: str = "") -> dict:
    """Nested {model: {kwargs: {filters: {choice: ...}}}} -> {"model.kwargs.filters": {choice: ...}}.

    A mapping is a section (walked into) when all its values are mappings and
    none of them reads like a kind's options ({min: ..., max: ...}): so a typo
    such as {choise: [...]} or {intt: {min: 1, max: 2}} stays one entry and is
    reported as an unknown kind, under its own key.
    """
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if _is_section(value):
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


def _is_section(value) -> bool:
    options = set(OPTIONS["int"])
    return (isinstance(value, Mapping) and bool(value) and not set(map(str, value)) & set(KINDS)
            and all(isinstance(v, Mapping) and not set(map(str, v)) <= options for v in value.values()))


def _assign(tree: dict, path: tuple, value, stage_lengths) -> None:
    """Set ``value`` at ``path`` in a plain recipe dict; an index into a scalar first
    expands it to one value per stage (or per conv), as the convnet reads it."""
    node = tree
    for i, part in enumerate(path[:-1]):
        nxt = path[i + 1]
        child = node.get(part) if isinstance(part, str) else node[part]
        if isinstance(nxt, int) and not isinstance(child, list):
            length = stage_lengths(path[: i + 1], tree)
            child = [copy.deepcopy(child) for _ in range(length)]
        elif isinstance(nxt, int):
            child = list(child)
        elif child is None:
            child = {}
        elif isinstance(child, Mapping):
            child = dict(child)
        if isinstance(nxt, int) and nxt >= len(child):
            raise IndexError(f"index {nxt} is out of range: {_dotted(path[: i + 1])} has "
                             f"{len(child)} values here")
        node[part] = child
        node = child
    last = path[-1]
    if isinstance(last, int) and last >= len(node):
        raise IndexError(f"index {last} is out of range: {_dotted(path[:-1])} has {len(node)} values here")
    node[last] = value


def _dotted(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


# --------------------------------------------------------------------------- parsing entries

def _number(key, kind, option, value, integer):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if integer:
        ok = ok and float(value).is_integer()
    if not ok:
        raise SearchSpaceError(key, f"{kind}.{option} must be {'an integer' if integer else 'a number'}; "
                                    f"Received: {option}={value!r}")
    return int(value) if integer else float(value)


def parse_param(key: str, spec) -> Param:
    path = parse_key(key)
    dotted = _dotted(path)
    for bad in FORBIDDEN:
        if dotted == bad or dotted.startswith(bad + ".") or dotted.startswith(bad + "["):
            raise SearchSpaceError(key, f"cannot be searched ({bad} belongs to the search itself); "
                                        "search model.kwargs, optimizer, schedule, epochs, batch_size, ...")
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise SearchSpaceError(key, f"must be one mapping such as {EXAMPLE}; Received: {spec!r}")
    (kind, body), = spec.items()
    if kind not in KINDS:
        guess = difflib.get_close_matches(str(kind), KINDS, n=1)
        hint = f"; did you mean {guess[0]}?" if guess else ""
        raise SearchSpaceError(key, f"has unknown kind {kind!r}{hint} use one of: {', '.join(KINDS)} "
                                    f"(e.g. {EXAMPLE})")
    if kind == "choice":
        if not isinstance(body, (list, tuple)) or not body:
            raise SearchSpaceError(key, f"choice needs a non-empty list of values; Received: choice={body!r}")
        values = [list(v) if isinstance(v, tuple) else v for v in body]
        seen = []
        for v in values:
            if v in seen and type(v) is type(seen[seen.index(v)]):
                raise SearchSpaceError(key, f"choice lists {v!r} twice; Received: choice={body!r}")
            seen.append(v)
        return Param(key, path, kind, values=tuple(values), default=values[0])
    if not isinstance(body, Mapping):
        raise SearchSpaceError(key, f"{kind} needs a mapping {{min: ..., max: ...}}; Received: {kind}={body!r}")
    for option in body:
        if option not in OPTIONS[kind]:
            guess = difflib.get_close_matches(str(option), OPTIONS[kind], n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            raise SearchSpaceError(key, f"{kind} has no option {option!r}{hint} allowed: "
                                        f"{', '.join(OPTIONS[kind])}")
    for option in ("min", "max"):
        if option not in body:
            raise SearchSpaceError(key, f"{kind} needs {option}; e.g. {kind}: {{min: 1, max: 4}}")
    integer = kind == "int"
    low, high = (_number(key, kind, o, body[o], integer) for o in ("min", "max"))
    if not low < high:
        raise SearchSpaceError(key, f"{kind} needs min < max; Received: min={body['min']!r}, max={body['max']!r}")
    step = body.get("step")
    if step is not None:
        step = _number(key, kind, "step", step, integer)
        if step <= 0:
            raise SearchSpaceError(key, f"{kind}.step must be positive; Received: step={body['step']!r}")
    sampling = body.get("sampling", "linear")
    if sampling not in SAMPLINGS[kind]:
        raise SearchSpaceError(key, f"{kind}.sampling must be one of {', '.join(SAMPLINGS[kind])}; "
                                    f"Received: sampling={sampling!r}")
    if sampling != "linear" and low <= 0:
        raise SearchSpaceError(key, f"{kind} with sampling: {sampling} needs min > 0; Received: min={body['min']!r}")
    return Param(key, path, kind, low=low, high=high, step=step, sampling=sampling, default=low)


# --------------------------------------------------------------------------- the space

class SearchSpace:
    """The validated search space of ``recipe``.

    ``input_shape`` (the model's input volume after preprocessing, (H, W, D))
    turns on the shape checks: without it only the entries themselves are
    validated.
    """

    def __init__(self, recipe: Recipe, input_shape=None):
        self.recipe = recipe
        self.input_shape = None if input_shape is None else tuple(int(v) for v in input_shape)
        raw = recipe.search_space
        if not isinstance(raw, Mapping) or not raw:
            raise SearchSpaceError(None, f"of recipe {recipe.name!r} is empty: give the recipe a "
                                         "search_space, e.g. model.kwargs.filters: {choice: [[16, 32], "
                                         "[32, 64]]} (see recipes/convnet-fashion_mnist.yaml)")
        self.params = tuple(parse_param(k, v) for k, v in _flatten(raw).items())
        self._model_keys = {p.key for p in self.params if p.base_path[:2] == ("model", "kwargs")}
        self._base = recipe.to_dict()
        self._check_overlaps()
        for param in self.params:
            self._check_values(param)
        self.params = tuple(self._with_recipe_default(p) for p in self.params)

    # -- construction checks

    def _check_overlaps(self):
        for a, b in itertools.combinations(self.params, 2):
            short, long_ = sorted((a, b), key=lambda p: len(p.path))
            if long_.path[: len(short.path)] == short.path:
                raise SearchSpaceError(long_.key, f"overlaps {short.key}: search either the whole value "
                                                  "or its parts, not both")

    @property
    def model(self) -> str:
        return self._base["model"]["name"]

    @property
    def is_convnet(self) -> bool:
        return self.model == "convnet"

    def _check_values(self, param: Param):
        """Each candidate value must make a valid recipe (and, for a model argument,
        one the builder takes and, for a convnet, one whose values are well formed)."""
        if param.base_path[:2] == ("model", "kwargs"):
            self._check_model_argument(param)
        for value in param.candidates():
            error = None
            for spec_values in self._spec_variants():  # an index may need a tuned spec's stages
                try:
                    data = self._apply({**spec_values, param.key: value}, self._base)
                    Recipe.from_dict(data, source=f"search_space {param.key}={json.dumps(value)}")
                    error = None
                    break
                except RecipeError as e:
                    error = f"value {json.dumps(value)} makes an invalid recipe: {_after_source(e)}"
                except (IndexError, TypeError, KeyError) as e:
                    error = f"cannot be applied to the recipe: {e}"
            if error:
                raise SearchSpaceError(param.key, error)
        if self.is_convnet and len(param.base_path) >= 3 and param.base_path[2] in PLAN_ARGS:
            self._check_plan_values(param)

    def _check_model_argument(self, param: Param):
        if len(param.base_path) < 3:
            raise SearchSpaceError(param.key, "must name one argument of the model, e.g. model.kwargs.filters")
        name = param.base_path[2]
        allowed = self._builder_arguments()
        if allowed is not None and name not in allowed:
            from cnn_zoo.errors import UnknownArgumentError
            error = UnknownArgumentError(self.model, name, param.candidates()[0], allowed)
            raise SearchSpaceError(param.key, f"is not an argument of the model: {error}")

    def _builder_arguments(self):
        from cnn_zoo.registry import get_builder  # imports the model's module (and Keras)

        try:
            builder = get_builder(self.model)
        except ValueError:
            return None  # an unknown model name is reported when the model is built
        return set(inspect.signature(builder).parameters)

    def _check_plan_values(self, param: Param):
        """A convnet value must be well formed (a SpecError) for at least one spec the
        space allows; a shape that cannot exist (a ShapeError) is the search's business."""
        errors = []
        for value in param.candidates():
            ok = False
            for spec_values in self._spec_variants():
                kwargs = self.model_kwargs({param.key: value, **spec_values})
                try:
                    plan_convnet(self.input_shape or (1024, 1024, 1), **_plan_kwargs(kwargs))
                    ok = True
                except ShapeError:
                    ok = True
                except (SpecError, IndexError, TypeError) as e:
                    errors.append(str(e))
                if ok:
                    break
            if not ok:
                raise SearchSpaceError(param.key, f"value {json.dumps(value)} is not a valid convnet "
                                                  f"argument: {errors[-1]}")

    def _spec_variants(self):
        spec = next((p for p in self.params if p.path == ("model", "kwargs", "spec")), None)
        return [{}] if spec is None else [{spec.key: v} for v in spec.values or [spec.default]]

    def _with_recipe_default(self, param: Param) -> Param:
        """Keras Tuner's default (grid search's first trial) is the recipe's own value
        when the space offers it."""
        try:
            current = self.base_value(param)
        except (IndexError, KeyError, TypeError):
            return param
        if param.kind != "choice":
            number = isinstance(current, (int, float)) and not isinstance(current, bool)
            on_grid = number and (param.step is None or
                                  math.isclose((current - param.low) / param.step,
                                               round((current - param.low) / param.step)))
            if number and param.low <= current <= param.high and on_grid and \
                    (param.kind == "float" or float(current).is_integer()):
                return dataclasses.replace(param, default=type(param.low)(current))
            return param
        for v in param.values:
            if v == current and type(v) is type(current):
                return dataclasses.replace(param, default=v)
        return param

    def base_value(self, param: Param):
        data = self._apply({}, self._base)
        node = data
        for part in param.path:
            node = node[part]
        return node

    # -- tuner-specific checks

    def check_tuner(self, tuner: str):
        for param in self.params:
            if tuner == "hyperband" and param.path == ("epochs",):
                raise SearchSpaceError(param.key, "cannot be searched with the hyperband tuner, which "
                                                  "sets the epochs of each round itself (max: the recipe's "
                                                  "epochs); remove it, or use another tuner")
            if tuner == "grid" and param.kind == "float" and param.step is None:
                raise SearchSpaceError(param.key, "needs a step for the grid tuner (a grid lists every "
                                                  "value); e.g. float: {min: 0.1, max: 0.5, step: 0.1}, "
                                                  "or use choice")

    # -- applying values

    def decode(self, hp_values: Mapping) -> dict:
        """Keras Tuner values -> {key: value as written in the space}."""
        return {p.key: p.decode(hp_values[p.key]) if p.key in hp_values else p.default
                for p in self.params}

    def _apply(self, values: Mapping, base: dict, copied: bool = False) -> dict:
        data = base if copied else copy.deepcopy(base)
        data["model"].setdefault("kwargs", {})
        order = sorted((p for p in self.params if p.key in values), key=lambda p: p.indexed)
        for p in order:
            _assign(data, p.path, copy.deepcopy(values[p.key]), self._stage_lengths)
        return data

    def _stage_lengths(self, path: tuple, data: dict) -> int:
        """How many values a scalar at ``path`` expands to when a key indexes it."""
        kwargs = data["model"].get("kwargs") or {}
        if self.is_convnet and path[:2] == ("model", "kwargs") and len(path) >= 3:
            stages, fc = parse_spec(kwargs.get("spec", PLAN_DEFAULTS["spec"]))
            if len(path) == 3 and path[2] in PER_STAGE:
                return len(stages)
            if len(path) == 3 and path[2] == "fc_units":
                return fc
            if len(path) == 4 and path[2] in PER_STAGE and isinstance(path[3], int):
                return stages[path[3]].convs
        raise IndexError(f"{_dotted(path)} holds one value, which has no parts to index")

    def model_kwargs(self, values: Mapping) -> dict:
        """The model's kwargs for these values (model.kwargs.* keys applied; defaults
        of the convnet filled in where an index needed them)."""
        # This runs for every draw: copy only what changes (_assign copies along its path).
        kwargs = dict(self._base["model"].get("kwargs") or {})
        if self.is_convnet:
            for name in PLAN_ARGS:
                kwargs.setdefault(name, PLAN_DEFAULTS[name])
        base = {"model": {**self._base["model"], "kwargs": kwargs}}
        keys = self._model_keys
        return self._apply({k: v for k, v in values.items() if k in keys}, base, copied=True)["model"]["kwargs"]

    def recipe_for(self, values: Mapping, source: str = "trial") -> Recipe:
        """The recipe a trial trains: the base recipe with ``values`` (decoded) applied."""
        return Recipe.from_dict(self._apply(values, self._base), source=source)

    def overrides(self, values: Mapping) -> list[str]:
        """``--set`` strings that turn the base recipe into the trial's (indices folded
        into whole values, since --set names whole values)."""
        data = self._apply(values, self._base)
        out, seen = [], set()
        for p in self.params:
            path = p.base_path
            if path in seen:
                continue
            seen.add(path)
            node = data
            for part in path:
                node = node[part]
            out.append(f"{'.'.join(path)}={json.dumps(node)}")
        return out

    # -- feasibility

    def check(self, values: Mapping) -> tuple[bool, str | None]:
        """(True, None), or (False, reason) when these values give a convnet whose
        shapes cannot exist (or whose per-stage values do not fit its spec), or one
        over the recipe's ``tuning.max_multiply_adds``."""
        if not self.is_convnet or self.input_shape is None:
            return True, None
        try:
            plan = plan_convnet(self.input_shape, **_plan_kwargs(self.model_kwargs(values)))
        except (ShapeError, SpecError, IndexError) as e:
            return False, str(e)
        budget = self.recipe.tuning.max_multiply_adds
        if budget is not None and (cost := plan.multiply_adds) > budget:
            return False, (f"budget: {cost:,} multiply-adds per image (conv and hidden FC "
                           f"layers) exceed tuning.max_multiply_adds = {budget:,}")
        return True, None

    def check_hp_values(self, hp_values: Mapping) -> tuple[bool, str | None]:
        return self.check(self.decode(hp_values))

    def shape_params(self) -> list[Param]:
        return [p for p in self.params if self.is_convnet and p.base_path[:2] == ("model", "kwargs")
                and len(p.base_path) >= 3 and p.base_path[2] in PLAN_ARGS]

    def feasibility(self, seed: int = 0) -> dict | None:
        """How much of the shape subspace exists: counted when it has at most
        ENUMERATE_LIMIT combinations, else estimated from as many seeded samples."""
        params = self.shape_params()
        if not params or self.input_shape is None:
            return None
        grids = [_values_of(p) for p in params]
        total = math.prod(len(g) for g in grids) if all(grids) else None
        exact = total is not None and total <= ENUMERATE_LIMIT
        if exact:
            combos = itertools.product(*grids)
        else:
            rng = random.Random(seed)
            combos = (tuple(rng.choice(g) if g else _sample(p, rng) for p, g in zip(params, grids))
                      for _ in range(ENUMERATE_LIMIT))
        feasible = checked = 0
        reasons: dict[str, int] = {}
        examples: dict[str, str] = {}
        for combo in combos:
            checked += 1
            ok, reason = self.check(dict(zip((p.key for p in params), combo)))
            if ok:
                feasible += 1
            else:
                layer = reason.split(":", 1)[0]
                reasons[layer] = reasons.get(layer, 0) + 1
                examples.setdefault(layer, reason)
        by_layer = dict(sorted(reasons.items(), key=lambda kv: -kv[1]))
        return {"params": [p.key for p in params], "combinations": total if exact else None,
                "checked": checked, "feasible": feasible, "exact": exact,
                "infeasible_by_layer": by_layer, "examples": {k: examples[k] for k in by_layer}}

    def describe(self) -> dict:
        return {p.key: p.as_dict() for p in self.params}


def _values_of(p: Param) -> list:
    if p.kind == "choice":
        return list(p.values)
    if p.kind == "int" and p.sampling == "linear":
        return list(range(p.low, p.high + 1, p.step or 1))
    return []


def _sample(p: Param, rng: random.Random):
    if p.kind == "int":
        return rng.randint(p.low, p.high)
    return rng.uniform(p.low, p.high)


def _plan_kwargs(kwargs: Mapping) -> dict:
    return {k: kwargs[k] for k in PLAN_ARGS if k in kwargs}


def _after_source(error: RecipeError) -> str:
    """A RecipeError reads 'SOURCE: path message'; keep 'path message'."""
    text = str(error)
    return text.split(": ", 1)[1] if ": " in text else text
