"""Reading a mapping into the recipe's frozen dataclasses: types, checks, messages, ``--set``.

Generic over the dataclasses (their type hints are the schema); :mod:`cnn_zoo.recipe`
holds the dataclasses themselves and the files. Every problem is a RecipeError that
names the file (or the --set), the key path and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from typing import Any, Literal, Mapping, Union

import yaml

from cnn_zoo import preprocess
from cnn_zoo.errors import ZooError
from cnn_zoo.layers.arguments import is_int, is_number


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


def load_yaml(text: str):
    return yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)


def plain(v):
    if isinstance(v, Mapping):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
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
        ok = is_int(value)
    elif tp is float:
        ok = is_number(value) and math.isfinite(value)
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
        value = load_yaml(raw) if raw.strip() else None
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


def _set(root, raw: dict, parts: list[str], value, source: str) -> None:
    cls, node = root, raw
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


def build(cls, data: Mapping, source: str):
    """``cls`` (a recipe dataclass) from ``data``, every field checked; ``source`` names it in errors."""
    return _build(cls, data, "", source)


def apply_overrides(cls, raw: dict, overrides, label: str):
    """``cls`` from ``raw`` (valid alone) with --set style overrides applied in order: each is
    checked as it is applied (the error blames the --set that broke it), then the whole."""
    recipe = _build(cls, raw, "", label)
    for text in overrides:
        source = f"--set {text}"
        parts, value = parse_override(text)
        _set(cls, raw, parts, value, source)
        _build(cls, raw, "", source, cross=False)
    if overrides:
        recipe = _build(cls, raw, "", f"{label} with --set {' '.join(overrides)}")
    return recipe
