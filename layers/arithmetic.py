"""Shape arithmetic of convolution and pooling, in the textbook's letters.

A layer slides a window of extent F with stride S over an input of width W1
that has been zero-padded by P on each side. The number of places the window
fits is

    W2 = (W1 - F + 2P) / S + 1

(with per-side padding the 2P becomes P_lo + P_hi, with dilation D the
window's extent becomes D(F - 1) + 1). When S does not divide W1 - F + 2P the
division has a remainder, and frameworks disagree on what to do with it:

- ``floor`` drops the cells that do not fill a last window (Keras, PyTorch);
- ``ceil`` adds a last, partial window (Caffe's pools, PyTorch ``ceil_mode``),
  as long as that window starts inside the input or the left padding;
- ``exact`` refuses: the shape is an error that says which paddings fit.

This module is pure Python and imports no Keras: the model cards and the
tuner's feasibility check are plain arithmetic. (The ``layers`` package around
it does import Keras, so that a saved model reloads after ``import layers``.)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterable, Sequence

from cnn_zoo.layers.arguments import (  # noqa: F401  (re-exported: ar.normalize_tuple, ...)
    PADDING_WORDS,
    ROUNDINGS,
    check_number,
    is_int,
    is_number,
    normalize_padding,
    normalize_rounding,
    normalize_tuple,
    padding_to_config,
    same_padding,
)


class ShapeError(ValueError):
    """A shape that the arithmetic cannot produce.

    ``str(error)`` is one line that names the layer, shows the formula with the
    numbers filled in and says what would fit. The same facts are kept as data:
    ``layer``, ``formula``, ``value`` and ``suggestions`` (a dict such as
    ``{"padding": [0, 3, 6]}``).
    """

    def __init__(self, message, *, layer=None, formula=None, value=None, suggestions=None):
        super().__init__(message)
        self.layer = layer
        self.formula = formula
        self.value = value
        self.suggestions = dict(suggestions or {})


# ---------------------------------------------------------------------------
# Output size along one axis.


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}".rstrip("0")


def formula(size, kernel_size, stride=1, padding=0, dilation=1) -> str:
    """The formula with the numbers filled in, e.g. ``(32 − 5 + 2·1)/3 + 1``."""
    lo, hi = padding if isinstance(padding, (tuple, list)) else (padding, padding)
    f = kernel_size if dilation == 1 else f"{dilation}·({kernel_size} − 1) + 1"
    f = f if dilation == 1 else f"({f})"
    pad = f"2·{lo}" if lo == hi else f"{lo} + {hi}"
    return f"({size} − {f} + {pad})/{stride} + 1"


def _fits(size, kernel_size, stride, dilation=1, limit=None) -> list[int]:
    extent = dilation * (kernel_size - 1) + 1
    limit = max(extent - 1, 2 * stride) if limit is None else limit
    return [
        p for p in range(limit + 1)
        if (size - extent + 2 * p) % stride == 0 and size - extent + 2 * p >= 0
    ]


def valid_paddings(size: int, kernel_size: int, stride: int = 1, *, dilation: int = 1,
                   max_padding: int | None = None) -> list[int]:
    """The paddings P (same on both sides) for which (W1 − F + 2P)/S + 1 is whole.

    Searched from 0 to ``max_padding`` (default max(F − 1, 2S): beyond F − 1 a
    window sees only zeros, but a stride can need more to line up).

    >>> valid_paddings(32, 5, 3)
    [0, 3, 6]
    """
    for name, v in (("size", size), ("kernel_size", kernel_size), ("stride", stride)):
        normalize_tuple(v, 1, name)
    return _fits(size, kernel_size, stride, dilation, max_padding)


def valid_strides(size: int, kernel_size: int, padding: int = 0, *, dilation: int = 1,
                  max_stride: int | None = None) -> list[int]:
    """The strides S for which the division is exact with padding P."""
    extent = dilation * (kernel_size - 1) + 1
    span = size - extent + 2 * padding
    if span < 0:
        return []
    top = max_stride or max(kernel_size, 1)
    return [s for s in range(1, top + 1) if span % s == 0]


def valid_kernel_sizes(size: int, stride: int, padding: int = 0, *, max_kernel: int | None = None) -> list[int]:
    """The kernel sizes F for which the division is exact with stride S and padding P."""
    top = max_kernel or min(size + 2 * padding, max(7, 2 * stride + 1))
    return [f for f in range(1, top + 1) if (size - f + 2 * padding) % stride == 0
            and size - f + 2 * padding >= 0]


def _check_axis(size, kernel_size, stride, padding, dilation):
    """One axis' W1, F, S, D >= 1 and P >= 0 (an int or a (before, after) pair)."""
    for name, value in (("size", size), ("kernel_size", kernel_size), ("stride", stride),
                        ("dilation", dilation)):
        if not is_int(value) or value < 1:
            raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    pair = tuple(padding) if isinstance(padding, (tuple, list)) else (padding, padding)
    if len(pair) != 2 or not all(is_int(p) and p >= 0 for p in pair):
        raise ValueError("`padding` must be an int >= 0 or a (before, after) pair of them. "
                         f"Received: padding={padding!r}")


def _label(layer):
    return f"{layer}: " if layer else ""


def output_size(size: int, kernel_size: int, stride: int = 1, padding=0,
                rounding: str = "floor", *, dilation: int = 1, layer: str | None = None) -> int:
    """W2 = (W1 − F + 2P)/S + 1 along one axis.

    ``padding`` is an int P or a ``(P_lo, P_hi)`` pair; ``rounding`` is
    ``"floor"``, ``"ceil"`` or ``"exact"`` (see the module docstring).
    ``layer`` names the layer in error messages.

    >>> output_size(32, 5)            # LeNet-5's C1
    28
    >>> output_size(112, 3, 2, rounding="ceil")   # GoogLeNet's pool1
    56
    """
    rounding = normalize_rounding(rounding)
    _check_axis(size, kernel_size, stride, padding, dilation)
    lo, hi = padding if isinstance(padding, (tuple, list)) else (padding, padding)
    extent = dilation * (kernel_size - 1) + 1
    span = size - extent + lo + hi
    text = formula(size, kernel_size, stride, (lo, hi), dilation)
    # Ceil rounding (Caffe, PyTorch ceil_mode) keeps a window that starts inside
    # the input and hangs past its end, even one wider than the input itself.
    if span < 0 and not (rounding == "ceil" and span > -stride):
        fits = [p for p in range(0, extent) if size - extent + 2 * p >= 0]
        raise ShapeError(
            f"{_label(layer)}{text} = {_fmt(span / stride + 1)} leaves no whole window: "
            f"the window (F={extent}) is larger than the padded input "
            f"({size} + {lo + hi} = {size + lo + hi}); use a smaller kernel, more padding "
            f"(P >= {fits[0] if fits else extent}) or a larger input",
            layer=layer, formula=text, value=span / stride + 1,
            suggestions={"padding": fits[:1], "kernel_size": list(range(1, size + lo + hi + 1))[-3:]},
        )
    whole, rest = divmod(span, stride)
    if rest and rounding == "exact":
        raise _inexact_error(size, kernel_size, stride, (lo, hi), dilation, layer, text, span)
    out = whole + 1
    if rest and rounding == "ceil":
        out += 1
        # Caffe/PyTorch: the last window must start inside the input or the
        # left padding, never wholly in the right padding.
        if (out - 1) * stride >= size + lo:
            out -= 1
    return out


def _inexact_error(size, kernel_size, stride, pads, dilation, layer, text, span):
    value = span / stride + 1
    lo, hi = pads
    paddings = _fits(size, kernel_size, stride, dilation)
    extent = dilation * (kernel_size - 1) + 1
    head = f"{_label(layer)}{text} = {_fmt(value)} is not a whole number"
    if paddings:
        return ShapeError(
            f"{head}; paddings that fit with F={kernel_size}, S={stride}: "
            f"{', '.join(map(str, paddings))}",
            layer=layer, formula=text, value=value, suggestions={"padding": paddings},
        )
    strides = valid_strides(size, kernel_size, min(lo, hi), dilation=dilation)
    kernels = valid_kernel_sizes(size, stride, min(lo, hi))
    why = (f"{size} − {extent} = {size - extent} is odd and 2·P is even, so no P fits with S={stride}"
           if stride == 2 else f"no padding P makes {size} − {extent} + 2·P a multiple of {stride}")
    return ShapeError(
        f"{head}: {why}; strides that fit with F={kernel_size}, P={min(lo, hi)}: "
        f"{', '.join(map(str, strides)) or 'none'}; kernel sizes that fit with S={stride}: "
        f"{', '.join(map(str, kernels)) or 'none'}",
        layer=layer, formula=text, value=value,
        suggestions={"padding": [], "strides": strides, "kernel_size": kernels},
    )


def output_shape(spatial: Sequence[int | None], kernel_size: Sequence[int], strides: Sequence[int],
                 padding, rounding: str = "floor", *, dilation: Sequence[int] | None = None,
                 layer: str | None = None) -> tuple[int | None, ...]:
    """:func:`output_size` on every spatial axis; ``None`` (unknown) stays ``None``.

    ``padding`` is canonical (see :func:`normalize_padding`): ``"same"`` or pairs.
    """
    dilation = dilation or (1,) * len(kernel_size)
    out = []
    for axis, size in enumerate(spatial):
        if size is None:
            out.append(None)
            continue
        f, s, d = kernel_size[axis], strides[axis], dilation[axis]
        pads = same_padding(size, f, s, d) if padding == "same" else padding[axis]
        out.append(output_size(size, f, s, pads, rounding, dilation=d, layer=layer))
    return tuple(out)


def resolve_padding(spatial: Sequence[int | None], kernel_size, strides, padding, dilation=None):
    """Canonical padding with 'same' turned into pairs for the given input size."""
    if padding != "same":
        return tuple(padding)
    dilation = dilation or (1,) * len(kernel_size)
    if any(s is None for s in spatial):
        raise ShapeError("padding='same' needs a known input size on every spatial axis. "
                         f"Received: spatial sizes {tuple(spatial)}")
    return tuple(same_padding(w, f, s, d) for w, f, s, d in zip(spatial, kernel_size, strides, dilation))


# ---------------------------------------------------------------------------
# Counting: weights, multiply-adds, receptive field.


def conv_weights(kernel_size: Sequence[int], in_channels: int, filters: int) -> int:
    """(F·F·D1)·K in 2D; the product of the kernel's extents in any rank."""
    return math.prod(kernel_size) * in_channels * filters


def conv_params(kernel_size: Sequence[int], in_channels: int, filters: int, use_bias: bool = True) -> int:
    """Weights plus K biases."""
    return conv_weights(kernel_size, in_channels, filters) + (filters if use_bias else 0)


def conv_multiply_adds(output_spatial: Sequence[int], kernel_size: Sequence[int],
                       in_channels: int, filters: int) -> int:
    """One multiply-add per weight per output position: W2·H2·(F·F·D1)·K."""
    return math.prod(output_spatial) * conv_weights(kernel_size, in_channels, filters)


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    """Receptive field r and jump j (input cells between neighbouring outputs)."""

    size: int
    jump: int


def grow_receptive_field(field: ReceptiveField, kernel_size: int, stride: int,
                         dilation: int = 1) -> ReceptiveField:
    """One layer further: r' = r + (D(F − 1))·j, j' = j·S."""
    return ReceptiveField(field.size + dilation * (kernel_size - 1) * field.jump, field.jump * stride)


def receptive_fields(stack: Iterable[tuple[int, int]]) -> list[ReceptiveField]:
    """Receptive field after each (F, S) of a stack, starting from one input cell.

    >>> [r.size for r in receptive_fields([(5, 1), (2, 2), (5, 1)])]   # LeNet C1, S2, C3
    [5, 6, 14]
    """
    field, out = ReceptiveField(1, 1), []
    for kernel_size, stride in stack:
        field = grow_receptive_field(field, kernel_size, stride)
        out.append(field)
    return out


# ---------------------------------------------------------------------------
# Explanations as data.


@dataclasses.dataclass(frozen=True)
class Arithmetic:
    """What a conv or pool layer does to a volume, as data (see ``explain``)."""

    kind: str                     # "conv" or "max_pool" (or another window op)
    name: str | None
    input_shape: tuple            # spatial + (D1,)
    output_shape: tuple           # spatial + (K or D1,)
    kernel_size: tuple
    strides: tuple
    padding: tuple                # (lo, hi) per axis, 'same' resolved
    rounding: str
    dilation: tuple
    formulas: tuple               # per axis, numbers filled in
    quotients: tuple              # per axis, the formula's exact value before rounding
    weights: int
    biases: int
    multiply_adds: int

    @property
    def params(self) -> int:
        return self.weights + self.biases

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["params"] = self.params
        return d

    def __str__(self) -> str:
        lines = [f"{self.name or self.kind}: {'×'.join(map(str, self.input_shape))} → "
                 f"{'×'.join(map(str, self.output_shape))}"]
        for axis, (text, value, out) in enumerate(zip(self.formulas, self.quotients, self.output_shape)):
            rounded = "" if float(value) == out else f"{_fmt(value)} → {self.rounding} → "
            lines.append(f"  axis {axis}: W2 = {text} = {rounded}{out}")
        # Layers that are not plain windows (inception, LRN, RBF...) add their own lines.
        lines += [f"  {text}" for text in self.formulas[len(self.quotients):]]
        if self.weights or self.biases:
            # (F·F·D1)·K holds for a full convolution only; others state their count.
            how = ""
            if self.kind == "conv":
                f = "·".join(map(str, self.kernel_size))
                how = f"({f}·{self.input_shape[-1]})·{self.output_shape[-1]} = "
            lines.append(f"  weights {how}{self.weights:,}, biases {self.biases:,}, "
                         f"params {self.params:,}")
        lines.append(f"  multiply-adds {self.multiply_adds:,}")
        return "\n".join(lines)


def explain_window(kind: str, input_shape: Sequence[int], *, kernel_size, strides=None,
                   padding=0, rounding="floor", dilation=None, filters=None,
                   use_bias=True, name=None) -> Arithmetic:
    """The arithmetic of a conv (``filters`` given) or pool (``filters`` None) layer.

    ``input_shape`` is channels-last without the batch axis, e.g. ``(32, 32, 3)``.
    Raises :class:`ShapeError` for a shape that cannot be produced.
    """
    *spatial, depth = input_shape
    rank = len(spatial)
    kernel_size = normalize_tuple(kernel_size, rank, "kernel_size")
    # A pool's stride defaults to its size (non-overlapping windows), a conv's to 1.
    if strides is None:
        strides = kernel_size if filters is None else (1,) * rank
    strides = normalize_tuple(strides, rank, "strides")
    dilation = normalize_tuple(1 if dilation is None else dilation, rank, "dilation_rate")
    pads = resolve_padding(spatial, kernel_size, strides, normalize_padding(padding, rank), dilation)
    out_spatial = output_shape(spatial, kernel_size, strides, pads, rounding, dilation=dilation, layer=name)
    axes = list(zip(spatial, kernel_size, strides, pads, dilation))
    texts = tuple(formula(w, f, s, p, d) for w, f, s, p, d in axes)
    quotients = tuple((w - d * (f - 1) - 1 + sum(p)) / s + 1 for w, f, s, p, d in axes)
    if filters is None:
        weights = biases = 0
        channels = depth
        macs = 0
    else:
        weights = conv_weights(kernel_size, depth, filters)
        biases = filters if use_bias else 0
        channels = filters
        macs = conv_multiply_adds(out_spatial, kernel_size, depth, filters)
    return Arithmetic(kind, name, tuple(input_shape), tuple(out_spatial) + (channels,), kernel_size,
                      strides, pads, rounding, dilation, texts, quotients, weights, biases, macs)
