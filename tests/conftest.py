"""Fixtures shared by the test files (keep this small)."""

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
