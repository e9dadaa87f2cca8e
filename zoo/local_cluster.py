"""``zoo launch``: N local workers of one run on loopback, to try multi-worker training on one
machine (and what the tests use). Each worker is a ``zoo train`` process with the standard
environment of :mod:`cnn_zoo.cluster` (TF_CONFIG, or the KERAS_DISTRIBUTION_* variables for JAX),
on free ports of 127.0.0.1. Worker 0, the chief, writes ``out_dir``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from cnn_zoo.cluster import JAX_VARS, ClusterError
from cnn_zoo.layers.arguments import is_int


@dataclasses.dataclass
class LaunchResult:
    returncodes: list    # per worker, in task-index order
    out_dir: str
    logs: list           # the last lines of each worker's stderr

    @property
    def ok(self) -> bool:
        return all(code == 0 for code in self.returncodes)


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports of 127.0.0.1 that nobody listens on now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def worker_envs(workers: int, backend: str) -> list[dict]:
    """The environment additions of each worker."""
    addresses = [f"127.0.0.1:{p}" for p in free_ports(workers)]
    if backend == "jax":
        return [{"KERAS_DISTRIBUTION_JOB_ADDRESSES": addresses[0],
                 "KERAS_DISTRIBUTION_NUM_PROCESSES": str(workers),
                 "KERAS_DISTRIBUTION_PROCESS_ID": str(i)} for i in range(workers)]
    return [{"TF_CONFIG": json.dumps({"cluster": {"worker": addresses},
                                      "task": {"type": "worker", "index": i}})}
            for i in range(workers)]


def launch(workers: int, recipe=None, out_dir=None, *, overrides=(), resume=False, backend=None,
           timeout=None, env=None, worker_env=None) -> LaunchResult:
    """Run ``zoo train`` as ``workers`` local workers and wait for all; the first to fail
    stops the others (its peers would wait for it forever). ``worker_env``: {index: extra
    variables} for single workers (the tests' ZOO_FAULT)."""
    if not is_int(workers) or workers < 1:
        raise ClusterError(f"--workers must be a positive integer; Received: workers={workers!r}")
    base = dict(os.environ if env is None else env)
    for name in ("TF_CONFIG", *JAX_VARS):  # each worker gets its own below
        base.pop(name, None)
    backend = backend or base.get("KERAS_BACKEND", "tensorflow")
    base["KERAS_BACKEND"] = backend
    args = ["train", *([recipe] if recipe else []), "--json"]
    args += [a for o in overrides for a in ("--set", o)]
    args += [*(["--out", str(out_dir)] if out_dir else []), *(["--resume"] if resume else [])]
    procs, files = [], []
    for i, extra in enumerate(worker_envs(workers, backend)):
        extra = {**extra, **(worker_env or {}).get(i, {})}
        err = tempfile.TemporaryFile("w+")  # a pipe nobody reads could fill and block the worker
        files.append(err)
        procs.append(subprocess.Popen([sys.executable, "-m", "cnn_zoo.cli", *args],
                                      env={**base, **extra}, stdout=subprocess.DEVNULL,
                                      stderr=err, text=True))
    deadline = None if timeout is None else time.monotonic() + timeout
    codes = [None] * workers
    try:
        while any(c is None for c in codes):
            for i, p in enumerate(procs):
                codes[i] = p.poll()
            if any(c not in (None, 0) for c in codes) or (deadline and time.monotonic() > deadline):
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        logs = []
        for i, p in enumerate(procs):
            codes[i] = p.wait()
            files[i].seek(0)
            logs.append("\n".join(files[i].read().strip().splitlines()[-5:]))
            files[i].close()
    return LaunchResult(codes, str(out_dir) if out_dir else "", logs)
