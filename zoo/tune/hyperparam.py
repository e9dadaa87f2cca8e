"""One search_space entry: its key (a recipe path), its kind and range, and how it is applied.

Keys are recipe paths, as for ``--set`` (``optimizer.learning_rate``), with an
optional index per stage or per conv (``model.kwargs.filters[1]``); values
name one hyperparameter (``{choice: [...]}``, ``{int: {...}}``, ``{float: {...}}``).
Every mistake is a :class:`SearchSpaceError` whose one line names the key.
Pure Python: :mod:`cnn_zoo.tune.space` puts the entries together.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import math
import re
from typing import Any, Mapping

from cnn_zoo.errors import ZooError
from cnn_zoo.layers.arguments import is_number

KINDS = ("choice", "int", "float")
OPTIONS = {"choice": (), "int": ("min", "max", "step", "sampling"),
           "float": ("min", "max", "step", "sampling")}
SAMPLINGS = {"int": ("linear", "log"), "float": ("linear", "log", "reverse_log")}
EXAMPLE = ("{choice: [16, 32]}, {int: {min: 1, max: 4}} or "
           "{float: {min: 0.0001, max: 0.01, sampling: log}}")
# Paths a search may not change: they name the search itself or the model family.
FORBIDDEN = ("name", "description", "version", "search_space", "tuning", "model.name")

_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$")


class SearchSpaceError(ZooError):
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
            numeric = not self.encoded and all(is_number(v) for v in values)
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
        kinds.add("number" if is_number(v) else type(v).__name__)
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
    ok = is_number(value) and math.isfinite(value)
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
