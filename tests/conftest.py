"""Fixtures shared by the test files (keep this small)."""

import os

import pytest

from cnn_zoo import registry


@pytest.fixture
def fresh_registry(monkeypatch):
    """An empty registry (no catalogue) in place of the default, for the test's duration.

    ``@register_model`` and the module-level functions use it, so tests can
    register throwaway models without touching the real one.
    """
    fresh = registry.Registry(catalog={})
    monkeypatch.setattr(registry, "REGISTRY", fresh)
    return fresh


@pytest.fixture(autouse=True, scope="session")
def _cache_outside_the_users(tmp_path_factory):
    """ZOO_HOME in a temporary folder for the whole run, so nothing a test converts or pulls
    (`zoo predict`'s cached ONNX files, weights) lands in the developer's own cache; a test
    that needs its own home still sets ZOO_HOME itself."""
    if "ZOO_HOME" not in os.environ:
        os.environ["ZOO_HOME"] = str(tmp_path_factory.mktemp("zoo-home"))
    yield
