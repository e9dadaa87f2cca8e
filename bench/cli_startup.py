"""Benchmark: how long `zoo --help` and `zoo list` take from a cold process start.

Target (issue 3): `zoo list` under 1 s on the development machine, which
holds as long as the fast commands do not import Keras/TensorFlow. Each
command runs in a fresh subprocess; the table shows the median (and the
spread) of ``--repeat`` runs, next to a bare interpreter start for scale.

    python bench/cli_startup.py [--repeat 5] [--with-keras]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def zoo_command() -> list[str]:
    """The installed console script next to this interpreter (no pyenv shim), else `-m cnn_zoo.cli`."""
    script = Path(sys.executable).with_name("zoo")
    if script.exists():
        return [str(script)]
    found = shutil.which("zoo")
    return [found] if found else [sys.executable, "-m", "cnn_zoo.cli"]


def time_command(argv: list[str], repeat: int) -> list[float]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument("--with-keras", action="store_true",
                        help="also time `python -c 'import keras'` (about 5 s a run)")
    args = parser.parse_args()

    zoo = zoo_command()
    cases = [
        ("python -c pass (interpreter start)", [sys.executable, "-c", "pass"]),
        ("zoo --help", [*zoo, "--help"]),
        ("zoo list", [*zoo, "list"]),
        ("zoo list --json", [*zoo, "list", "--json"]),
    ]
    if args.with_keras:
        cases.append(("python -c 'import keras' (for scale)", [sys.executable, "-c", "import keras"]))

    width = max(len(name) for name, _ in cases)
    print(f"{'command'.ljust(width)}  median (s)  min (s)  max (s)   [{args.repeat} runs each]")
    for name, argv in cases:
        times = time_command(argv, args.repeat)
        print(f"{name.ljust(width)}  {statistics.median(times):10.3f}  {min(times):7.3f}  {max(times):7.3f}")


if __name__ == "__main__":
    main()
