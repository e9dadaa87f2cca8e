"""How a window op (convolution, pooling) lowers to the backend's native "valid"/"same"
kernels: :func:`window_plan`. Pure Python, no Keras; :mod:`cnn_zoo.layers.window` runs the plan.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from cnn_zoo.layers.arithmetic import output_shape, resolve_padding, same_padding


@dataclasses.dataclass(frozen=True)
class WindowPlan:
    """How to run a window op so that it lowers to the backend's native kernel.

    ``native`` is ``"valid"`` or ``"same"`` when the requested padding and
    rounding coincide with what the backend does by itself; otherwise
    ``native`` is ``"valid"`` and ``pads`` says how many cells to add before
    and after each spatial axis first: all of P, and more where ceil rounding
    needs a last, partial window. Cells that no window reaches (floor
    rounding) need no cropping: the "valid" op skips them.
    """

    output_spatial: tuple
    native: str
    pads: tuple  # ((before, after), ...) added before a "valid" op; zeros otherwise


def window_plan(spatial: Sequence[int], kernel_size, strides, padding, rounding="floor",
                dilation=None, layer=None) -> WindowPlan:
    dilation = dilation or (1,) * len(kernel_size)
    pads = resolve_padding(spatial, kernel_size, strides, padding, dilation)
    out = output_shape(spatial, kernel_size, strides, pads, rounding, dilation=dilation, layer=layer)
    used = []
    for w, f, s, d, (lo, _), o in zip(spatial, kernel_size, strides, dilation, pads, out):
        # The cells the windows actually cover, counted from the padded start.
        covered = (o - 1) * s + d * (f - 1) + 1
        # Cells past the last window (floor rounding) need no cropping: a
        # "valid" op drops them by itself, so the trailing pad is at least 0.
        used.append((lo, max(covered - w - lo, 0)))
    used = tuple(used)
    if all(p == (0, 0) for p in used):
        return WindowPlan(out, "valid", used)
    same = tuple(same_padding(w, f, s, d) for w, f, s, d in zip(spatial, kernel_size, strides, dilation))
    if used == same:
        return WindowPlan(out, "same", ((0, 0),) * len(spatial))
    # Pad all of P_hi, even cells no window reaches (the "valid" op skips
    # them): XLA runs GoogLeNet's conv1 (P=3 on 224, of which 2 are used)
    # 15% faster on (3, 3) than on (3, 2); TensorFlow does not mind.
    full = tuple((lo, max(hi, need)) for (lo, need), (_, hi) in zip(used, pads))
    return WindowPlan(out, "valid", full)
