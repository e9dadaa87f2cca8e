"""What a trained model does with an image, for the page: its input, feature maps, filters, top-5.

Everything is plain data for the page's JavaScript: images are uint8 arrays in
base64 (one colour scale per stage, as ``zoo show`` draws them), drawn on
canvases by the page. The pieces are the hub's: the image is read at the model's
raw size (``hub.read_image``), preprocessed as the tag says, the top-5 is
``hub.predict``'s (so it is ``zoo predict``'s), the stages are
``hub.feature_layers`` and the filters ``hub.filter_tiles`` (RGB for a first
layer on colour input, BGR kernels reversed as ``zoo show`` does).
"""

from __future__ import annotations

import base64
from pathlib import Path

import keras
import numpy as np

from cnn_zoo import hub, preprocess

MAX_FILTERS = 64  # filters shown per conv layer


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, np.uint8).tobytes()).decode("ascii")


def _bytes(values: np.ndarray, low=None, high=None) -> tuple[np.ndarray, float, float]:
    """``values`` on one scale low..high (default their min..max) as uint8, and the scale."""
    values = np.asarray(values, np.float64)
    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    span = high - low
    scaled = (values - low) / span if span > 0 else np.zeros_like(values)
    return np.round(np.clip(scaled, 0, 1) * 255).astype(np.uint8), low, high


def _kernel(layer):
    """A conv layer's (F, F, D, K) kernel as NumPy, or None (the dense one of a connection table)."""
    dense = getattr(layer, "dense_kernel", None)
    kernel = dense() if callable(dense) else getattr(layer, "kernel", None)
    if kernel is None or len(kernel.shape) != 4:
        return None
    return keras.ops.convert_to_numpy(kernel)


def filters(layers: dict, first_row: int | None, steps) -> dict:
    """Row id -> the first filters of that conv layer, each scaled to its own min..max.

    The first conv layer on a 3-channel input is drawn in colour (channels in RGB order),
    the others as the mean over their input channels, as ``hub.filter_tiles`` does.
    """
    out = {}
    for row, layer in layers.items():
        kernel = _kernel(layer)
        if kernel is None:
            continue
        f1, f2, depth, count = kernel.shape
        rgb = row == first_row and depth == 3
        shown = kernel[..., :MAX_FILTERS]
        if rgb:
            shown = hub.rgb_kernel(shown, steps)
        tiles = hub.filter_tiles(shown if rgb else shown.mean(axis=2, keepdims=True))
        out[row] = {"shape": [f1, f2, depth, count], "shown": len(tiles), "rgb": rgb,
                    "bgr": rgb and hub.is_bgr(steps),
                    "data": _b64(np.stack([np.broadcast_to(t[..., None] if t.ndim == 2 else t,
                                                           (f1, f2, 3 if rgb else 1)) * 255
                                           for t in tiles]).round())}
    return out


def first_conv_row(layers: dict, rows: list[dict]) -> int | None:
    """The id of the first top-level row whose layer has a 2D kernel (the first conv)."""
    for row in rows:
        if not row["sub"] and _kernel(layers[row["id"]]) is not None:
            return row["id"]
    return None


def _input_picture(x: np.ndarray, steps) -> dict:
    """The model's input after preprocessing (H, W, C) as the page draws it."""
    rgb = x.shape[-1] == 3
    shown = (x[..., ::-1] if hub.is_bgr(steps) else x) if rgb else x.mean(axis=-1, keepdims=True)
    data, low, high = _bytes(shown)
    return {"shape": list(shown.shape), "rgb": rgb, "data": _b64(data), "min": low, "max": high}


def _resize_note(image, preprocessing) -> str:
    width, height = image.size
    name = Path(image.name).name
    raw_h, raw_w = preprocessing.raw_shape[:2]
    model = "×".join(map(str, preprocessing.input_shape))
    if raw_h and raw_w and (width, height) != (raw_w, raw_h):
        return (f"{name} is {width}×{height}: resized to {raw_w}×{raw_h} (the tag's raw size, "
                f"bilinear, aspect ratio not kept), then preprocessed as the tag says; the model sees {model}")
    if not raw_h:
        return (f"{name} is {width}×{height}: brought to size by the tag's own preprocessing "
                f"(below); the model sees {model}")
    return f"{name} is {width}×{height}, the tag's raw size; the model sees {model}"


def image_views(model, request, layers: dict, rows: list[dict]) -> list[dict]:
    """Per image: the input, the first ``request.max_channels`` maps of each stage, the top-5."""
    preprocessing = request.preprocessing
    steps = list(preprocessing.steps)
    by_name = {row["name"]: row["id"] for row in rows if not row["sub"]}
    stages = [layer for layer in hub.feature_layers(model) if layer.name in by_name]
    single = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(single, [layer.output for layer in stages]) if stages else None
    views = []
    for image in request.images:
        x = preprocessing.apply(image.raw[None], training=False)                  # (1, H, W, C)
        maps = probe(x, training=False) if probe is not None else []
        maps = maps if isinstance(maps, (list, tuple)) else [maps]
        stage_data = []
        for layer, fmap in zip(stages, maps):
            fmap = keras.ops.convert_to_numpy(fmap)[0]                             # (H, W, C)
            n = min(fmap.shape[-1], request.max_channels)
            data, low, high = _bytes(np.moveaxis(fmap[..., :n], -1, 0))          # (n, H, W)
            stage_data.append({"row": by_name[layer.name], "shape": list(fmap.shape), "shown": n,
                               "min": low, "max": high, "data": _b64(data)})
        top = hub.predict(model, [image.source], top_k=5, quiet=True)[0]
        views.append({"name": image.name, "size": list(image.size), "note": _resize_note(image, preprocessing),
                      "steps": preprocess.describe(steps), "input": _input_picture(x[0], steps),
                      "maps": stage_data, "top": top.as_dict()["top"]})
    return views
