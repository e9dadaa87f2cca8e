"""cnn-zoo: convolutional networks by name, with their arithmetic shown.

    import cnn_zoo as zoo
    zoo.list_models("lenet*")
    model = zoo.get_model("lenet5")
    model = zoo.get_model("lenet5", weights="lenet5.mnist")  # keras.applications style
    print(zoo.card_for("lenet5"))
    model = zoo.load("lenet5.mnist")     # pretrained weights by tag (cnn_zoo.hub)
    model = zoo.load("lenet5.mnist", raw=True)   # the same behind its preprocessing: raw uint8 images in
    layer = zoo.preprocessing("lenet5.mnist")    # that preprocessing alone, one Keras layer (tf.data)
    zoo.list_pretrained()                # the published tags, as timm's list_pretrained
    zoo.page("lenet5.mnist", images=["digit.png"], out="lenet5.html")   # one HTML page
    zoo.__version__

Importing ``zoo`` is cheap (no Keras): the registry is plain Python, and the
model card (which inspects Keras models) is imported on first use.

The folder ``zoo/`` installs as this package, ``cnn_zoo``: ``cnn_zoo.hub`` is
``zoo/hub/``, and so on (docs/architecture.md has the floors).
"""

import importlib

from cnn_zoo.errors import (  # noqa: F401
    DuplicateModelError,
    UnknownArgumentError,
    UnknownModelError,
    ZooError,
)
from cnn_zoo.registry import (  # noqa: F401
    describe_models,
    get_builder,
    get_family,
    list_models,
    register_model,
)

__all__ = [
    "Card", "DuplicateModelError", "UnknownArgumentError", "UnknownModelError", "ZooError",
    "card_for", "describe_models", "get_builder", "get_family", "get_model", "list_models", "list_pretrained", "load",
    "model_card", "preprocessing",
    "pull", "register_model", "convert_weights", "export", "page", "__version__",
]

# Public names that live in modules importing Keras, or on the floors above the registry
# (get_model resolves weights=TAG through the hub): loaded on first access.
_LAZY = {"model_card": "cnn_zoo.card", "card_for": "cnn_zoo.card", "Card": "cnn_zoo.card",
         "get_model": "cnn_zoo.hub.loading",
         "load": "cnn_zoo.hub", "pull": "cnn_zoo.hub", "list_pretrained": "cnn_zoo.hub.tags",
         "preprocessing": "cnn_zoo.hub",  # a tag's preprocessing as one Keras layer
         "convert_weights": "cnn_zoo.convert",  # publishers' ImageNet weights
         "export": "cnn_zoo.export",  # zoo.export(model_or_tag_or_run, format, path): a callable package
         "page": "cnn_zoo.page"}  # zoo.page(model_or_tag_or_run, images, out): one HTML file


def __getattr__(name):  # PEP 562
    if name == "__version__":  # setup.cfg's version, as installed: the one source of truth
        from importlib import metadata  # here: it costs `import cnn_zoo` ~20 ms (email, zipfile, csv)

        try:
            return metadata.version("cnn-zoo")
        except metadata.PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cnn_zoo' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
