"""Distributed tuning on Keras Tuner's own chief/worker mechanism (gRPC).

Keras Tuner reads three environment variables: ``KERASTUNER_TUNER_ID``
("chief", or a worker's name), ``KERASTUNER_ORACLE_IP`` and
``KERASTUNER_ORACLE_PORT``. The chief holds the one oracle and serves it;
each worker asks it for a trial, trains it and reports back. All processes
share the search folder (same machine, or a shared file system).

    zoo tune RECIPE --chief --out OUT [--oracle 127.0.0.1:8000] [--workers N]
    zoo tune --worker --out OUT --oracle HOST:PORT [--tuner-id worker1]

The oracle binds to 127.0.0.1 unless told otherwise (``--oracle
0.0.0.0:8000`` serves other machines: the channel is unauthenticated, so only
on a trusted network). Port 0 picks a free port. ``--workers N`` starts N
local worker processes (logs in OUT/workers/) and ends the search when they
are done; a worker that dies makes the chief stop with its log's path, and
``--resume`` continues the search.

The chief is served by our own loop around Keras Tuner's ``OracleServicer``:
Keras Tuner's ``start_server`` polls every 20 s before it exits, binds only
to the port it is given, and never notices a dead worker.
"""

from __future__ import annotations

import contextlib
import os
from concurrent import futures
import subprocess
import sys
import time
from pathlib import Path

from cnn_zoo.tune.errors import TuneError

ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
DEFAULT_HOST = "127.0.0.1"
POLL_S = 0.2


def parse_address(text, default_port=0) -> tuple[str, int]:
    """'host:port', 'host' or ':port' -> (host, port); the host defaults to 127.0.0.1."""
    if text is None:
        return DEFAULT_HOST, default_port
    text = str(text).strip()
    host, sep, port = text.rpartition(":") if ":" in text else (text, "", "")
    host = host.strip("[]") or DEFAULT_HOST
    try:
        port = int(port) if sep else default_port
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise TuneError(f"the oracle address must be HOST:PORT, e.g. 127.0.0.1:8000. Received: {text!r}")
    return host, port


@contextlib.contextmanager
def tuner_env(tuner_id, host, port):
    """Keras Tuner's distribution variables for the duration of the block."""
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update({"KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": host,
                       "KERASTUNER_ORACLE_PORT": str(port)})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def start_server(oracle, host, port):
    """Serves ``oracle`` on host:port; returns (server, servicer, bound port)."""
    import grpc  # only the chief serves: a worker and the tests of the address parsing run without gRPC

    from cnn_zoo.tune.kt_private import oracle_service

    protos, OracleServicer, _ = oracle_service()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise TuneError(f"cannot serve the oracle on {address} (in use, or not an address of this "
                        "machine); choose another --oracle HOST:PORT, or port 0 for a free one")
    server.start()
    return server, servicer, bound


def worker_command(out_dir, host, port, tuner_id, data_dir=None) -> list[str]:
    command = [sys.executable, "-m", "cnn_zoo.cli", "tune", "--worker", "--out", str(out_dir),
               "--oracle", f"{host}:{port}", "--tuner-id", tuner_id]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return command


def spawn_workers(search, host, port, count) -> list[tuple[str, subprocess.Popen, Path]]:
    """``count`` local worker processes; each logs to OUT/workers/<id>.log."""
    connect = DEFAULT_HOST if host in ("0.0.0.0", "::", "") else host
    logs = search.out_dir / "workers"
    logs.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    if search.deadline is not None:
        env["ZOO_TUNE_DEADLINE"] = repr(search.deadline)
    procs = []
    for i in range(1, count + 1):
        tuner_id = f"worker{i}"
        log = logs / f"{tuner_id}.log"
        with open(log, "ab") as f:
            proc = subprocess.Popen(worker_command(search.out_dir, connect, port, tuner_id, search.data_dir),
                                    stdout=f, stderr=subprocess.STDOUT, env=env)
        procs.append((tuner_id, proc, log))
    return procs


def run_chief(search, oracle_address=None, workers=0):
    """Serves the search's oracle until every trial has ended; returns the chief's tuner."""
    from cnn_zoo.tune.kt_private import oracle_service  # Keras Tuner: address checks run without it

    exit_chief = oracle_service()[2]
    host, port = parse_address(oracle_address)
    with tuner_env("chief", host, port):
        tuner = search.make_tuner()
        tuner.save()
        server, servicer, port = start_server(tuner.oracle, host, port)
        search.log(f"oracle on {host}:{port}; start a worker with: zoo tune --worker --out "
                   f"{search.out_dir} --oracle {host}:{port} --tuner-id worker<N>")
        procs = spawn_workers(search, host, port, workers) if workers else []
        try:
            while True:
                time.sleep(POLL_S)
                if servicer.stop_triggered and exit_chief(tuner.oracle):
                    break
                if procs and all(p.poll() is not None for _, p, _ in procs):
                    if servicer.stop_triggered and exit_chief(tuner.oracle):
                        break
                    failed = [(t, p.returncode, log) for t, p, log in procs if p.returncode]
                    detail = "; ".join(f"{t} exited with code {c} (log: {log})" for t, c, log in failed)
                    raise TuneError(f"the search stopped before its end: {detail or 'every worker exited'}; "
                                    f"continue it with: zoo tune --resume --out {search.out_dir} --workers "
                                    f"{len(procs)}")
        finally:
            for _, proc, _ in procs:
                if proc.poll() is None:
                    proc.terminate()
            for _, proc, _ in procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=30)
            server.stop(grace=None)
    return tuner
