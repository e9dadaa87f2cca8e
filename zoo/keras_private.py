"""The zoo's reach-ins to Keras' private API, each behind one function (pinned by
tests/test_private_hooks.py against the Keras versions setup.cfg allows).

- ``keras.src.backend.common.global_state``: the list of variables a
  ``StatelessScope(initialize_variables=False)`` defers (model cards build without allocating);
- the layout of Keras' source (``keras/src/optimizers/NAME.py``, ``base_optimizer.py``): the
  arguments each optimizer takes, read without importing Keras (and TensorFlow) so that a
  recipe's ``optimizer.kwargs`` are checked at once;
- ``model.save_weights`` into memory: Keras' ``H5IOStore`` takes an ``io.BytesIO``
  (``save_weights`` checks only that the name ends in ``.weights.h5``), so h5py never writes
  to a disk that can fill up mid-file (which it survives badly: see cnn_zoo.callbacks);
- ``BackupAndRestore``'s file names and counters (``_weights_path``, ``_training_metadata_path``,
  ``_current_epoch``, ``_last_batch_seen``) and its ``_save_model`` hook, which
  :class:`cnn_zoo.callbacks.Backup` overrides to write atomically;
- ``module_utils.tensorflow``, the lazy module through which Keras imports TensorFlow,
  marked unavailable on PyTorch;
- ``Layer._flatten_layers``: every layer of a model, those inside a custom layer too, and
  ``Layer.__call__`` reaching ``self.call`` by attribute lookup, so that a ``call`` bound on
  one instance computes in its place and is never saved (:mod:`cnn_zoo.fused_batch_norm`).
"""

from __future__ import annotations

import ast
import contextlib
import importlib.machinery
import io
import types
from pathlib import Path

BACKUP_ATTRIBUTES = ("_weights_path", "_training_metadata_path", "_current_epoch", "_last_batch_seen")
BACKUP_HOOK = "_save_model"


@contextlib.contextmanager
def deferred_variables_forgotten():
    """Inside: variables get shapes but no values; on exit Keras' list of variables still to
    initialise is put back as it was (else the next scope's exit would allocate them after all).
    On a Keras without that list the block builds as usual (allocating)."""
    import keras  # the adapter imports without Keras; each hook imports what it reaches into

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
    from keras.src.utils import module_utils  # Keras: the adapter imports without it

    if module_utils.tensorflow.module is None:
        module_utils.tensorflow._available = False


def every_layer(model) -> list:
    """Every layer inside ``model``, nested ones too: ``model.layers`` lists only the top level,
    not the sublayers of a custom layer (an Inception block's BatchNormalizations)."""
    return list(model._flatten_layers(include_self=False, recursive=True))


def rebind_call(layer, call) -> None:
    """``layer`` (this instance only) computes with ``call(layer, inputs, ...)``: Keras'
    ``Layer.__call__`` reaches ``self.call`` by attribute lookup, so the instance's wins; the
    class, ``get_config`` and the saved file stay the stock layer's."""
    layer.call = types.MethodType(call, layer)


def calls_through(layer, call) -> bool:
    """Whether :func:`rebind_call` bound ``call`` on ``layer``."""
    return getattr(layer.call, "__func__", None) is call


class _WeightsBuffer(io.BytesIO):
    def __str__(self):
        return "memory.weights.h5"  # the name save_weights checks


def weights_file_bytes(model) -> bytes:
    """What ``model.save_weights(PATH)`` writes to a .weights.h5 file, made in memory."""
    buffer = _WeightsBuffer()
    model.save_weights(buffer)
    return buffer.getvalue()


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
    from keras.src.backend.tensorflow import trainer  # the TensorFlow backend's trainer only

    original = trainer.reduce_per_replica
    if getattr(original, "zoo_first", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction == "auto" and trainer._collective_all_reduce_multi_worker(strategy):
            reduction = "first"
        return original(values, strategy, reduction)

    reduce_per_replica.zoo_first = True
    trainer.reduce_per_replica = reduce_per_replica


NO_DEFAULT = object()  # an optimizer argument without a default, or with one that is not a literal


def optimizer_arguments(name: str) -> dict | None:
    """{argument: default} of Keras' optimizer ``name`` (a recipe's: "adam", "sgd", ...), read from
    Keras' source without importing it; None where the source is laid out otherwise (the
    optimizer then answers for itself when it is built)."""
    spec = importlib.machinery.PathFinder.find_spec("keras")  # on sys.path, without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "src" / "optimizers"
    own = _init_arguments(folder / f"{name}.py", name)
    if own is None:
        return None
    arguments, passes_on = own
    if passes_on:  # **kwargs go up to BaseOptimizer, which takes its own and refuses the rest
        base = _init_arguments(folder / "base_optimizer.py", "baseoptimizer")
        if base is None:
            return None
        arguments = {**base[0], **arguments}
    return arguments


def _init_arguments(path: Path, lower_name: str):
    """({argument: default}, whether ``**kwargs`` is taken) of the ``__init__`` of the class in
    ``path`` whose lower-case name is ``lower_name``; None if there is none."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name.lower() == lower_name):
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                a = item.args
                positional = a.args[1:]  # without self
                defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults) + list(a.kw_defaults)
                names = [arg.arg for arg in (*positional, *a.kwonlyargs)]
                return {n: _literal(d) for n, d in zip(names, defaults)}, a.kwarg is not None
    return None


def _literal(node):
    if node is None:
        return NO_DEFAULT
    try:
        return ast.literal_eval(node)
    except ValueError:
        return NO_DEFAULT
