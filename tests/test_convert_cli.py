"""`zoo convert`, `zoo pull`, `zoo predict`, `zoo show` and `zoo export` of the ImageNet tags (the GoogLeNets,
and one tag per lineage family: ResNet, VGG, AlexNet), stand-in weights.

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
from test_convert_pull import (LINEAGE, TV, leftovers, lineage, lineage_entry,  # noqa: F401 - fixtures
                               serve_as, served)

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


@pytest.mark.parametrize("tag", [TV, *(pytest.param(t, marks=pytest.mark.slow) for t in sorted(LINEAGE))])
def test_zoo_pull_predict_show_and_export_from_a_loopback_hub(served, tmp_path, photo, tag, request):  # noqa: F811
    """The shipped entry, listed by a remote hub (file://) under another name, its source the stand-in
    on the loopback server; the exported .keras file gives zoo predict's top 5 on the raw photo."""
    shipped = read_manifest(store.local_models() / MANIFEST)[tag]
    arch = shipped.arch
    if tag == TV:
        fields = {"source": serve_as(served, TV, "googlenet-standin.pth")}
    else:
        fields = lineage_entry(served, tag, request.getfixturevalue("lineage")[tag][0])
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    entry = dataclasses.replace(shipped, tag=f"{arch}.standin", file=f"{arch}.standin.weights.h5", **fields)
    write_manifest(hub_dir / MANIFEST, {entry.tag: entry})
    env = {"ZOO_HOME": str(tmp_path / "home"), "ZOO_HUB_URL": hub_dir.as_uri(), "no_proxy": "127.0.0.1"}
    pulled = run(env, "pull", entry.tag, "-q")
    assert pulled.exit_code == 0, pulled.output
    assert pulled.output.strip().endswith(entry.file)
    env["ZOO_OFFLINE"] = "1"
    predicted = run(env, "predict", entry.tag, photo, "--top-k", "5", "--json")
    assert predicted.exit_code == 0, predicted.output
    top = json.loads(predicted.output)[0]["top"]
    assert len(top) == 5 and {t["label"] for t in top} <= CLASSES
    shown = run(env, "show", entry.tag, photo, "--out", tmp_path / "show", "--max-maps", "4")
    assert shown.exit_code == 0, shown.output
    assert len(list((tmp_path / "show").glob("*.png"))) >= 2
    exported = run(env, "export", entry.tag, "--format", "keras", "--out", tmp_path / "m.keras")
    assert exported.exit_code == 0, exported.output
    import keras
    from PIL import Image

    served_model = keras.saving.load_model(tmp_path / "m.keras")
    probs = served_model.predict(np.asarray(Image.open(photo).convert("RGB"))[None], verbose=0)[0]
    assert list(np.argsort(-probs)[:5]) == [t["index"] for t in top]
    np.testing.assert_allclose(probs[[t["index"] for t in top]], [t["probability"] for t in top], atol=1e-4)


@pytest.mark.slow
def test_zoo_pull_refuses_a_vgg_file_offered_as_resnet_in_one_line(served, lineage, tmp_path):  # noqa: F811
    tag = "resnet18.imagenet"
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    entry = dataclasses.replace(read_manifest(store.local_models() / MANIFEST)[tag], tag="resnet18.standin",
                                file="resnet18.standin.weights.h5",
                                **lineage_entry(served, tag, lineage["vgg11_bn.imagenet"][0]))
    write_manifest(hub_dir / MANIFEST, {entry.tag: entry})
    env = {"ZOO_HOME": str(tmp_path / "home"), "ZOO_HUB_URL": hub_dir.as_uri(), "no_proxy": "127.0.0.1"}
    done = run(env, "pull", entry.tag, "-q")
    assert done.exit_code == 2 and "not a torchvision ResNet state dict of resnet18's depth" in done.output
    assert len(done.output.strip().splitlines()) == 1 and "Traceback" not in done.output
    assert leftovers(Hub(home=tmp_path / "home")) == []
