"""Every tag converted from torchvision states what the installed torchvision's ``Weights`` enum
states: the URL (hence the hash prefix), acc@1/acc@5, parameters, GFLOPS, file size, training
recipe, the eval transform (resize, crop, mean, std, bilinear with antialias) and the 1,000
class names. The enums are read in a torch-only subprocess (never beside TensorFlow)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cnn_zoo.hub import shipped

TAGS = {name: info for name, info in shipped.entries().items()
        if info.source is not None and info.source["format"] == "torchvision"}
READ = """
import json, sys, torchvision.models as m
out = {}
for name in sys.argv[1:]:
    enum, member = name.removeprefix("torchvision.models.").split(".")
    w = getattr(getattr(m, enum), member)
    t = w.transforms()
    out[name] = {"url": w.url, "meta": w.meta, "resize": t.resize_size, "crop": t.crop_size, "mean": t.mean,
                 "std": t.std, "interpolation": t.interpolation.value, "antialias": t.antialias}
print(json.dumps(out))
"""


def enum_of(info) -> str:
    return info.source["weights"].split(" ", 1)[0]


@pytest.fixture(scope="module")
def enums():
    done = subprocess.run([sys.executable, "-c", READ, *sorted({enum_of(i) for i in TAGS.values()})],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_lineage_tags_are_declared():
    assert {"resnet18.imagenet", "resnet34.imagenet", "resnet50.imagenet", "resnet50.imagenet_v2",
            "resnet101.imagenet", "resnet152.imagenet", "vgg16.imagenet", "vgg16_bn.imagenet",
            "alexnet.imagenet", "googlenet_bn.imagenet"} <= set(TAGS)
    assert enum_of(TAGS["resnet50.imagenet_v2"]) == "torchvision.models.ResNet50_Weights.IMAGENET1K_V2"


@pytest.mark.slow  # torchvision's import: seconds
@pytest.mark.parametrize("tag", sorted(TAGS))
def test_a_torchvision_tag_states_the_enums_figures(tag, enums):
    info, enum = TAGS[tag], enums[enum_of(TAGS[tag])]
    meta, published = enum["meta"], TAGS[tag].metrics["publisher"]
    assert info.source["url"] == enum["url"] and info.source["file"] == enum["url"].rsplit("/", 1)[1]
    assert info.source["sha256_prefix"] in info.source["file"]
    figures = meta["_metrics"]["ImageNet-1K"]
    assert info.metrics["accuracy"] == round(figures["acc@1"] / 100, 6)
    assert info.metrics["top5_accuracy"] == round(figures["acc@5"] / 100, 6)
    assert info.metrics["examples"] == 50000 and info.metrics["split"] == "validation"
    assert (published["num_params"], published["gflops"], published["file_size_mb"], published["training_recipe"]) \
        == (meta["num_params"], meta["_ops"], meta["_file_size"], meta["recipe"])
    pub = info.preprocessing["publisher"]
    assert ([pub["resize"]], [pub["center_crop"]], pub["mean"], pub["std"]) \
        == (enum["resize"], enum["crop"], enum["mean"], enum["std"])
    assert enum["interpolation"] == "bilinear" and enum["antialias"] is True
    assert info.preprocessing["steps"][0] == {"resize_shorter": {"size": enum["resize"][0], "method": "bilinear",
                                                                 "antialias": True}}
    assert info.kwargs["input_shape"] == [enum["crop"][0]] * 2 + [3]
    assert list(info.class_names) == meta["categories"]
