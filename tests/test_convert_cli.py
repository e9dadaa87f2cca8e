"""`zoo convert`, `zoo pull`, `zoo predict`, `zoo show` and `zoo export` of the ImageNet tags (the GoogLeNets here,
the lineage's tags in tests/test_pull_every_tag.py), stand-in weights.

The labels mean nothing with random weights, but the path is the real one:
the tag's stored preprocessing (resize, centre crop, normalisation) and its
1,000 ImageNet class names.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

import cnn_zoo as zoo
from cnn_zoo.cli import main
from cnn_zoo.hub import Hub
from cnn_zoo.models.publishers import IMAGENET_CLASSES
from cnn_zoo.weights import store
from cnn_zoo.weights.manifest import MANIFEST, read_manifest, write_manifest
from test_convert_pull import TV, leftovers, serve_as, served  # noqa: F401 - fixtures

CLASSES = set(IMAGENET_CLASSES.load())


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A 320×240 colour JPEG: gradients and a disc, like nothing in ImageNet."""
    from PIL import Image

    y, x = np.mgrid[0:240, 0:320]
    rgb = np.stack([x * 255 // 319, y * 255 // 239, ((x - 160) ** 2 + (y - 120) ** 2 < 60 ** 2) * 200], -1)
    path = tmp_path_factory.mktemp("photo") / "photo.jpg"
    Image.fromarray(rgb.astype(np.uint8)).save(path, quality=90)
    return path


def run(env, *args):
    return CliRunner().invoke(main, list(map(str, args)), env={"TF_CPP_MIN_LOG_LEVEL": "3", **env})


def labels(output: str) -> list[str]:
    """The labels of one `zoo predict` line: 'photo.jpg: tench (1.2%), goldfish (0.9%), ...'."""
    body = output.strip().split(": ", 1)[1]
    return [part.rsplit(" (", 1)[0] for part in body.split("), ")]


def test_zoo_convert_then_predict_and_show_a_local_tag(served, tmp_path, photo, monkeypatch):  # noqa: F811
    env = {"ZOO_HOME": str(tmp_path / "home"), "ZOO_OFFLINE": "1"}
    done = run(env, "convert", "torchvision", served.root / "googlenet-standin.pth", "--tag", "googlenet_bn.mine")
    assert done.exit_code == 0, done.output
    assert "converted into googlenet_bn.mine" in done.output
    predicted = run(env, "predict", "googlenet_bn.mine", photo, "--top-k", "5")
    assert predicted.exit_code == 0, predicted.output
    found = labels(predicted.output)
    assert len(found) == 5 and set(found) <= CLASSES, predicted.output
    shown = run(env, "show", "googlenet_bn.mine", photo, "--out", tmp_path / "show", "--max-maps", "8")
    assert shown.exit_code == 0, shown.output
    assert len(list((tmp_path / "show").glob("*.png"))) >= 2
    record = read_manifest(tmp_path / "home" / "weights" / MANIFEST)["googlenet_bn.mine"]
    assert record.source["url"] is None and record.source["file"] == "googlenet-standin.pth"
    model = zoo.load("googlenet_bn.mine", hub=Hub(home=tmp_path / "home", offline=True))
    assert model.zoo_info.preprocessing["raw_shape"] == [None, None, 3] and model.input_shape == (None, 224, 224, 3)
    # The builder takes transform_input from the tag, as it was converted.
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    built = zoo.get_model("googlenet_bn", weights="googlenet_bn.mine")
    assert built.get_layer("transform_input") is not None
    with pytest.raises(ValueError, match="converted with transform_input=True"):
        zoo.get_model("googlenet_bn", weights="googlenet_bn.mine", transform_input=False)


def test_zoo_convert_into_the_shipped_tag_needs_the_publishers_file(served, tmp_path):  # noqa: F811
    env = {"ZOO_HOME": str(tmp_path / "home")}
    done = run(env, "convert", "torchvision", served.root / "googlenet-standin.pth",
               "--tag", "googlenet_bn.imagenet")
    assert done.exit_code == 2 and "expected 1378be20..." in done.output
    assert len(done.output.strip().splitlines()) == 1
    assert leftovers(Hub(home=tmp_path / "home")) == []


def test_zoo_convert_refuses_another_layout_in_one_line(served, tmp_path):  # noqa: F811
    env = {"ZOO_HOME": str(tmp_path / "home")}
    done = run(env, "convert", "torchvision", served.root / "resnet18-standin.pth", "--tag", "googlenet_bn.r")
    assert done.exit_code == 2 and "not a torchvision GoogLeNet state dict" in done.output
    assert len(done.output.strip().splitlines()) == 1
    assert leftovers(Hub(home=tmp_path / "home")) == []
    wrong = run(env, "convert", "bvlc", served.root / "googlenet-7.onnx", "--tag", "googlenet_bn.x")
    assert wrong.exit_code == 2 and "--arch googlenet" in wrong.output


def test_zoo_pull_predict_show_and_export_from_a_loopback_hub(served, tmp_path, photo):  # noqa: F811
    pull_predict_show_export(TV, {"source": serve_as(served, TV, "googlenet-standin.pth")}, photo, tmp_path)


def remote_hub(tmp_path, entry) -> dict:
    """The environment of a user whose remote hub (file://, tmp_path/hub) lists ``entry`` alone, with
    ZOO_HOME in tmp_path/home."""
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    write_manifest(hub_dir / MANIFEST, {entry.tag: entry})
    return {"ZOO_HOME": str(tmp_path / "home"), "ZOO_HUB_URL": hub_dir.as_uri(), "no_proxy": "127.0.0.1"}


def pull_predict_show_export(tag: str, fields: dict, photo, tmp_path, show: bool = True,
                             onnx: bool = False) -> tuple[dict, Hub]:
    """The shipped entry of ``tag`` with ``fields`` replaced (its source: a stand-in on the loopback
    server), listed by a remote hub (file://) under another name: `zoo pull`, `zoo predict --top-k 5`,
    `zoo predict --engine onnxruntime` then auto, which finds the cached conversion (if ``onnx``),
    `zoo show` (if ``show``), `zoo export --format keras`; the exported .keras file gives zoo predict's
    top 5 on the raw photo. Returns (the entry as pulled, the hub whose cache holds it)."""
    shipped = read_manifest(store.local_models() / MANIFEST)[tag]
    name = f"{shipped.arch}.{tag.split('.', 1)[1]}_standin"
    entry = dataclasses.replace(shipped, tag=name, file=f"{name}.weights.h5", **fields)
    env = remote_hub(tmp_path, entry)
    pulled = run(env, "pull", entry.tag, "-q")
    assert pulled.exit_code == 0, pulled.output
    assert pulled.output.strip().endswith(entry.file)
    env["ZOO_OFFLINE"] = "1"
    predicted = run(env, "predict", entry.tag, photo, "--top-k", "5", "--json")
    assert predicted.exit_code == 0, predicted.output
    top = json.loads(predicted.output)[0]["top"]
    assert len(top) == 5 and {t["label"] for t in top} <= CLASSES
    if onnx:  # the onnxruntime engine: converted once on request, then found by auto
        for engine, reason in (("onnxruntime", "asked for"), ("auto", "a large input")):
            fast = run(env, "predict", entry.tag, photo, "--top-k", "5", "--json", "--engine", engine)
            assert fast.exit_code == 0, fast.output
            assert json.loads(fast.output)[0]["engine"].startswith(f"onnxruntime: {reason}")
            got = json.loads(fast.output)[0]["top"]
            assert [t["index"] for t in got][:1] == [top[0]["index"]]
            np.testing.assert_allclose([t["probability"] for t in got], [t["probability"] for t in top],
                                       atol=1e-4)
        shown = run(env, "show", entry.tag, photo, "--out", tmp_path / "show", "--max-maps", "4")
        assert shown.exit_code == 0, shown.output
        assert len(list((tmp_path / "show").glob("*.png"))) >= 2
    exported = run(env, "export", entry.tag, "--format", "keras", "--out", tmp_path / "m.keras")
    assert exported.exit_code == 0, exported.output
    import keras
    from PIL import Image

    from family_conformance import forward

    served_model = keras.saving.load_model(tmp_path / "m.keras")
    probs = keras.ops.convert_to_numpy(forward(served_model, np.asarray(Image.open(photo).convert("RGB"))[None]))[0]
    # Indices are compared where probabilities differ: a random deep stand-in can put all but one
    # class at 0.0, whose order is arbitrary.
    listed = [t["probability"] for t in top]
    assert int(np.argmax(probs)) == top[0]["index"]
    np.testing.assert_allclose(probs[[t["index"] for t in top]], listed, atol=1e-4)
    np.testing.assert_allclose(np.sort(probs)[::-1][:5], listed, atol=1e-4)
    return entry, Hub(home=tmp_path / "home")


