"""Tuning K/F/S/P (and the rest of a recipe) with Keras Tuner: ``zoo tune`` and ``zoo promote``.

- :mod:`zoo.tune.space`: the recipe's search_space, validated; the shape check.
- :mod:`zoo.tune.oracles`: Keras Tuner's four oracles, taught to reject infeasible shapes.
- :mod:`zoo.tune.hypermodel`, :mod:`zoo.tune.tuner`: building and training one trial.
- :mod:`zoo.tune.search`: the driver (:func:`tune`): folders, resume, time budget.
- :mod:`zoo.tune.distributed`: Keras Tuner's chief/worker mode over gRPC.
- :mod:`zoo.tune.report`: ranked table, CSV, JSON, PNG.
- :mod:`zoo.tune.promotion`: retrain the best trial and publish it.

Importing this package is cheap; the names below import Keras on first use.
"""

from zoo.tune.space import SearchSpace, SearchSpaceError

__all__ = ["SearchSpace", "SearchSpaceError", "TuneError", "TuneResult", "tune", "run_worker",
           "promote", "load_report"]

_LAZY = {"tune": "zoo.tune.search", "TuneResult": "zoo.tune.search", "TuneError": "zoo.tune.search",
         "run_worker": "zoo.tune.distributed", "promote": "zoo.tune.promotion",
         "load_report": "zoo.tune.report"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo.tune' has no attribute {name!r}")
