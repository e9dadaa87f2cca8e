"""The zoo's reach-ins to Keras' private API, each behind one function (pinned by
tests/test_private_hooks.py against the Keras versions setup.cfg allows).

- ``keras.src.backend.common.global_state``: the list of variables a
  ``StatelessScope(initialize_variables=False)`` defers (model cards build without allocating);
- ``BackupAndRestore``'s file names and counters (``_weights_path``, ``_training_metadata_path``,
  ``_current_epoch``, ``_last_batch_seen``) and its ``_save_model`` hook, which
  :class:`cnn_zoo.callbacks.Backup` overrides to write atomically.
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


def backup_state(backup) -> dict:
    """A ``BackupAndRestore``'s private state: where it writes and where it is."""
    return {name: getattr(backup, name) for name in BACKUP_ATTRIBUTES}
