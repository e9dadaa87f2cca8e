"""The network as volumes: the model card's rows, drawn as boxes, and how they join.

The rows are the model card's (:func:`cnn_zoo.card.model_card`, what ``zoo info``
prints), so the page and the card cannot disagree. Beside each row the page
gets its window (K, F, S, P, rounding: the card's own arithmetic), where its
receptive field starts on the input, and the layout: a list of items, each a
row (``{"row": i}``) or branches that join (``{"row": i, "branches": [[item,
...], ...]}``). Two kinds of joins give the same structure:

- in the graph: an operation with several inputs (a concatenation, a residual
  ``Add``) joins the paths from the tensor they last shared (an identity
  shortcut is an empty branch);
- inside a layer: a layer with ``branch_layers()`` (GoogLeNet's ``Inception``)
  runs those chains side by side and joins them itself; its branches get rows
  of their own (``sub``), from :func:`cnn_zoo.card.chain_rows`.
"""

from __future__ import annotations

from cnn_zoo import card as cards
from cnn_zoo.layers.arithmetic import ReceptiveField

INPUT = -1  # the model input, as a producer


def layout(parents: list[list[int]], inner: dict | None = None, subset=None) -> list[dict]:
    """The items of rows ``subset`` (default all) in graph order.

    ``parents[i]`` lists the rows whose outputs row i takes (``INPUT`` for the model
    input); ``inner[i]`` holds a layer's own branches (lists of item dicts).
    """
    inner = inner or {}
    subset = sorted(range(len(parents)) if subset is None else subset)
    above = _ancestors(parents)
    joins = {i: _branches(i, parents, above) for i in subset if len(set(parents[i])) > 1}
    spans = {i: set().union(*map(set, branches)) for i, branches in joins.items()}
    top = [j for j in joins if not any(j in spans[k] for k in joins if k != j)]
    claimed: set = set()
    for j in top:
        spans[j] -= claimed
        claimed |= spans[j]
    items = []
    for i in subset:
        if i in claimed:
            continue
        if i in top:
            branches = [[r for r in branch if r in spans[i]] for branch in joins[i]]
            items.append({"row": i, "branches": [layout(parents, inner, b) for b in branches]})
        elif i in inner:
            items.append({"row": i, "branches": inner[i]})
        else:
            items.append({"row": i})
    return items


def _ancestors(parents) -> list[frozenset]:
    """Row i's ancestors, i and ``INPUT`` included (parents come before their children)."""
    out: list[frozenset] = []
    for i, ps in enumerate(parents):
        found = {i, INPUT}
        for p in ps:
            if p != INPUT:
                found |= out[p]
        out.append(frozenset(found))
    return out


def _branches(join: int, parents, above) -> list[list[int]]:
    """The rows on each path into ``join`` since the last row all its inputs share."""
    ins = list(dict.fromkeys(parents[join]))
    sets = [above[p] if p != INPUT else frozenset({INPUT}) for p in ins]
    fork = max(frozenset.intersection(*sets))
    before = above[fork] if fork != INPUT else frozenset({INPUT})
    return [sorted(s - before) for s in sets]


def _start(arithmetic, starts, jumps):
    """Where the receptive field of an op's first output cell starts on the input, per axis."""
    if not starts or any(s is None for s in starts) or len({len(s) for s in starts}) != 1:
        return None
    start = [min(s[axis] for s in starts) for axis in range(len(starts[0]))]
    if arithmetic is None:
        return start
    if len(arithmetic.padding) != len(start):
        return None
    jump = [max(j[axis] for j in jumps) for axis in range(len(start))]
    return [s - lo * j for s, (lo, _), j in zip(start, arithmetic.padding, jump)]


def _window(a) -> dict | None:
    if a is None or not a.kernel_size:  # no spatial window (a layer on a vector)
        return None
    return {"kind": a.kind, "kernel_size": list(a.kernel_size), "strides": list(a.strides),
            "padding": [list(p) for p in a.padding], "rounding": a.rounding, "dilation": list(a.dilation),
            "filters": a.output_shape[-1] if a.kind == "conv" else None,
            "formulas": list(a.formulas), "quotients": list(a.quotients),
            "weights": a.weights, "biases": a.biases}


def _row_data(i, row, arithmetic, start, parent=None) -> dict:
    data = row.as_dict()
    macs = row.multiply_adds
    data.update(id=i, sub=parent is not None, parent=parent, start=start, window=_window(arithmetic),
                text={"weights": f"{row.weights:,}", "non_trainable": f"{row.non_trainable:,}",
                      "params": f"{row.weights + row.non_trainable:,}",
                      "multiply_adds": "?" if macs is None else f"{macs:,}"})
    return data


def network(model) -> tuple[dict, dict]:
    """(data, layers): the card, every row (the card's, then the blocks' own), the layout;
    ``layers`` maps a row id to its Keras layer (for its filters and feature maps)."""
    card = cards.model_card(model)
    rank = len(card.input_shape) - 1
    one = (ReceptiveField(1, 1),) * rank
    producer, starts, fields = {}, {id(t): [0] * rank for t in model.inputs}, {}
    rows, layers, parents, subs, inner = [], {}, [], [], {}
    for i, ((op, ins, outs), row) in enumerate(zip(cards.operations(model), card.rows)):
        in_shapes = [tuple(t.shape[1:]) for t in ins]
        effect = cards.op_effect(op, in_shapes, [tuple(t.shape[1:]) for t in outs])
        field_in = [fields.get(id(t), one) for t in ins]
        jumps = [[f.jump for f in field] if field else None for field in field_in]
        start = None if effect.windows is None or None in jumps else _start(
            effect.arithmetic, [starts.get(id(t)) for t in ins], jumps)
        parents.append([producer.get(id(t), INPUT) for t in ins])
        for t in outs:
            producer[id(t)], starts[id(t)], fields[id(t)] = i, start, row.receptive_field
        rows.append(_row_data(i, row, effect.arithmetic, start))
        layers[i] = op
        if callable(getattr(op, "branch_layers", None)) and len(in_shapes) == 1:
            subs.append((i, op, in_shapes[0], field_in[0]))
    for i, op, shape, field in subs:  # a block's own branches: rows after the card's
        inner[i] = []
        for branch in op.branch_layers():
            items = []
            for layer, sub in zip(branch, cards.chain_rows(branch, shape, field, prefix=f"{op.name}/")):
                a = cards.op_effect(layer, [sub.input_shape], [sub.output_shape]).arithmetic
                rows.append(_row_data(len(rows), sub, a, None, parent=i))
                layers[len(rows) - 1] = layer
                items.append({"row": len(rows) - 1})
            inner[i].append(items)
    totals = card.totals
    return {"card": {"name": card.name, "input_shape": list(card.input_shape), "totals": totals.as_dict(),
                     "totals_text": {"params": f"{totals.params:,}", "weights": f"{totals.weights:,}",
                                     "non_trainable": f"{totals.non_trainable:,}",
                                     "multiply_adds": f"{totals.multiply_adds:,}"}},
            "rows": rows, "layout": layout(parents, inner)}, layers
