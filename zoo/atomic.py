"""Atomic file writes: the one place the zoo replaces a file.

A write goes to a temporary name beside the target and is renamed over it
(``os.replace``) only once whole, so a reader, or a process killed meanwhile,
sees the old file or the new one, never half of one.

Fsync policy (the only one in the project): the temporary file's data is
fsynced before the rename, and the folder after it, so a power cut after a
write returned leaves the new file, not an empty one. Standard library only:
the CLI's fast paths and the weights store import it.

A full disk (or quota, or file-size limit) is a one-line
:class:`~cnn_zoo.errors.DiskFullError` naming the folder and the space needed, never a
half-written file: a writer that gives the size it will write is refused before it starts,
and one that fails part-way has its temporary file released at once: emptied, and the
descriptors this process holds on it pointed at /dev/null, so that a library still holding
it (TensorFlow's, h5py's writers) can close it without touching the full disk again.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from pathlib import Path

from cnn_zoo.errors import DiskFullError

# What a write fails with when there is no room: the disk, a quota, the file-size limit.
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def temp_name(path, suffix: str = "") -> Path:
    """The temporary name for ``path``: hidden, beside it (same file system), unique per process.

    ``suffix`` ends the name (Keras checks ``.keras`` / ``.weights.h5``).
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened
        _fsync(folder)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def no_room(error: BaseException) -> int | None:
    """The errno (ENOSPC, EDQUOT or EFBIG) of an error that says a write found no room, else
    None. TensorFlow's errors (ResourceExhaustedError...) carry no errno, only the system's message."""
    if isinstance(error, OSError):
        return error.errno if error.errno in NO_ROOM else None
    if type(error).__module__.startswith("tensorflow"):
        return next((code for code in NO_ROOM if os.strerror(code) in str(error)), None)
    return None


def free_space(folder) -> int | None:
    """Bytes free for this user in ``folder`` (or its nearest existing parent); None if unknown."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def check_room(path, size: int) -> None:
    """A :class:`DiskFullError` if ``path``'s folder has fewer than ``size`` bytes free."""
    path = Path(path)
    free = free_space(path.parent)
    if free is not None and free < size:
        raise DiskFullError(path.parent, path.name, size, free)


def _size(path: Path) -> int:
    """Bytes in ``path`` (a file, or a folder's files); 0 where they cannot be read."""
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.stat().st_size if path.exists() else 0
    except OSError:
        return 0


def _release(path: Path) -> None:
    """Let a writer that still holds ``path`` (every file, for a folder) open close it: its
    descriptors in this process are pointed at /dev/null (where /proc lists them), so its last
    writes and its close succeed and go nowhere, and the file is emptied, freeing its space."""
    files = [f for f in (path.rglob("*") if path.is_dir() else [path]) if f.is_file()]
    wanted = {str(f.resolve()) for f in files}
    with contextlib.suppress(OSError):  # no /proc (macOS...): emptying the file is all
        fds = os.listdir("/proc/self/fd")
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in fds:
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/self/fd/{fd}")
                    if target in wanted or target.removesuffix(" (deleted)") in wanted:
                        os.dup2(null, int(fd))
        finally:
            os.close(null)
    for file in files:
        with contextlib.suppress(OSError):
            os.truncate(file, 0)


@contextlib.contextmanager
def replacing(path, *, suffix: str = "", mode: int | None = None, before_replace=None,
              size: int | None = None):
    """Yields a temporary path to write ``path``'s new content into (by any writer: ``open``,
    ``model.save``, ``save_weights``, or one that writes a folder, as a SavedModel). When
    the block ends without error the file is fsynced, given ``mode`` if set, and renamed
    over ``path``; on an error it is removed and ``path`` is untouched. ``before_replace()``
    runs just before the rename (a test hook). A folder cannot be renamed over a folder in
    one step: the old one is moved aside first, then removed, so ``path`` is briefly absent.

    ``size``: about how many bytes the new content takes; a folder with less free space is
    refused before anything is written. A write that finds no room is a DiskFullError."""
    path = Path(path)
    tmp = temp_name(path, suffix)
    aside = temp_name(path, ".old")
    if size is not None:
        check_room(path, size)
    try:
        yield tmp
        _fsync(tmp)
        if mode is not None:
            os.chmod(tmp, mode)
        if before_replace is not None:
            before_replace()
        if tmp.is_dir() and path.is_dir() and not path.is_symlink():
            os.replace(path, aside)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except Exception as error:
        code = no_room(error)
        if code is None:
            raise
        written = _size(tmp)
        _release(tmp)  # before the writer's objects are: see the module docstring
        raise DiskFullError(path.parent, path.name, max(size or 0, written), free_space(path.parent),
                            at_least=size is None, errno=code) from None
    finally:
        _remove(tmp)
        _remove(aside)


def write_bytes(path, data: bytes, *, mode: int | None = None) -> None:
    """``Path(path).write_bytes(data)``, atomically."""
    with replacing(path, mode=mode) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str, *, mode: int | None = None, before_replace=None) -> None:
    """``Path(path).write_text(text)`` (UTF-8), atomically."""
    with replacing(path, mode=mode, before_replace=before_replace) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, data, *, default=None, mode: int | None = None, **dumps) -> None:
    """``data`` as indented JSON and a final newline, atomically. ``default`` as in ``json.dumps``."""
    write_text(path, json.dumps(data, indent=2, default=default, **dumps) + "\n", mode=mode)
