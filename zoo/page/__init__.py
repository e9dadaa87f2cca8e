"""``zoo page``: a model (with its arithmetic, and what it sees in an image) as one HTML file.

    import cnn_zoo as zoo
    zoo.page("lenet5.mnist", images=["digit.png"], out="lenet5.html")   # or cnn_zoo.page.page(...)

One concept per module:

- ``request``: what was asked, checked before Keras is imported (``check``, ``PageError``);
- ``network``: the network as volumes: the model card's rows, windows, and branches that join;
- ``features``: an image's input, feature maps, filters and top-5, as data;
- ``writer``: ``page``: the data rendered into ``assets/page.html`` and written atomically.

The page itself is ``assets/``: one HTML skeleton, one stylesheet and plain
scripts (``arithmetic.js`` mirrors ``cnn_zoo.layers.arithmetic``; the browser
tests hold them equal). Importing this package imports no Keras.
"""

import importlib
import sys
import types

__all__ = ["page", "check", "PageError", "Request", "Written"]

# Public names -> their module; the writer's import Keras, so they load on first access.
_LAZY = {"page": "writer", "Written": "writer", "check": "request", "PageError": "request",
         "Request": "request"}


def __getattr__(name):  # PEP 562
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """``cnn_zoo.page`` is this package once imported; ``zoo.page(...)`` calls :func:`page`."""

    def __call__(self, *args, **kwargs):
        return __getattr__("page")(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
