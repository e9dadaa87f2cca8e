"""The model card: every layer's shapes, formula, weights, multiply-adds and receptive field.

    card = model_card(model)        # or card_for("lenet5")
    print(card)                     # a fixed-width table
    card.as_dict()                  # the same facts, JSON-ready

One row per top-level operation of a functional (or Sequential) Keras model,
input layers left out:

- input and output volume, channels-last without the batch axis (Keras'
  axis order: 28×28×6 is rows × columns × depth);
- the formula with the numbers filled in, e.g. ``(32 − 5 + 2·0)/1 + 1 = 28``
  (a rounding is named where the division is not whole);
- weights (trainable parameters, biases included) and non-trainable
  parameters, as Keras holds them, so the rows sum to ``model.count_params()``;
- multiply-adds, counted as the papers do: one per weight use in conv and
  dense layers; pooling, normalisation and activations count 0; a layer with
  weights whose arithmetic is unknown counts ``None``;
- the receptive field, tracked per spatial axis through the graph: size r and
  jump j in input pixels, r' = r + D(F − 1)·j, j' = j·S per window layer; a
  merge takes the largest; flattening or global pooling an n-wide map covers
  (n − 1)·j + r pixels (a window of F = S = n).

Layers that have ``explain()`` (cnn-zoo's conv and pool layers) supply their
own :class:`layers.arithmetic.Arithmetic`; stock Keras layers are described
from their config. Only channels-last models are read.

Keras is imported when a card is made, not when this module is imported.
"""

from __future__ import annotations

import dataclasses
import math

from cnn_zoo.errors import CardError
from cnn_zoo.keras_private import deferred_variables_forgotten
from cnn_zoo.layers.arithmetic import Arithmetic, ReceptiveField, explain_window, grow_receptive_field
from cnn_zoo.registry import get_model

Volume = tuple  # channels-last shape without the batch axis, e.g. (28, 28, 6)
Field = tuple  # one ReceptiveField per spatial axis of the model input


# ---------------------------------------------------------------------------
# The card as data.


@dataclasses.dataclass(frozen=True)
class Row:
    """One layer of a model card. ``input_shape`` is a list of volumes for a merge."""

    name: str
    type: str
    input_shape: Volume | list
    output_shape: Volume
    formula: str
    weights: int
    non_trainable: int
    multiply_adds: int | None
    receptive_field: Field | None

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["input_shape"] = _jsonable(self.input_shape)
        d["output_shape"] = list(self.output_shape)
        d["receptive_field"] = None if self.receptive_field is None else [
            {"size": f.size, "jump": f.jump} for f in self.receptive_field]
        return d


@dataclasses.dataclass(frozen=True)
class Totals:
    """Sums over the rows; ``unknown`` names layers whose multiply-adds are unknown."""

    weights: int
    non_trainable: int
    multiply_adds: int
    unknown: tuple[str, ...] = ()

    @property
    def params(self) -> int:
        return self.weights + self.non_trainable

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "params": self.params, "unknown": list(self.unknown)}


@dataclasses.dataclass(frozen=True)
class Card:
    """A model's card: its name, input volume and one :class:`Row` per layer."""

    name: str
    input_shape: Volume
    rows: tuple[Row, ...]

    @property
    def totals(self) -> Totals:
        return Totals(
            weights=sum(r.weights for r in self.rows),
            non_trainable=sum(r.non_trainable for r in self.rows),
            multiply_adds=sum(r.multiply_adds or 0 for r in self.rows),
            unknown=tuple(r.name for r in self.rows if r.multiply_adds is None),
        )

    def as_dict(self) -> dict:
        return {"name": self.name, "input_shape": list(self.input_shape),
                "rows": [r.as_dict() for r in self.rows], "totals": self.totals.as_dict()}

    def __str__(self) -> str:
        header = ("layer", "type", "input", "output", "formula", "weights", "non-train",
                  "mult-adds", "RF (jump)")
        cells = [header] + [(
            r.name, r.type, _volume_text(r.input_shape), _volume_text(r.output_shape), r.formula,
            f"{r.weights:,}", f"{r.non_trainable:,}",
            "?" if r.multiply_adds is None else f"{r.multiply_adds:,}", _field_text(r.receptive_field),
        ) for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        numeric = {5, 6, 7}

        def line(row):
            return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                             for i, (c, w) in enumerate(zip(row, widths))).rstrip()

        t = self.totals
        macs = f"{t.multiply_adds:,}" if not t.unknown else \
            f"≥ {t.multiply_adds:,} (unknown in {', '.join(t.unknown)})"
        return "\n".join([
            f"{self.name}: input {_volume_text(self.input_shape)}",
            line(header), "  ".join("-" * w for w in widths), *map(line, cells[1:]), "",
            f"params: {t.params:,} ({t.weights:,} trainable, {t.non_trainable:,} non-trainable)",
            f"multiply-adds: {macs}",
        ])


def _jsonable(shape):
    return [list(s) for s in shape] if shape and isinstance(shape[0], tuple) else list(shape)


def _volume_text(shape) -> str:
    if shape and isinstance(shape[0], tuple):
        return f"{len(shape)} inputs"  # a merge: the formula shows what is combined
    return "×".join(map(str, shape))


def _field_text(field: Field | None) -> str:
    if not field:
        return "?"
    sizes = {f.size for f in field}
    jumps = {f.jump for f in field}
    if len(sizes) == len(jumps) == 1:
        return f"{field[0].size} ({field[0].jump})"
    return f"{'×'.join(str(f.size) for f in field)} ({'×'.join(str(f.jump) for f in field)})"


# ---------------------------------------------------------------------------
# What one layer does: formula, multiply-adds and its window for the receptive field.


@dataclasses.dataclass(frozen=True)
class _Effect:
    formula: str = ""
    multiply_adds: int | None = 0
    # (F, S, D) per spatial axis; () leaves the receptive field as it is; None: unknown.
    windows: tuple | None = ()


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
                   tuple(zip(a.kernel_size, a.strides, a.dilation)))


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
    return _from_arithmetic(a, c.get("groups", 1))


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


def _zero_padding(layer, ins, outs) -> _Effect:
    pads = layer.get_config()["padding"]
    return _Effect(_per_axis([f"{w} + {lo} + {hi} = {out}" for w, (lo, hi), out
                              in zip(ins[0][:-1], pads, outs[0][:-1])]))


def _normalization(layer, ins, outs) -> _Effect:
    return _Effect()  # foldable into the neighbouring conv; counted 0 like the papers


def _submodel(layer, ins, outs) -> _Effect:
    """A functional model used as a layer: its own card, seen as one window."""
    if any(d is None for d in layer.inputs[0].shape[1:]) or len(layer.outputs) != 1:
        return _generic(layer, ins, outs)
    card, field = _walk(layer)
    t = card.totals
    return _Effect(f"{len(card.rows)} layers", None if t.unknown else t.multiply_adds,
                   None if field is None else tuple((f.size, f.jump, 1) for f in field))


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


def _handlers(keras):
    """(layer classes, effect) in the order they are tried; the first match wins."""
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
        ((L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D), _zero_padding),
        ((L.BatchNormalization, L.LayerNormalization, L.GroupNormalization), _normalization),
        ((keras.Model,), _submodel),
    ]


def _effect(op, ins, outs, handlers) -> _Effect:
    if callable(getattr(op, "explain", None)):
        return _from_arithmetic(op.explain())
    for classes, effect in handlers:
        if isinstance(op, classes):
            return effect(op, ins, outs)
    return _generic(op, ins, outs)


# ---------------------------------------------------------------------------
# Walking the graph.


def _merge(fields: list) -> Field | None:
    """The receptive field of a merge: the largest of its inputs', per axis."""
    if not fields or any(f is None for f in fields) or len({len(f) for f in fields}) != 1:
        return None
    return tuple(ReceptiveField(max(f[i].size for f in fields), max(f[i].jump for f in fields))
                 for i in range(len(fields[0])))


def _grow(field: Field | None, windows) -> Field | None:
    if field is None or windows is None:
        return None
    if not windows:
        return field
    if len(windows) != len(field):
        return None  # the op changed the number of spatial axes
    return tuple(grow_receptive_field(f, k, s, d) for f, (k, s, d) in zip(field, windows))


def _weight_count(variables) -> int:
    return sum(math.prod(v.shape) for v in variables)


def _call_tensors(op, fields, keras) -> tuple[list, list]:
    """Input and output tensors of ``op``'s call in this graph (the first whose inputs are known).

    ``op.input`` will not do for a model used as a layer: it names the inner model's inputs.
    """
    for node in getattr(op, "_inbound_nodes", []):
        inputs = keras.tree.flatten(node.input_tensors)
        if inputs and all(id(t) in fields for t in inputs):
            return inputs, keras.tree.flatten(node.output_tensors)
    return keras.tree.flatten(op.input), keras.tree.flatten(op.output)


def _check_readable(model) -> Volume:
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise CardError(
            f"A model card needs a known input size: build {model.name!r} with "
            f"input_shape=(W, H, D). Received: input_shape={shape}"
        )
    for layer in model.layers:
        if getattr(layer, "data_format", "channels_last") == "channels_first":
            raise CardError(
                f"Model cards read channels-last models only; layer {layer.name!r} is "
                f"channels-first. Received: data_format='channels_first'"
            )
    return shape


def _walk(model) -> tuple[Card, Field | None]:
    """The card of ``model`` and the receptive field of its (first) output."""
    import keras

    keras_shape = _check_readable(model)
    handlers = _handlers(keras)
    fields = {id(t): (ReceptiveField(1, 1),) * (len(t.shape) - 2) for t in model.inputs}
    rows = []
    # A functional model lists every op (keras.ops calls too) in graph order.
    for op in getattr(model, "operations", model.layers):
        if isinstance(op, keras.layers.InputLayer):
            continue
        inputs, outputs = _call_tensors(op, fields, keras)
        ins = [tuple(t.shape[1:]) for t in inputs]
        outs = [tuple(t.shape[1:]) for t in outputs]
        effect = _effect(op, ins, outs, handlers)
        field = _grow(_merge([fields.get(id(t)) for t in inputs]), effect.windows)
        fields.update((id(t), field) for t in outputs)
        is_layer = isinstance(op, keras.layers.Layer)
        rows.append(Row(
            name=op.name,
            type=type(op).__name__ if is_layer else f"ops.{type(op).__name__}",
            input_shape=ins[0] if len(ins) == 1 else ins,
            output_shape=outs[0],
            formula=effect.formula,
            weights=_weight_count(getattr(op, "trainable_weights", [])),
            non_trainable=_weight_count(getattr(op, "non_trainable_weights", [])),
            multiply_adds=effect.multiply_adds,
            receptive_field=field,
        ))
    return Card(model.name, keras_shape, tuple(rows)), fields.get(id(model.outputs[0]))


def model_card(model) -> Card:
    """The card of a built functional or Sequential Keras model with a known input size."""
    return _walk(model)[0]


def card_for(name: str, input_shape=None, **kwargs) -> Card:
    """Build the registered model ``name`` (with the builder's ``kwargs``) and return its card.

    ``input_shape`` (channels-last, e.g. ``(32, 32, 1)``) defaults to the builder's.
    The model is built without allocating its weights (they get shapes, not
    values), so the card of a 100000×100000 input is as quick as that of 32×32.
    """
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape)
    if kwargs.get("weights") is not None:  # loading weights needs their values
        return model_card(get_model(name, **kwargs))
    with deferred_variables_forgotten():  # shapes only: nothing allocated
        model = get_model(name, **kwargs)
    return model_card(model)
