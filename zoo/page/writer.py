"""``zoo.page``: one self-contained HTML file about a model (and, with images, what it sees).

    import cnn_zoo as zoo
    zoo.page("lenet5.mnist", images=["digit.png"], out="lenet5.html")
    zoo.page("googlenet", out="googlenet.html", input_shape=(100000, 100000, 3))

The file holds its data, styles and scripts inline (no server, no network
request: its Content-Security-Policy allows none), so it opens from disk in
any browser. A model name is built without allocating its weights, as ``zoo
info`` does, so any input size draws at once; a tag or a run is loaded with its
weights, which gives the filters and, with images, the feature maps and top-5.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from importlib import resources
from pathlib import Path

import keras

from cnn_zoo import atomic, hub, registry
from cnn_zoo.keras_private import deferred_variables_forgotten
from cnn_zoo.page import features
from cnn_zoo.page.network import network
from cnn_zoo.page.request import MARK, Request, check
from cnn_zoo.run import git_commit, versions
from cnn_zoo.weights.manifest import file_sha256

# The page's parts, inlined in this order (package data beside this module).
STYLES = ("page.css",)
SCRIPTS = ("arithmetic.js", "draw.js", "network.js", "playground.js", "image.js", "main.js")


def _version() -> dict:
    return {"cnn_zoo": versions().get("cnn-zoo", "0+unknown"), "git": git_commit(), "keras": keras.__version__,
            "backend": keras.backend.backend()}


def _model(request: Request):
    """The Keras model of the request (shapes only for a model name) and its zoo_info."""
    if request.kind == "model":
        kwargs = {} if request.input_shape is None else {"input_shape": request.input_shape}
        with deferred_variables_forgotten():  # shapes only, nothing allocated: any input size
            return registry.get_model(request.name, **kwargs), None
    model, info = hub.resolve(request.target, quiet=True)
    arch = getattr(info, "arch", None)
    if arch in registry.list_models():  # training-only outputs (auxiliary heads) left out, as predict runs it
        model = registry.get_family(arch).inference_model(model)
        model.zoo_info = info
    return model, info


def _provenance(info) -> dict | None:
    """Who made the weights, on what, how well, and the file's sha256."""
    if info is None:
        return None
    tag = getattr(info, "tag", None)
    if tag is not None:
        source = info.source or {}
        publisher = source.get("publisher") or f"cnn-zoo (zoo publish of the recipe {info.recipe.get('name')!r})"
        return {"kind": "tag", "tag": tag, "arch": info.arch, "publisher": publisher,
                "dataset": dict(info.dataset), "metrics": dict(info.metrics), "file": info.file,
                "sha256": info.sha256 or None, "size": info.size, "created": info.created,
                "keras_version": info.keras_version, "backend": info.backend, "url": source.get("url"),
                "recipe": info.recipe.get("name"), "classes": info.num_classes}
    run_dir = Path(info.run_dir)
    model_file = run_dir / "model.keras"
    return {"kind": "run", "run": str(run_dir.resolve()), "publisher": "a local training run (zoo train)",
            "metrics": dict(info.metrics), "file": str(model_file),
            "sha256": file_sha256(model_file) if model_file.is_file() else None,
            "recipe": (info.recipe.get("config") or {}).get("name"), "classes": info.num_classes}


def page_data(request: Request) -> dict:
    """Everything the page shows, as JSON-ready data."""
    model, info = _model(request)
    net, layers = network(model)
    first = features.first_conv_row(layers, net["rows"]) if request.kind != "model" else None
    steps = list(request.preprocessing.steps) if request.preprocessing is not None else []
    return {
        "version": _version(),
        "model": {"name": request.name, "kind": request.kind, "arch": getattr(info, "arch", None)
                  or (request.name if request.kind == "model" else model.name),
                  "weights": request.kind != "model"},
        "provenance": _provenance(info),
        "preprocessing": None if request.preprocessing is None else {
            **request.preprocessing.to_dict(), "described": features.preprocess.describe(steps)},
        **net,
        "filters": {} if request.kind == "model" else features.filters(layers, first, steps),
        "images": features.image_views(model, request, layers, net["rows"]) if request.images else [],
        "max_channels": request.max_channels,
    }


def _asset(name: str) -> str:
    return resources.files("cnn_zoo.page").joinpath("assets", name).read_text(encoding="utf-8")


def render(data: dict) -> str:
    """The HTML text of a page showing ``data``."""
    # "<" escaped everywhere in the JSON (only strings hold one), so no "</script>" ends it early.
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    parts = {"MARK": f"{MARK} {html.escape(data['version']['cnn_zoo'])} -->",
             "TITLE": html.escape(f"{data['model']['name']} · cnn-zoo"),
             "STYLE": "\n".join(_asset(name) for name in STYLES),
             "SCRIPT": "\n".join(_asset(name) for name in SCRIPTS), "DATA": payload}
    # One pass: a value that holds "{{...}}" (a model named so) is never substituted again.
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: parts[m[1]], _asset("page.html"))


@dataclasses.dataclass(frozen=True)
class Written:
    """What :func:`page` wrote: the file, its size in bytes, and what is in it."""

    path: Path
    size: int
    rows: int
    images: int

    def as_dict(self) -> dict:
        return {"path": str(self.path), "size": self.size, "rows": self.rows, "images": self.images}


def write_page(request: Request) -> Written:
    """Writes the page of a checked request, atomically (nothing is left on an error)."""
    data = page_data(request)
    text = render(data)
    atomic.write_text(request.out, text)
    return Written(request.out, len(text.encode("utf-8")), len(data["rows"]), len(data["images"]))


def page(model_or_tag_or_run, images=None, out=None, *, input_shape=None, max_channels: int = 16) -> Written:
    """Writes one self-contained HTML page about a model, a tag or a run folder.

    ``images``: image files (or PIL images, arrays) whose feature maps, receptive fields
    and top-5 the page shows (a tag or a run only). ``out``: the file (default
    ``NAME.html``). ``input_shape``: a model name's input (H, W, D). ``max_channels``:
    feature maps per stage (1 to 64). Returns the :class:`Written` file.
    """
    return write_page(check(model_or_tag_or_run, images, out, input_shape=input_shape,
                            max_channels=max_channels))
