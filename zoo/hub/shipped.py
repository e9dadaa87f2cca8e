"""The tags shipped with cnn-zoo: ``saved_models/manifest.json``, generated from their declarations.

Each family declares its tags beside its module (``cnn_zoo.models.<family>_weights``,
see :mod:`cnn_zoo.models.pretrained`); this module turns them into the manifest
entries that the weights store reads. After changing a declaration:

    python -m cnn_zoo.hub.shipped                 # rewrites saved_models/manifest.json
    python -m cnn_zoo.hub.shipped --check         # exit 1 if it is not current (a test runs this)
    python -m cnn_zoo.hub.shipped --declare DIR TAG
        # prints the declaration of a tag that `zoo publish RUN --tag TAG --dest DIR` published,
        # for its family's <family>_weights.py (its weights file goes into saved_models/)

A converted tag's recipe is resolved here, with the recipe defaults of this
version; a trained tag's is the run's, as recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cnn_zoo.errors import ZooError
from cnn_zoo.models.pretrained import Tag, declared
from cnn_zoo.recipe import Recipe
from cnn_zoo.weights import store
from cnn_zoo.weights.manifest import FORMAT, MANIFEST, SUFFIX, WeightsInfo, dataset_card, normalized, \
    read_manifest, write_manifest


def entry(tag: Tag) -> WeightsInfo:
    """The manifest entry of a declared tag."""
    config = dict(tag.recipe) if tag.source is None else Recipe.from_dict(tag.recipe, source=tag.tag).to_dict()
    dataset = dataset_card(tag.dataset) if isinstance(tag.dataset, str) else dict(tag.dataset)
    return WeightsInfo(
        tag=tag.tag, arch=tag.arch, file=f"{tag.tag}{SUFFIX}", sha256=tag.sha256, size=tag.size,
        kwargs=normalized(tag.kwargs), preprocessing=normalized(tag.preprocessing),
        class_names=tag.class_names.load(), metrics=normalized(tag.metrics),
        recipe={"name": config["name"], "config": normalized(config)}, seed=tag.seed,
        dataset={**normalized(dataset), "class_names_from": tag.class_names.source},
        created=tag.created, keras_version=tag.keras_version, backend=tag.backend,
        tuning=None if tag.tuning is None else normalized(tag.tuning),
        source=None if tag.source is None else normalized(tag.source))


def entries() -> dict[str, WeightsInfo]:
    """Every declared tag's entry, by tag."""
    return {name: entry(tag) for name, tag in declared().items()}


def manifest_path() -> Path:
    """saved_models/manifest.json of this checkout (or installation)."""
    return Path(str(store.local_models())) / MANIFEST


def stale(path: Path | None = None) -> list[str]:
    """The tags whose entry in the manifest at ``path`` is not their declaration's (missing, extra, changed)."""
    path = manifest_path() if path is None else path
    on_disk = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"tags": {}}
    wanted = {"format": FORMAT, "tags": {tag: info.as_dict() for tag, info in entries().items()}}
    tags = sorted(set(on_disk.get("tags", {})) | set(wanted["tags"]))
    found = [tag for tag in tags if on_disk["tags"].get(tag) != wanted["tags"].get(tag)]
    return found or ([] if on_disk.get("format") == FORMAT else ["(format)"])


def write(path: Path | None = None) -> None:
    write_manifest(manifest_path() if path is None else path, entries())


def declaration(folder, tag: str) -> str:
    """Python source of the declaration of ``tag`` as ``zoo publish`` wrote it into ``folder``."""
    info = read_manifest(Path(folder) / MANIFEST).get(tag)
    if info is None:
        raise ZooError(f"{Path(folder) / MANIFEST} has no tag {tag!r}")
    fields = [("kwargs", info.kwargs), ("class_names", None), ("metrics", info.metrics),
              ("preprocessing", info.preprocessing), ("recipe", info.recipe["config"]), ("tuning", info.tuning)]
    lines = [f"{tag.upper().replace('.', '_')} = Tag(", f"    {_text(tag)},"]
    for name, value in fields:
        if name == "class_names":
            lines.append(f"    class_names=ClassNames({_text('the dataset label names, as the run recorded them')},")
            lines.append(f"                           names={_literal(tuple(info.class_names), 33)}),")
        elif value is not None:
            lines.append(f"    {name}={_literal(value, 5 + len(name))},")
    lines += [f"    dataset={_text(info.dataset.get('source', ''))}, seed={info.seed}, created={_text(info.created)},",
              f"    keras_version={_text(info.keras_version)}, backend={_text(info.backend)},",
              f"    sha256={_text(info.sha256)}, size={info.size},", ")"]
    return "\n".join(lines)


def _text(s: str) -> str:
    return repr(s) if '"' in s and "'" not in s else '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _inline(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_text(k)}: {_inline(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        inner = ", ".join(_inline(x) for x in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner}{',' if len(v) == 1 else ''})"
    return _text(v) if isinstance(v, str) else repr(v)


def _literal(v, indent: int, width: int = 108) -> str:
    """``v`` as a Python literal starting at column ``indent``, its items packed while they fit."""
    flat = _inline(v)
    if isinstance(v, str) and indent + len(flat) > width:  # adjacent literals, split at spaces
        words, parts = v.split(" "), [""]
        for i, word in enumerate(words):
            piece = word + (" " if i < len(words) - 1 else "")
            if parts[-1] and indent + len(_text(parts[-1] + piece)) > width:
                parts.append("")
            parts[-1] += piece
        return ("\n" + " " * indent).join(map(_text, parts))
    if indent + len(flat) <= width or not isinstance(v, (dict, list, tuple)) or not v:
        return flat
    items = [(f"{_text(k)}: ", x) for k, x in v.items()] if isinstance(v, dict) else [("", x) for x in v]
    opening, closing = ("{", "}") if isinstance(v, dict) else ("[", "]") if isinstance(v, list) else ("(", ")")
    lines, line, pad = [], opening, " " * (indent + 1)
    for i, (prefix, value) in enumerate(items):
        tail = "," if i < len(items) - 1 else closing
        piece = prefix + _inline(value) + tail
        empty = line in (opening, pad)
        column = (indent if not lines else 0) + len(line)
        if column + len(piece) + (0 if empty else 1) <= width:
            line += ("" if empty else " ") + piece
            continue
        if not empty:
            lines.append(line)
            line = pad
        line += prefix + _literal(value, indent + 1 + len(prefix), width) + tail
    lines.append(line)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnn_zoo.hub.shipped", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the manifest is not current")
    parser.add_argument("--declare", nargs=2, metavar=("DIR", "TAG"),
                        help="print the declaration of a tag published into DIR")
    args = parser.parse_args(argv)
    if args.declare:
        print(declaration(*args.declare))
        return 0
    if args.check:
        found = stale()
        if found:
            print(f"{manifest_path()} is not current for {', '.join(found)}: run python -m cnn_zoo.hub.shipped",
                  file=sys.stderr)
        return 1 if found else 0
    write()
    print(f"wrote {manifest_path()} ({len(declared())} tags)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
