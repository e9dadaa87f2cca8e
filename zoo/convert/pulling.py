"""``pull``: the verified weights file of any tag; a publisher's file is downloaded, checked, converted, cached.

    pull("lenet5.mnist")            # the store's file (cnn_zoo.weights.store.pull)
    pull("googlenet_bn.imagenet")
      → the cache's converted file, if the cache's record of it verifies (size, sha256);
      → else, under the tag's file lock: download the publisher's file through
        the store's verified download (full sha256 and size, or torchvision's
        hash prefix), convert it, save ``<tag>.weights.h5`` and record its
        digest in the cache's manifest.

Everything is written inside a temporary folder of the cache and moved into
place atomically (``cnn_zoo.atomic``) once whole: a tampered, truncated or foreign file,
a missing extra or a kill leaves no file behind (a killed pull's folder is
removed by the next). The publisher's file is not kept: the converted one is
what is cached, and it is never converted twice.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

from cnn_zoo import atomic
from cnn_zoo.convert import convert_weights
from cnn_zoo.convert.assigning import need
from cnn_zoo.weights import fetch, store
from cnn_zoo.weights.errors import DownloadError, IntegrityError, OfflineError, UnreachableError
from cnn_zoo.weights.lock import file_lock
from cnn_zoo.weights.manifest import MANIFEST, SUFFIX, WeightsInfo, digest, read_manifest, verify, write_manifest

NEEDS = {"torchvision": "torch", "bvlc": "onnx"}  # the package each converter reads its file with


def converted_record(entry: WeightsInfo, cache: Path) -> WeightsInfo | None:
    """The cache's record of ``entry``'s converted file (with its digest), if made from the same source."""
    record = read_manifest(cache / MANIFEST).get(entry.tag)
    if record is None or record.sha256 is None or record.source != entry.source:
        return None
    return record


def _verified(path: Path, record: WeightsInfo | None) -> bool:
    if record is None or not path.is_file():
        return False
    try:
        verify(path, record)
        return True
    except IntegrityError:
        return False


def remember(record: WeightsInfo, cache: Path) -> None:
    """Records a converted file's entry (with its digest) in the cache's manifest."""
    with file_lock(cache / ".locks" / f"{MANIFEST}.lock"):
        entries = read_manifest(cache / MANIFEST)
        entries[record.tag] = record
        write_manifest(cache / MANIFEST, entries)


def save_converted(model, entry: WeightsInfo, cache: Path, work: Path) -> Path:
    """Saves ``model``'s weights as the cached file of ``entry`` (atomically) and records it."""
    dest = cache / entry.file
    with atomic.replacing(dest, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
        size, sha = digest(tmp)
    remember(dataclasses.replace(entry, sha256=sha, size=size), cache)
    return dest


def _clean_leftovers(cache: Path, tag: str) -> None:
    for leftover in cache.glob(f".convert-{tag}.*"):  # a killed pull's work folder
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in cache.glob(f".{tag}{SUFFIX}.*.tmp*"):  # a killed save's temporary file
        leftover.unlink(missing_ok=True)


def pull(tag: str, *, hub: store.Hub | None = None, quiet: bool = False) -> Path:
    """The path of the verified weights file of ``tag``, converted on its first pull if a publisher's.

    What ``cnn_zoo.pull``, ``zoo pull`` and ``zoo.load`` use; a download shows
    a progress bar on stderr unless ``quiet``.
    """
    hub = store.Hub.from_env() if hub is None else hub
    entry = store.info(tag, hub=hub)
    if entry.source is None:
        return store.pull(tag, hub=hub, quiet=quiet)
    return pull_converted(entry, hub=hub, quiet=quiet)


def pull_converted(entry: WeightsInfo, *, hub, quiet: bool = False) -> Path:
    """The verified converted weights of ``entry`` (see the module docstring)."""
    cached = hub.cache / entry.file
    if _verified(cached, converted_record(entry, hub.cache)):
        return cached
    source = entry.source
    if not source.get("url"):
        raise DownloadError(f"{entry.tag}: its converted weights are not in the cache ({hub.cache}) and "
                            f"it has no download URL (a local tag): convert {source.get('file')} again "
                            f"with `zoo convert {source.get('format')} FILE --tag {entry.tag}`")
    fmt = source["format"]
    by_hand = f"`zoo convert {fmt} FILE --tag {entry.tag}` on a copy of {source['file']}"
    if hub.offline:
        raise OfflineError(f"{entry.tag}: its weights are converted from {source['url']} on first use and "
                           f"are not in the cache ({hub.cache}); ZOO_OFFLINE=1 forbids downloading: "
                           f"unset ZOO_OFFLINE, or run {by_hand}")
    need(NEEDS[fmt], "convert", f"Converting {entry.tag} from {source['file']}")  # before 50 MB arrive
    hub.cache.mkdir(parents=True, exist_ok=True)
    with file_lock(hub.cache / ".locks" / f"{entry.tag}.lock"):
        if _verified(cached, converted_record(entry, hub.cache)):  # another process made it meanwhile
            return cached
        _clean_leftovers(hub.cache, entry.tag)
        cached.unlink(missing_ok=True)  # a stale or damaged converted file
        work = Path(tempfile.mkdtemp(dir=hub.cache, prefix=f".convert-{entry.tag}."))
        try:
            publisher_file = work / source["file"]
            try:
                fetch.download(source["url"], publisher_file, size=source.get("size"),
                               sha256=source.get("sha256") or source["sha256_prefix"],
                               timeout=hub.timeout, quiet=quiet, label=f"{entry.tag} ({source['file']})")
            except UnreachableError as error:  # no network here: the file may be had elsewhere
                raise UnreachableError(f"{error}; without the network, run {by_hand}") from None
            model = convert_weights(fmt, publisher_file, entry.arch, **entry.kwargs)
            return save_converted(model, entry, hub.cache, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
