"""A small published model, shared by test_hub.py and test_predict.py.

``published`` trains LeNet-5 (modern) for one epoch on 400 embedded MNIST
digits (real training, ~15 s), publishes the run as ``lenet5_modern.tiny``
into a temporary hub folder and returns where everything is. It runs once per
session even though two test modules import it (each import makes its own
fixture definition, so the result is kept here).

``hub_for(tmp_path, published)`` is a Hub whose local folder is that hub and
whose cache is empty.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import pytest

TAG = "lenet5_modern.tiny"
_DONE = {}


@dataclasses.dataclass(frozen=True)
class Published:
    run_dir: Path
    dest: Path          # manifest.json + TAG.weights.h5
    info: object        # WeightsInfo
    tag: str = TAG


def shared_data_dir() -> Path:
    env = os.environ.get("ZOO_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def published(tmp_path_factory) -> Published:
    if "published" not in _DONE:
        from cnn_zoo.hub import publish
        from cnn_zoo.train import train

        root = tmp_path_factory.mktemp("published")
        result = train("default", root / "run", verbose=0,
                       overrides=["epochs=1", "model.name=lenet5_modern", "dataset.max_examples=400"])
        assert result.status == "finished", result.message
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            info = publish(result.run_dir, TAG, dest=root / "hub")
        # MNIST's licence is known: no "unknown licence" warning.
        assert not [w for w in caught if "licence" in str(w.message)], caught
        _DONE["published"] = Published(Path(result.run_dir), root / "hub", info)
    return _DONE["published"]


def hub_for(tmp_path: Path, published: Published, **kwargs):
    from cnn_zoo.hub import Hub

    return Hub(home=tmp_path / "zoo-home", local=published.dest, **kwargs)
