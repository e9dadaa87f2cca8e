"""The mistakes a user of the zoo can make, as exceptions that say how to fix them.

Every error a user can cause is a :class:`ZooError` (each package defines its
own subclasses: ``RecipeError``, ``RunError``, ``DataError``, ``HubError``...),
except the arithmetic's :class:`cnn_zoo.layers.arithmetic.ShapeError`, which
stands beside it because ``layers/`` imports nothing of the zoo. The CLI turns
exactly these two into one line; anything else is a bug and shows a traceback.
Both are ``ValueError`` subclasses. The facts behind a message are attributes.

This module imports nothing heavy: the CLI's fast paths import it.
"""

from __future__ import annotations

import difflib
import importlib
import errno as _errno
import os
from typing import Iterable


def closest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``candidates`` that look like ``word``, best first (case-insensitive).

    >>> closest("lenet", ["convnet", "googlenet", "lenet5", "lenet5_modern"])
    ['lenet5', 'lenet5_modern', 'googlenet']
    """
    by_lower = {c.lower(): c for c in candidates}
    word = word.lower()
    # Names that start with the word come first ("goog" -> "googlenet", which
    # difflib alone would miss); then difflib's look-alikes.
    prefixed = sorted(c for c in by_lower if c.startswith(word))  # an exact match sorts first
    similar = difflib.get_close_matches(word, by_lower, n=n + len(prefixed))
    ranked = prefixed + [c for c in similar if c not in prefixed]
    return [by_lower[c] for c in ranked[:n]]


def one_line(text) -> str:
    """``text`` (an error's message: Keras' own may span lines) with its whitespace runs as one space."""
    return " ".join(str(text).split())


def _did_you_mean(suggestions: list[str]) -> str:
    if not suggestions:
        return ""
    quoted = list(map(repr, suggestions))
    options = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"Did you mean {options}? "


class ZooError(ValueError):
    """Base of the zoo's user errors; ``str(error)`` is one line."""


class UnknownModelError(ZooError):
    """``get_model`` (or the CLI) was given a model name that is not registered.

    Attributes: ``name`` (as given) and ``suggestions`` (closest known names).
    """

    def __init__(self, name: str, known: Iterable[str]):
        self.name = name
        self.suggestions = closest(name, known)
        super().__init__(
            f"Unknown model {name!r}. {_did_you_mean(self.suggestions)}"
            "See all models with zoo.list_models() or `zoo list`."
        )


class UnknownArgumentError(ZooError):
    """A model builder was given a keyword argument it does not take.

    Attributes: ``model``, ``argument``, ``allowed`` (sorted) and ``suggestions``.
    """

    def __init__(self, model: str, argument: str, value, allowed: Iterable[str]):
        self.model = model
        self.argument = argument
        self.allowed = sorted(allowed)
        self.suggestions = closest(argument, self.allowed)
        super().__init__(
            f"Model {model!r} takes no argument {argument!r}. {_did_you_mean(self.suggestions)}"
            f"It takes: {', '.join(self.allowed)}. Received: {argument}={value!r}"
        )


class DuplicateModelError(ZooError):
    """``register_model`` was given a name that another builder already has."""

    def __init__(self, name: str, owner: str):
        self.name = name
        self.owner = owner
        super().__init__(
            f"A model named {name!r} is already registered (by {owner}); "
            f"pass register_model(name=...) to choose another name. Received: name={name!r}"
        )


class CardError(ZooError):
    """A model that a model card cannot describe (unknown input size, channels-first)."""


class MissingExtraError(ZooError):
    """An optional package is not installed; the message names the extra of cnn-zoo that
    installs it. Attributes: ``module``, ``extra``."""


def need(module: str, extra: str, why: str, *, package: str | None = None, error=MissingExtraError):
    """``import module``, or one line (an ``error``) naming the extra that installs it.

    ``package``: its name on PyPI where it differs from the module's (ai-edge-litert).
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        pass  # raised outside `except`: no chained traceback behind the one line
    failure = error(f"{why} needs the {package or module!r} package, which is not installed: "
                    f'pip install "cnn-zoo[{extra}]" (or pip install {package or module})')
    failure.module, failure.extra = module, extra
    raise failure
class ArgumentError(ZooError):
    """A function was given an argument value it cannot take; the message ends "Received: name=value"."""


class DiskFullError(ZooError):
    """A file that the disk, a quota or the file-size limit has no room for.

    Nothing is left half-written (:mod:`cnn_zoo.atomic`). Attributes: ``folder``, ``name``
    (the file), ``needed`` (bytes it takes: an estimate, or a lower bound when
    ``at_least``), ``free`` (bytes free in ``folder``, None if unknown), ``errno`` (ENOSPC,
    EDQUOT or EFBIG) and ``hint`` (what continues the work once there is room, e.g. ``zoo
    train --resume --out DIR``).
    """

    def __init__(self, folder, name: str, needed: int, free: int | None, *, at_least: bool = False,
                 errno: int = _errno.ENOSPC, hint: str = ""):
        self.folder, self.name, self.needed, self.free = str(folder), name, needed, free
        self.at_least, self.errno, self.hint = at_least, errno, hint
        size = f"{'more than' if at_least else 'about'} {size_text(needed)}"
        if errno == _errno.EFBIG:
            room, fix = "over this process's file-size limit", "raise the limit (ulimit -f)"
        else:
            room = f"{size_text(free)} free" if free is not None else "the disk is full"
            fix = "free some space" + (" or raise your quota" if errno == _errno.EDQUOT else "")
        then = f", then {hint}" if hint else " and run the command again"
        need = f"it needs {size}, " if needed > 0 else ""  # 0: a write whose size is unknown
        super().__init__(f"no room to write {name} in {folder} ({os.strerror(errno)}): {need}{room}; "
                         f"{fix}{then}")

    def with_hint(self, hint: str) -> "DiskFullError":
        """The same error, ending with ``hint`` (e.g. "continue with: zoo train --resume --out DIR")."""
        return DiskFullError(self.folder, self.name, self.needed, self.free, at_least=self.at_least,
                             errno=self.errno, hint=hint)


def size_text(size: int) -> str:
    """Bytes for a person, in decimal units: 512 B, 61.7 kB, 12.3 MB, 1.2 GB."""
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            return f"{size:.1f} {unit}"
