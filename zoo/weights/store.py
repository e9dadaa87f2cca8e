"""Where pretrained weights come from: the cache, the package's saved_models/, a remote hub.

``pull(tag)`` returns the path of a verified weights file, looking in order:

1. the cache, ``$ZOO_HOME/weights/`` (default: the user's cache folder,
   e.g. ``~/.cache/cnn-zoo``);
2. the local ``saved_models/`` (a checkout, or the installed package data);
3. the remote hub ``$ZOO_HUB_URL`` (http(s):// or file://), which serves
   ``<url>/manifest.json`` and ``<url>/<tag>.weights.h5``; the download goes
   to the cache.

A tag converted from a publisher's file (its entry has a ``source``) is
pulled by :func:`cnn_zoo.convert.pulling.pull`, which converts it; this module
only describes it (``info``). Every file is checked (size and full sha256)
before use, including cached ones: a bad cached file is removed and fetched again. The entry of a tag
known only to the remote hub is recorded in the cache's own manifest, so the
tag keeps working offline. ``ZOO_OFFLINE=1`` never touches the network.
``ZOO_HUB_URL`` and ``ZOO_HUB_TIMEOUT`` are checked when the remote hub is
used, and a cache that cannot be used (``ZOO_HOME`` a file, say) only matters
when something must be written there: neither keeps the package's own tags
from loading.
Processes pulling one tag at once take a file lock, so they end with one good
file.

A :class:`Hub` holds these settings as plain data; ``Hub.from_env()`` reads
them from the environment, and every function takes ``hub=`` to override.
This module imports no Keras.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
import os
import shutil
import sys
import warnings
from pathlib import Path

from cnn_zoo import atomic
from cnn_zoo.weights import fetch
from cnn_zoo.weights.errors import (DownloadError, HubError, IntegrityError, ManifestError, OfflineError,
                                UnknownTagError, UnreachableError)
from cnn_zoo.weights.lock import file_lock
from cnn_zoo.weights.manifest import (MANIFEST, WeightsInfo, parse_manifest, parse_tag, read_manifest, verify,
                              write_manifest)

LOCAL_PACKAGE = "cnn_zoo.saved_models"
_TRUE = ("1", "true", "yes", "on")


def default_home() -> Path:
    """The platform's user cache folder, plus ``cnn-zoo``."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cnn-zoo"


def local_models():
    """The package's saved_models/ folder (a Traversable; a Path in a checkout or a plain install)."""
    return importlib.resources.files(LOCAL_PACKAGE)


@dataclasses.dataclass(frozen=True)
class Hub:
    """Settings of the weights sources.

    home: cache root (``ZOO_HOME``); the weights go to ``home/weights``.
    local: the saved_models folder (None: no local source).
    url: remote hub base URL (``ZOO_HUB_URL``; None: no remote).
    offline: never use the network (``ZOO_OFFLINE=1``).
    timeout: seconds a network read may stall (``ZOO_HUB_TIMEOUT``).

    ``from_env`` keeps a malformed ``url`` or ``timeout`` as the text it read:
    it is reported, as one line, only when the remote hub is needed.
    """

    home: Path
    local: object = None
    url: str | None = None
    offline: bool = False
    timeout: float | str = 30.0

    @classmethod
    def from_env(cls, env=None) -> "Hub":
        env = os.environ if env is None else env
        url = env.get("ZOO_HUB_URL") or None
        try:
            url = fetch.check_base_url(url) if url else None
        except DownloadError:
            pass  # kept as written; _remote_url says what is wrong when it is used
        timeout = env.get("ZOO_HUB_TIMEOUT") or "30"
        try:
            timeout = float(timeout)
        except ValueError:
            pass  # idem, _timeout
        return cls(home=Path(env.get("ZOO_HOME") or default_home()).expanduser(),
                   local=local_models(), url=url,
                   offline=env.get("ZOO_OFFLINE", "").strip().lower() in _TRUE,
                   timeout=timeout)

    @property
    def cache(self) -> Path:
        return self.home / "weights"


def _hub(hub: Hub | None) -> Hub:
    return Hub.from_env() if hub is None else hub


def _remote_url(hub: Hub) -> str:
    return fetch.check_base_url(hub.url)


def _timeout(hub: Hub) -> float:
    value = hub.timeout
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = math.nan
    if isinstance(value, bool) or not 0 < value < math.inf:
        raise DownloadError("ZOO_HUB_TIMEOUT must be a positive number of seconds a download may "
                            f"stall, e.g. 30. Received: ZOO_HUB_TIMEOUT={hub.timeout!r}")
    return float(value)


def _hub_hint(error: UnreachableError, hub: Hub) -> UnreachableError:
    return UnreachableError(f"{error} (the remote hub is ZOO_HUB_URL={hub.url}: check it, or unset "
                            "ZOO_HUB_URL to use only saved_models/ and the cache)")


def _local_entries(hub: Hub, bad: dict | None = None) -> dict[str, WeightsInfo]:
    return {} if hub.local is None else read_manifest(hub.local / MANIFEST, bad)


def _cached_entries(hub: Hub, bad: dict | None = None) -> dict[str, WeightsInfo]:
    try:
        return read_manifest(hub.cache / MANIFEST, bad)
    except OSError as error:  # ZOO_HOME a file, an unreadable folder...
        warnings.warn(f"the cache {hub.cache} cannot be read ({error.strerror or error}); "
                      "using saved_models/ and the remote hub only; set ZOO_HOME to a folder of "
                      "your own", stacklevel=3)
        return {}


def _remote_entries(hub: Hub, bad: dict | None = None) -> dict[str, WeightsInfo]:
    url = fetch.join(_remote_url(hub), MANIFEST)
    try:
        data = fetch.fetch_json(url, timeout=_timeout(hub))
    except UnreachableError as error:
        raise _hub_hint(error, hub) from None
    return parse_manifest(data, url, bad)


def _skip_bad(bad: dict) -> None:
    for error in bad.values():
        warnings.warn(f"{error}; skipped (the other tags are usable)", stacklevel=3)


def available(*, hub: Hub | None = None, remote: bool = False) -> dict[str, WeightsInfo]:
    """Every tag known here (saved_models, then the cache), plus the remote hub's if ``remote``.

    An entry that is not valid is left out, with a warning that names it.
    """
    hub = _hub(hub)
    bad = {}
    found = {**_cached_entries(hub, bad), **_local_entries(hub, bad)}  # the package's entries win
    if remote and hub.url and not hub.offline:
        found = {**_remote_entries(hub, bad), **found}
    _skip_bad({tag: error for tag, error in bad.items() if tag not in found})
    return dict(sorted(found.items()))


def info(tag: str, *, hub: Hub | None = None) -> WeightsInfo:
    """The manifest entry of ``tag``: from saved_models, the cache, or the remote hub (in that order).

    A manifest's invalid entry for another tag is skipped; one for ``tag`` is
    the ManifestError that names it.
    """
    hub = _hub(hub)
    parse_tag(tag)  # a malformed tag gets the format explained, not "unknown"
    bad: dict[str, ManifestError] = {}
    known = {}
    for entries in (_local_entries, _cached_entries):
        found = entries(hub, bad)
        if tag in found:
            return found[tag]
        known.update(found)
    if hub.url and not hub.offline:
        remote = _remote_entries(hub, bad)
        if tag in remote:
            return remote[tag]
        known.update(remote)
    if tag in bad:
        raise bad[tag]
    if hub.url and not hub.offline:
        hint = f"Neither saved_models/, the cache nor {hub.url} lists it."
    elif hub.offline and hub.url:
        hint = ("It is not in saved_models/ or the cache, and ZOO_OFFLINE=1 kept the remote hub's "
                "manifest from being read: unset ZOO_OFFLINE to look it up there.")
    else:
        hint = ("See the published tags with `zoo list --pretrained`; set ZOO_HUB_URL to a hub "
                "(http(s):// or file:// folder) to pull tags published elsewhere.")
    raise UnknownTagError(tag, known, hint)


def _good(path: Path, entry: WeightsInfo, remove: bool) -> bool:
    """True if ``path`` is the entry's file; a bad file is reported (and removed if ``remove``)."""
    try:
        if not path.is_file():
            return False
        verify(path, entry)
        return True
    except IntegrityError as error:
        action = "removed it; fetching it again" if remove else "ignoring it"
        warnings.warn(f"{error}; {action}", stacklevel=3)
        if remove:
            path.unlink(missing_ok=True)
        return False


def pull(tag: str, *, hub: Hub | None = None, quiet: bool = False) -> Path:
    """The path of the verified weights file of ``tag`` (see the module docstring for the sources).

    A download shows a progress bar on stderr unless ``quiet``.
    """
    hub = _hub(hub)
    entry = info(tag, hub=hub)
    if entry.source is not None:  # converting needs Keras: one floor up
        raise HubError(f"{tag} is converted from {entry.source.get('publisher') or 'a publisher'}'s file "
                       "on its first pull: pull it with cnn_zoo.pull (zoo pull), which converts it")
    cached = hub.cache / entry.file
    if _verified(cached, entry):  # the common case: no lock needed to read a good file
        return cached
    local = None if hub.local is None else hub.local / entry.file
    local_error = None
    if isinstance(local, Path) and local.is_file():
        try:
            verify(local, entry)
            return local  # a checkout's or an installed package's file, used in place
        except IntegrityError as error:
            local_error = error
            warnings.warn(f"{error}; not using it", stacklevel=2)
    try:
        hub.cache.mkdir(parents=True, exist_ok=True)
        with file_lock(hub.cache / ".locks" / f"{tag}.lock"):
            # Another process may have fetched it while we waited for the lock.
            if _good(cached, entry, remove=True):
                return cached
            for leftover in hub.cache.glob(f".{entry.file}.*.part"):  # from a killed process
                leftover.unlink(missing_ok=True)
            if local is not None and not isinstance(local, Path) and local.is_file():
                _copy_resource(local, cached, entry)  # package data inside a zip
            else:
                _download(tag, entry, cached, hub, quiet, local_error)
            if tag not in _local_entries(hub):
                _remember(entry, hub)
    except OSError as error:
        raise _cache_error(hub, error, f"{tag} must be stored there") from None
    return cached


def _cache_error(hub: Hub, error: OSError, why: str) -> HubError:
    """One line for a cache folder that cannot be written (ZOO_HOME a file, read-only, full)."""
    return HubError(f"cannot write to the cache {hub.cache} ({error.strerror or error}), and {why}: "
                    f"set ZOO_HOME to a folder you can write. Received: ZOO_HOME={str(hub.home)!r}")


def _verified(path: Path, entry: WeightsInfo) -> bool:
    try:
        verify(path, entry)
        return True
    except (IntegrityError, OSError):  # absent, or the cache is no folder (ZOO_HOME a file)
        return False


def _download(tag, entry: WeightsInfo, dest: Path, hub: Hub, quiet: bool, local_error) -> None:
    where = f"not in the cache ({hub.cache}) nor in saved_models/"
    if local_error is not None and (hub.offline or not hub.url):
        raise local_error  # the only copy here is bad: say so rather than "not found"
    if hub.offline:
        fix = (f"unset ZOO_OFFLINE to download it from {hub.url}" if hub.url else
               "unset ZOO_OFFLINE and set ZOO_HUB_URL to a hub that has it")
        raise OfflineError(f"{tag}: its weights file {entry.file} is {where}, and ZOO_OFFLINE=1 "
                           f"forbids downloading it: {fix}, or copy {entry.file} into {hub.cache}")
    if not hub.url:
        raise DownloadError(f"{tag}: its weights file {entry.file} is {where}, and no remote hub "
                            f"is set: set ZOO_HUB_URL to a hub that serves it, or copy "
                            f"{entry.file} into {hub.cache}")
    try:
        fetch.download(fetch.join(_remote_url(hub), entry.file), dest, size=entry.size,
                       sha256=entry.sha256, timeout=_timeout(hub), quiet=quiet, label=tag)
    except UnreachableError as error:
        raise _hub_hint(error, hub) from None


def _copy_resource(resource, dest: Path, entry: WeightsInfo) -> None:
    with atomic.replacing(dest, suffix=".part") as tmp:
        with open(tmp, "wb") as out, resource.open("rb") as src:
            shutil.copyfileobj(src, out)
        verify(tmp, entry, what=f"saved_models/{entry.file}")


def _remember(entry: WeightsInfo, hub: Hub) -> None:
    """Adds a pulled tag's entry to the cache's manifest, so it loads offline later."""
    path = hub.cache / MANIFEST
    with file_lock(hub.cache / ".locks" / f"{MANIFEST}.lock"):
        entries = read_manifest(path)
        if entries.get(entry.tag) != entry:
            entries[entry.tag] = entry
            write_manifest(path, entries)
