"""Model families by name, in the style of timm and torchvision.models.

    @register_model
    def my_net(*, input_shape=None, num_classes=10, include_top=True, pooling=None,
               classifier_activation="softmax", weights=None, name="my_net"):
        '''One-line summary shown by `zoo list`.'''
        ...

    register_model(Family("my_aux_net", build, head=..., aux_outputs=...))  # a whole family

    list_models("lenet*")            # ['lenet5', 'lenet5_modern']
    model = get_model("lenet5", num_classes=10)

Every builder takes keyword arguments only, after keras.applications:
``input_shape``, ``num_classes``, ``include_top``, ``pooling``,
``classifier_activation``, ``weights`` (None or a .weights.h5 file), ``name``
(default: the model's name), plus the family's own options. ``zoo.get_model``
also takes a pretrained tag as ``weights``: it resolves it above this floor
(:func:`cnn_zoo.hub.loading.get_model`), since models never reach up to the weights store.

Each name is a :class:`cnn_zoo.family.Family` (a bare builder becomes one with
the default head). The built-in families are registered once, in
:data:`cnn_zoo.models.FAMILIES` (plain data: name → module, summary): listing
stays free of Keras, and :func:`get_family` imports the module the first time
it is asked for and takes the family from the module's ``FAMILIES``.

This module imports nothing heavy; ``zoo list`` and ``zoo --help`` rely on it.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Callable

from cnn_zoo.errors import DuplicateModelError, UnknownArgumentError, UnknownModelError
from cnn_zoo.family import Family, default_family
from cnn_zoo.models import FAMILIES, pretrained


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What ``zoo list`` shows about a model: known without building (or importing) it."""

    name: str
    summary: str
    module: str
    pretrained: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "pretrained": list(self.pretrained)}


def _qualified(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _matches(name: str, pattern) -> bool:
    """fnmatch, case-insensitive; ``pattern`` is one pattern or several (any may match)."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    return any(fnmatch.fnmatchcase(name.lower(), p.lower()) for p in patterns)


def _builder_keywords(builder: Callable) -> list[str] | None:
    """The keywords ``builder`` takes, or None if it takes ``**kwargs`` (it checks for itself)."""
    params = inspect.signature(builder).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _check_arguments(name: str, allowed: list[str] | None, kwargs: dict) -> None:
    """Raise UnknownArgumentError for the first keyword not in ``allowed`` (None: any)."""
    for key, value in kwargs.items():
        if allowed is not None and key not in allowed:
            raise UnknownArgumentError(name, key, value, allowed)


def _source_keywords(module: str, name: str) -> list[str] | None:
    """The keywords of the builder that ``module``'s ``FAMILIES`` gives ``name``, read from the
    module's source (ast), so that a recipe's model.kwargs are checked before Keras is imported;
    None where the source does not say (the builder then checks when it is called)."""
    spec = importlib.util.find_spec(module)
    try:
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    except (AttributeError, TypeError, OSError, SyntaxError, UnicodeDecodeError):
        return None
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    families = [node.value for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "FAMILIES" for t in node.targets)]
    calls = [n for value in families for n in ast.walk(value) if isinstance(n, ast.Call)]
    calls += [n for f in functions.values() for n in ast.walk(f) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name) and n.func.id == "Family"]
    for call in calls:
        # Family("lenet5", lenet5, ...) or a helper of the same form: the name, then the builder
        if len(call.args) >= 2 and isinstance(call.args[0], ast.Constant) and call.args[0].value == name \
                and isinstance(call.args[1], ast.Name) and call.args[1].id in functions:
            keywords = _keywords(functions[call.args[1].id])
            return None if keywords is None else list(keywords)
    # Families made in a loop, Family(f"resnet{depth}", _builder(depth), ...): the builder is the
    # function that the factory returns, one signature for every name it makes.
    made = {_keywords(built) for call in calls if len(call.args) >= 2
            and not isinstance(call.args[0], ast.Constant) and isinstance(call.args[1], ast.Call)
            and isinstance(call.args[1].func, ast.Name) and call.args[1].func.id in functions
            for built in [_returned_function(functions[call.args[1].func.id])] if built is not None}
    return list(made.pop()) if len(made) == 1 and None not in made else None


def _keywords(function: ast.FunctionDef) -> tuple[str, ...] | None:
    args = function.args
    return None if args.kwarg else tuple(a.arg for a in (*args.args, *args.kwonlyargs))


def _returned_function(factory: ast.FunctionDef) -> ast.FunctionDef | None:
    """The nested function that ``factory`` returns by name, if it does."""
    nested = {n.name: n for n in factory.body if isinstance(n, ast.FunctionDef)}
    returned = [n.value.id for n in factory.body if isinstance(n, ast.Return) and isinstance(n.value, ast.Name)]
    return nested.get(returned[0]) if len(returned) == 1 else None


class Registry:
    """Model names mapped to families: catalogued built-ins plus registered ones.

    ``catalog`` is ``{name: (module, summary)}`` (default: :data:`cnn_zoo.models.FAMILIES`);
    the module defines the family in its ``FAMILIES`` tuple (or registers it).
    A catalogued name may be registered only by its own module.
    """

    def __init__(self, catalog: dict[str, tuple[str, str]] | None = None):
        self.catalog = dict(FAMILIES if catalog is None else catalog)
        self._entries: dict[str, Family] = {}

    def register(self, fn: Callable | Family, *, name: str | None = None, summary: str | None = None):
        """Add a family, or a builder ``fn`` under ``name`` (default ``fn.__name__``); returns ``fn``.

        A name that another builder has is a :class:`DuplicateModelError`.
        Registering the same definition again (a module reload, a re-run
        notebook cell) replaces it.
        """
        if isinstance(fn, Family):
            family = dataclasses.replace(fn, summary=summary) if summary else fn
        else:
            family = default_family(name or fn.__name__, fn, summary)
        name = family.name
        if name in self.catalog and self.catalog[name][0] != family.module:
            raise DuplicateModelError(name, f"the built-in module {self.catalog[name][0]}")
        old = self._entries.get(name)
        if old is not None and _qualified(old.build) != _qualified(family.build):
            raise DuplicateModelError(name, _qualified(old.build))
        self._entries[name] = family
        return fn

    def names(self) -> list[str]:
        return sorted(set(self.catalog) | set(self._entries))

    def info(self, name: str) -> ModelInfo:
        """Name, summary, module and pretrained tags of one model, without importing it."""
        if name in self.catalog:
            module, summary = self.catalog[name]
        elif name in self._entries:
            entry = self._entries[name]
            module, summary = entry.module, entry.summary
        else:
            raise UnknownModelError(name, self.names())
        return ModelInfo(name, summary, module, tuple(pretrained_tags(name)))

    def describe(self, pattern="*", pretrained: bool = False) -> list[ModelInfo]:
        """The models whose names match ``pattern``, sorted by name.

        ``pretrained=True`` keeps only those with published weights.
        """
        found = [self.info(name) for name in self.names() if _matches(name, pattern)]
        return [info for info in found if info.pretrained or not pretrained]

    def family(self, name: str) -> Family:
        """The family of ``name``, importing its catalogued module if need be."""
        if name not in self._entries and name in self.catalog:
            module = self.catalog[name][0]
            found = {f.name: f for f in getattr(importlib.import_module(module), "FAMILIES", ())}
            if name in found and name not in self._entries:
                self.register(found[name], summary=self.catalog[name][1])
            if name not in self._entries:
                raise ImportError(
                    f"{module} was imported but did not register the model {name!r}: "
                    f"list its Family in the module's FAMILIES (or fix cnn_zoo.models.FAMILIES)"
                )
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownModelError(name, self.names()) from None

    def builder(self, name: str) -> Callable:
        """The builder of ``name``, importing its catalogued module if need be."""
        return self.family(name).build

    def build(self, name: str, **kwargs):
        """``builder(name)(**kwargs)``, with unknown keywords caught before building."""
        builder = self.builder(name)
        _check_arguments(name, _builder_keywords(builder), kwargs)
        return builder(**kwargs)


#: The registry that the module-level functions (and ``@register_model``) use.
REGISTRY = Registry()


def register_model(fn: Callable | Family | None = None, *, name: str | None = None,
                   summary: str | None = None):
    """Decorator: make a model builder available by name (or register a :class:`Family`).

    Use bare (``@register_model``, the name is the function's) or with
    arguments (``@register_model(name="lenet5", summary="...")``); a bare
    builder gets the default family (head ``classifier``, output ``predictions``,
    see cnn_zoo.models.builder_parts). The summary
    defaults to the first line of the docstring. A duplicate name raises
    :class:`cnn_zoo.errors.DuplicateModelError` (a ``ValueError``).
    """
    def decorate(f):
        return REGISTRY.register(f, name=name, summary=summary)

    return decorate if fn is None else decorate(fn)


def describe_models(pattern="*", pretrained: bool = False) -> list[ModelInfo]:
    """Name, summary, module and pretrained tags of the matching models, sorted by name."""
    return REGISTRY.describe(pattern, pretrained)


def list_models(pattern="*", pretrained: bool = False) -> list[str]:
    """Sorted model names matching the fnmatch ``pattern`` (or any of several patterns).

    >>> list_models("lenet*")
    ['lenet5', 'lenet5_modern']
    """
    return [info.name for info in REGISTRY.describe(pattern, pretrained)]


def check_model_arguments(name: str, kwargs: dict) -> None:
    """An UnknownArgumentError for a keyword the builder of ``name`` does not take; a built-in
    family's module is read, not imported (no Keras), unless it is imported already."""
    check_model_name(name)
    module = REGISTRY.catalog.get(name, (None,))[0]
    if module is None or module in sys.modules or name in REGISTRY._entries:
        _check_arguments(name, _builder_keywords(get_builder(name)), kwargs)
    else:
        _check_arguments(name, _source_keywords(module, name), kwargs)


def check_model_name(name: str) -> None:
    """An UnknownModelError (with the closest names) unless ``name`` is registered; imports no model."""
    known = list_models()
    if name not in known:
        raise UnknownModelError(name, known)


def get_family(name: str) -> Family:
    """The :class:`Family` of a model name; an unknown name raises UnknownModelError."""
    return REGISTRY.family(name)


def get_builder(name: str) -> Callable:
    """The builder function of a model; an unknown name raises UnknownModelError."""
    return REGISTRY.builder(name)


def get_model(name: str, **kwargs):
    """Build the model ``name`` with the builder's keyword arguments.

    An unknown name raises :class:`cnn_zoo.errors.UnknownModelError`, an argument
    the builder does not take :class:`cnn_zoo.errors.UnknownArgumentError`; both
    name the closest matches.
    """
    return REGISTRY.build(name, **kwargs)


def pretrained_tags(name: str) -> list[str]:
    """Tags of the published weights for model ``name``, sorted (none: ``[]``).

    The tags its family declares beside its module (``cnn_zoo.models.<family>_weights``,
    plain data), so ``zoo list --pretrained`` imports neither Keras nor the weights store.
    Tags published elsewhere (the cache, ``ZOO_HUB_URL``) are not listed here: see
    ``cnn_zoo.hub.available(remote=True)``.
    """
    return sorted(tag for tag, declared in pretrained.declared().items() if declared.arch == name)
