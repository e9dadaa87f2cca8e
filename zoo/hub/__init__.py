"""Pretrained weights by tag: publish, pull, verify, cache, load, predict, show.

    import cnn_zoo as zoo
    model = zoo.load("lenet5.mnist")             # a Keras model with its weights
    model = zoo.load("lenet5.mnist", raw=True)   # raw uint8 images in, probabilities out
    layer = zoo.preprocessing("lenet5.mnist")    # the tag's preprocessing as one Keras layer
    model.zoo_info.class_names, model.zoo_info.preprocessing, model.zoo_info.metrics
    path = zoo.pull("lenet5.mnist")              # the verified .weights.h5 file
    cnn_zoo.hub.predict("lenet5.mnist", ["digit.png"], top_k=3)
    cnn_zoo.hub.show("lenet5.mnist", "digit.png", out_dir="show/")
    cnn_zoo.hub.publish("runs/lenet5-mnist", "lenet5.mnist")

The use cases of the tags, on the floor above training; the files themselves
come from the weights store, ``cnn_zoo.weights`` (manifest, sources, verified
downloads, lock: standard library only), and ``pull`` converts a publisher's
file on its first use (``cnn_zoo.convert.pulling``). One concept per module:

- ``loading``: ``load`` (and head rebuilding for fine-tuning; ``raw=True``), ``load_run``,
  ``preprocessing``, ``evaluate``, and ``get_model`` (``zoo.get_model``, whose ``weights``
  may be a tag);
- ``tags``: ``list_pretrained`` and ``tag_card``, the tags as a user browses them;
- ``finetuning``: ``finetune``, a tag trained on a user's own data (other classes too);
- ``publishing``: ``publish``, a run folder → a manifest entry and a weights file;
- ``prediction``: ``predict``, image files → top-k labels;
- ``engine``: what runs ``predict``'s model call (Keras' predict step, or LiteRT for small models);
- ``pictures``: ``show``, first-layer filters and feature maps as PNGs;
- ``shipped``: ``saved_models/manifest.json``, generated from the tags each family
  declares beside its module (``cnn_zoo.models.<family>_weights``).

(The modules are not named after their functions, so that ``cnn_zoo.hub.load``
stays the function once its module is imported.)

Environment: ``ZOO_HOME`` (cache root, default the user's cache folder +
``cnn-zoo``), ``ZOO_HUB_URL`` (remote hub), ``ZOO_OFFLINE=1`` (no network),
``ZOO_HUB_TIMEOUT`` (seconds, default 30).

Importing this package, ``pull``, ``info``, ``list_pretrained`` and ``tag_card`` do not import Keras; the other
functions import it on first use.
"""

import importlib

from cnn_zoo.weights.errors import (  # noqa: F401
    DownloadError,
    HubError,
    IntegrityError,
    ManifestError,
    OfflineError,
    UnknownTagError,
)
from cnn_zoo.weights.manifest import WeightsInfo, parse_tag, verify  # noqa: F401
from cnn_zoo.weights.store import Hub, available, info  # noqa: F401

__all__ = [
    "ClassNamesWarning", "DownloadError", "HeadRebuiltWarning", "RunInfo", "finetune", "list_pretrained",
    "load_run", "tag_card", "Hub", "HubError", "ImageError", "IntegrityError",
    "ManifestError", "OfflineError", "Prediction", "UnknownTagError", "WeightsInfo", "available",
    "evaluate", "info", "load", "parse_tag", "predict", "preprocessing", "publish", "pull", "read_image",
    "show", "verify", "resolve", "is_run", "run_paths", "feature_layers", "filter_tiles", "rgb_kernel", "is_bgr",
]

# Names whose modules import Keras (or NumPy-heavy code): loaded on first access.
_LAZY = {
    "load": "cnn_zoo.hub.loading", "evaluate": "cnn_zoo.hub.loading", "HeadRebuiltWarning": "cnn_zoo.hub.loading",
    "load_run": "cnn_zoo.hub.loading", "RunInfo": "cnn_zoo.hub.loading", "ClassNamesWarning": "cnn_zoo.hub.loading",
    "preprocessing": "cnn_zoo.hub.loading",
    "list_pretrained": "cnn_zoo.hub.tags", "tag_card": "cnn_zoo.hub.tags",
    "finetune": "cnn_zoo.hub.finetuning",
    "publish": "cnn_zoo.hub.publishing",
    "predict": "cnn_zoo.hub.prediction", "read_image": "cnn_zoo.hub.prediction", "Prediction": "cnn_zoo.hub.prediction",
    "ImageError": "cnn_zoo.hub.prediction",
    "show": "cnn_zoo.hub.pictures",
    "pull": "cnn_zoo.convert.pulling",  # the store's pull, or a publisher's file converted on first use
    # What zoo page draws from: a tag, run or loaded model resolved, and the pictures' pieces.
    "resolve": "cnn_zoo.hub.loading", "is_run": "cnn_zoo.hub.loading", "run_paths": "cnn_zoo.hub.loading",
    "feature_layers": "cnn_zoo.hub.pictures", "filter_tiles": "cnn_zoo.hub.pictures",
    "rgb_kernel": "cnn_zoo.hub.pictures", "is_bgr": "cnn_zoo.hub.pictures",
}


def __getattr__(name):  # PEP 562
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cnn_zoo.hub' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
