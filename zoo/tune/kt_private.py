"""The zoo's use of Keras Tuner's private API, in one place (pinned by tests/test_private_hooks.py
against the keras-tuner versions setup.cfg allows: >=1.4.7,<1.5).

Imports from ``keras_tuner.src`` are made here only; the private methods our subclasses
override or call are listed in HOOKS with the signature we rely on.
"""

from __future__ import annotations

import keras_tuner
from keras_tuner.src.engine import trial as _trial
from keras_tuner.src.engine import tuner_utils as _tuner_utils
from keras_tuner.src.engine.oracle import synchronized  # noqa: F401  (the oracle's lock decorator)

SaveBestEpoch = _tuner_utils.SaveBestEpoch  # the best-epoch checkpoint callback
TunerCallback = _tuner_utils.TunerCallback  # reports epochs to the oracle
TrialStatus = _trial.TrialStatus

# (class, private name, the parameters we rely on): overridden (o) or called (c) by cnn_zoo.tune.
HOOKS = (
    (keras_tuner.Tuner, "_try_run_and_update_trial", ("self", "trial", "*fit_args", "**fit_kwargs")),  # o
    (keras_tuner.Tuner, "_run_and_update_trial", ("self", "trial", "*fit_args", "**fit_kwargs")),  # c
    (keras_tuner.Tuner, "_populate_initial_space", ("self",)),  # o
    (keras_tuner.Tuner, "_build_hypermodel", ("self", "hp")),  # c
    (keras_tuner.Tuner, "_get_checkpoint_fname", ("self", "trial_id")),  # c
    (keras_tuner.Tuner, "_get_tuner_fname", ("self",)),  # c
    (keras_tuner.Tuner, "_is_worker", ("self",)),  # c
    (keras_tuner.Oracle, "_duplicate", ("self", "values")),  # o
    (keras_tuner.Oracle, "_check_consecutive_failures", ("self",)),  # o
    (keras_tuner.Oracle, "_save_trial", ("self", "trial")),  # o
    (keras_tuner.Oracle, "_compute_values_hash", ("self", "values")),  # c
    (keras_tuner.Oracle, "_get_oracle_fname", ("self",)),  # c
    (keras_tuner.Oracle, "_get_trial_dir", ("self", "trial_id")),  # c
    (keras_tuner.oracles.GridSearchOracle, "_get_next_combination", ("self", "values")),  # o
    (keras_tuner.oracles.BayesianOptimizationOracle, "_random_populate_space", ("self",)),  # c
    (SaveBestEpoch, "_save_model", ("self",)),  # o
)
# Attributes an Oracle sets in __init__ that we read or set.
ORACLE_ATTRIBUTES = ("_max_collisions", "_project_dir")


def is_worker(tuner) -> bool:
    """True in a distributed search's worker process (Keras Tuner reads KERASTUNER_TUNER_ID)."""
    return tuner._is_worker()


def oracle_service():
    """``(protos, OracleServicer, exit_chief)``: Keras Tuner's gRPC oracle service (imports grpc)."""
    from keras_tuner.src import protos  # Keras Tuner's gRPC service: only the distributed search needs it
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief

    return protos, OracleServicer, exit_chief
