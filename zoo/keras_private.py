"""The zoo's reach-ins to Keras' private API, each behind one function (pinned by
tests/test_private_hooks.py against the Keras versions setup.cfg allows).

- ``keras.src.backend.common.global_state``: the list of variables a
  ``StatelessScope(initialize_variables=False)`` defers (model cards build without allocating);
- ``BackupAndRestore``'s file names and counters (``_weights_path``, ``_training_metadata_path``,
  ``_current_epoch``, ``_last_batch_seen``) and its ``_save_model`` hook, which
  :class:`cnn_zoo.callbacks.Backup` overrides to write atomically;
- ``module_utils.tensorflow``, the lazy module through which Keras imports TensorFlow,
  marked unavailable on PyTorch.
"""

from __future__ import annotations

import contextlib

BACKUP_ATTRIBUTES = ("_weights_path", "_training_metadata_path", "_current_epoch", "_last_batch_seen")
BACKUP_HOOK = "_save_model"


@contextlib.contextmanager
def deferred_variables_forgotten():
    """Inside: variables get shapes but no values; on exit Keras' list of variables still to
    initialise is put back as it was (else the next scope's exit would allocate them after all).
    On a Keras without that list the block builds as usual (allocating)."""
    import keras

    try:
        from keras.src.backend.common import global_state
    except ImportError:  # another Keras layout
        yield
        return
    key = "uninitialized_variables"
    before = list(global_state.get_global_attribute(key, []))
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute(key, before)


def hide_tensorflow() -> None:
    """Keras tests ``module_utils.tensorflow.available`` in many places (seeding tf.random,
    recognising TensorFlow objects while saving), and that imports TensorFlow wherever it is
    installed. Beside PyTorch (2.14) TensorFlow can crash the process: mark it unavailable to
    Keras for this process. Only for a backend that never needs TensorFlow."""
    from keras.src.utils import module_utils

    if module_utils.tensorflow.module is None:
        module_utils.tensorflow._available = False


def backup_state(backup) -> dict:
    """A ``BackupAndRestore``'s private state: where it writes and where it is."""
    return {name: getattr(backup, name) for name in BACKUP_ATTRIBUTES}


def defer_symbolic_build(model) -> None:
    """Keras 3.15's TensorFlow ``fit`` under a strategy builds the model from a first batch
    reduced by ``strategy.reduce("MEAN", (x, y))``, which MultiWorkerMirroredStrategy refuses
    for a tuple ("Attempt to convert a value (PerReplica...) to a Tensor"). Without the strategy
    recorded at compile, ``fit`` takes the one in scope and builds when it traces the step."""
    if getattr(model, "_distribute_strategy", None) is not None:
        model._distribute_strategy = None


def first_replica_logs_under_multi_worker() -> None:
    """Keras 3.15's TensorFlow train step reduces its logs with ``reduction="auto"``, i.e.
    "mean", which under MultiWorkerMirroredStrategy is ``strategy.reduce("MEAN", v, axis=0)``
    and fails on the scalar logs ("Invalid reduction dimension 0"). The logs are metrics the
    strategy already synchronised, so the first replica's are everyone's (Keras' "first")."""
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "zoo_first", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction == "auto" and trainer._collective_all_reduce_multi_worker(strategy):
            reduction = "first"
        return original(values, strategy, reduction)

    reduce_per_replica.zoo_first = True
    trainer.reduce_per_replica = reduce_per_replica
