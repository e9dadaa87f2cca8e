"""The published tags as a user browses them: ``list_pretrained`` (as timm's) and a tag's card.

    zoo.hub.list_pretrained("lenet5*")      # [WeightsInfo, ...] sorted by tag
    print(zoo.hub.tag_card("lenet5.mnist"))   # metrics, preprocessing, labels, recipe, sha256

Reads manifests only: no Keras, no weights file is opened or downloaded.
"""

from __future__ import annotations

import fnmatch

from cnn_zoo import preprocess
from cnn_zoo.errors import size_text
from cnn_zoo.weights import store
from cnn_zoo.weights.manifest import WeightsInfo


def list_pretrained(pattern="*", *, hub=None, remote: bool = False) -> list[WeightsInfo]:
    """The tags (saved_models, the cache, and with ``remote`` the hub at ZOO_HUB_URL) whose
    tag or architecture matches the fnmatch ``pattern``, sorted by tag."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    found = store.available(hub=hub, remote=remote)
    return [info for tag, info in found.items()
            if any(fnmatch.fnmatchcase(tag, p) or fnmatch.fnmatchcase(info.arch, p) for p in patterns)]


def headline(info: WeightsInfo) -> dict:
    """One row of ``zoo list --pretrained``: tag, dataset, the test metric, size."""
    metrics = info.metrics
    return {"tag": info.tag, "arch": info.arch, "dataset": info.dataset.get("name", ""),
            "split": metrics.get("split"), "accuracy": metrics.get("accuracy"),
            "examples": metrics.get("examples"), "size": info.size}


def human_size(size: int | None) -> str:
    # None: a publisher's file, converted on the first pull: its size is not known before
    return "on pull" if size is None else size_text(size)


def rows_text(infos: list[WeightsInfo]) -> str:
    """The ``zoo list --pretrained`` table."""
    rows = [("tag", "dataset", "metric", "size")]
    for info in infos:
        h = headline(info)
        metric = f"{h['split']} accuracy {h['accuracy']:.2%}" if isinstance(h["accuracy"], float) else "-"
        rows.append((info.tag, h["dataset"], metric, human_size(info.size)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def tag_card(tag_or_info, *, hub=None) -> str:
    """What a tag is, as text: dataset and licence, metrics, preprocessing, labels, recipe, file."""
    info = tag_or_info if isinstance(tag_or_info, WeightsInfo) else store.info(tag_or_info, hub=hub)
    prep, data, metrics = info.preprocessing, info.dataset, info.metrics
    shown = {k: v for k, v in metrics.items() if isinstance(v, float)}
    raw = "×".join("any" if d is None else str(d) for d in prep["raw_shape"])  # null: any size
    lines = [
        f"{info.tag}: {info.arch} weights, {info.num_classes} classes",
        f"dataset: {data.get('name')} ({data.get('source')}), licence {data.get('license')}"
        + (f", {data['attribution']}" if data.get("attribution") else ""),
        f"metrics: {metrics.get('split')} ({metrics.get('examples'):,} examples): "
        + ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
        + (f" (measured by {metrics['measured_by']})" if metrics.get("measured_by") else ""),
        *([f"published: {pub['num_params']:,} parameters, {pub['gflops']} GFLOPS, a {pub['file_size_mb']} MB file "
            f"({pub['source']})"] if isinstance(pub := metrics.get("publisher"), dict) else []),
        f"input: raw {raw} → model {'×'.join(map(str, prep['input_shape']))}",
        "preprocessing: " + ("; ".join(preprocess.describe(prep["steps"])) or "none"),
        f"labels: {', '.join(info.class_names)}"
        + (f" ({data['class_names_from']})" if data.get("class_names_from") else ""),
        f"recipe: {info.recipe.get('name')} (seed {info.seed}; the full recipe: zoo info {info.tag} --json)",
        f"builder arguments: {', '.join(f'{k}={v!r}' for k, v in info.kwargs.items())}",
        (f"file: {info.file}, {info.size:,} bytes, sha256 {info.sha256}" if info.size is not None else
         f"file: {info.file}, converted on the first pull from {info.source.get('url')}"),
        f"made: {info.created} with Keras {info.keras_version}" + (f" on {info.backend}" if info.backend else ""),
    ]
    if info.tuning:
        lines.append(f"tuning: {', '.join(f'{k}={v}' for k, v in info.tuning.items() if not isinstance(v, (dict, list)))}")
    return "\n".join(lines)
