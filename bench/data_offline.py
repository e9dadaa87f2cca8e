"""Benchmark: how long `zoo train lenet5-mnist` takes to give up when the network is cut.

Target: one line naming the URL and the real error, exit 2, in
under 15 s, with no prepared TFDS folder and no mirror. Each run is a fresh
process with an empty ZOO_TFDS_DIR; the network is whatever this machine has
(run it with the network cut). ``--url`` replaces the official URLs
(ZOO_DATA_URL); ``--silent`` points them at a local socket that accepts
connections and never answers (packets dropped by a firewall), to time the
socket timeout instead of a failed name lookup.

    python bench/data_offline.py [--repeat 3] [--url URL | --silent]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def zoo_command() -> list[str]:
    script = Path(sys.executable).with_name("zoo")
    if script.exists():
        return [str(script)]
    return [shutil.which("zoo") or "zoo"]


def one_run(url: str | None) -> tuple[float, int, list[str]]:
    with tempfile.TemporaryDirectory(prefix="zoo-offline-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("ZOO_TFDS_RAW_DIR", "ZOO_OFFLINE")}
        env.update(ZOO_TFDS_DIR=os.path.join(tmp, "tfds"), TF_CPP_MIN_LOG_LEVEL="3")
        if url:
            env["ZOO_DATA_URL"] = url
        start = time.perf_counter()
        done = subprocess.run([*zoo_command(), "train", "lenet5-mnist", "--out", os.path.join(tmp, "run")],
                              env=env, capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - start
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    return seconds, done.returncode, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", default=None, help="ZOO_DATA_URL for the runs (default: the official URLs)")
    parser.add_argument("--silent", action="store_true", help="a local server that never answers")
    args = parser.parse_args()
    if args.silent:
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        args.url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    times = []
    for _ in range(args.repeat):
        seconds, code, errors = one_run(args.url)
        times.append(seconds)
        print(f"{seconds:5.1f} s  exit {code}  {errors[0] if errors else '(no Error: line)'}", flush=True)
    print(f"median {statistics.median(times):.1f} s, max {max(times):.1f} s over {len(times)} runs")


if __name__ == "__main__":
    main()
