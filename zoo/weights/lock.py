"""An inter-process file lock, so that processes pulling one tag end with one good file.

POSIX: ``fcntl.flock`` on a lock file; the kernel releases it when the holder
exits, even when killed, so a lock is never stale. Elsewhere: a lock file
created with ``O_CREAT | O_EXCL``; one older than ``stale`` seconds is taken
to belong to a dead process and removed.

Lock files stay in place after use (deleting a flock'ed file lets two
processes lock two different inodes of the same name).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from cnn_zoo.weights.errors import HubError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

_POLL = 0.05  # seconds between attempts


def _timed_out(path, timeout):
    return HubError(f"waited {timeout:g} s for the lock {path}, which another process holds; "
                    "if no zoo process is running, delete that file and try again")


@contextlib.contextmanager
def file_lock(path, *, timeout: float = 600.0, stale: float = 3600.0):
    """Holds an exclusive lock on ``path`` (created if need be) inside the ``with`` block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    if fcntl is not None:
        with open(path, "a+b") as f:
            while True:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise _timed_out(path, timeout) from None
                    time.sleep(_POLL)
            try:
                yield path
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            try:
                if time.time() - path.stat().st_mtime > stale:
                    path.unlink()
                    continue
            except FileNotFoundError:
                continue
            if time.monotonic() > deadline:
                raise _timed_out(path, timeout) from None
            time.sleep(_POLL)
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
