"""``zoo convert``: a publisher's file the user already has → a tag in the cache.

Two cases:

- TAG is a shipped converted tag of the same source (``googlenet_bn.imagenet``):
  the file must pass that entry's check (its full sha256 and size, or
  torchvision's hash prefix); the converted weights then fill the cache as
  ``zoo pull`` would have, with nothing downloaded.
- Any other TAG (``googlenet_bn.mine``): a local tag, recorded in the cache's
  manifest with the preprocessing, class names and recipe of the shipped tag
  converted from that source for that model, and the sha256 of the file it came from.

Either way ``zoo.load(TAG)``, ``zoo predict``, ``zoo show`` and ``zoo eval``
use it like a pulled tag.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from cnn_zoo.convert import ConversionError, convert_weights, family_layout
from cnn_zoo.convert.pulling import save_converted
from cnn_zoo.weights import store
from cnn_zoo.weights.errors import IntegrityError, UnknownTagError
from cnn_zoo.weights.manifest import SUFFIX, WeightsInfo, digest, parse_tag


def _check(path: Path, source: dict, tag: str) -> None:
    """The shipped entry's check of the publisher's file, on a local copy."""
    size, sha = digest(path)
    expected = source.get("sha256") or source["sha256_prefix"]
    if not sha.startswith(expected) or (source.get("size") is not None and size != source["size"]):
        raise IntegrityError(f"{path}: not the file {tag} is converted from ({source['file']}): its sha256 is "
                             f"{sha}, expected {expected}{'...' if len(expected) < 64 else ''}; use another "
                             "--tag to convert it as a tag of your own", "sha256", expected, sha)


def _template(source: str, arch: str, hub) -> WeightsInfo:
    """The shipped tag of ``arch`` converted from ``source``'s file: what a local tag of it takes."""
    for info in store.available(hub=hub).values():
        if info.arch == arch and info.source and info.source.get("format") == source and info.source.get("url"):
            return info
    raise ConversionError(f"no shipped tag of {arch} is converted from {source} files, so the preprocessing "
                          f"and class names of a tag of your own are unknown: convert it with --arch of a "
                          "model that has one (zoo list --pretrained)")


def convert_to_tag(source: str, path, *, tag: str, arch: str | None = None, hub=None):
    """Converts the file at ``path`` (from ``source``) into the cached tag ``tag``; returns its entry."""
    hub = hub or store.Hub.from_env()
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    tag_arch, _ = parse_tag(tag)
    arch = arch or tag_arch
    if tag_arch != arch:
        raise ConversionError(f"the tag {tag!r} names the model {tag_arch!r} but --arch is {arch!r}: "
                              f"use a tag {arch}.NAME. Received: tag={tag!r}, arch={arch!r}")
    _, module = family_layout(source, arch)
    try:
        known = store.info(tag, hub=hub)
    except UnknownTagError:
        known = None
    if known is not None and (known.source is None or known.source.get("format") != source):
        raise ConversionError(f"{tag} is already a tag with weights of its own"
                              f"{'' if known.source is None else ' from ' + known.source['format']}: "
                              "pick another --tag")
    if known is not None and known.source.get("url"):  # a shipped tag: the publisher's file only
        _check(path, known.source, tag)
        entry = known
    else:
        _, sha = digest(path)
        entry = dataclasses.replace(
            _template(source, arch, hub), tag=tag, file=f"{tag}{SUFFIX}", sha256=None, size=None,
            created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            keras_version=metadata.version("keras"),
            source={"format": source, "publisher": f"a local file in {module.WHAT}'s layout",
                    "file": path.name, "path": str(path.resolve()), "sha256": sha, "url": None,
                    "check": f"converted by zoo convert; the sha256 of the file it came from is {sha}"})
    model = convert_weights(source, path, arch, **entry.kwargs)
    hub.cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=hub.cache, prefix=f".convert-{tag}."))
    try:
        save_converted(model, entry, hub.cache, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return store.info(tag, hub=hub) if known is None else entry


def describe(info, hub=None) -> str:
    """One line for the CLI: what was made and where."""
    where = os.fspath((hub or store.Hub.from_env()).cache / info.file)
    return f"converted into {info.tag}: {where}; try `zoo predict {info.tag} photo.jpg`"
