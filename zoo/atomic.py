"""Atomic file writes: the one place the zoo replaces a file.

A write goes to a temporary name beside the target and is renamed over it
(``os.replace``) only once whole, so a reader, or a process killed meanwhile,
sees the old file or the new one, never half of one.

Fsync policy (the only one in the project): the temporary file's data is
fsynced before the rename, and the folder after it, so a power cut after a
write returned leaves the new file, not an empty one. Standard library only:
the CLI's fast paths and the weights store import it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path


def temp_name(path, suffix: str = "") -> Path:
    """The temporary name for ``path``: hidden, beside it (same file system), unique per process.

    ``suffix`` ends the name (Keras checks ``.keras`` / ``.weights.h5``).
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


@contextlib.contextmanager
def replacing(path, *, suffix: str = "", mode: int | None = None, before_replace=None):
    """Yields a temporary path to write ``path``'s new content into (by any writer: ``open``,
    ``model.save``, ``save_weights``, or one that writes a folder, as a SavedModel). When
    the block ends without error the file is fsynced, given ``mode`` if set, and renamed
    over ``path``; on an error it is removed and ``path`` is untouched. ``before_replace()``
    runs just before the rename (a test hook). A folder cannot be renamed over a folder in
    one step: the old one is moved aside first, then removed, so ``path`` is briefly absent."""
    path = Path(path)
    tmp = temp_name(path, suffix)
    aside = temp_name(path, ".old")
    try:
        yield tmp
        _fsync_file(tmp)
        if mode is not None:
            os.chmod(tmp, mode)
        if before_replace is not None:
            before_replace()
        if tmp.is_dir() and path.is_dir() and not path.is_symlink():
            os.replace(path, aside)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
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
