"""What both converters share: errors, and placing named arrays into a Keras model.

A converter reads a publisher's file into ``{source tensor name: array}``,
maps it through its layout table onto ``{keras layer path: [arrays]}`` and
calls :func:`assign`. A layer path is a top-level layer name, or
``"<block>/<sub-layer>"`` for the sub-layers of an Inception block
(``"inception_3a/5x5_bn"``). Every Keras layer that has weights must be filled
and every array's shape must match exactly: a file of another layout fails
here, in one line, before anything is written.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from cnn_zoo import errors
from cnn_zoo.errors import ZooError


class ConversionError(ZooError):
    """A publisher's file that cannot be converted (unreadable, or another layout)."""


class MissingExtraError(ConversionError, errors.MissingExtraError):
    """An optional dependency of a converter (torch, onnx) is not installed."""


def need(module: str, extra: str, why: str):
    """``import module``, or a one-line error naming the extra that installs it."""
    return errors.need(module, extra, why, error=MissingExtraError)


def check_keys(tensors: Mapping, expected: Iterable[str], dropped, what: str, path) -> None:
    """The file holds exactly the expected tensors (plus ``dropped(name)`` ones), or one line says not."""
    expected = set(expected)
    missing = sorted(expected - set(tensors))
    unexpected = sorted(k for k in tensors if k not in expected and not dropped(k))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"lacks {len(missing)} of its {len(expected)} tensors (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"has {len(unexpected)} unknown tensors (e.g. {', '.join(unexpected[:3])})")
        raise ConversionError(f"{path}: not {what}: it {' and '.join(parts)}; "
                              "convert a file of that layout, or pick the matching source/--arch")


def sublayer(model, path: str):
    """The layer at ``"name"`` or ``"block/sub"`` (an Inception block's sub-layer)."""
    block, _, sub = path.partition("/")
    layer = model.get_layer(block)
    return layer.get_layer(sub) if sub else layer


def weight_paths(model) -> list[str]:
    """The paths of every layer that owns weights directly (blocks are opened)."""
    paths = []
    for layer in model.layers:
        subs = getattr(layer, "sublayers", None)
        if isinstance(subs, dict):
            paths += [f"{layer.name}/{name}" for name, sub in subs.items() if sub.weights]
        elif layer.weights:
            paths.append(layer.name)
    return paths


def assign(model, arrays: Mapping[str, list], path) -> None:
    """Sets every weighted layer of ``model`` from ``arrays`` ({layer path: [arrays]})."""
    import numpy as np  # here, so that `zoo --help` (which imports this package) stays light

    missing = [p for p in weight_paths(model) if p not in arrays]
    if missing:
        raise ConversionError(f"{path}: the layout table gives no weights for {', '.join(missing[:3])}"
                              f" of {model.name} (a converter bug: its table does not fit the model)")
    for name, values in arrays.items():
        layer = sublayer(model, name)
        want = [tuple(w.shape) for w in layer.weights]
        got = [tuple(np.shape(v)) for v in values]
        if want != got:
            raise ConversionError(f"{path}: the weights for {model.name}'s {name} have shapes {got}, "
                                  f"the model needs {want}: the file has another layout or width")
        layer.set_weights([np.asarray(v, dtype="float32") for v in values])


def conv_kernel(oihw):
    """PyTorch / Caffe / ONNX conv kernel (out, in, h, w) → Keras (h, w, in, out)."""
    import numpy as np  # here, as in assign()

    return np.ascontiguousarray(np.transpose(oihw, (2, 3, 1, 0)))


def dense_after_flatten(weight, volume):
    """A PyTorch Linear (out, C·H·W) that follows ``flatten`` of a (C, H, W) volume → the Keras
    Dense kernel (H·W·C, out) that follows ``Flatten`` of the same volume laid out (H, W, C).

    Both flatten the volume, in different orders: torch's index is (c·H + h)·W + w, Keras'
    (h·W + w)·C + c; the kernel's rows are reordered to match.
    """
    import numpy as np  # here, as in assign()

    h, w, c = volume
    out = weight.shape[0]
    return np.ascontiguousarray(weight.reshape(out, c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, out))


def linear(weight, bias):
    """A PyTorch Linear's (weight (out, in), bias) → a Keras Dense's [kernel (in, out), bias]."""
    return [weight.T, bias]
