"""Parameter checks shared by the preprocessing steps: one line saying what is wrong."""

from __future__ import annotations

import numpy as np

from cnn_zoo.errors import ZooError
from cnn_zoo.layers.arguments import is_int, is_number


class PreprocessError(ZooError):  # a ZooError: the CLI answers it in one line
    """A preprocessing step that is unknown or has bad parameters."""


# --------------------------------------------------------------------------- param checks

def _err(key: str, value, what: str) -> PreprocessError:
    return PreprocessError(f"{key} must be {what}. Received: {key}={value!r}")


def _int(v, key, lo=0):
    if not is_int(v) or v < lo:
        raise _err(key, v, f"an integer >= {lo}")
    return int(v)


def _num(v, key):
    if not is_number(v) or not np.isfinite(v):
        raise _err(key, v, "a finite number")
    return float(v)


def _pair(v, key, lo=0):
    """An int (both axes) or [height, width] -> [h, w]."""
    try:
        if isinstance(v, (list, tuple)) and len(v) == 2:
            return [_int(v[0], key, lo), _int(v[1], key, lo)]
        if not isinstance(v, (list, tuple)):
            return [_int(v, key, lo)] * 2
    except PreprocessError:
        pass
    raise _err(key, v, f"an integer >= {lo} or a pair [height, width] of them")


def _choice(v, key, options):
    if v not in options:
        raise _err(key, v, f"one of {', '.join(map(str, options))}")
    return v


def _scalar_or_list(v, key, positive=False):
    vals = v if isinstance(v, (list, tuple)) else [v]
    if not vals:
        raise _err(key, v, "a number or a list of numbers, one per channel")
    out = [_num(a, key) for a in vals]
    if positive and min(out) <= 0:
        raise _err(key, v, "positive")
    return out if isinstance(v, (list, tuple)) else out[0]
