"""Tuning K/F/S/P (and the rest of a recipe) with Keras Tuner: ``zoo tune`` and ``zoo promote``.

- :mod:`cnn_zoo.tune.space`: the recipe's search_space, validated; the shape check.
- :mod:`cnn_zoo.tune.oracles`: Keras Tuner's four oracles, taught to reject infeasible shapes.
- :mod:`cnn_zoo.tune.hypermodel`, :mod:`cnn_zoo.tune.tuner`: building and training one trial.
- :mod:`cnn_zoo.tune.search`: the driver (:func:`tune`, :func:`run_worker`): folders, resume, time budget.
- :mod:`cnn_zoo.tune.distributed`: Keras Tuner's chief/worker mode over gRPC.
- :mod:`cnn_zoo.tune.errors`: ``TuneError``; :mod:`cnn_zoo.tune.kt_private`: Keras Tuner's private API, pinned.
- :mod:`cnn_zoo.tune.report`: ranked table, CSV, JSON, PNG.
- :mod:`cnn_zoo.tune.promotion`: retrain the best trial and publish it.

Importing this package is cheap; the names below import Keras on first use.
"""

import importlib

from cnn_zoo.tune.space import SearchSpace, SearchSpaceError

__all__ = ["SearchSpace", "SearchSpaceError", "TuneError", "TuneResult", "tune", "run_worker",
           "promote", "load_report"]

_LAZY = {"tune": "cnn_zoo.tune.search", "TuneResult": "cnn_zoo.tune.search", "TuneError": "cnn_zoo.tune.errors",
         "run_worker": "cnn_zoo.tune.search", "promote": "cnn_zoo.tune.promotion",
         "load_report": "cnn_zoo.tune.report"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cnn_zoo.tune' has no attribute {name!r}")
