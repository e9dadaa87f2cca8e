"""Downloads over http(s) or file:// with urllib: streamed, verified, atomic.

``download`` writes to a temporary file beside the destination, hashes the
bytes as they arrive, checks the exact size and the full sha256, and only
then renames the file into place (``os.replace``). Whatever goes wrong (an
HTTP error, a connection broken off, a short, long or altered body), the
temporary file is removed and the error says what happened, with the
expected and received size or hash.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cnn_zoo import atomic
from cnn_zoo.errors import ArgumentError, size_text
from cnn_zoo.weights.errors import DownloadError, IntegrityError, ManifestError, UnreachableError

SCHEMES = ("http", "https", "file")
_CHUNK = 64 * 1024
_MAX_MANIFEST = 16 << 20  # bytes; a manifest is a few kB per tag


def check_base_url(url: str) -> str:
    """The hub's base URL without a trailing slash; only http(s):// and file:// are allowed."""
    if urllib.parse.urlsplit(url).scheme not in SCHEMES or "://" not in url:
        raise DownloadError("ZOO_HUB_URL must be an http://, https:// or file:// URL of a folder "
                            f"holding manifest.json and the weights files. Received: ZOO_HUB_URL={url!r}")
    return url.rstrip("/")


def join(base: str, name: str) -> str:
    return f"{base}/{urllib.parse.quote(name)}"


def _open(url: str, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": "cnn-zoo"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        raise UnreachableError(f"{url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise UnreachableError(f"cannot reach {url}: {error.reason}") from None
    except (OSError, http.client.HTTPException) as error:
        raise UnreachableError(f"cannot reach {url}: {error}") from None


class DownloadProgress:
    """A one-line progress bar on stderr: redrawn in place on a terminal, else one line at the end."""

    def __init__(self, label: str, total: int, quiet: bool = False, stream=None):
        self.label, self.total, self.quiet = label, total, quiet
        self.stream = stream or sys.stderr
        self.live = not quiet and getattr(self.stream, "isatty", lambda: False)()
        self.done, self._last, self._start = 0, 0.0, time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.live and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            pct = 100 * self.done // max(self.total, 1)
            bar = "#" * (pct // 4)
            self.stream.write(f"\r{self.label} [{bar:<25}] {pct:3d}% "
                              f"{size_text(self.done)}/{size_text(self.total)}")
            self.stream.flush()

    def close(self, ok: bool) -> None:
        if self.quiet:
            return
        if self.live:
            self.stream.write("\n")
        elif ok:
            seconds = time.monotonic() - self._start
            self.stream.write(f"{self.label}: downloaded {size_text(self.done)} in {seconds:.1f} s\n")
        self.stream.flush()


def download(url: str, dest: Path, *, size: int | None, sha256: str, timeout: float = 30.0,
             quiet: bool = False, label: str | None = None) -> Path:
    """Fetches ``url`` into ``dest`` if and only if it has exactly ``size`` bytes and ``sha256``.

    ``size=None``: not known; ``sha256`` may then be a prefix of at least 8 hex
    digits, as the name of a torchvision weights file states it.
    """
    if len(sha256) < 8 or (size is not None and len(sha256) != 64):
        raise ArgumentError(f"`sha256` must be 64 hex digits, or a prefix of 8 or more with size=None. "
                         f"Received: sha256={sha256!r}")
    dest = Path(dest)
    label = label or dest.name
    progress = DownloadProgress(label, size or 0, quiet)
    ok = False
    try:
        with atomic.replacing(dest, suffix=".part") as tmp, open(tmp, "wb") as out, \
                _open(url, timeout) as response:
            announced = response.headers.get("Content-Length")
            if size is not None and announced is not None and announced.strip().isdigit() \
                    and int(announced) != size:
                raise IntegrityError(
                    f"{url}: the server announces {int(announced)} bytes but {label} is {size} "
                    "bytes in the manifest; the hub serves another file. Nothing was cached",
                    "size", size, int(announced))
            sha, got = hashlib.sha256(), 0
            while True:
                try:
                    # One byte more than expected is enough to know the body is too long.
                    chunk = response.read(_CHUNK if size is None else min(_CHUNK, size + 1 - got))
                except (http.client.IncompleteRead, OSError, http.client.HTTPException) as error:
                    raise DownloadError(
                        f"{url}: the download broke off after {got} of {size} bytes "
                        f"({type(error).__name__}: {error}); nothing was cached; try again") from None
                if not chunk:
                    break
                sha.update(chunk)
                out.write(chunk)
                got += len(chunk)
                progress.update(len(chunk))
                if size is not None and got > size:
                    raise IntegrityError(f"{url}: the body is longer than the {size} bytes the "
                                         f"manifest gives for {label}; nothing was cached",
                                         "size", size, got)
            if size is not None and got < size:  # closed early (with or without a Content-Length)
                raise DownloadError(f"{url}: the download broke off after {got} of {size} bytes "
                                    "(connection closed; truncated body); nothing was cached; "
                                    "try again")
            if not sha.hexdigest().startswith(sha256):
                raise IntegrityError(f"{url}: sha256 mismatch for {label}: expected {sha256}, got "
                                     f"{sha.hexdigest()} (corrupt or tampered with); nothing was cached",
                                     "sha256", sha256, sha.hexdigest())
        ok = True
        return dest
    finally:
        progress.close(ok)


def fetch_json(url: str, *, timeout: float = 30.0):
    """A small JSON document (a remote manifest), at most 16 MB."""
    with _open(url, timeout) as response:
        try:
            body = response.read(_MAX_MANIFEST + 1)
        except (http.client.IncompleteRead, OSError, http.client.HTTPException) as error:
            raise DownloadError(f"{url}: the download broke off ({type(error).__name__}: "
                                f"{error}); try again") from None
    if len(body) > _MAX_MANIFEST:
        raise ManifestError(f"{url}: larger than {_MAX_MANIFEST} bytes; not a weights manifest")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"{url}: not valid JSON ({error})") from None
