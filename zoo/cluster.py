"""Training on several workers (hosts, or processes) with the engines Keras has.

One ``zoo train RECIPE --out DIR`` runs per worker, configured by the standard environment:

- TensorFlow: ``TF_CONFIG`` (``{"cluster": {"worker": ["host:port", ...]}, "task": {"type":
  "worker", "index": i}}``), read by ``tf.distribute.MultiWorkerMirroredStrategy``.
- JAX: ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (the coordinator's ``host:port`` first),
  ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID``, read by
  ``keras.distribution.initialize`` (which calls ``jax.distributed.initialize``); the run is
  ``keras.distribution.DataParallel`` over every process's devices.

Worker 0 is the chief: it alone writes the run folder. The others train in a private
temporary folder (Keras' own files), and on ``--resume`` start from a copy of the chief's
folder, which must be readable by every worker (shared storage). Each worker reads only its
share of the training data: examples ``index::workers`` (files, or rows of an array), with the
global batch split evenly, so N workers take the steps one worker would with the same batch.

A bad configuration is one line (a :class:`ClusterError`) before any engine starts: bad JSON,
a task index outside the cluster, or a peer that does not answer within ``ZOO_CLUSTER_TIMEOUT``
seconds (default 120): every worker listens on its own port and connects to every peer's
before the engine starts, so a missing peer never becomes a hang inside the engine.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

from cnn_zoo.errors import ZooError
from cnn_zoo.layers.arguments import is_int
from cnn_zoo.keras_private import defer_symbolic_build, first_replica_logs_under_multi_worker

TIMEOUT = 120.0
JAX_VARS = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
            "KERAS_DISTRIBUTION_PROCESS_ID")


class ClusterError(ZooError):
    """A multi-worker configuration that cannot work (TF_CONFIG, the JAX variables, a peer)."""


@dataclasses.dataclass
class Cluster:
    workers: list            # "host:port" of every worker, in task-index order
    index: int               # this worker's
    backend: str
    chief: int = 0
    strategy: object = None  # TensorFlow's MultiWorkerMirroredStrategy, once connected

    @property
    def is_chief(self) -> bool:
        return self.index == self.chief

    def record(self) -> dict:
        """What the run manifest records."""
        return {"workers": len(self.workers), "chief": self.chief, "backend": self.backend,
                "addresses": [a for a in self.workers if a]}  # JAX: the coordinator's


def _parse_address(text, where) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"{where} must be host:port; Received: {text!r}")
    return host, int(port)


def parse_tf_config(text: str) -> Cluster:
    """The cluster that ``TF_CONFIG`` describes, checked (one ClusterError line if not)."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClusterError(f"TF_CONFIG is not valid JSON ({error.msg}, column {error.colno}); set it to "
                           '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", '
                           '"index": I}}') from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise ClusterError('TF_CONFIG needs a "cluster" object: {"cluster": {"worker": '
                           '["host:port", ...]}, ...}')
    cluster, task = config["cluster"], config.get("task")
    unknown = set(cluster) - {"chief", "worker"}
    if unknown:
        raise ClusterError(f"TF_CONFIG's cluster may list only chief and worker tasks "
                           f"(data-parallel training); Received: {sorted(unknown)}")
    workers = [*cluster.get("chief", []), *cluster.get("worker", [])]
    if not workers or not all(isinstance(w, str) for w in [*workers]):
        raise ClusterError('TF_CONFIG\'s cluster.worker must be a list of "host:port" strings; '
                           f"Received: {cluster!r}")
    for i, address in enumerate(workers):
        _parse_address(address, f"TF_CONFIG worker {i}")
    if len(set(workers)) != len(workers):
        raise ClusterError(f"TF_CONFIG lists an address twice; Received: {workers}")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ClusterError(f'TF_CONFIG needs "task": {{"type": one of {sorted(cluster)}, "index": I}}; '
                           f"Received: task={task!r}")
    index = task.get("index")
    size = len(cluster[task["type"]])
    if not is_int(index) or not 0 <= index < size:
        raise ClusterError(f"TF_CONFIG's task index must be 0..{size - 1} (its cluster has {size} "
                           f"{task['type']} task{'s' * (size > 1)}); Received: index={index!r}")
    if task["type"] == "worker" and "chief" in cluster:
        index += len(cluster["chief"])
    return Cluster(workers, index, "tensorflow")


def parse_keras_env(env) -> Cluster:
    """The cluster of the ``KERAS_DISTRIBUTION_*`` variables (JAX), checked."""
    addresses = [a for a in env.get(JAX_VARS[0], "").split(",") if a]
    try:
        count, index = int(env.get(JAX_VARS[1], "")), int(env.get(JAX_VARS[2], ""))
    except ValueError:
        raise ClusterError(f"{JAX_VARS[1]} and {JAX_VARS[2]} must be integers; Received: "
                           f"{env.get(JAX_VARS[1])!r}, {env.get(JAX_VARS[2])!r}") from None
    if not addresses:
        raise ClusterError(f"{JAX_VARS[0]} must give the coordinator's host:port (worker 0's)")
    for address in addresses:
        _parse_address(address, JAX_VARS[0])
    if count < 1 or not 0 <= index < count:
        raise ClusterError(f"{JAX_VARS[2]} must be 0..{count - 1}; Received: {index}")
    # Only the coordinator's address is known: the others connect to it (jax.distributed).
    workers = addresses if len(addresses) == count else [addresses[0]] + [""] * (count - 1)
    return Cluster(workers, index, "jax")


def configured(env=None) -> bool:
    """Whether the environment names a cluster (TF_CONFIG or KERAS_DISTRIBUTION_*), for any backend."""
    env = os.environ if env is None else env
    return bool(env.get("TF_CONFIG", "").strip()) or any(env.get(v) for v in JAX_VARS)


def from_env(backend: str, env=None) -> Cluster | None:
    """This process's cluster from the environment, or None (one machine)."""
    env = os.environ if env is None else env
    if backend == "tensorflow" and env.get("TF_CONFIG", "").strip():
        return parse_tf_config(env["TF_CONFIG"])
    if backend == "jax" and any(env.get(v) for v in JAX_VARS):
        return parse_keras_env(env)
    if env.get("TF_CONFIG", "").strip() and backend != "tensorflow":
        raise ClusterError(f"TF_CONFIG is set but the backend is {backend}; set KERAS_BACKEND="
                           f"tensorflow, or use {', '.join(JAX_VARS)} for JAX")
    return None


def _timeout(env=None) -> float:
    value = (os.environ if env is None else env).get("ZOO_CLUSTER_TIMEOUT", "")
    try:
        return float(value) if value else TIMEOUT
    except ValueError:
        raise ClusterError(f"ZOO_CLUSTER_TIMEOUT must be seconds; Received: {value!r}") from None


def wait_for_peers(cluster: Cluster, timeout: float) -> None:
    """Listen on this worker's port while connecting to every peer's, within ``timeout`` s."""
    own = cluster.workers[cluster.index]
    listener = None
    if own:
        host, port = _parse_address(own, "this worker's address")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("" if host not in ("127.0.0.1", "localhost") else host, port))
            listener.listen(16)
        except OSError as error:
            listener.close()
            raise ClusterError(f"worker {cluster.index} cannot listen on {own} "
                               f"({error.strerror or error}); free that port or give another") from None
    try:
        deadline = time.monotonic() + timeout
        for i, address in enumerate(cluster.workers):
            if i == cluster.index or not address:
                continue
            host, port = _parse_address(address, f"worker {i}")
            while True:
                try:
                    with socket.create_connection((host, port), timeout=1.0):
                        break
                except socket.gaierror:
                    raise ClusterError(f"worker {i}'s host {host!r} is unknown (name resolution "
                                       "failed); fix its address") from None
                except OSError:
                    if time.monotonic() > deadline:
                        raise ClusterError(
                            f"worker {i} at {address} did not answer within {timeout:g} s; start "
                            "'zoo train' there with the same cluster, or fix its address "
                            "(ZOO_CLUSTER_TIMEOUT sets the wait)") from None
                    time.sleep(0.2)
    finally:
        if listener is not None:
            listener.close()


def connect(cluster: Cluster) -> Cluster:
    """Check every peer answers, then start the engine's multi-worker mode (before any other op)."""
    wait_for_peers(cluster, _timeout())
    if cluster.backend == "tensorflow":
        import tensorflow as tf  # the engine of this backend only

        cluster.strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        import jax
        import keras

        # CPU devices of several processes need gloo for their collectives (no effect on GPUs);
        # asking jax which backend it has would start it, before initialize() may.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        keras.distribution.initialize()
    return cluster


def worker_folder(cluster: Cluster, out_dir, resume: bool) -> Path:
    """Where this worker writes: ``out_dir`` for the chief, else a private temporary folder
    (a copy of the chief's run folder, to resume from)."""
    if cluster.is_chief:
        return Path(out_dir)
    private = Path(tempfile.mkdtemp(prefix=f"zoo-worker{cluster.index}-")) / "run"
    atexit.register(shutil.rmtree, private.parent, ignore_errors=True)  # nothing left behind
    if resume:
        shutil.copytree(out_dir, private, ignore=shutil.ignore_patterns(".lock"))
    return private


def shard(dataset, cluster: Cluster | None, batch_size: int):
    """(this worker's examples ``index::workers``, its share of the global batch)."""
    if cluster is None or len(cluster.workers) == 1:
        return dataset, batch_size
    workers = len(cluster.workers)
    if batch_size % workers:
        raise ClusterError(f"batch_size ({batch_size}) must be a multiple of the number of "
                           f"workers ({workers}): each takes an equal share of every batch")
    return dataset.subset(np.arange(cluster.index, len(dataset), workers)), batch_size // workers


def distribute(data, cluster: Cluster | None, model=None):
    """``data`` for ``model.fit`` under the cluster: on TensorFlow, this worker's (already
    sharded) tf.data pipeline as it is, not re-sharded or re-batched by the strategy."""
    if cluster is None or cluster.strategy is None or data is None or not hasattr(data, "map"):
        return data
    import tensorflow as tf  # idem (tf.distribute)


    first_replica_logs_under_multi_worker()
    if model is not None:
        defer_symbolic_build(model)

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    data = data.with_options(options)
    return cluster.strategy.distribute_datasets_from_function(lambda context: data)
