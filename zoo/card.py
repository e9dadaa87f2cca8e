"""The model card: every layer's shapes, formula, weights, multiply-adds and receptive field.

    card = model_card(model)        # or card_for("lenet5")
    print(card)                     # a fixed-width table
    card.as_dict()                  # the same facts, JSON-ready

One row per top-level operation (inputs left out); what each column counts and
how the receptive field is tracked: docs/design-notes.md. Per-operation handlers:
:mod:`cnn_zoo.op_effects`. Keras is imported when a card is made, not on import.
"""

from __future__ import annotations

import dataclasses
import math

from cnn_zoo.errors import CardError
from cnn_zoo.op_effects import effect_of, handlers_for
from cnn_zoo.keras_private import deferred_variables_forgotten
from cnn_zoo.layers.arithmetic import ReceptiveField, grow_receptive_field
from cnn_zoo.registry import get_family, get_model

Volume = tuple  # channels-last shape without the batch axis, e.g. (28, 28, 6)
Field = tuple  # one ReceptiveField per spatial axis of the model input


# ---------------------------------------------------------------------------
# The card as data.


@dataclasses.dataclass(frozen=True)
class Row:
    """One layer of a model card. ``input_shape`` is a list of volumes for a merge, and
    ``sources`` names the layers whose outputs it reads (``"input"``: the model's input)."""

    name: str
    type: str
    input_shape: Volume | list
    output_shape: Volume
    formula: str
    weights: int
    non_trainable: int
    multiply_adds: int | None
    receptive_field: Field | None
    sources: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["input_shape"] = _jsonable(self.input_shape)
        d["output_shape"] = list(self.output_shape)
        d["sources"] = list(self.sources)
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
    """A model's card: its name, input volume, one :class:`Row` per layer, and ``notes``: what
    its family says of this configuration (its pattern, what is new in it, its sources)."""

    name: str
    input_shape: Volume
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()

    @property
    def totals(self) -> Totals:
        return Totals(
            weights=sum(r.weights for r in self.rows),
            non_trainable=sum(r.non_trainable for r in self.rows),
            multiply_adds=sum(r.multiply_adds or 0 for r in self.rows),
            unknown=tuple(r.name for r in self.rows if r.multiply_adds is None),
        )

    def as_dict(self) -> dict:
        return {"name": self.name, "input_shape": list(self.input_shape), "notes": list(self.notes),
                "rows": [r.as_dict() for r in self.rows], "totals": self.totals.as_dict()}

    def __str__(self) -> str:
        header = ("layer", "type", "input", "output", "formula", "weights", "non-train",
                  "mult-adds", "RF (jump)")
        cells = [header] + [(
            r.name, r.type, _volume_text(r.input_shape, r.sources), _volume_text(r.output_shape), r.formula,
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
            f"{self.name}: input {_volume_text(self.input_shape)}", *self.notes,
            line(header), "  ".join("-" * w for w in widths), *map(line, cells[1:]), "",
            f"params: {t.params:,} ({t.weights:,} trainable, {t.non_trainable:,} non-trainable)",
            f"multiply-adds: {macs}",
        ])


def _jsonable(shape):
    return [list(s) for s in shape] if shape and isinstance(shape[0], tuple) else list(shape)


def _volume_text(shape, sources=()) -> str:
    if shape and isinstance(shape[0], tuple):
        # A merge: the layers it joins (the formula shows their volumes).
        return " & ".join(sources) if len(sources) == len(shape) else f"{len(shape)} inputs"
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


def _call_tensors(op, known, keras) -> tuple[list, list]:
    """Input and output tensors of ``op``'s call in this graph (the first whose inputs are known).

    ``op.input`` will not do for a model used as a layer: it names the inner model's inputs.
    """
    for node in getattr(op, "_inbound_nodes", []):
        inputs = keras.tree.flatten(node.input_tensors)
        if inputs and all(id(t) in known for t in inputs):
            return inputs, keras.tree.flatten(node.output_tensors)
    return keras.tree.flatten(op.input), keras.tree.flatten(op.output)


def operations(model):
    """``(op, input tensors, output tensors)`` of each operation of ``model`` in graph order,
    its inputs left out: one per row of its card, in the same order."""
    import keras  # the card module imports without Keras (`zoo list`, `import cnn_zoo`)

    known = {id(t) for t in model.inputs}
    # A functional model lists every op (keras.ops calls too) in graph order.
    for op in getattr(model, "operations", model.layers):
        if isinstance(op, keras.layers.InputLayer):
            continue
        inputs, outputs = _call_tensors(op, known, keras)
        known.update(id(t) for t in outputs)
        yield op, inputs, outputs


def _row(op, ins: list, outs: list, effect, field: Field | None, name: str | None = None,
         sources: tuple = ()) -> Row:
    import keras  # idem

    return Row(
        name=name or op.name,
        type=type(op).__name__ if isinstance(op, keras.layers.Layer) else f"ops.{type(op).__name__}",
        input_shape=ins[0] if len(ins) == 1 else ins,
        output_shape=outs[0],
        formula=effect.formula,
        weights=_weight_count(getattr(op, "trainable_weights", [])),
        non_trainable=_weight_count(getattr(op, "non_trainable_weights", [])),
        multiply_adds=effect.multiply_adds,
        receptive_field=field,
        sources=sources,
    )


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
    import keras  # on first use: `import cnn_zoo` and `zoo list` stay without Keras

    keras_shape = _check_readable(model)
    handlers = handlers_for(keras, _walk)
    fields = {id(t): (ReceptiveField(1, 1),) * (len(t.shape) - 2) for t in model.inputs}
    producers = {id(t): "input" for t in model.inputs}
    rows = []
    for op, inputs, outputs in operations(model):
        ins = [tuple(t.shape[1:]) for t in inputs]
        outs = [tuple(t.shape[1:]) for t in outputs]
        effect = effect_of(op, ins, outs, handlers)
        field = _grow(_merge([fields.get(id(t)) for t in inputs]), effect.windows)
        fields.update((id(t), field) for t in outputs)
        sources = tuple(producers.get(id(t), "?") for t in inputs)
        producers.update((id(t), op.name) for t in outputs)
        rows.append(_row(op, ins, outs, effect, field, sources=sources))
    return Card(model.name, keras_shape, tuple(rows)), fields.get(id(model.outputs[0]))


def op_effect(op, ins: list, outs: list):
    """What ``op`` does to the volumes ``ins`` → ``outs``, as its card row says: the formula,
    multiply-adds, windows and, for a conv or pool, its ``Arithmetic`` (K, F, S, P, rounding)."""
    import keras  # idem

    return effect_of(op, ins, outs, handlers_for(keras, _walk))


def chain_rows(layers, input_shape: Volume, field: Field | None = None, prefix: str = "") -> tuple[Row, ...]:
    """The rows of built ``layers`` applied one after another to ``input_shape`` (one branch of
    a block, e.g. ``Inception.branch_layers()``), the receptive field grown from ``field``
    (default: one input cell); each name is prefixed with ``prefix``."""
    import keras  # idem

    handlers = handlers_for(keras, _walk)
    shape = tuple(input_shape)
    field = (ReceptiveField(1, 1),) * (len(shape) - 1) if field is None else field
    rows = []
    for layer in layers:
        out = tuple(layer.compute_output_shape((None, *shape))[1:])
        effect = effect_of(layer, [shape], [out], handlers)
        field = _grow(field, effect.windows)
        rows.append(_row(layer, [shape], [out], effect, field, name=f"{prefix}{layer.name}"))
        shape = out
    return tuple(rows)


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
    notes = get_family(name).card_notes(kwargs)
    if kwargs.get("weights") is not None:  # loading weights needs their values
        return dataclasses.replace(model_card(get_model(name, **kwargs)), notes=notes)
    with deferred_variables_forgotten():  # shapes only: nothing allocated
        model = get_model(name, **kwargs)
    return dataclasses.replace(model_card(model), notes=notes)
