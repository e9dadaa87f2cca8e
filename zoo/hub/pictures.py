"""Pictures of what a network learned: first-layer filters and feature maps, layer by layer.

    cnn_zoo.hub.show("lenet5.mnist", "digit.png", out_dir="show/")

writes PNG files into ``out_dir``:

- ``filters_<layer>.png``: the K filters of the first convolution (F×F×D),
  each scaled to its own min..max (grey for D=1, colour for D=3, the mean over
  the input channels otherwise);
- with an image, ``input.png`` (what the network sees, after preprocessing) and
  ``maps_NN_<layer>.png``: the output of every convolution, pooling,
  subsampling and inception layer in order, one tile per channel (the first
  ``max_maps``), all tiles of a layer on one colour scale, so that the
  channels that respond strongly stand out. Early maps keep edges and
  strokes; later ones are small and abstract: the hierarchy conv nets learn.

Matplotlib draws off screen (its Agg canvas; no pyplot, no global backend change).
"""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

import numpy as np

from cnn_zoo import layers as zl
from cnn_zoo import preprocess
from cnn_zoo.errors import ArgumentError, ZooError
from cnn_zoo.hub.loading import resolve
from cnn_zoo.hub.prediction import read_image
from cnn_zoo.layers.arguments import is_int


def _figure(tiles, title, cmap, vmin=None, vmax=None, labels=None):
    # matplotlib here: `zoo show` checks its arguments before paying for it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    fig = Figure(figsize=(1.3 * cols + 0.4, 1.3 * rows + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    fig.suptitle(title, fontsize=10)
    for i in range(rows * cols):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.set_axis_off()
        if i < len(tiles):
            ax.imshow(tiles[i], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            if labels is not None:
                ax.set_title(labels[i], fontsize=7)
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> Path:
    try:
        fig.savefig(path)
    except OSError as error:
        raise _out_error(path.parent, error) from None
    return path


def _out_error(out: Path, error: OSError) -> ZooError:
    where = f"{error.filename}: " if error.filename and str(error.filename) != str(out) else ""
    return ZooError(f"cannot write the pictures into {out}: {where}{error.strerror or error}; "
                    "pass --out (out_dir=) a folder you can write")


def _writable_folder(out: Path) -> None:
    """Creates ``out`` and proves a file can be written there, before any model is loaded."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".zoo-show-", suffix=".tmp"):
            pass
    except OSError as error:
        raise _out_error(out, error) from None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def first_conv(model):
    """The first layer with a (F, F, D, K) kernel (a 2D convolution)."""
    for layer in _walk(model):
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) == 4:
            return layer
    raise ArgumentError(f"{model.name} has no 2D convolution layer (a (F, F, D, K) kernel) to show")


def _walk(model):
    for layer in model.layers:
        yield layer
        yield from _walk(layer) if hasattr(layer, "layers") and layer.layers else ()


def filter_tiles(kernel: np.ndarray) -> list[np.ndarray]:
    """(F, F, D, K) -> K images, each scaled to 0..1: (F, F, 3) for D=3, else (F, F)."""
    tiles = []
    for k in range(kernel.shape[-1]):
        w = kernel[..., k]                                       # (F, F, D)
        w = w if w.shape[-1] == 3 else w.mean(axis=-1)
        span = w.max() - w.min()
        tiles.append((w - w.min()) / span if span > 0 else np.zeros_like(w))
    return tiles


def is_bgr(steps) -> bool:
    """True when the steps turn RGB into BGR (Caffe's models): a kernel's and an input's channels
    are then B, G, R and are drawn reversed, so a red filter looks red."""
    return any(name == "channel_order" and p["order"] == "bgr"
               for entry in preprocess.normalize_steps(steps) for name, p in entry.items())


def rgb_kernel(kernel: np.ndarray, steps) -> np.ndarray:
    """A (F, F, D, K) kernel with its input channels in RGB order (reversed after a BGR step)."""
    return kernel[:, :, ::-1] if kernel.shape[2] == 3 and is_bgr(steps) else kernel


def feature_layers(model):
    """The conv, pool, subsampling and inception layers with (B, H, W, C) outputs, in order."""
    import keras  # called with a built model: Keras is there already

    kinds = (zl.BaseConv, zl.BaseMaxPool, zl.TrainableSubsampling, zl.Inception,
             keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    return [layer for layer in model.layers
            if isinstance(layer, kinds) and len(layer.output.shape) == 4]


def show(tag_or_model, image=None, out_dir="zoo-show", *, max_maps: int = 64, hub=None,
         quiet: bool = False) -> list[Path]:
    """Writes the filter picture (and, with ``image``, the feature maps) into ``out_dir``.

    ``image`` is a path, a PIL image or an array; it gets the model's own
    preprocessing (see :mod:`cnn_zoo.hub.prediction`). Returns the files written.
    """
    if not is_int(max_maps) or max_maps < 1:
        raise ArgumentError(f"`max_maps` must be a positive int. Received: max_maps={max_maps!r}")
    out = Path(out_dir)
    _writable_folder(out)  # before Keras is imported and the model loaded

    import keras  # here: the arguments are checked first, quickly

    model, info = resolve(tag_or_model, hub, quiet=quiet)
    conv = first_conv(model)
    kernel = keras.ops.convert_to_numpy(conv.kernel)
    f1, f2, depth, count = kernel.shape
    bgr = info is not None and depth == 3 and is_bgr(info.preprocessing["steps"])
    kernel = rgb_kernel(kernel, info.preprocessing["steps"]) if info is not None else kernel
    title = f"{conv.name}: {count} filters of {f1}×{f2}×{depth}" + (" (BGR kernel, drawn as RGB)" if bgr else "")
    cmap = None if depth == 3 else "gray"
    written = [_save(_figure(filter_tiles(kernel), title, cmap), out / f"filters_{_safe(conv.name)}.png")]
    if image is None:
        return written
    if info is None:
        raise ArgumentError("feature maps need the model's preprocessing: pass a tag or a model "
                         "from zoo.load(tag)")
    raw = read_image(image, info.preprocessing["raw_shape"])
    x = preprocess.apply(raw[None], info.preprocessing["steps"], training=False)   # (1, H, W, C)
    shown = (x[0, ..., ::-1] if bgr else x[0]) if x.shape[-1] == 3 else x[0, ..., 0]
    span = np.ptp(shown)
    written.append(_save(_figure([(shown - shown.min()) / span if span > 0 else shown * 0],
                                 f"input after preprocessing: {'×'.join(map(str, x.shape[1:]))}",
                                 None if x.shape[-1] == 3 else "gray"), out / "input.png"))
    chosen = feature_layers(model)
    probe = keras.Model(model.input, [layer.output for layer in chosen])
    maps = probe(x, training=False)
    maps = maps if isinstance(maps, (list, tuple)) else [maps]
    for i, (layer, fmap) in enumerate(zip(chosen, maps), start=1):
        fmap = keras.ops.convert_to_numpy(fmap)[0]                              # (H, W, C)
        channels = min(fmap.shape[-1], max_maps)
        tiles = [fmap[..., c] for c in range(channels)]
        shape = "×".join(map(str, fmap.shape))
        more = f", first {channels} channels" if channels < fmap.shape[-1] else ""
        fig = _figure(tiles, f"{layer.name}: {shape}{more}", "viridis",
                      vmin=float(fmap[..., :channels].min()), vmax=float(fmap[..., :channels].max()))
        written.append(_save(fig, out / f"maps_{i:02d}_{_safe(layer.name)}.png"))
    return written
