"""What one operation of a Keras model does, for its model card: formula, multiply-adds
and its windows (F, S, D per axis) for the receptive field; one handler per kind of layer.
"""

from __future__ import annotations

import dataclasses
import math

from cnn_zoo.layers.arithmetic import Arithmetic, explain_window


@dataclasses.dataclass(frozen=True)
class _Effect:
    formula: str = ""
    multiply_adds: int | None = 0
    # (F, S, D) per spatial axis; () leaves the receptive field as it is; None: unknown.
    windows: tuple | None = ()
    # The window arithmetic behind the row (K, F, S, P, rounding), for a conv or pool layer.
    arithmetic: Arithmetic | None = None


def _per_axis(parts: list[str]) -> str:
    """One text when every axis reads the same, else one per axis."""
    if len(set(parts)) <= 1:
        return parts[0] if parts else ""
    return "; ".join(f"axis {i}: {p}" for i, p in enumerate(parts))


def _is_trivial(a: Arithmetic) -> bool:
    """F = 1, S = 1, P = 0 on every axis: the map's size cannot change."""
    return all(k == s == 1 and p == (0, 0)
               for k, s, p in zip(a.kernel_size, a.strides, map(tuple, a.padding)))


def _from_arithmetic(a: Arithmetic, groups: int = 1) -> _Effect:
    """The row of a layer that explains itself.

    ``a.formulas`` holds one formula per spatial axis, then any notes (an
    elementwise function, an inception block's depth); the per-axis part is
    left out when F = S = 1 and P = 0 and there are notes to show instead.
    """
    rank = len(a.kernel_size)
    parts = [f"{text} = {out}" + ("" if float(value) == out else f" ({a.rounding})")
             for text, value, out in zip(a.formulas[:rank], a.quotients, a.output_shape)]
    notes = list(a.formulas[rank:])
    shown = notes if notes and _is_trivial(a) else [_per_axis(parts), *notes]
    # A grouped conv connects each filter to D1/groups input channels only.
    return _Effect("; ".join(p for p in shown if p), a.multiply_adds // groups,
                   tuple(zip(a.kernel_size, a.strides, a.dilation)), a)


def _collapse(spatial) -> _Effect:
    """Whole-map reduction (flatten, global pooling): a window of F = S = n per axis."""
    return _Effect(windows=tuple((n, n, 1) for n in spatial))


def _keras_padding(config, kernel_size, dilation):
    if config["padding"] == "causal":  # Conv1D: all D(F − 1) zeros in front
        return [(d * (f - 1), 0) for f, d in zip(kernel_size, dilation)]
    return "same" if config["padding"] == "same" else 0


def _conv(layer, ins, outs) -> _Effect:
    c = layer.get_config()
    a = explain_window("conv", ins[0], kernel_size=c["kernel_size"], strides=c["strides"],
                       padding=_keras_padding(c, c["kernel_size"], c["dilation_rate"]),
                       dilation=c["dilation_rate"], filters=c["filters"],
                       use_bias=c["use_bias"], name=layer.name)
    groups = c.get("groups", 1)
    effect = _from_arithmetic(a, groups)
    if groups == 1:
        return effect
    # Grouped (AlexNet's two GPUs): each kernel sees D1/groups of the input maps.
    extent = "·".join(map(str, c["kernel_size"]))
    return dataclasses.replace(effect, formula=f"{effect.formula}; {groups} groups: each kernel "
                                               f"{extent}·{ins[0][-1] // groups}")


def _pool(kind):
    def effect(layer, ins, outs) -> _Effect:
        c = layer.get_config()
        return _from_arithmetic(explain_window(
            kind, ins[0], kernel_size=c["pool_size"], strides=c["strides"],
            padding="same" if c["padding"] == "same" else 0, name=layer.name))
    return effect


def _global_pool(word):
    def effect(layer, ins, outs) -> _Effect:
        spatial = ins[0][:-1]
        return dataclasses.replace(_collapse(spatial), formula=f"{word} over {'×'.join(map(str, spatial))}")
    return effect


def _flatten(layer, ins, outs) -> _Effect:
    return dataclasses.replace(_collapse(ins[0][:-1]),
                               formula=f"{'·'.join(map(str, ins[0]))} = {math.prod(ins[0]):,}")


def _dense(layer, ins, outs) -> _Effect:
    n_in, units = ins[0][-1], outs[0][-1]
    positions = math.prod(ins[0][:-1])  # Dense on a map acts at every position
    return _Effect(f"{n_in}·{units}" + (f" + {units}" if layer.use_bias else ""),
                   positions * n_in * units)


def _concatenate(layer, ins, outs) -> _Effect:
    axis = layer.get_config()["axis"]
    parts = [str(shape[axis if axis < 0 else axis - 1]) for shape in ins]
    return _Effect(f"{' + '.join(parts)} = {outs[0][axis if axis < 0 else axis - 1]}")


def _elementwise(symbol):
    """A join of equal volumes (a residual addition): each output cell combines one cell of
    each input, so the volumes must agree; the card shows them side by side."""
    def effect(layer, ins, outs) -> _Effect:
        volumes = ["×".join(map(str, shape)) for shape in ins]
        joined = f" {symbol} ".join(volumes) if len(symbol) == 1 else f"{symbol}({', '.join(volumes)})"
        return _Effect(f"{joined} = {'×'.join(map(str, outs[0]))}")
    return effect


def _zero_padding(layer, ins, outs) -> _Effect:
    pads = layer.get_config()["padding"]
    return _Effect(_per_axis([f"{w} + {lo} + {hi} = {out}" for w, (lo, hi), out
                              in zip(ins[0][:-1], pads, outs[0][:-1])]))


def _normalization(layer, ins, outs) -> _Effect:
    return _Effect()  # foldable into the neighbouring conv; counted 0 like the papers


def _submodel(walk):
    def effect(layer, ins, outs) -> _Effect:
        """A functional model used as a layer: its own card (``walk``), seen as one window."""
        if any(d is None for d in layer.inputs[0].shape[1:]) or len(layer.outputs) != 1:
            return _generic(layer, ins, outs)
        card, field = walk(layer)
        t = card.totals
        return _Effect(f"{len(card.rows)} layers", None if t.unknown else t.multiply_adds,
                       None if field is None else tuple((f.size, f.jump, 1) for f in field))
    return effect


def _generic(op, ins, outs) -> _Effect:
    """Any other operation: pointwise if it keeps the map, a reduction if it removes it."""
    has_weights = bool(getattr(op, "weights", None))
    spatial_out = outs[0][:-1]
    if all(shape[:-1] == spatial_out for shape in ins):
        windows = ()  # every input keeps its map: pointwise (activation, dropout, add...)
    elif not spatial_out and len(ins) == 1:
        windows = _collapse(ins[0][:-1]).windows  # the map is reduced away (a reshape...)
    else:
        windows = None  # resized some other way: the field is not known
    return _Effect("", None if has_weights else 0, windows)


def handlers_for(keras, walk):
    """(layer classes, effect) in the order they are tried; the first match wins. ``walk``
    (model -> (card, field)) describes a model used as a layer."""
    L = keras.layers
    return [
        ((L.Conv1D, L.Conv2D, L.Conv3D), _conv),
        ((L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D), _pool("max_pool")),
        ((L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D), _pool("avg_pool")),
        ((L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalAveragePooling3D),
         _global_pool("mean")),
        ((L.GlobalMaxPooling1D, L.GlobalMaxPooling2D, L.GlobalMaxPooling3D), _global_pool("max")),
        ((L.Flatten,), _flatten),
        ((L.Dense,), _dense),
        ((L.Concatenate,), _concatenate),
        ((L.Add,), _elementwise("+")),
        ((L.Average,), _elementwise("mean")),
        ((L.Maximum,), _elementwise("max")),
        ((L.Multiply,), _elementwise("·")),
        ((L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D), _zero_padding),
        ((L.BatchNormalization, L.LayerNormalization, L.GroupNormalization), _normalization),
        ((keras.Model,), _submodel(walk)),
    ]


def effect_of(op, ins, outs, handlers) -> _Effect:
    if callable(getattr(op, "explain", None)):
        return _from_arithmetic(op.explain())
    for classes, effect in handlers:
        if isinstance(op, classes):
            return effect(op, ins, outs)
    return _generic(op, ins, outs)


