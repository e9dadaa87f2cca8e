"""Benchmark: how long the commands that need no Keras take from a cold process start.

Targets: `zoo list` under 1 s; `zoo explain conv --input 32x32x3 -K 6 -F 5`
and an argument error (here an unknown recipe) under 1 s. They hold as
long as these commands do not import Keras/TensorFlow. Each command runs in a
fresh subprocess; the table shows the median (and the spread) of ``--repeat``
runs, next to a bare interpreter start for scale.

    python bench/cli_startup.py [--repeat 5] [--with-keras]
"""

from __future__ import annotations

import argparse
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


def time_command(argv: list[str], repeat: int, expect: int = 0) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        if done.returncode != expect:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}, expected {expect}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument("--with-keras", action="store_true",
                        help="also time `python -c 'import keras'` (about 5 s a run)")
    args = parser.parse_args()

    zoo = zoo_command()
    explain = ["explain", "conv", "--input", "32x32x3", "-K", "6", "-F", "5"]
    cases = [
        ("python -c pass (interpreter start)", [sys.executable, "-c", "pass"], 0),
        ("zoo --help", [*zoo, "--help"], 0),
        ("zoo list", [*zoo, "list"], 0),
        ("zoo list --json", [*zoo, "list", "--json"], 0),
        ("zoo list --pretrained", [*zoo, "list", "--pretrained"], 0),
        ("zoo " + " ".join(explain), [*zoo, *explain], 0),
        ("zoo train no-such-recipe (error, exit 2)", [*zoo, "train", "no-such-recipe"], 2),
    ]
    if args.with_keras:
        cases.append(("python -c 'import keras' (for scale)", [sys.executable, "-c", "import keras"], 0))

    width = max(len(name) for name, _, _ in cases)
    print(f"{'command'.ljust(width)}  median (s)  min (s)  max (s)   [{args.repeat} runs each]")
    for name, argv, expect in cases:
        times = time_command(argv, args.repeat, expect)
        print(f"{name.ljust(width)}  {statistics.median(times):10.3f}  {min(times):7.3f}  {max(times):7.3f}")


if __name__ == "__main__":
    main()
