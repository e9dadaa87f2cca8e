"""Every ImageNet tag converted from torchvision's files pulls, predicts and exports from a loopback
hub, and its logits equal torchvision's; `zoo show` runs on one tag per family module.

The tags are read from the families' declarations (``declared()``), so a tag is tested the day
it is declared. Each tag's stand-in is torchvision's own network of the tag's architecture, with
random weights and perturbed BN statistics (convert_fixtures.perturbed), saved as torchvision
publishes it, in one torch-only subprocess. VGG's and AlexNet's hidden FC layers are 64 wide (the
entry says fc_units=64), so their files are tens of megabytes, not 0.5 GB; the ResNets are full
size (ResNet-152: 230 MB). googlenet_bn.imagenet has its own stand-in (aux heads,
transform_input) and the same checks in tests/test_convert_cli.py.

Marked slow (about 5 minutes of CPU, most of it the ResNets' graphs) and kept in
CI; the module is one xdist group, so its stand-ins are made once, on one worker.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from pathlib import Path

import numpy as np
import pytest

import cnn_zoo as zoo
from cnn_zoo.convert import ConversionError, pulling
from cnn_zoo.models.pretrained import declared
from cnn_zoo.weights import store
from cnn_zoo.weights.manifest import MANIFEST, read_manifest
from cnn_zoo.weights.store import Hub
from convert_fixtures import differences, keras_logits, standins
from test_convert_cli import photo, pull_predict_show_export, remote_hub, run  # noqa: F401 - fixture
from test_convert_pull import Served, TV, leftovers, loopback, make_hub, serve_as

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("every_tag")]

TOLERANCE = 1e-4  # max |Δlogit| / max |logit|
FC = 64  # the stand-ins' hidden FC width, where the family has one (fc_units)
TAGS = [tag for tag, declared_tag in declared().items()
        if (declared_tag.source or {}).get("format") == "torchvision" and tag != TV]


def _smallest_per_module(tags) -> set:
    """The tag of each family module with the smallest file: `zoo show` draws every layer (158
    figures, half a minute, for ResNet-152) and draws them the same way at every depth."""
    modules: dict = {}
    for tag in tags:
        size = declared()[tag].metrics["publisher"]["file_size_mb"]
        module = zoo.get_family(declared()[tag].arch).module
        modules[module] = min(modules.get(module, (size, tag)), (size, tag))
    return {tag for _, tag in modules.values()}


SHOWN = _smallest_per_module(TAGS)
# `zoo predict --engine onnxruntime` from the CLI on one tag: the engine is the same code for every
# family (tests/test_predict_onnx_engine.py runs it on googlenet_bn and a small net too).
ONNX_CLI = "resnet18.imagenet"


def _job(tag: str) -> tuple:
    """The stand-in of ``tag`` for convert_fixtures.standins: (arch, 224[, FC])."""
    arch = declared()[tag].arch
    narrow = "fc_units" in inspect.signature(zoo.get_family(arch).build).parameters
    return (arch, 224, FC) if narrow else (arch, 224)


@pytest.fixture(scope="session")  # a module fixture is made again each time xdist interleaves another module
def every(tmp_path_factory):
    """(a Served loopback server of every stand-in, {tag: (.pth path, inputs NCHW, torch logits)})."""
    root = tmp_path_factory.mktemp("every_tag")
    made = standins(root, sorted({_job(tag) for tag in TAGS}))
    with loopback(root) as (url, requests):
        yield Served(root, url, requests, None), {tag: made[_job(tag)] for tag in TAGS}


def _fields(served: Served, tag: str, path: Path) -> dict:
    """What points ``tag``'s shipped entry at the stand-in ``path`` on the server, at its FC width."""
    if not (served.root / path.name).exists():
        os.link(path, served.root / path.name)
    narrow = len(_job(tag)) > 2
    return {"source": serve_as(served, tag, path.name),
            "kwargs": dict(declared()[tag].kwargs, **({"fc_units": FC} if narrow else {}))}


def test_every_torchvision_tag_of_the_lineage_is_here():
    archs = {declared()[tag].arch for tag in TAGS}
    assert {"resnet18", "resnet50", "resnet152", "vgg16", "vgg16_bn", "alexnet"} <= archs
    assert "resnet50.imagenet_v2" in TAGS and len(TAGS) >= 15
    assert SHOWN == {"resnet18.imagenet", "vgg11.imagenet", "alexnet.imagenet"}


@pytest.mark.parametrize("tag", TAGS)
def test_pull_predict_show_export_and_logits_equal_torchvision(every, tmp_path, photo, tag):  # noqa: F811
    served, files = every
    path, x, ref = files[tag]
    entry, hub = pull_predict_show_export(tag, _fields(served, tag, path), photo, tmp_path, show=tag in SHOWN,
                                           onnx=tag == ONNX_CLI)
    ours = keras_logits(zoo.load(entry.tag, hub=hub), x.transpose(0, 2, 3, 1))  # eager: no graph to trace
    _, relative = differences(ours, ref)
    assert relative <= TOLERANCE, relative
    assert np.array_equal(ours.argmax(-1), ref.argmax(-1))
    # Else equal logits would prove nothing: the images must get different logits.
    assert np.abs(ref[0] - ref[1]).max() > 100 * TOLERANCE * np.abs(ref).max()


def test_a_vgg_file_offered_as_resnet_is_rejected_and_nothing_is_cached(every, tmp_path):
    served, files = every
    tag, vgg = "resnet18.imagenet", files["vgg11_bn.imagenet"][0]
    hub = make_hub(tmp_path, **{tag: _fields(served, tag, vgg)})
    with pytest.raises(ConversionError, match="not a torchvision ResNet state dict of resnet18's depth") as caught:
        pulling.pull(tag, hub=hub, quiet=True)
    assert "\n" not in str(caught.value) and vgg.name in str(caught.value) and "lacks" in str(caught.value)
    assert leftovers(hub) == []


def test_zoo_pull_refuses_a_vgg_file_offered_as_resnet_in_one_line(every, tmp_path):
    served, files = every
    tag = "resnet18.imagenet"
    entry = dataclasses.replace(read_manifest(store.local_models() / MANIFEST)[tag], tag="resnet18.standin",
                                file="resnet18.standin.weights.h5",
                                **_fields(served, tag, files["vgg11_bn.imagenet"][0]))
    env = remote_hub(tmp_path, entry)
    done = run(env, "pull", entry.tag, "-q")
    assert done.exit_code == 2 and "not a torchvision ResNet state dict of resnet18's depth" in done.output
    assert len(done.output.strip().splitlines()) == 1 and "Traceback" not in done.output
    assert leftovers(Hub(home=tmp_path / "home")) == []
