"""The shipped tags: declared beside their families, saved_models/manifest.json generated from them."""

import dataclasses
import json
from pathlib import Path

import pytest

from cnn_zoo import registry
from cnn_zoo.errors import ZooError
from cnn_zoo.hub import shipped
from cnn_zoo.models import FAMILIES, pretrained
from cnn_zoo.models.pretrained import ClassNames, Tag
from cnn_zoo.weights import manifest as mf

REPO = Path(__file__).resolve().parents[1]
SAVED = REPO / "saved_models"
DECLARED = pretrained.declared()


def test_the_manifest_is_current():
    assert shipped.stale() == [], "saved_models/manifest.json is stale: run python -m cnn_zoo.hub.shipped"
    assert shipped.main(["--check"]) == 0
    assert shipped.manifest_path() == SAVED / mf.MANIFEST


def test_a_stale_manifest_is_named_tag_by_tag(tmp_path, capsys):
    data = json.loads((SAVED / mf.MANIFEST).read_text())
    data["tags"]["lenet5.mnist"]["metrics"]["accuracy"] = 0.5
    del data["tags"]["googlenet.imagenet"]
    data["tags"]["lenet5.extra"] = data["tags"]["lenet5.fashion_mnist"]
    (tmp_path / mf.MANIFEST).write_text(json.dumps(data))
    assert shipped.stale(tmp_path / mf.MANIFEST) == ["googlenet.imagenet", "lenet5.extra", "lenet5.mnist"]
    shipped.write(tmp_path / mf.MANIFEST)  # the one command mends it
    assert shipped.stale(tmp_path / mf.MANIFEST) == []
    assert (tmp_path / mf.MANIFEST).read_bytes() == (SAVED / mf.MANIFEST).read_bytes()


def test_each_family_module_declares_its_own_tags():
    assert set(DECLARED) == set(json.loads((SAVED / mf.MANIFEST).read_text())["tags"])
    modules = {module for module, _ in FAMILIES.values()}
    found = {p.stem for p in (REPO / "zoo" / "models").glob("*_weights.py")}
    assert found == {"lenet_weights", "googlenet_weights", "convnet_weights"}
    assert {f"cnn_zoo.models.{stem}" for stem in found} <= {pretrained.weights_module(m) for m in modules}
    for name in FAMILIES:
        assert registry.pretrained_tags(name) == sorted(t for t, tag in DECLARED.items() if tag.arch == name)


def test_every_shipped_file_is_declared_and_is_the_declared_one():
    files = {p.name for p in SAVED.glob(f"*{mf.SUFFIX}")}
    trained = {name: tag for name, tag in DECLARED.items() if tag.source is None}
    assert files == {f"{name}{mf.SUFFIX}" for name in trained}
    for name, info in shipped.entries().items():
        if name in trained:
            mf.verify(SAVED / info.file, info)  # size and full sha256
        else:
            assert not (SAVED / info.file).exists() and info.source["url"].startswith("https://")


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_a_declaration_tells_the_whole_story(name):
    tag, info = DECLARED[name], shipped.entry(DECLARED[name])
    assert len(info.class_names) == tag.kwargs["num_classes"] and tag.class_names.source
    assert info.metrics["measured_by"] and info.metrics["source"] and info.metrics["examples"] > 0
    assert {"steps", "raw_shape", "input_shape"} <= set(info.preprocessing)
    assert info.dataset["license"] != "unknown" and info.dataset["class_names_from"] == tag.class_names.source
    assert info.recipe["config"]["model"]["name"] == tag.arch and info.recipe["name"] == info.recipe["config"]["name"]
    if tag.source is not None:
        assert {"url", "file", "check", "license", "publisher", "page"} <= set(tag.source)
        assert tag.source.get("sha256") or tag.source.get("sha256_prefix")
    mf.WeightsInfo.from_dict(name, info.as_dict(), "the generated entry")  # what the store checks


def test_the_declaration_of_a_published_tag_round_trips(tmp_path):
    """`--declare` prints, from a folder `zoo publish` wrote, the block that generates the same entry."""
    info = shipped.entry(DECLARED["convnet.fashion_mnist"])
    mf.write_manifest(tmp_path / mf.MANIFEST, {info.tag: info})
    code = shipped.declaration(tmp_path, info.tag)
    namespace = {"Tag": Tag, "ClassNames": ClassNames}
    exec(code, namespace)
    again = shipped.entry(namespace["CONVNET_FASHION_MNIST"])
    assert again.as_dict() == {**info.as_dict(), "dataset": {**info.dataset,
                                                              "class_names_from": again.dataset["class_names_from"]}}
    assert max(map(len, code.splitlines())) <= 120
    with pytest.raises(ZooError, match="has no tag 'lenet5.none'"):
        shipped.declaration(tmp_path, "lenet5.none")


def test_a_tag_must_say_where_its_weights_and_figures_come_from():
    tag = DECLARED["lenet5.mnist"]
    with pytest.raises(ZooError, match="either the shipped file .* or the publisher's file"):
        dataclasses.replace(tag, source={"url": "https://example.org/x.pth"})
    with pytest.raises(ZooError, match="either the shipped file"):
        dataclasses.replace(tag, sha256=None, size=None)
    with pytest.raises(ZooError, match="metrics lack measured_by, source"):
        dataclasses.replace(tag, metrics={"split": "test", "examples": 10, "accuracy": 0.9})
