"""torchvision resnet*, vgg*, vgg*_bn and alexnet → the zoo's: the real torchvision models, their
state dicts, equal logits on TensorFlow and JAX.

The stand-ins are torchvision's own models with random weights and perturbed BN statistics
(convert_fixtures.perturbed), saved as torchvision publishes them, made in one torch-only
subprocess. Every tag's network is also pulled and compared at 224×224 on TensorFlow in
tests/test_pull_every_tag.py (VGG's and AlexNet's FC layers narrowed there). Here: VGG-16
at 224×224 with its full 4,096-wide FC layers (AlexNet's on JAX); smaller inputs, which the families allow (VGG and
AlexNet end in an adaptive pool, whose uneven bins at 64×64, 2×2 → 7×7, are PyTorch's too); and
every depth on JAX. Needs the test extra (torch, torchvision).
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn_zoo as zoo
from cnn_zoo.convert import ConversionError
from convert_fixtures import differences, keras_logits, keras_logits_many, standins

TOLERANCE = 1e-4  # max |Δlogit| / max |logit|
FULL = [("vgg16", 224)]  # its 0.5 GB file; the other 224×224 nets (narrow FC) in test_pull_every_tag
SMALL = [("resnet18", 64), ("vgg16_bn", 64), ("alexnet", 100), ("vgg11_bn", 32), ("vgg19", 32)]
# JAX: every depth that gets a tag, once (the 224×224 VGGs are TensorFlow's share).
ON_JAX = [("resnet50", 224), ("resnet18", 64), ("resnet34", 64), ("resnet101", 64), ("resnet152", 64),
          ("vgg16", 32), ("vgg16_bn", 64), ("alexnet", 224)]


# One worker makes the stand-ins once: the group keeps these tests on one xdist worker, and the
# session scope keeps the fixture when that worker runs another module's tests in between.
pytestmark = pytest.mark.xdist_group("convert_lineage")


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    """{(arch, size): (.pth path, inputs NCHW, torch logits)}."""
    return standins(tmp_path_factory.mktemp("tv"), sorted(set(FULL + SMALL + ON_JAX)))


def _close(ours, ref):
    _, rel = differences(ours, ref)
    assert rel <= TOLERANCE, rel
    assert np.array_equal(ours.argmax(-1), ref.argmax(-1))
    # Else equal logits would prove nothing: the images must get different logits.
    assert np.abs(ref[0] - ref[1]).max() > 100 * TOLERANCE * np.abs(ref).max()


@pytest.mark.slow  # the 224×224 networks: 15 G multiply-adds per VGG image, 0.5 GB state dicts
@pytest.mark.parametrize("arch, size", FULL)
def test_logits_equal_torchvision_at_224_on_tensorflow(published, arch, size):
    path, x, ref = published[arch, size]
    model = zoo.convert_weights("torchvision", path, arch)
    assert model.name == arch and tuple(model.inputs[0].shape[1:]) == (224, 224, 3)
    _close(keras_logits(model, x.transpose(0, 2, 3, 1)), ref)


@pytest.mark.slow
@pytest.mark.parametrize("arch, size", SMALL)
def test_logits_equal_torchvision_on_tensorflow(published, arch, size):
    path, x, ref = published[arch, size]
    model = zoo.convert_weights("torchvision", path, arch, input_shape=(size, size, 3))
    assert model.count_params() == zoo.get_model(arch, input_shape=(size, size, 3)).count_params()
    _close(keras_logits(model, x.transpose(0, 2, 3, 1)), ref)


@pytest.mark.slow  # one JAX process for all of them
def test_logits_equal_torchvision_on_jax(published, tmp_path):
    jobs = [(arch, published[arch, size][0], published[arch, size][1].transpose(0, 2, 3, 1),
             {"input_shape": (size, size, 3)}) for arch, size in ON_JAX]
    for (arch, size), ours in zip(ON_JAX, keras_logits_many("jax", "torchvision", jobs, tmp_path)):
        _close(ours, published[arch, size][2])


@pytest.mark.slow
@pytest.mark.parametrize("offered, arch, fragment", [
    ("vgg16", "resnet50", "not a torchvision ResNet state dict of resnet50's depth"),
    ("resnet18", "resnet50", "not a torchvision ResNet state dict of resnet50's depth"),
    ("resnet50", "vgg16", "not a torchvision VGG state dict of vgg16's configuration"),
    ("vgg16", "vgg16_bn", "not a torchvision VGG state dict of vgg16_bn's configuration"),
    ("resnet18", "alexnet", "not a torchvision AlexNet state dict"),
])
def test_a_file_of_another_family_or_depth_is_refused_in_one_line(published, offered, arch, fragment):
    path = next(p for (a, _), (p, _, _) in published.items() if a == offered)
    with pytest.raises(ConversionError, match=fragment) as caught:
        zoo.convert_weights("torchvision", path, arch, input_shape=(64, 64, 3))
    assert "\n" not in str(caught.value) and "lacks" in str(caught.value)


@pytest.mark.slow
def test_layouts_the_weights_do_not_fit_are_refused(published):
    path = published["resnet18", 64][0]
    with pytest.raises(ConversionError, match="build it with layout='torchvision'"):
        zoo.convert_weights("torchvision", published["resnet50", 224][0], "resnet50", layout="paper")
    with pytest.raises(ConversionError, match="adaptive_pool=\\(7, 7\\)"):
        zoo.convert_weights("torchvision", published["vgg19", 32][0], "vgg19",
                            input_shape=(32, 32, 3), adaptive_pool=None)
    with pytest.raises(ConversionError, match=r"unknown tensors \(e.g. layer2.0.downsample"):
        zoo.convert_weights("torchvision", path, "resnet18", input_shape=(64, 64, 3), shortcut="zeros")
