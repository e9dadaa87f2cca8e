"""The window layers' arguments (K, F, S, P, rounding) checked and normalised, Keras-style
("Received: x=0"). Pure Python, no Keras: shared by every layer's ``__init__`` and by
:mod:`cnn_zoo.layers.arithmetic`, which re-exports these names.
"""

from __future__ import annotations

import math
import numbers

ROUNDINGS = ("floor", "ceil", "exact")
PADDING_WORDS = ("valid", "same")


def is_int(value) -> bool:
    """A Python or NumPy integer, not a bool (True is an int to Python, never a count here)."""
    # numbers.Integral covers Python and NumPy integers; an ndarray (which has __index__) is not one.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A Python or NumPy int or float, not a bool (and not a complex number)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def normalize_tuple(value, rank: int, name: str, *, minimum: int = 1) -> tuple[int, ...]:
    """An int or a sequence of ``rank`` ints, each >= ``minimum``, as a tuple.

    >>> normalize_tuple(3, 2, "kernel_size")
    (3, 3)
    """
    if is_int(value):
        values = (int(value),) * rank
    elif isinstance(value, (list, tuple)) and all(is_int(v) for v in value):
        if len(value) != rank:
            raise ValueError(
                f"`{name}` must be an int or a tuple of {rank} ints. Received: {name}={value!r}"
            )
        values = tuple(int(v) for v in value)
    else:
        raise ValueError(
            f"`{name}` must be an int or a tuple of {rank} ints. Received: {name}={value!r}"
        )
    if any(v < minimum for v in values):
        raise ValueError(
            f"`{name}` must be >= {minimum} in every axis. Received: {name}={value!r}"
        )
    return values


def check_number(name, value, *, positive=False):
    """A finite int or float (positive if asked), as a float; ``name`` is the argument's."""
    if not is_number(value) or not math.isfinite(value) or (positive and value <= 0):
        what = "a positive finite number" if positive else "a finite number"
        raise ValueError(f"`{name}` must be {what}. Received: {name}={value!r}")
    return float(value)


def normalize_rounding(rounding: str) -> str:
    if rounding not in ROUNDINGS:
        raise ValueError(
            f"`rounding` must be one of {', '.join(map(repr, ROUNDINGS))}. "
            f"Received: rounding={rounding!r}"
        )
    return rounding


def normalize_padding(padding, rank: int):
    """The padding P in one of its accepted forms, checked and made canonical.

    Accepted: ``"valid"`` (P = 0), ``"same"`` (resolved per input size, see
    :func:`same_padding`), an int P for every side, ``rank`` ints (one per axis,
    both sides), or ``rank`` pairs ``(P_lo, P_hi)``. Returns ``"same"`` or a
    tuple of ``rank`` ``(lo, hi)`` pairs.
    """
    if isinstance(padding, str):
        word = padding.lower()
        if word not in PADDING_WORDS:
            raise ValueError(
                "`padding` must be 'valid', 'same', an int, a tuple of "
                f"{rank} ints or of {rank} (before, after) pairs. Received: padding={padding!r}"
            )
        return "same" if word == "same" else ((0, 0),) * rank
    if is_int(padding):
        pairs = ((int(padding), int(padding)),) * rank
    elif isinstance(padding, (list, tuple)) and len(padding) == rank:
        pairs = []
        for p in padding:
            if is_int(p):
                pairs.append((int(p), int(p)))
            elif isinstance(p, (list, tuple)) and len(p) == 2 and all(is_int(v) for v in p):
                pairs.append((int(p[0]), int(p[1])))
            else:
                pairs = None
                break
        if pairs is not None:
            pairs = tuple(pairs)
    else:
        pairs = None
    if pairs is None:
        raise ValueError(
            "`padding` must be 'valid', 'same', an int, a tuple of "
            f"{rank} ints or of {rank} (before, after) pairs. Received: padding={padding!r}"
        )
    if any(v < 0 for pair in pairs for v in pair):
        raise ValueError(f"`padding` must be >= 0 on every side. Received: padding={padding!r}")
    return pairs


def padding_to_config(pairs):
    """The most compact JSON-friendly form of canonical padding (for get_config)."""
    if pairs == "same":
        return "same"
    if all(lo == hi for lo, hi in pairs):
        sides = [lo for lo, _ in pairs]
        return sides[0] if len(set(sides)) == 1 else sides
    return [list(p) for p in pairs]


def same_padding(size: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same' padding for one axis: W2 = ceil(W1 / S), extra cell after."""
    extent = dilation * (kernel_size - 1) + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


