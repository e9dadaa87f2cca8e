"""`zoo` in a fresh Python process: which heavy modules a command imported, and how it fails
when a file it writes does not fit (the file-size limit stands in for a full disk: both make
the write fail part-way, and setting one needs no root)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("keras", "tensorflow", "jax", "torch")


def zoo_in_subprocess(*argv_lists):
    """Runs main(argv) for each list in one fresh interpreter; (exit codes, heavy modules, stderr)."""
    code = (
        "import sys, json\n"
        "from cnn_zoo.cli import main\n"
        "codes = []\n"
        f"for argv in {[list(a) for a in argv_lists]!r}:\n"
        "    try:\n        main(argv)\n    except SystemExit as e:\n        codes.append(e.code)\n"
        "import cnn_zoo.layers.arithmetic\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('RESULT', json.dumps([codes, heavy]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    codes, heavy = json.loads(out.stdout.splitlines()[-1][len("RESULT "):])
    return codes, heavy, out.stderr


LIMITED = """
import resource, signal, sys
limit = int(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from cnn_zoo.cli import main
main(sys.argv[2:])
"""


def zoo_with_file_size_limit(limit: int, argv, **env) -> subprocess.CompletedProcess:
    """``zoo ARGV`` in a process that may write no file larger than ``limit`` bytes."""
    environ = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", LIMITED, str(limit), *map(str, argv)], env=environ,
                          capture_output=True, text=True, timeout=600)


def one_error_line(stderr: str) -> str:
    """The only line of ``stderr``, which must start with 'Error: ' (no traceback, no other noise)."""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr[-3000:]
    return lines[0]
