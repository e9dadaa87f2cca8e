"""The one reader of a weights manifest file's JSON (format: :mod:`cnn_zoo.hub.manifest`).

A leaf (standard library and :mod:`cnn_zoo.errors` only), so that the registry can list
the shipped tags without importing the hub or Keras.
"""

from __future__ import annotations

import json

from cnn_zoo.errors import ZooError


def read_manifest_json(path, error=ZooError) -> dict:
    """The JSON in ``path`` (a Path or an importlib.resources Traversable); ``{}`` if absent.

    A file that is not JSON (or not text) is one ``error`` naming it.
    """
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as reason:
        raise error(f"{path} is not valid JSON ({reason}); fix or remove it") from None
