"""torchvision googlenet → googlenet_bn: the real torchvision model, its state dict, equal logits.

Needs the test extra (torch, torchvision): pip install -e '.[test]'.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch  # noqa: F401 - the test extra; a missing torch is an error here, not a skip

import cnn_zoo as zoo
from cnn_zoo.convert import ConversionError, MissingExtraError, torchvision_layout
from convert_fixtures import (differences, images, keras_logits, keras_logits_in, resnet18_pth,
                              torch_logits, torchvision_pth)

TOLERANCE = 1e-4  # max |Δlogit| / max |logit|


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """(path of the stand-in .pth, the torch model, inputs NCHW, torch logits)."""
    path = tmp_path_factory.mktemp("tv") / "googlenet-standin.pth"
    model = torchvision_pth(path)
    x = images()
    return path, model, x, torch_logits(model, x)


def test_the_file_is_published_like_torchvision(published):
    path, model, _, _ = published
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert any(k.startswith("aux1.") for k in state) and model.transform_input
    assert sum(v.numel() for k, v in state.items() if not torchvision_layout.dropped(k)
               and "running" not in k) == 6_624_904


def test_logits_equal_torchvision_on_tensorflow(published):
    path, _, x, ref = published
    model = zoo.convert_weights("torchvision", path)
    assert model.name == "googlenet_bn"
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 6_624_904
    ours = keras_logits(model, x.transpose(0, 2, 3, 1))
    assert ours.shape == (3, 1000)
    _, rel = differences(ours, ref)
    assert rel <= TOLERANCE, rel
    assert np.array_equal(ours.argmax(-1), ref.argmax(-1))


def test_logits_equal_torchvision_on_jax(published, tmp_path):
    path, _, x, ref = published
    ours = keras_logits_in("jax", "torchvision", path, x.transpose(0, 2, 3, 1), tmp_path)
    _, rel = differences(ours, ref)
    assert rel <= TOLERANCE, rel


def test_the_logits_depend_on_the_image(published):
    """Else equal logits would prove nothing (see convert_fixtures.torchvision_googlenet)."""
    _, _, _, ref = published
    assert np.abs(ref[0] - ref[1]).max() > 100 * TOLERANCE * np.abs(ref).max()


def test_transform_input_is_part_of_the_model(published):
    """Without torchvision's transform_input the same weights give other logits."""
    path, _, x, ref = published
    model = zoo.convert_weights("torchvision", path)
    plain = zoo.get_model("googlenet_bn", classifier_activation=None)
    plain.set_weights([w for w in model.get_weights()])
    _, rel = differences(keras_logits(plain, x.transpose(0, 2, 3, 1)), ref)
    assert rel > 1e-2


def test_a_state_dict_without_aux_heads_converts_the_same(published, tmp_path):
    """A model saved with aux_logits=False (or an inference export) has no aux1/aux2 keys."""
    path, _, x, ref = published
    state = {k: v for k, v in torch.load(path, weights_only=True).items() if not k.startswith("aux")}
    torch.save(state, tmp_path / "no-aux.pth")
    ours = keras_logits(zoo.convert_weights("torchvision", tmp_path / "no-aux.pth"), x.transpose(0, 2, 3, 1))
    assert differences(ours, ref)[1] <= TOLERANCE


def test_a_resnet_state_dict_is_refused_in_one_line(tmp_path):
    resnet18_pth(tmp_path / "resnet18.pth")
    with pytest.raises(ConversionError, match="not a torchvision GoogLeNet state dict") as caught:
        zoo.convert_weights("torchvision", tmp_path / "resnet18.pth")
    assert "\n" not in str(caught.value) and "lacks 285 of its 287 tensors" in str(caught.value)


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a pickle at all")
    with pytest.raises(ConversionError, match="torch.load can read safely"):
        zoo.convert_weights("torchvision", tmp_path / "junk.pth")


def test_a_pickled_object_is_never_executed(tmp_path):
    class Boom:
        def __reduce__(self):
            return (print, ("EXECUTED",))

    torch.save({"x": Boom()}, tmp_path / "evil.pth")
    with pytest.raises(ConversionError, match="torch.load can read safely"):
        zoo.convert_weights("torchvision", tmp_path / "evil.pth")


def test_wrong_arch_and_missing_torch_are_one_line(published, monkeypatch):
    with pytest.raises(ConversionError, match="--arch googlenet_bn"):
        zoo.convert_weights("torchvision", published[0], arch="googlenet")
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(MissingExtraError, match=r"cnn-zoo\[convert\]"):
        torchvision_layout.read(published[0])


# The tag's stored preprocessing against torchvision's own evaluation transform. Both resize with
# PIL's antialiased bilinear kernel; torchvision's PIL resize of an RGB image works in fixed point and
# rounds to uint8, the zoo's stays in float (PIL's mode "F"): at most one 0..255 level apart, i.e.
# 1/255/0.224 = 0.0175 after Normalize; rounding alone averages a quarter level (measured on these
# photos: max 0.0174, mean 0.0045 = 0.26 level; 2e-7 where no resize happens, 256x256).
PREPROCESS_TOLERANCE, PREPROCESS_MEAN_TOLERANCE = 1 / 255 / 0.224 + 1e-5, 0.3 / 255 / 0.224


@pytest.mark.parametrize("size", [(400, 300), (300, 400), (256, 256), (500, 333), (200, 180)])
def test_tag_preprocessing_equals_torchvision_transforms(size, tmp_path):
    from PIL import Image
    from torchvision import transforms

    from cnn_zoo.weights import store
    from cnn_zoo.hub.prediction import read_image
    from cnn_zoo.preprocessing_spec import Preprocessing
    from hub_fixtures import write_photos

    (path,) = write_photos(tmp_path, sizes=[size])
    pre = Preprocessing.from_dict(store.info("googlenet_bn.imagenet").preprocessing)
    ours = pre.apply(read_image(path, pre.raw_shape)[None])[0]  # what zoo predict feeds the model
    theirs = transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])(Image.open(path).convert("RGB")).numpy().transpose(1, 2, 0)
    assert ours.shape == theirs.shape == (224, 224, 3)
    diff = np.abs(ours - theirs)
    assert diff.max() <= PREPROCESS_TOLERANCE and diff.mean() <= PREPROCESS_MEAN_TOLERANCE, (diff.max(), diff.mean())
