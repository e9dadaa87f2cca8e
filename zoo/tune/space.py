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

The entries themselves are :mod:`cnn_zoo.tune.hyperparam`. The space also
answers whether a trial's values give a model whose shapes exist
(:meth:`SearchSpace.check`): the tuner asks before it builds anything, and the
model's family answers with its :class:`~cnn_zoo.family.Planner`, pure
arithmetic. This module does not use Keras Tuner, it fills the
``HyperParameters`` object it is handed.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import json
import math
import random
from pathlib import Path
from typing import Mapping

from cnn_zoo.errors import UnknownArgumentError
from cnn_zoo.family import DEFAULT
from cnn_zoo.layers.arguments import is_number
from cnn_zoo.layers.arithmetic import ShapeError
from cnn_zoo.recipe import Recipe, RecipeError, load_recipe
from cnn_zoo.registry import get_builder, get_family
from cnn_zoo.tune.hyperparam import (  # noqa: F401  (parse_key, Param: also this module's API)
    Param, SearchSpaceError, _assign, _dotted, _flatten, parse_key, parse_param)

# Above this many combinations of the shape hyperparameters, feasibility is estimated
# from a seeded sample instead of counted.
ENUMERATE_LIMIT = 5_000
# Without an input shape, a planned value is judged on these inputs: well formed if it
# plans (or meets a ShapeError) on one of them. The large one reaches the checks of deep
# stacks; the small one keeps a layer's size limits (weights, values per image), which
# grow with the input, from condemning a value that fits any real input.
PROBE_SHAPES = ((1024, 1024, 1), (32, 32, 1))

# --------------------------------------------------------------------------- the space

def parse_space(recipe: Recipe) -> tuple[Param, ...]:
    """The entries of ``recipe``'s search_space, each checked on its own (kind, bounds) and
    against the others (no overlap). Needs no model and no Keras: the CLI asks before loading it."""
    raw = recipe.search_space
    if not isinstance(raw, Mapping) or not raw:
        raise SearchSpaceError(None, f"of recipe {recipe.name!r} is empty: give the recipe a "
                                     "search_space, e.g. model.kwargs.filters: {choice: [[16, 32], "
                                     "[32, 64]]} (see recipes/convnet-fashion_mnist.yaml)")
    params = tuple(parse_param(k, v) for k, v in _flatten(raw).items())
    for a, b in itertools.combinations(params, 2):
        short, long_ = sorted((a, b), key=lambda p: len(p.path))
        if long_.path[: len(short.path)] == short.path:
            raise SearchSpaceError(long_.key, f"overlaps {short.key}: search either the whole value "
                                              "or its parts, not both")
    return params


def check_tuner(params, tuner: str) -> None:
    """The entries that ``tuner`` cannot search: the epochs under hyperband, a float without a step in a grid."""
    for param in params:
        if tuner == "hyperband" and param.path == ("epochs",):
            raise SearchSpaceError(param.key, "cannot be searched with the hyperband tuner, which "
                                              "sets the epochs of each round itself (max: the recipe's "
                                              "epochs); remove it, or use another tuner")
        if tuner == "grid" and param.kind == "float" and param.step is None:
            raise SearchSpaceError(param.key, "needs a step for the grid tuner (a grid lists every "
                                              "value); e.g. float: {min: 0.1, max: 0.5, step: 0.1}, "
                                              "or use choice")


class SearchSpace:
    """The validated search space of ``recipe``.

    ``input_shape`` (the model's input volume after preprocessing, (H, W, D))
    turns on the shape checks: without it only the entries themselves are
    validated.
    """

    @classmethod
    def of_search(cls, out_dir) -> "SearchSpace":
        """The space of the search stored in ``out_dir``: its recipe (config.yaml) and the
        input shape its trials were checked against (tune.json, from the data's contract)."""
        out_dir = Path(out_dir)
        try:
            shape = json.loads((out_dir / "tune.json").read_text()).get("input_shape")
        except (OSError, json.JSONDecodeError, AttributeError):
            shape = None
        return cls(load_recipe(out_dir / "config.yaml"), shape or None)

    def __init__(self, recipe: Recipe, input_shape=None):
        self.recipe = recipe
        self.input_shape = None if input_shape is None else tuple(int(v) for v in input_shape)
        self._family = None
        self.params = parse_space(recipe)
        self._model_keys = {p.key for p in self.params if p.base_path[:2] == ("model", "kwargs")}
        self._base = recipe.to_dict()
        for param in self.params:
            self._check_values(param)
        self.params = tuple(self._with_recipe_default(p) for p in self.params)

    # -- construction checks

    @property
    def model(self) -> str:
        return self._base["model"]["name"]

    @property
    def family(self):
        """The model's :class:`~cnn_zoo.family.Family` (imports its module, and Keras, once)."""
        if self._family is None:
            try:
                self._family = get_family(self.model)
            except ValueError:
                self._family = DEFAULT  # an unknown model name is reported when the model is built
        return self._family

    @property
    def planner(self):
        """The family's shape planner, or None: then every trial is feasible until built."""
        return self.family.planner

    def _plans(self, param: Param) -> bool:
        """Whether ``param`` is a builder argument that the planner plans."""
        return self.planner is not None and param.base_path[:2] == ("model", "kwargs") \
            and len(param.base_path) >= 3 and param.base_path[2] in self.planner.arguments

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
        if self._plans(param):
            self._check_plan_values(param)

    def _check_model_argument(self, param: Param):
        if len(param.base_path) < 3:
            raise SearchSpaceError(param.key, "must name one argument of the model, e.g. model.kwargs.filters")
        name = param.base_path[2]
        allowed = self._builder_arguments()
        if allowed is not None and name not in allowed:
            error = UnknownArgumentError(self.model, name, param.candidates()[0], allowed)
            raise SearchSpaceError(param.key, f"is not an argument of the model: {error}")

    def _builder_arguments(self):
        try:  # imports the model's module (and Keras)
            builder = get_builder(self.model)
        except ValueError:
            return None  # an unknown model name is reported when the model is built
        return set(inspect.signature(builder).parameters)

    def _check_plan_values(self, param: Param):
        """A planned value must be well formed (the planner's ``malformed`` errors) for at least
        one spec the space allows; a shape that cannot exist (a ShapeError) is the search's business."""
        errors = []
        for value in param.candidates():
            ok = False
            for spec_values in self._spec_variants():
                kwargs = self.model_kwargs({param.key: value, **spec_values})
                for shape in (self.input_shape,) if self.input_shape else PROBE_SHAPES:
                    try:
                        self.planner.plan(shape, kwargs)
                        ok = True
                    except ShapeError:
                        ok = True
                    except (*self.planner.malformed, IndexError, TypeError) as e:
                        errors.append(str(e))
                    if ok:
                        break
                if ok:
                    break
            if not ok:
                raise SearchSpaceError(param.key, f"value {json.dumps(value)} is not a valid {self.model} "
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
            number = is_number(current)
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
        check_tuner(self.params, tuner)

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
        if self.planner is not None and path[:2] == ("model", "kwargs") and len(path) >= 3:
            length = self.planner.lengths(kwargs, path[2:])
            if length is not None:
                return length
        raise IndexError(f"{_dotted(path)} holds one value, which has no parts to index")

    def model_kwargs(self, values: Mapping) -> dict:
        """The model's kwargs for these values (model.kwargs.* keys applied; the planner's
        defaults filled in where an index needed them)."""
        # This runs for every draw: copy only what changes (_assign copies along its path).
        kwargs = dict(self._base["model"].get("kwargs") or {})
        if self.planner is not None:
            for name in self.planner.arguments:
                if name in self.planner.defaults:
                    kwargs.setdefault(name, self.planner.defaults[name])
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
        """(True, None), or (False, reason) when the family's planner finds that these
        values give shapes that cannot exist (or per-stage values that do not fit),
        or a model over the recipe's ``tuning.max_multiply_adds``."""
        if self.input_shape is None or self.planner is None:
            return True, None
        try:
            cost = self.planner.plan(self.input_shape, self.model_kwargs(values))
        except (ShapeError, *self.planner.malformed, IndexError) as e:
            return False, str(e)
        budget = self.recipe.tuning.max_multiply_adds
        if budget is not None and cost is not None and cost > budget:
            return False, (f"budget: {cost:,} multiply-adds per image (conv and hidden FC "
                           f"layers) exceed tuning.max_multiply_adds = {budget:,}")
        return True, None

    def check_hp_values(self, hp_values: Mapping) -> tuple[bool, str | None]:
        return self.check(self.decode(hp_values))

    def shape_params(self) -> list[Param]:
        return [p for p in self.params if self._plans(p)]

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


def _after_source(error: RecipeError) -> str:
    """A RecipeError reads 'SOURCE: path message'; keep 'path message'."""
    text = str(error)
    return text.split(": ", 1)[1] if ": " in text else text
