"""The weights hub: manifest, publish, pull from cache / saved_models / a loopback HTTP hub, load.

The remote tests serve a temporary copy of a real published model (see
hub_fixtures.published) from http.server on 127.0.0.1 (port 0), with faults
injected per file: corrupt bytes, a short body, a lying Content-Length, a
dropped connection, 404. Network waits are bounded by a 5 s timeout.
"""

from __future__ import annotations

import dataclasses
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from data_fixtures import tfds_dir  # noqa: F401  (fixture, for the slow test)
from hub_fixtures import TAG, hub_for, published  # noqa: F401  (fixture)
from cnn_zoo import registry
from cnn_zoo.cli import main
from cnn_zoo.hub import (DownloadError, HubError, IntegrityError, ManifestError, OfflineError,
                         UnknownTagError, WeightsInfo)
from cnn_zoo.weights import fetch, manifest as mf, store
from cnn_zoo.weights.store import Hub

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------- loopback hub


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves files from server.root; server.faults[name] injects one fault for that file."""

    def do_GET(self):
        server = self.server
        name = urllib.parse.unquote(self.path.lstrip("/"))
        with server.lock:
            server.requests.append(name)
        fault = server.faults.get(name)
        path = server.root / name
        if fault == "404" or not path.is_file():
            self.send_error(404, "Not Found")
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if fault == "no_length_short":        # close-delimited body, cut in half
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            return
        if fault == "no_length_long":         # close-delimited body, longer than published
            self.end_headers()
            self.wfile.write(body + b"\0" * 1000)
            return
        if fault == "endless":                # close-delimited body that never ends
            self.end_headers()
            chunk, sent = b"\0" * 65536, 0
            self.wfile.write(body)
            try:
                while sent < 1 << 30:         # bounded: 1 GiB, far more than any buffer
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:                   # the client hung up
                pass
            server.sent[name] = len(body) + sent
            return
        announced = len(body) + 10 if fault == "wrong_length" else len(body)
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        if fault == "drop":                   # the server dies mid-stream
            self.wfile.write(body[:1000])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        step = 16 * 1024 if fault == "slow" else len(body)
        for start in range(0, len(body), step):
            self.wfile.write(body[start:start + step])
            if fault == "slow":
                self.wfile.flush()
                time.sleep(0.03)

    def log_message(self, *args):
        pass


@dataclasses.dataclass
class LoopbackHub:
    root: Path
    url: str
    server: http.server.ThreadingHTTPServer

    @property
    def requests(self):
        return list(self.server.requests)

    def fault(self, name, kind):
        self.server.faults[name] = kind


@pytest.fixture
def loopback(tmp_path, published, monkeypatch):  # noqa: F811
    """A copy of the published hub folder served on 127.0.0.1."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    root = tmp_path / "served"
    shutil.copytree(published.dest, root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.root, server.faults, server.requests, server.lock = root, {}, [], threading.Lock()
    server.sent = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LoopbackHub(root, f"http://127.0.0.1:{server.server_address[1]}", server)
    server.shutdown()
    server.server_close()


def remote_hub(tmp_path, loopback, **kwargs) -> Hub:
    """No local folder: the tag is known only to the loopback hub."""
    return Hub(home=tmp_path / "zoo-home", local=None, url=loopback.url, timeout=5, **kwargs)


def cache_files(hub: Hub) -> list[str]:
    """Everything in the cache's weights folder except the lock folder."""
    if not hub.cache.exists():
        return []
    return sorted(p.name for p in hub.cache.iterdir() if p.name != ".locks")


# ----------------------------------------------------------------------- manifest


def test_parse_tag():
    assert mf.parse_tag("lenet5.mnist") == ("lenet5", "mnist")
    assert mf.parse_tag("googlenet_bn.fashion_mnist-v2") == ("googlenet_bn", "fashion_mnist-v2")
    for bad in ("lenet5", "lenet5.", ".mnist", "LeNet5.mnist", "lenet5.mnist.v2", "a/b.c", 5):
        with pytest.raises(ManifestError, match="arch.name"):
            mf.parse_tag(bad)


def test_dataset_cards_name_the_licences():
    assert mf.dataset_card("tfds:mnist")["license"] == "CC BY-SA 3.0"
    assert mf.dataset_card("embedded:mnist5k")["attribution"] == "Yann LeCun and Corinna Cortes"
    fashion = mf.dataset_card("idx:/data/fashion-mnist")
    assert (fashion["name"], fashion["license"], fashion["attribution"]) == \
        ("Fashion-MNIST", "MIT", "Zalando SE")
    assert mf.dataset_card("folder:/my/pets")["license"] == "unknown"


def test_entry_round_trip_and_checks(published):  # noqa: F811
    entry = published.info.as_dict()
    assert WeightsInfo.from_dict(TAG, entry) == published.info
    assert json.loads(json.dumps(entry)) == entry  # plain JSON
    bad = {
        "sha256": dict(entry, sha256=entry["sha256"][:12]),
        "file": dict(entry, file="../evil.weights.h5"),
        "arch": dict(entry, arch="lenet5"),
        "size": dict(entry, size=0),
        "class names": dict(entry, class_names=["a"]),
        "lacks": {k: v for k, v in entry.items() if k != "preprocessing"},
    }
    for fragment, data in bad.items():
        with pytest.raises(ManifestError, match=fragment.split()[0]):
            WeightsInfo.from_dict(TAG, data, "test")
    with pytest.raises(ManifestError, match="newer"):
        mf.parse_manifest({"format": 2, "tags": {}}, "test")
    with pytest.raises(ManifestError, match="not a weights manifest"):
        mf.parse_manifest({"lenet5.mnist": {}}, "test")


def test_write_manifest_is_atomic_and_sorted(tmp_path, published):  # noqa: F811
    other = dataclasses.replace(published.info, tag="lenet5_modern.another",
                                file="lenet5_modern.another.weights.h5")
    path = tmp_path / "manifest.json"
    mf.write_manifest(path, {other.tag: other, TAG: published.info})
    data = json.loads(path.read_text())
    assert data["format"] == 1 and list(data["tags"]) == sorted([TAG, other.tag])
    assert mf.read_manifest(path) == {TAG: published.info, other.tag: other}
    assert os.listdir(tmp_path) == ["manifest.json"]


# ----------------------------------------------------------------------- shipped manifest

SHIPPED = mf.read_manifest(REPO / "saved_models" / "manifest.json")


def test_shipped_manifest_is_valid_and_feeds_the_registry():
    data = json.loads((REPO / "saved_models" / "manifest.json").read_text())
    assert data["format"] == mf.FORMAT
    for name in registry.list_models():
        assert registry.pretrained_tags(name) == sorted(t for t, i in SHIPPED.items() if i.arch == name)
    assert registry.list_models(pretrained=True) == sorted({i.arch for i in SHIPPED.values()})


# Tags with a source (the ImageNet GoogLeNets) ship no file: pull converts the publisher's.
@pytest.mark.parametrize("tag", sorted(t for t, i in SHIPPED.items() if i.source is None))
def test_shipped_entry_verifies_against_its_file(tag):
    info = SHIPPED[tag]
    path = REPO / "saved_models" / info.file
    assert path.is_file(), f"{info.file} is listed in the manifest but missing"
    mf.verify(path, info)
    with h5py.File(path) as f:  # weights only: no optimizer state, no pickled objects
        assert "optimizer" not in f


# ----------------------------------------------------------------------- publish


def test_publish_records_everything(published):  # noqa: F811
    info, run_dir = published.info, published.run_dir
    file = published.dest / info.file
    assert info.file == f"{TAG}.weights.h5" and mf.digest(file) == (info.size, info.sha256)
    assert sorted(os.listdir(published.dest)) == sorted(["manifest.json", info.file])  # no temp files
    assert mf.read_manifest(published.dest / "manifest.json") == {TAG: info}
    contract = json.loads((run_dir / "preprocessing.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert info.kwargs == {"input_shape": [32, 32, 1], "num_classes": 10}
    assert info.preprocessing == {k: contract[k] for k in ("steps", "raw_shape", "input_shape")}
    assert list(info.class_names) == contract["class_names"]
    assert {k: info.metrics[k] for k in metrics} == metrics and info.metrics["split"] == "test"
    assert info.metrics["measured_by"].startswith("cnn-zoo") and "metrics.json" in info.metrics["source"]
    from cnn_zoo.recipe import load_recipe
    assert info.recipe == {"name": "default",
                           "config": mf.normalized(load_recipe(run_dir / "config.yaml").to_dict())}
    assert info.seed == 0 and info.backend == "tensorflow"
    assert info.dataset["source"] == "embedded:mnist5k" and info.dataset["license"] == "CC BY-SA 3.0"
    import keras
    assert info.keras_version == keras.__version__ and info.created
    with h5py.File(file) as f:  # the run's optimizer state is left out
        assert "optimizer" not in f and "layers" in f


def test_publish_refuses_and_overwrites(tmp_path, published):  # noqa: F811
    dest = tmp_path / "hub"
    shutil.copytree(published.dest, dest)
    before = (dest / "manifest.json").read_text()
    from cnn_zoo.hub import publish
    with pytest.raises(HubError, match="already published.*overwrite"):
        publish(published.run_dir, TAG, dest=dest)
    with pytest.raises(HubError, match="must start with 'lenet5_modern.'"):
        publish(published.run_dir, "lenet5.mnist", dest=dest)
    with pytest.raises(ManifestError, match="arch.name"):
        publish(published.run_dir, "tiny", dest=dest)
    with pytest.raises(HubError, match="not a finished run folder"):
        publish(tmp_path, "lenet5_modern.x", dest=dest)
    assert (dest / "manifest.json").read_text() == before
    again = publish(published.run_dir, TAG, dest=dest, overwrite=True)
    # Same weights, same tag: the file's entry is the same apart from the date.
    assert dataclasses.replace(again, created=published.info.created) == published.info
    assert sorted(os.listdir(dest)) == sorted(["manifest.json", again.file])


def test_publish_refuses_unfinished_run(tmp_path, published):  # noqa: F811
    run = tmp_path / "run"
    shutil.copytree(published.run_dir, run)
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps(dict(manifest, status="interrupted")))
    from cnn_zoo.hub import publish
    with pytest.raises(HubError, match="status 'interrupted'"):
        publish(run, "lenet5_modern.x", dest=tmp_path / "hub")
    assert not (tmp_path / "hub").exists() or not any((tmp_path / "hub").iterdir())


def test_publish_records_tuning_and_a_stated_licence(tmp_path, published):  # noqa: F811
    from cnn_zoo.hub import publish

    run = tmp_path / "run"
    shutil.copytree(published.run_dir, run)
    contract = json.loads((run / "preprocessing.json").read_text())
    (run / "preprocessing.json").write_text(json.dumps(dict(contract, dataset="folder:/data/digits")))
    tuning = {"trial_id": "0003", "hyperparameters": {"optimizer.learning_rate": 0.002}}
    (run / "tuning.json").write_text(json.dumps(tuning))
    stated = {"name": "my digits", "license": "CC0-1.0", "attribution": "me", "url": ""}
    info = publish(run, "lenet5_modern.mine", dest=tmp_path / "hub", dataset_license=stated)
    assert info.tuning == tuning
    assert info.dataset == {"source": "folder:/data/digits", **stated}
    assert mf.read_manifest(tmp_path / "hub" / "manifest.json")["lenet5_modern.mine"] == info
    with pytest.warns(UserWarning, match="licence of the dataset 'folder:/data/digits' is unknown"):
        unknown = publish(run, "lenet5_modern.other", dest=tmp_path / "hub")
    assert unknown.dataset["license"] == "unknown"
    assert "tuning" not in published.info.as_dict()  # a plain training run has none


# ----------------------------------------------------------------------- local sources


def test_pull_uses_the_local_folder_in_place(tmp_path, published):  # noqa: F811
    hub = hub_for(tmp_path, published)
    assert store.pull(TAG, hub=hub) == published.dest / published.info.file
    assert cache_files(hub) == []
    assert store.info(TAG, hub=hub) == published.info
    assert list(store.available(hub=hub)) == [TAG]
    import cnn_zoo as zoo
    from cnn_zoo.convert import pulling
    from cnn_zoo.hub import loading
    assert zoo.pull is pulling.pull and zoo.load is loading.load  # lazy top-level exports
    assert zoo.get_model is loading.get_model


def test_pull_reports_a_corrupt_local_file(tmp_path, published):  # noqa: F811
    local = tmp_path / "local"
    shutil.copytree(published.dest, local)
    data = bytearray((local / published.info.file).read_bytes())
    data[-100] ^= 0xFF
    (local / published.info.file).write_bytes(bytes(data))
    hub = Hub(home=tmp_path / "home", local=local)
    with pytest.warns(UserWarning, match="tampered"), pytest.raises(IntegrityError) as error:
        store.pull(TAG, hub=hub)
    assert error.value.what == "sha256" and error.value.expected == published.info.sha256
    assert published.info.sha256 in str(error.value) and error.value.got in str(error.value)


def test_unknown_and_malformed_tags(tmp_path, published):  # noqa: F811
    hub = hub_for(tmp_path, published)
    with pytest.raises(UnknownTagError, match="lenet5_modern.tiny.*zoo list --pretrained"):
        store.pull("lenet5_modern.tiyn", hub=hub)
    with pytest.raises(ManifestError, match="arch.name"):
        store.pull("tiny", hub=hub)


def test_hub_from_env(tmp_path, monkeypatch):
    env = {"ZOO_HOME": str(tmp_path), "ZOO_HUB_URL": "https://example.org/zoo/",
           "ZOO_OFFLINE": "true", "ZOO_HUB_TIMEOUT": "7"}
    hub = Hub.from_env(env)
    assert (hub.home, hub.cache, hub.url, hub.offline, hub.timeout) == \
        (tmp_path, tmp_path / "weights", "https://example.org/zoo", True, 7.0)
    assert Path(str(hub.local)) == REPO / "saved_models"
    assert not Hub.from_env({"ZOO_OFFLINE": "0"}).offline
    # Malformed values are kept as written and reported when the remote hub is used.
    bad = Hub.from_env({"ZOO_HOME": str(tmp_path), "ZOO_HUB_URL": "ftp://example.org/zoo",
                        "ZOO_HUB_TIMEOUT": "abc"})
    assert (bad.url, bad.timeout) == ("ftp://example.org/zoo", "abc")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert Hub.from_env({}).home == tmp_path / "xdg" / "cnn-zoo"


# ----------------------------------------------------------------------- remote: loopback HTTP


def test_remote_pull_happy_path(tmp_path, loopback, published, capsys):  # noqa: F811
    hub = remote_hub(tmp_path, loopback)
    path = store.pull(TAG, hub=hub)
    assert path == hub.cache / published.info.file
    mf.verify(path, published.info)
    assert loopback.requests == ["manifest.json", published.info.file]
    assert f"{TAG}: downloaded" in capsys.readouterr().err  # progress goes to stderr
    # The entry is remembered: the cache alone now answers, with no request at all.
    assert mf.read_manifest(hub.cache / "manifest.json") == {TAG: published.info}
    assert store.pull(TAG, hub=hub, quiet=True) == path
    assert len(loopback.requests) == 2
    assert cache_files(hub) == sorted(["manifest.json", published.info.file])


def test_remote_pull_over_file_url_imports_no_keras(tmp_path, published):  # noqa: F811
    code = ("import sys\nfrom cnn_zoo.cli import main\ntry:\n    main(['pull', sys.argv[1]])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print([m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules])\n")
    env = dict(os.environ, ZOO_HOME=str(tmp_path / "home"), ZOO_HUB_URL=published.dest.as_uri(),
               PYTHONPATH=str(REPO))
    env.pop("ZOO_OFFLINE", None)
    out = subprocess.run([sys.executable, "-c", code, TAG], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    path, heavy = out.stdout.splitlines()
    assert heavy == "[]"
    mf.verify(Path(path), published.info)
    assert f"{TAG}: downloaded" in out.stderr  # the progress line, on stderr


def test_progress_bar_redraws_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = fetch.DownloadProgress("lenet5.mnist", 2_000_000, stream=stream)
    for _ in range(4):
        progress.update(500_000)
    progress.close(ok=True)
    text = stream.getvalue()
    assert text.startswith("\rlenet5.mnist [") and text.endswith("100% 2.0 MB/2.0 MB\n")
    quiet = Terminal()
    fetch.DownloadProgress("x", 10, quiet=True, stream=quiet).close(ok=True)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("fault, error, fragments", [
    ("corrupt", IntegrityError, ["sha256 mismatch", "expected", "got"]),
    ("wrong_size", IntegrityError, ["announces"]),
    ("wrong_length", IntegrityError, ["announces"]),
    ("no_length_short", DownloadError, ["broke off after", "truncated"]),
    ("no_length_long", IntegrityError, ["longer than"]),
    ("drop", DownloadError, ["broke off after 1000 of"]),
    ("404", DownloadError, ["HTTP 404", "ZOO_HUB_URL=http://127.0.0.1:"]),
])
def test_remote_pull_faults_leave_nothing_in_the_cache(tmp_path, loopback, published,  # noqa: F811
                                                       fault, error, fragments):
    file = loopback.root / published.info.file
    if fault == "corrupt":  # same size, one byte flipped
        data = bytearray(file.read_bytes())
        data[len(data) // 2] ^= 0x01
        file.write_bytes(bytes(data))
    elif fault == "wrong_size":  # another file of another size, served honestly
        file.write_bytes(file.read_bytes()[:-7])
    else:
        loopback.fault(published.info.file, fault)
    hub = remote_hub(tmp_path, loopback)
    with pytest.raises(error) as raised:
        store.pull(TAG, hub=hub, quiet=True)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message
    if isinstance(raised.value, IntegrityError) and raised.value.what == "sha256":
        assert published.info.sha256 in message and raised.value.got in message
    if fault in ("wrong_size", "wrong_length"):
        assert str(published.info.size) in message
    assert cache_files(hub) == []  # no weights, no .part file, no manifest entry


def test_unknown_remote_tag_and_missing_manifest(tmp_path, loopback):
    hub = remote_hub(tmp_path, loopback)
    with pytest.raises(UnknownTagError, match=f"Did you mean '{TAG}'.*{loopback.url}"):
        store.pull("lenet5_modern.tinny", hub=hub)
    loopback.fault("manifest.json", "404")
    with pytest.raises(DownloadError, match=rf"manifest.json: HTTP 404 .*\(the remote hub is "
                                            rf"ZOO_HUB_URL={loopback.url}: check it"):
        store.pull(TAG, hub=hub)


def test_bad_cached_file_is_replaced(tmp_path, loopback, published):  # noqa: F811
    hub = remote_hub(tmp_path, loopback)
    path = store.pull(TAG, hub=hub, quiet=True)
    path.write_bytes(path.read_bytes()[:5000])  # truncated on disk
    with pytest.warns(UserWarning, match="removed it; fetching it again"):
        assert store.pull(TAG, hub=hub, quiet=True) == path
    mf.verify(path, published.info)
    assert loopback.requests.count(published.info.file) == 2


def test_offline_mode(tmp_path, loopback, published):  # noqa: F811
    offline = remote_hub(tmp_path, loopback, offline=True)
    with pytest.raises(UnknownTagError, match="ZOO_OFFLINE=1 kept the remote"):
        store.pull(TAG, hub=offline)
    assert loopback.requests == []
    # A tag known locally but not downloaded yet: says what is missing and how to fix it.
    listed = Hub(home=tmp_path / "home2", local=_manifest_only(tmp_path, published),
                 url=loopback.url, offline=True)
    with pytest.raises(OfflineError) as error:
        store.pull(TAG, hub=listed)
    message = str(error.value)
    for fragment in (TAG, published.info.file, "ZOO_OFFLINE=1", "unset ZOO_OFFLINE", str(listed.cache)):
        assert fragment in message
    assert loopback.requests == []
    # Once pulled online, the cache serves it offline (the entry was remembered).
    store.pull(TAG, hub=remote_hub(tmp_path, loopback), quiet=True)
    count = len(loopback.requests)
    mf.verify(store.pull(TAG, hub=offline), published.info)
    assert len(loopback.requests) == count


def _manifest_only(tmp_path, published):  # noqa: F811
    folder = tmp_path / "manifest-only"
    folder.mkdir()
    shutil.copy(published.dest / "manifest.json", folder)
    return folder


_PULL_SCRIPT = """
import sys, time
from cnn_zoo.hub import pull
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.005)
print(pull(sys.argv[2], quiet=True))
"""


def test_concurrent_pulls_end_with_one_good_file(tmp_path, loopback, published):  # noqa: F811
    loopback.fault(published.info.file, "slow")  # ~0.5 s download: the processes overlap
    home = tmp_path / "zoo-home"
    env = dict(os.environ, ZOO_HOME=str(home), ZOO_HUB_URL=loopback.url, ZOO_HUB_TIMEOUT="10",
               PYTHONPATH=str(REPO), no_proxy="127.0.0.1", NO_PROXY="127.0.0.1")
    env.pop("ZOO_OFFLINE", None)
    start = time.time() + 4  # all four call pull() at the same moment, after their imports
    procs = [subprocess.Popen([sys.executable, "-c", _PULL_SCRIPT, str(start), TAG], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outputs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    cached = home / "weights" / published.info.file
    assert {out.strip() for out, _ in outputs} == {str(cached)}
    mf.verify(cached, published.info)
    assert loopback.requests.count(published.info.file) == 1  # one download, three waited
    assert sorted(p.name for p in (home / "weights").iterdir() if p.name != ".locks") == \
        sorted(["manifest.json", published.info.file])  # no temp files left


# ----------------------------------------------------------------------- load


def test_load_gives_the_trained_model(tmp_path, published):  # noqa: F811
    import keras

    from cnn_zoo import layers  # noqa: F401
    from cnn_zoo.hub import load

    model = load(TAG, hub=hub_for(tmp_path, published))
    assert model.zoo_info == published.info and model.name == "lenet5_modern"
    x = np.random.default_rng(0).normal(size=(3, 32, 32, 1)).astype("float32")
    trained = keras.saving.load_model(published.run_dir / "model.keras", compile=False)
    np.testing.assert_allclose(model.predict(x, verbose=0), trained.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_load_for_fine_tuning_rebuilds_the_head(tmp_path, published):  # noqa: F811
    from cnn_zoo.hub import HeadRebuiltWarning, load

    hub = hub_for(tmp_path, published)
    base = load(TAG, hub=hub)
    with pytest.warns(HeadRebuiltWarning, match=r"rebuilt the head layer\(s\) 'output' for "
                                                r"num_classes=3 \(published: num_classes=10\)"):
        tuned = load(TAG, num_classes=3, hub=hub)
    assert tuned.output_shape == (None, 3)
    for layer in tuned.layers:
        if layer.get_weights() and layer.name != "output":
            for a, b in zip(layer.get_weights(), base.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b)
    assert tuned.zoo_info.tag == TAG
    # No head, no rebuilt layer, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        features = load(TAG, include_top=False, pooling="avg", hub=hub)
    assert features.output_shape == (None, 120)
    np.testing.assert_array_equal(features.get_layer("c5").get_weights()[0],
                                  base.get_layer("c5").get_weights()[0])


def test_load_refuses_arguments_that_change_the_body(tmp_path, published):  # noqa: F811
    from cnn_zoo.hub import load

    hub = hub_for(tmp_path, published)
    with pytest.raises(ValueError, match="layer 'f6'.*include_top=False"):
        load(TAG, input_shape=(36, 36, 1), hub=hub)
    with pytest.raises(ValueError, match="takes the weights from the tag.*Received: weights="):
        load(TAG, weights="x.weights.h5", hub=hub)


def test_evaluate_reproduces_the_published_metric(tmp_path, published):  # noqa: F811
    from cnn_zoo.hub import evaluate

    metrics = evaluate(TAG, hub=hub_for(tmp_path, published))
    assert (metrics["split"], metrics["examples"]) == ("test", published.info.metrics["examples"])
    assert metrics["accuracy"] == pytest.approx(published.info.metrics["accuracy"], abs=0.002)


@pytest.mark.slow
# A converted tag (a publisher's ImageNet file) ships no weights and no ImageNet here: its
# conversion is proved by tests/test_convert_*.py instead.
@pytest.mark.parametrize("tag", sorted(t for t, i in SHIPPED.items() if i.source is None))
def test_published_model_reaches_its_stated_accuracy(tag, request, tmp_path):
    """Every shipped tag, evaluated on its recorded split, reaches its manifest accuracy (±0.002)."""
    from cnn_zoo.hub import evaluate, load

    info = SHIPPED[tag]
    data_dir = None
    if info.dataset["source"].startswith(("tfds:", "mnist", "fashion_mnist")):
        data_dir = request.getfixturevalue("tfds_dir")
    hub = Hub(home=tmp_path / "home", local=store.local_models())
    metrics = evaluate(load(tag, hub=hub), data_dir=data_dir)
    assert (metrics["split"], metrics["examples"]) == (info.metrics["split"], info.metrics["examples"])
    assert metrics["accuracy"] == pytest.approx(info.metrics["accuracy"], abs=0.002)


# ----------------------------------------------------------------------- CLI


def _cli(*args):
    return CliRunner().invoke(main, list(args))


def _one_error_line(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_cli_pull(tmp_path, loopback, published, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_HUB_URL", loopback.url)
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    result = _cli("pull", TAG, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "home" / "weights" / published.info.file)
    assert result.stderr == ""
    _one_error_line(_cli("pull", "lenet5_modern.tinny"), "Unknown pretrained tag", TAG)
    loopback.fault("manifest.json", "404")
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home2"))
    _one_error_line(_cli("pull", TAG), "HTTP 404")
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    _one_error_line(_cli("pull", TAG), "ZOO_OFFLINE=1")


def test_cli_publish(tmp_path, published):  # noqa: F811
    result = _cli("publish", str(published.run_dir), "--tag", "lenet5_modern.cli",
                  "--dest", str(tmp_path / "hub"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tag"] == "lenet5_modern.cli" and data["sha256"] == mf.digest(
        tmp_path / "hub" / "lenet5_modern.cli.weights.h5")[1]
    _one_error_line(_cli("publish", str(published.run_dir), "--tag", "lenet5_modern.cli",
                         "--dest", str(tmp_path / "hub")), "already published", "--overwrite")
    _one_error_line(_cli("publish", str(published.run_dir), "--tag", "lenet5.mnist",
                         "--dest", str(tmp_path / "hub")), "lenet5_modern.")


def test_builders_accept_a_pretrained_tag(tmp_path, monkeypatch):
    """keras.applications style: get_model(name, weights=tag) resolves the tag through the store."""
    import numpy as np

    import cnn_zoo as zoo

    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # the shipped package data is enough
    tag = "lenet5_modern.mnist"
    model = zoo.get_model("lenet5_modern", weights=tag)
    assert model.zoo_info.tag == tag and len(model.zoo_info.class_names) == 10
    x = np.random.default_rng(0).random((2, 32, 32, 1), dtype="float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), zoo.load(tag).predict(x, verbose=0),
                               atol=1e-6)
    with pytest.raises(ValueError, match="were trained for 'lenet5_modern', not 'lenet5'"):
        zoo.get_model("lenet5", weights=tag)
    with pytest.raises(ValueError, match=r"have 10 classes, the model 3: .*num_classes=3\)"):
        zoo.get_model("lenet5_modern", weights=tag, num_classes=3)
    with pytest.raises(ValueError, match="a pretrained tag such as 'lenet5.mnist'"):
        zoo.get_model("lenet5_modern", weights="model.h5")


# ----------------------------------------------------------------------- what a user can get wrong


def test_a_tag_is_matched_whole(tmp_path, published):  # noqa: F811
    """A tag with a newline is refused: a regex's `$` would match before a final newline, and
    'lenet5.nl\\n' would be published as 'lenet5.nl\\n.weights.h5'."""
    for bad in ("lenet5.nl\n", "lenet5_modern.tiny\n", "\nlenet5.mnist"):
        with pytest.raises(ManifestError, match="arch.name"):
            mf.parse_tag(bad)
    from cnn_zoo.hub import publish

    with pytest.raises(ManifestError, match="arch.name"):
        publish(published.run_dir, "lenet5_modern.nl\n", dest=tmp_path / "hub")
    assert not (tmp_path / "hub").exists()
    entry = published.info.as_dict()
    with pytest.raises(ManifestError, match="arch.name"):
        WeightsInfo.from_dict(f"{TAG}\n", entry)
    with pytest.raises(ManifestError, match="64 lowercase hex"):
        WeightsInfo.from_dict(TAG, {**entry, "sha256": entry["sha256"] + "\n"})


@pytest.mark.parametrize("env, fragment", [
    ({"ZOO_HUB_TIMEOUT": "abc", "ZOO_HUB_URL": "http://127.0.0.1:9"},
     "ZOO_HUB_TIMEOUT must be a positive number of seconds a download may stall, e.g. 30. "
     "Received: ZOO_HUB_TIMEOUT='abc'"),
    ({"ZOO_HUB_TIMEOUT": "-5", "ZOO_HUB_URL": "http://127.0.0.1:9"}, "Received: ZOO_HUB_TIMEOUT=-5.0"),
    ({"ZOO_HUB_TIMEOUT": "nan", "ZOO_HUB_URL": "http://127.0.0.1:9"}, "ZOO_HUB_TIMEOUT must be"),
    ({"ZOO_HUB_URL": "ftp://example.org/zoo"}, "ZOO_HUB_URL must be an http://, https:// or file:// URL"),
])
def test_bad_hub_settings_only_matter_for_the_remote(tmp_path, monkeypatch, env, fragment):
    """ZOO_HUB_TIMEOUT=abc made even the package's own tags fail."""
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    shipped = store.pull("lenet5.mnist", quiet=True)
    assert shipped == Path(str(store.local_models())) / "lenet5.mnist.weights.h5"
    with pytest.raises(DownloadError) as error:
        store.info("lenet5.nowhere")
    assert fragment in str(error.value)
    result = _cli("pull", "lenet5.mnist")
    assert result.exit_code == 0 and result.stdout.strip() == str(shipped), result.output
    _one_error_line(_cli("pull", "lenet5.nowhere"), fragment)


def test_zoo_home_pointing_at_a_file(tmp_path, monkeypatch, loopback, published):  # noqa: F811
    """Packaged tags load with an unusable cache; a tag that must be cached is one line."""
    home = tmp_path / "home-is-a-file"
    home.write_text("my notes")
    monkeypatch.setenv("ZOO_HOME", str(home))
    monkeypatch.setenv("ZOO_HUB_URL", loopback.url)
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a warning for the packaged tag
        assert store.pull("lenet5_modern.mnist", quiet=True).parent == Path(str(store.local_models()))
    with pytest.raises(HubError) as error:
        store.pull(TAG, quiet=True)  # known only to the remote hub: it must go to the cache
    message = str(error.value)
    assert message.startswith(f"cannot write to the cache {home / 'weights'} (") and "\n" not in message
    assert f"set ZOO_HOME to a folder you can write. Received: ZOO_HOME={str(home)!r}" in message
    assert home.read_text() == "my notes"  # nothing on disk is lost
    assert _cli("pull", "lenet5_modern.mnist").exit_code == 0
    _one_error_line(_cli("pull", TAG), "cannot write to the cache", "ZOO_HOME")


def test_zoo_load_of_a_packaged_tag_with_zoo_home_a_file(tmp_path, monkeypatch):
    import cnn_zoo as zoo

    home = tmp_path / "file"
    home.write_text("")
    monkeypatch.setenv("ZOO_HOME", str(home))
    model = zoo.load("lenet5_modern.mnist")
    assert model.zoo_info.tag == "lenet5_modern.mnist"


def _served_with_a_bad_tag(loopback, value):
    data = json.loads((loopback.root / "manifest.json").read_text())
    evil = json.loads(json.dumps(data["tags"][TAG]))
    evil["kwargs"]["classifier_activation"] = value
    data["tags"]["lenet5_modern.evil"] = evil
    (loopback.root / "manifest.json").write_text(json.dumps(data))
    return data


@pytest.mark.parametrize("value, what", [
    ({"module": "builtins", "class_name": "function", "config": "print", "registered_name": "print"},
     "a serialized Keras object ('function')"),
    ({"config": {"code": "4wEAAAAAAAAA"}}, "a mapping"),
    ([1, {"class_name": "Lambda"}], "a serialized Keras object ('Lambda')"),
])
def test_one_bad_remote_tag_leaves_the_others_usable(tmp_path, loopback, published, value, what):  # noqa: F811
    """A serialized function in kwargs gave a TypeError traceback, and broke every tag of the manifest."""
    _served_with_a_bad_tag(loopback, value)
    hub = remote_hub(tmp_path, loopback)
    mf.verify(store.pull(TAG, hub=hub, quiet=True), published.info)  # the good tag still works
    with pytest.raises(ManifestError) as error:
        store.info("lenet5_modern.evil", hub=hub)
    message = str(error.value)
    assert f"entry 'lenet5_modern.evil' has kwargs.classifier_activation = {what}" in message
    assert "\n" not in message
    with pytest.warns(UserWarning, match="lenet5_modern.evil.*skipped"):
        assert list(store.available(hub=hub, remote=True)) == [TAG]


def test_a_serialized_function_in_a_local_manifest_is_one_line(tmp_path, published, monkeypatch):  # noqa: F811
    from cnn_zoo.hub import load

    local = tmp_path / "local"
    shutil.copytree(published.dest, local)
    data = json.loads((local / "manifest.json").read_text())
    data["tags"][TAG]["kwargs"]["classifier_activation"] = {
        "module": "builtins", "class_name": "function", "config": "print"}
    (local / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=rf"entry '{TAG}' has kwargs.classifier_activation = a "
                                            "serialized Keras object"):
        load(TAG, hub=Hub(home=tmp_path / "home", local=local))
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_HUB_URL", local.as_uri())
    _one_error_line(_cli("pull", TAG), TAG, "kwargs.classifier_activation")


def test_an_endless_body_is_cut_off_at_the_size(tmp_path, loopback, published):  # noqa: F811
    loopback.fault(published.info.file, "endless")
    hub = remote_hub(tmp_path, loopback)
    start = time.monotonic()
    with pytest.raises(IntegrityError, match=f"longer than the {published.info.size} bytes"):
        store.pull(TAG, hub=hub, quiet=True)
    assert time.monotonic() - start < 30
    deadline = time.monotonic() + 10
    while published.info.file not in loopback.server.sent and time.monotonic() < deadline:
        time.sleep(0.05)
    # The client read size + 1 bytes and hung up; what else went out sat in socket buffers.
    assert loopback.server.sent[published.info.file] < published.info.size + (64 << 20)
    assert cache_files(hub) == []


def test_an_unreachable_hub_names_zoo_hub_url(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(DownloadError) as error:
        store.info("lenet5_modern.tiny", hub=Hub(home=tmp_path, local=None, url=url, timeout=5))
    message = str(error.value)
    assert message.startswith(f"cannot reach {url}/manifest.json: ") and "\n" not in message
    assert f"(the remote hub is ZOO_HUB_URL={url}: check it, or unset ZOO_HUB_URL" in message


# ----------------------------------------------------------------------- publish: where


def test_publish_goes_to_the_users_own_hub_folder(tmp_path, published, monkeypatch):  # noqa: F811
    """Never into the installed package; zoo.load finds it there."""
    import cnn_zoo as zoo
    from cnn_zoo.hub import publish

    package = Path(str(store.local_models()))
    before = sorted((p.name, p.stat().st_mtime_ns) for p in package.iterdir())
    home = tmp_path / "home"
    monkeypatch.setenv("ZOO_HOME", str(home))
    monkeypatch.delenv("ZOO_HUB_URL", raising=False)
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # found without any network
    info = publish(published.run_dir, "lenet5_modern.mine")
    assert (home / "weights" / "lenet5_modern.mine.weights.h5").is_file()
    assert mf.read_manifest(home / "weights" / "manifest.json") == {"lenet5_modern.mine": info}
    assert sorted((p.name, p.stat().st_mtime_ns) for p in package.iterdir()) == before
    assert store.pull("lenet5_modern.mine") == home / "weights" / "lenet5_modern.mine.weights.h5"
    assert zoo.load("lenet5_modern.mine").zoo_info == info
    # A shipped tag's name is refused there: the package's entry would shadow it.
    with pytest.raises(HubError, match="lenet5_modern.mnist is a tag shipped with cnn-zoo"):
        publish(published.run_dir, "lenet5_modern.mnist")
    result = _cli("publish", str(published.run_dir), "--tag", "lenet5_modern.cli2", "--json")
    assert result.exit_code == 0, result.output
    assert (home / "weights" / "lenet5_modern.cli2.weights.h5").is_file()
    assert sorted((p.name, p.stat().st_mtime_ns) for p in package.iterdir()) == before


def test_publish_into_an_unwritable_dest_is_one_line(tmp_path, published):  # noqa: F811
    import os

    from cnn_zoo.hub import publish

    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    for dest in (blocker, blocker / "hub"):
        with pytest.raises(HubError) as error:
            publish(published.run_dir, "lenet5_modern.x", dest=dest)
        message = str(error.value)
        assert message.startswith(f"cannot publish lenet5_modern.x into {dest}: ") and "\n" not in message
        assert message.endswith("pass --dest (dest=) a folder you can write")
        _one_error_line(_cli("publish", str(published.run_dir), "--tag", "lenet5_modern.x",
                             "--dest", str(blocker / "hub")), "cannot publish", "--dest")
    assert blocker.read_text() == "keep me"
    locked = tmp_path / "read-only"
    locked.mkdir(mode=0o555)
    if not os.access(locked, os.W_OK):  # root writes into a 0555 folder
        with pytest.raises(HubError, match="Permission denied"):
            publish(published.run_dir, "lenet5_modern.x", dest=locked)
