"""How a run computes: number format, XLA, steps per execution and data parallelism.

Each choice is the recipe's, with ``auto`` resolved for this machine
(:mod:`cnn_zoo.hardware`); ``cnn_zoo.train`` records the resolved values in the
run's manifest.
"""

from __future__ import annotations

import contextlib

import keras

from cnn_zoo import hardware
from cnn_zoo import run as runs


def jit(recipe) -> bool:
    """The recipe's jit_compile, ``auto`` resolved for this backend and device."""
    if recipe.jit_compile != "auto":
        return recipe.jit_compile
    if keras.backend.backend() == "jax":  # without jax.jit every op is dispatched alone (LeNet-5: 12x slower)
        return True
    # XLA pays off on accelerators; on this class of CPU it made LeNet-5 slower.
    return any("GPU" in d.upper() or "CUDA" in d.upper() for d in hardware.devices())


@contextlib.contextmanager
def dtype_policy(name):
    """The global Keras dtype policy ``name`` (None: unchanged) while inside."""
    previous = keras.config.dtype_policy()
    if name:
        keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def distribution(recipe, cluster=None):
    """The backend's own data-parallel engine, over every visible device, if asked
    (over every worker's, with a cluster: :mod:`cnn_zoo.cluster`)."""
    if cluster is not None and cluster.strategy is not None:
        with cluster.strategy.scope():
            yield cluster.strategy.num_replicas_in_sync
        return
    if not recipe.distribute and cluster is None:
        yield 1
        return
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # the TensorFlow backend only
        gpus = tf.config.list_logical_devices("GPU")
        # MirroredStrategy() alone takes only /cpu:0 when there is no GPU.
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
        with strategy.scope():
            yield strategy.num_replicas_in_sync
    elif backend == "jax":
        distribution = keras.distribution.DataParallel()  # over every process's devices
        if cluster is not None:  # each process already reads only its share (cnn_zoo.cluster.shard)
            distribution.auto_shard_dataset = False
        keras.distribution.set_distribution(distribution)
        try:
            yield len(distribution.device_mesh.devices.flatten())
        finally:
            keras.distribution.set_distribution(None)
    else:
        raise runs.RunError(f"distribute: true is not supported on the {backend} backend; "
                            "use tensorflow or jax")


def steps_per_execution(recipe):
    """The recipe's value, except 1 under tf.distribute: Keras 3.15's multi-step loop fails
    inside MirroredStrategy ("You must feed a value for placeholder tensor ... while/cond")."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # idem
        if recipe.distribute or tf.distribute.has_strategy():  # also a cluster's
            return 1
    return recipe.steps_per_execution



def float32_twin(model, build):
    """``model`` computing in float32: what a run evaluates and saves. A model trained in
    mixed bfloat16 would otherwise run in bfloat16 wherever it is loaded, emulated and slow
    on a CPU without AMX; its variables are float32 already, so the weights carry over
    exactly. ``build()`` makes the same architecture (it runs under the float32 policy)."""
    if model.dtype_policy.name == "float32":
        return model
    with dtype_policy("float32"):
        twin = build()
    twin.set_weights(model.get_weights())
    if twin.optimizer is not None:  # built, so that loading the saved model warns of no mismatch
        twin.optimizer.build(twin.trainable_variables)
    return twin
