"""`pull` of the ImageNet tags from a loopback server: download, hash check, conversion, cache.

The server (127.0.0.1) serves stand-ins of both publishers' files; the hub's
manifest holds the shipped entries with the URL and digest of the stand-ins.
The lineage's tags (ResNet, VGG, AlexNet) are pulled in tests/test_pull_every_tag.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.server
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import cnn_zoo as zoo
from bvlc_graph import bgr_images, bvlc_onnx, onnx_logits
from cnn_zoo.convert import ConversionError, pulling
from cnn_zoo.hub import HubError, IntegrityError, OfflineError
from cnn_zoo.models.pretrained import declared
from cnn_zoo.weights import store
from cnn_zoo.weights.store import Hub
from cnn_zoo.weights.manifest import MANIFEST, read_manifest, write_manifest
from convert_fixtures import images, resnet18_pth, torch_logits, torchvision_pth

TV, BVLC = "googlenet_bn.imagenet", "googlenet.imagenet"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@dataclasses.dataclass
class Served:
    root: Path
    url: str
    requests: list
    torch_model: object


@contextlib.contextmanager
def loopback(root: Path):
    """An HTTP server on 127.0.0.1 serving the folder ``root``: yields (its URL, the paths requested)."""
    os.environ.setdefault("no_proxy", "127.0.0.1")
    os.environ.setdefault("NO_PROXY", "127.0.0.1")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Handler(*a, directory=str(root)))
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Both publishers' stand-in files on a loopback server (one per module: they take seconds to make)."""
    root = tmp_path_factory.mktemp("served")
    model = torchvision_pth(root / "googlenet-standin.pth")
    bvlc_onnx(root / "googlenet-7.onnx")
    resnet18_pth(root / "resnet18-standin.pth")
    with loopback(root) as (url, requests):
        yield Served(root, url, requests, model)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def serve_as(served: Served, tag: str, file: str, *, data: bytes | None = None, hash_of: bytes | None = None):
    """The tag's shipped source block, pointed at ``file`` on the server (written from ``data``).

    ``hash_of``: the bytes whose digest the block states (default: the file's own).
    """
    path = served.root / file
    if data is not None:
        path.write_bytes(data)
    digest = hashlib.sha256(hash_of if hash_of is not None else path.read_bytes()).hexdigest()
    source = dict(declared()[tag].source, file=file, url=f"{served.url}/{file}")
    if source["sha256"] is None:  # torchvision: the hash prefix only, as published
        source["sha256_prefix"] = digest[:8]
    else:
        source.update(sha256=digest, size=len(hash_of if hash_of is not None else path.read_bytes()))
    return source


def make_hub(tmp_path: Path, tv=None, bvlc=None, **others) -> Hub:
    """A hub whose local manifest has the shipped ImageNet entries with these source blocks
    (``others``: {tag: fields to replace}, e.g. :func:`lineage_entry`)."""
    local = tmp_path / "local"
    local.mkdir(exist_ok=True)
    shipped = store.available(hub=Hub(home=tmp_path / "unused", local=store.local_models()))
    fields = {**({TV: {"source": tv}} if tv else {}), **({BVLC: {"source": bvlc}} if bvlc else {}), **others}
    write_manifest(local / MANIFEST, {tag: dataclasses.replace(shipped[tag], **f) for tag, f in fields.items()})
    return Hub(home=tmp_path / "home", local=local, timeout=10)


def leftovers(hub: Hub) -> list[str]:
    """What the cache holds besides its lock folder (and an empty manifest)."""
    if not hub.cache.exists():
        return []
    found = [p.name for p in hub.cache.iterdir() if p.name not in (".locks", MANIFEST)]
    return found + list(read_manifest(hub.cache / MANIFEST))


def test_the_shipped_entries(tmp_path):
    entries = store.available(hub=Hub(home=tmp_path, local=store.local_models()))
    tv, bvlc = entries[TV], entries[BVLC]
    assert tv.source["url"] == "https://download.pytorch.org/models/googlenet-1378be20.pth"
    assert tv.source["sha256_prefix"] == "1378be20" and "check_hash" in tv.source["check"]
    assert len(bvlc.source["sha256"]) == 64 and bvlc.source["size"] == 28020232
    assert tv.metrics["accuracy"] == 0.69778 and "publisher" in tv.metrics["measured_by"]
    assert bvlc.metrics["accuracy"] == 0.687 and "68.7%" in bvlc.metrics["source"]
    assert len(tv.class_names) == len(set(tv.class_names)) == 1000 and tv.class_names[:2] == ("tench", "goldfish")
    assert tv.class_names == bvlc.class_names and tv.kwargs["transform_input"] is True
    assert bvlc.preprocessing["steps"][1] == {"channel_order": {"order": "bgr"}}
    assert tv.sha256 is None and tv.size is None  # known once converted
    for entry in (tv, bvlc):
        assert entry.source["license"] and entry.dataset["license"] and entry.source["page"]


def test_pull_downloads_checks_converts_and_caches_once(served, tmp_path, monkeypatch):
    hub = make_hub(tmp_path, tv=serve_as(served, TV, "googlenet-standin.pth"))
    before = len(served.requests)
    path = pulling.pull(TV, hub=hub, quiet=True)
    assert path == hub.cache / "googlenet_bn.imagenet.weights.h5" and len(served.requests) == before + 1
    record = read_manifest(hub.cache / MANIFEST)[TV]
    assert record.size == path.stat().st_size and record.sha256 == sha(path)
    assert sorted(leftovers(hub)) == sorted([path.name, TV])  # no publisher file, no work folder
    # Never twice: neither the download nor the conversion runs again.
    monkeypatch.setattr("cnn_zoo.convert.convert_weights", lambda *a, **k: pytest.fail("converted twice"))
    assert pulling.pull(TV, hub=hub, quiet=True) == path and len(served.requests) == before + 1
    # zoo.load gives torchvision's probabilities.
    model = zoo.load(TV, hub=hub)
    x = images(2, seed=5)
    ref = torch_logits(served.torch_model, x)
    ref = np.exp(ref - ref.max(-1, keepdims=True))
    ours = model.predict(x.transpose(0, 2, 3, 1), verbose=0)
    assert np.abs(ours - ref / ref.sum(-1, keepdims=True)).max() < 1e-5
    assert model.zoo_info.source["format"] == "torchvision"


def test_the_store_alone_does_not_convert(tmp_path):
    """The weights store is a standard-library leaf: a converted tag is pulled one floor up."""
    hub = Hub(home=tmp_path, local=store.local_models(), offline=True)
    with pytest.raises(HubError, match=r"converted from torchvision \(PyTorch\)'s file on its first pull: "
                                       r"pull it with cnn_zoo.pull \(zoo pull\)"):
        store.pull(TV, hub=hub)
    assert zoo.pull is pulling.pull


def test_a_damaged_converted_file_is_converted_again(served, tmp_path):
    hub = make_hub(tmp_path, tv=serve_as(served, TV, "googlenet-standin.pth"))
    path = pulling.pull(TV, hub=hub, quiet=True)
    good = path.read_bytes()
    path.write_bytes(good[:-10])
    assert pulling.pull(TV, hub=hub, quiet=True).read_bytes() != good[:-10]
    assert sha(path) == read_manifest(hub.cache / MANIFEST)[TV].sha256


def test_pull_of_the_bvlc_tag(served, tmp_path):
    hub = make_hub(tmp_path, bvlc=serve_as(served, BVLC, "googlenet-7.onnx"))
    path = pulling.pull(BVLC, hub=hub, quiet=True)
    model = zoo.load(BVLC, hub=hub, classifier_activation=None)
    x = bgr_images(2, seed=3)
    ref = onnx_logits(served.root / "googlenet-7.onnx", x)
    ours = model.predict(x.transpose(0, 2, 3, 1), verbose=0)
    assert np.abs(ours - ref).max() <= 1e-4 * np.abs(ref).max() and path.is_file()


def _rejected(hub, tag, error, match):
    with pytest.raises(error, match=match) as caught:
        pulling.pull(tag, hub=hub, quiet=True)
    assert "\n" not in str(caught.value)
    assert leftovers(hub) == []
    return str(caught.value)


def test_a_tampered_file_is_rejected_and_nothing_is_cached(served, tmp_path):
    good = (served.root / "googlenet-standin.pth").read_bytes()
    tampered = good[:5000] + bytes([good[5000] ^ 1]) + good[5001:]
    hub = make_hub(tmp_path, tv=serve_as(served, TV, "tampered.pth", data=tampered, hash_of=good),
                   bvlc=serve_as(served, BVLC, "tampered.onnx", hash_of=(served.root / "googlenet-7.onnx")
                                 .read_bytes(), data=b"x" + (served.root / "googlenet-7.onnx").read_bytes()[1:]))
    _rejected(hub, TV, IntegrityError, "sha256 mismatch")
    _rejected(hub, BVLC, IntegrityError, "sha256 mismatch")


def test_a_truncated_file_is_rejected_and_nothing_is_cached(served, tmp_path):
    good = (served.root / "googlenet-standin.pth").read_bytes()
    onnx_bytes = (served.root / "googlenet-7.onnx").read_bytes()
    hub = make_hub(tmp_path, tv=serve_as(served, TV, "cut.pth", data=good[:len(good) // 2], hash_of=good),
                   bvlc=serve_as(served, BVLC, "cut.onnx", data=onnx_bytes[:1000], hash_of=onnx_bytes))
    _rejected(hub, TV, IntegrityError, "sha256 mismatch")
    _rejected(hub, BVLC, IntegrityError, "announces 1000 bytes")


def test_a_file_of_another_layout_is_rejected_and_nothing_is_cached(served, tmp_path):
    hub = make_hub(tmp_path, tv=serve_as(served, TV, "resnet18-standin.pth"))
    message = _rejected(hub, TV, ConversionError, "not a torchvision GoogLeNet state dict")
    assert "resnet18-standin.pth" in message


@pytest.mark.slow
def test_offline_never_downloads(served, tmp_path):
    hub = dataclasses.replace(make_hub(tmp_path, tv=serve_as(served, TV, "googlenet-standin.pth")),
                              offline=True)
    before = len(served.requests)
    message = _rejected(hub, TV, OfflineError, "ZOO_OFFLINE=1")
    assert len(served.requests) == before
    assert message.endswith(f"`zoo convert torchvision FILE --tag {TV}` on a copy of googlenet-standin.pth")


def test_an_unreachable_publisher_names_zoo_convert(served, tmp_path):
    import socket

    with socket.socket() as probe:  # a loopback port that nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = dict(serve_as(served, TV, "googlenet-standin.pth"), url=f"http://127.0.0.1:{port}/g.pth")
    message = _rejected(make_hub(tmp_path, tv=source), TV, pulling.UnreachableError, "cannot reach")
    assert message.startswith(f"cannot reach http://127.0.0.1:{port}/g.pth: ")
    assert message.endswith(f"; without the network, run `zoo convert torchvision FILE --tag {TV}` on a "
                            "copy of googlenet-standin.pth")


def test_a_killed_pull_leaves_nothing_that_survives_the_next(served, tmp_path):
    hub = make_hub(tmp_path, tv=serve_as(served, TV, "googlenet-standin.pth"))
    junk = hub.cache / f".convert-{TV}.dead"
    junk.mkdir(parents=True)
    (junk / "googlenet-standin.pth").write_bytes(b"half")
    pulling.pull(TV, hub=hub, quiet=True)
    assert not junk.exists()


def test_the_manifest_schema_still_reads_old_entries(tmp_path):
    shipped = json.loads((Path(__file__).parents[1] / "saved_models" / MANIFEST).read_text())
    old = {t: e for t, e in shipped["tags"].items() if "source" not in e}
    assert old and all(len(e["sha256"]) == 64 for e in old.values())
    (tmp_path / MANIFEST).write_text(json.dumps({"format": 1, "tags": old}))
    assert set(read_manifest(tmp_path / MANIFEST)) == set(old)
    bad = dict(shipped["tags"][TV], source=None)
    (tmp_path / MANIFEST).write_text(json.dumps({"format": 1, "tags": {TV: bad}}))
    with pytest.raises(Exception, match="sha256 None"):  # no digest is allowed only with a source
        read_manifest(tmp_path / MANIFEST)
    assert pulling.NEEDS == {"torchvision": "torch", "bvlc": "onnx"}
