"""How a run computes, decided in one place: the :class:`ComputePlan`.

:func:`plan_for` resolves a recipe's compute settings once, for this Keras
backend and these devices, each with the reason for the choice:

- the number format (``mixed_precision``; ``auto`` chosen by :mod:`cnn_zoo.hardware`);
- XLA (``jit_compile``; ``auto``: jitted on JAX, and with TensorFlow on an accelerator;
  PyTorch runs eagerly, as Keras' own ``auto``; an explicit ``false`` is honoured);
- ``steps_per_execution`` (1 on PyTorch, whose Keras trainer runs one step per call,
  and under tf.distribute);
- data parallelism (``distribute``, or a cluster's: :mod:`cnn_zoo.cluster`);
- ``fused_batch_norm`` (``auto``: TensorFlow's fused kernel behind Keras' BatchNormalization
  on TensorFlow, :mod:`cnn_zoo.fused_batch_norm`; Keras' own ops on JAX and PyTorch).

A training run, every tuning trial, a fine-tuning run and the benches apply it
the same way::

    plan = plan_for(recipe)
    with plan.scope() as replicas:   # the dtype policy and the data-parallel engine
        compiled = build_and_compile(recipe, input_shape, classes, steps, plan)  # plan.apply, plan.compile_args()

and a run's manifest records :meth:`ComputePlan.record`: what ran and why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys

import keras

from cnn_zoo import hardware, keras_private
from cnn_zoo.fused_batch_norm import fuse_batch_norm
from cnn_zoo import run as runs

# mixed_precision -> Keras' global dtype policy
POLICIES = {"none": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


@dataclasses.dataclass(frozen=True)
class Choice:
    """One setting: what the recipe asked, what runs, and why."""
    asked: object
    chosen: object
    why: str

    def record(self) -> dict:
        return {"recipe": self.asked, "chosen": self.chosen, "why": self.why}


@dataclasses.dataclass(frozen=True)
class ComputePlan:
    """A recipe's compute settings for one backend and its devices (see the module docstring)."""
    backend: str
    devices: tuple
    mixed_precision: Choice       # chosen: none, bfloat16 or float16
    jit_compile: Choice           # chosen: bool
    steps_per_execution: Choice   # chosen: int
    distribute: Choice            # chosen: bool (a cluster's strategy counts as true)
    fused_batch_norm: Choice      # chosen: bool

    @property
    def dtype_policy(self) -> str:
        """Keras' dtype policy: float32, mixed_bfloat16 or mixed_float16."""
        return POLICIES[self.mixed_precision.chosen]

    def compile_args(self) -> dict:
        """``model.compile``'s arguments from the plan."""
        return {"jit_compile": self.jit_compile.chosen,
                "steps_per_execution": self.steps_per_execution.chosen}

    def apply(self, model) -> int:
        """What the plan changes in a built ``model`` before it is compiled: its batch norms on
        TensorFlow's fused kernel where chosen; returns how many layers it changed."""
        return fuse_batch_norm(model) if self.fused_batch_norm.chosen else 0

    @contextlib.contextmanager
    def scope(self, cluster=None):
        """Inside: the plan's dtype policy and data-parallel engine; yields the replicas."""
        with dtype_policy(self.dtype_policy), distribution(self.distribute.chosen, cluster) as replicas:
            yield replicas

    def in_float32(self) -> "ComputePlan":
        """The same plan computing in float32: what a run evaluates and saves (:func:`float32_twin`)."""
        if self.mixed_precision.chosen == "none":
            return self
        return dataclasses.replace(self, mixed_precision=Choice(
            self.mixed_precision.asked, "none", "the trained model is evaluated and saved in float32"))

    def record(self) -> dict:
        """The plan as the run's manifest keeps it."""
        return {"backend": self.backend, "devices": list(self.devices), "dtype_policy": self.dtype_policy,
                **{name: getattr(self, name).record()
                   for name in ("mixed_precision", "jit_compile", "steps_per_execution", "distribute",
                                "fused_batch_norm")}}


def plan_for(recipe, *, cluster=None, backend=None, devices=None, flags=None) -> ComputePlan:
    """The :class:`ComputePlan` of ``recipe`` on ``backend`` (default: Keras') and ``devices``
    (default: the backend's), with ``cluster`` (:mod:`cnn_zoo.cluster`) if several workers
    run it; ``flags``: the CPU's (:func:`cnn_zoo.hardware.cpu_flags`), for tests."""
    backend = backend or keras.backend.backend()
    devices = tuple(hardware.devices(backend) if devices is None else devices)
    return ComputePlan(backend, devices, _precision(recipe, backend, devices, flags),
                       _jit(recipe, backend, devices),
                       _steps_per_execution(recipe, backend, cluster),
                       _distribute(recipe, backend, cluster), _fused_batch_norm(recipe, backend))


def _precision(recipe, backend, devices, flags) -> Choice:
    asked = recipe.mixed_precision
    if asked != "auto":
        return Choice(asked, asked, "set by the recipe")
    return Choice(asked, *hardware.auto_precision(backend, devices, flags))


def _jit(recipe, backend, devices) -> Choice:
    asked = recipe.jit_compile
    if asked is False and backend == "jax":
        return Choice(asked, False, "set false by the recipe: JAX then runs every op alone "
                                    "(LeNet-5 about 10x slower); jit_compile: auto jits")
    if asked != "auto":
        return Choice(asked, bool(asked), "set by the recipe")
    if backend == "jax":
        return Choice(asked, True, "JAX: without jax.jit every op is dispatched alone (LeNet-5: 12x slower)")
    if backend != "tensorflow":  # Keras' own auto: PyTorch runs eagerly
        return Choice(asked, False, f"{backend}: Keras runs it eagerly (torch.compile only with "
                                    "jit_compile: true)")
    if hardware.accelerated(devices):
        return Choice(asked, True, "an accelerator: XLA fuses the ops")
    return Choice(asked, False, "TensorFlow on a CPU: XLA's convolutions are slower than oneDNN's "
                                "(LeNet-5: 0.45x, docs/benchmarks.md)")


def _steps_per_execution(recipe, backend, cluster) -> Choice:
    asked = recipe.steps_per_execution
    if asked == 1:
        return Choice(asked, 1, "set by the recipe")
    if backend == "torch":
        return Choice(asked, 1, "PyTorch: Keras' trainer runs one step per call there")
    if backend == "tensorflow" and (recipe.distribute or cluster is not None):
        # Keras 3.15's multi-step loop fails inside MirroredStrategy ("You must feed a value
        # for placeholder tensor ... while/cond").
        return Choice(asked, 1, "tf.distribute: Keras' multi-step loop fails inside a strategy")
    return Choice(asked, asked, "set by the recipe: fewer Python round trips per batch")


def _distribute(recipe, backend, cluster) -> Choice:
    if cluster is not None:
        return Choice(recipe.distribute, True, f"a cluster of {len(cluster.workers)} workers")
    if not recipe.distribute:
        return Choice(False, False, "set by the recipe")
    if backend not in ("tensorflow", "jax"):
        raise _no_data_parallelism(backend)
    return Choice(True, True, f"set by the recipe: {backend}'s data parallelism over every visible device")


def _fused_batch_norm(recipe, backend) -> Choice:
    asked = recipe.fused_batch_norm
    if asked is False:
        return Choice(asked, False, "set false by the recipe: Keras' own batch norm ops")
    if backend != "tensorflow":
        return Choice(asked, False, f"{backend}: the fused kernel is TensorFlow's; Keras' batch norm "
                                    "is compiled by the backend itself")
    return Choice(asked, True, "TensorFlow: its fused batch-norm kernel in place of Keras' elementwise "
                               "ops (34% of a ResNet-50 training step on a CPU, docs/benchmarks.md)")


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
def distribution(distribute: bool, cluster=None):
    """The backend's own data-parallel engine, over every visible device, if asked
    (over every worker's, with a cluster: :mod:`cnn_zoo.cluster`)."""
    if cluster is not None and cluster.strategy is not None:
        with cluster.strategy.scope():
            yield cluster.strategy.num_replicas_in_sync
        return
    if not distribute and cluster is None:
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
    else:  # a plan resolved for another backend than the one running it
        raise _no_data_parallelism(backend)


def _no_data_parallelism(backend) -> Exception:
    return runs.RunError(f"distribute: true is not supported on the {backend} backend; use tensorflow or jax")


def seed(value: int) -> None:
    """``keras.utils.set_random_seed``; on PyTorch, Keras first told that TensorFlow is not
    there: it would import it (to seed tf.random, and while saving) wherever it is installed,
    and TensorFlow beside PyTorch (2.14) can crash the process. PyTorch never needs it."""
    if keras.backend.backend() == "torch" and "tensorflow" not in sys.modules:
        keras_private.hide_tensorflow()
    keras.utils.set_random_seed(value)


def float32_twin(model, build):
    """``model`` computing in float32: what a run evaluates and saves. A model trained in
    mixed bfloat16 would otherwise run in bfloat16 wherever it is loaded, emulated and slow
    on a CPU without AMX; its variables are float32 already, so the weights carry over
    exactly. ``build()`` makes the same architecture, compiled, in float32
    (:meth:`ComputePlan.in_float32`)."""
    if model.dtype_policy.name == "float32":
        return model
    with dtype_policy("float32"):
        twin = build()
    twin.set_weights(model.get_weights())
    if twin.optimizer is not None:  # built, so that loading the saved model warns of no mismatch
        twin.optimizer.build(twin.trainable_variables)
    return twin
