"""The lineage's families against their papers and torchvision: ResNet (both layouts, the
shortcuts), the CIFAR ResNets (Table 6), VGG as the lecture's pattern, AlexNet (Fig. 2),
All-CNN-C. Counts come from cards built without allocating weights."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import cnn_zoo as zoo
from cnn_zoo.card import card_for
from cnn_zoo.errors import ZooError
from cnn_zoo.layers import ShapeError
from cnn_zoo.models import alexnet, resnet, resnet_cifar, vgg
from cnn_zoo.models.convnet_spec import parse_spec
from convert_fixtures import REPO

TORCHVISION = [*(f"resnet{d}" for d in resnet.DEPTHS), *vgg.PARAMS, "alexnet", "googlenet"]


def _rows(card):
    return [(r.name, r.type, r.output_shape, r.weights, r.non_trainable) for r in card.rows]


def test_published_counts_are_the_installed_torchvisions():
    """Read from torchvision's own Weights.meta, in a torch-only process (never beside TensorFlow)."""
    code = ("import json, sys, torchvision\n"
            f"names = {TORCHVISION!r}\n"
            "print(json.dumps({n: torchvision.models.get_model_weights(n).IMAGENET1K_V1.meta['num_params']"
            " for n in names}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = json.loads(done.stdout.splitlines()[-1])
    ours = {name: zoo.get_family(name if name != "googlenet" else "googlenet_bn").published.params
            for name in TORCHVISION}
    assert ours == theirs


# -- ResNet -------------------------------------------------------------------


@pytest.mark.parametrize("depth", sorted(resnet.DEPTHS))
def test_resnet_layouts_share_parameters_and_take_the_papers_multiply_adds(depth):
    ours = card_for(f"resnet{depth}")
    paper = card_for(f"resnet{depth}", layout="paper")
    assert ours.totals.params == paper.totals.params
    assert ours.totals.weights == resnet.PARAMS[depth]
    # Table 1's FLOPs are multiply-adds of the paper's layout, printed to two digits.
    assert abs(paper.totals.multiply_adds / (resnet.PAPER_FLOPS[depth] * 1e9) - 1) < 0.02
    block, counts = resnet.DEPTHS[depth]
    assert sum(r.type == "Add" for r in ours.rows) == sum(counts)
    volumes = {r.name: r.output_shape for r in ours.rows if r.name.endswith("_out")}
    e = resnet.EXPANSION[block]
    assert [volumes[f"conv{s}_block1_out"] for s in (2, 3, 4, 5)] == \
        [(56, 56, 64 * e), (28, 28, 128 * e), (14, 14, 256 * e), (7, 7, 512 * e)]


def test_the_layouts_differ_only_in_where_a_bottleneck_strides():
    tv = zoo.get_model("resnet50", input_shape=(64, 64, 3), num_classes=4)
    paper = zoo.get_model("resnet50", input_shape=(64, 64, 3), num_classes=4, layout="paper")
    for model, first, middle in ((tv, (1, 1), (2, 2)), (paper, (2, 2), (1, 1))):
        assert tuple(model.get_layer("conv3_block1_conv1").strides) == first
        assert tuple(model.get_layer("conv3_block1_conv2").strides) == middle
    assert card_for("resnet50").totals.multiply_adds > card_for("resnet50", layout="paper").totals.multiply_adds
    basic = [_rows(card_for("resnet18", layout=layout)) for layout in resnet.LAYOUTS]
    assert basic[0] == basic[1]


def test_shortcuts_join_equal_volumes_identity_projection_or_zeros():
    card = card_for("resnet50")
    adds = {r.name: r for r in card.rows if r.type == "Add"}
    first = adds["conv3_block1_add"]
    assert first.sources == ("conv3_block1_conv3_bn", "conv3_block1_shortcut_bn")
    assert first.formula == "28×28×512 + 28×28×512 = 28×28×512"
    assert adds["conv3_block2_add"].sources == ("conv3_block2_conv3_bn", "conv3_block1_out")  # identity
    projections = [r.name for r in card.rows if r.name.endswith("_shortcut")]
    assert projections == [f"conv{s}_block1_shortcut" for s in (2, 3, 4, 5)]
    zeros = card_for("resnet50", shortcut="zeros")
    saved = sum(r.weights for r in card.rows if "_shortcut" in r.name)
    assert card.totals.weights - zeros.totals.weights == saved
    assert {r.type for r in zeros.rows if r.name.endswith("_shortcut")} == {"ZeroPadShortcut"}
    assert "option B" in "\n".join(card.notes) and "option A" in "\n".join(zeros.notes)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(layout="caffe"), "`layout` must be 'torchvision'"),
    (dict(shortcut="C"), "`shortcut` must be 'projection'"),
])
def test_resnet_options_are_checked_in_one_line(kwargs, fragment):
    with pytest.raises(ZooError, match=fragment) as error:
        zoo.get_model("resnet18", **kwargs)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_cifar_resnets_have_table_6s_parameters(depth):
    card = card_for("resnet_cifar", depth=depth)
    millions = resnet_cifar.PAPER[depth][0]
    unit = 0.1 if millions >= 1 else 0.01
    assert round(card.totals.weights / 1e6 / unit) * unit == pytest.approx(millions)
    weighted = [r for r in card.rows if r.type in ("Conv2D", "Dense")]
    assert len(weighted) == depth  # 6n + 2: no projection convs with option A
    assert [r.output_shape for r in card.rows if r.name.endswith("_out")][::(depth - 2) // 6] == \
        [(32, 32, 16), (16, 16, 32), (8, 8, 64)]
    assert f"{resnet_cifar.PAPER[depth][1]}% CIFAR-10 test error" in "\n".join(card.notes)


def test_cifar_resnet_depth_and_weight_decay():
    with pytest.raises(ZooError, match=r"`depth` must be 6n \+ 2"):
        zoo.get_model("resnet_cifar", depth=21)
    model = zoo.get_model("resnet_cifar", depth=8, weight_decay=1e-4)
    kernels = [w for layer in model.layers for w in layer.trainable_weights if "kernel" in w.path]
    expected = 1e-4 / 2 * sum(float(np.sum(np.square(np.asarray(w)))) for w in kernels)
    assert float(sum(np.asarray(loss) for loss in model.losses)) == pytest.approx(expected, rel=1e-4)
    assert len(model.losses) == len(kernels) == 8


# -- VGG: the lecture's pattern -----------------------------------------------

LECTURE = "[(CONV-RELU)*2-POOL]*2-[(CONV-RELU)*3-POOL]*3-(FC-RELU)*2-SOFTMAX"


@pytest.mark.parametrize("arch", sorted(vgg.PARAMS))
def test_vgg_is_the_convnet_spec(arch):
    ours = card_for(arch)
    spec = vgg.convnet_kwargs(arch)
    pattern = card_for("convnet", input_shape=(224, 224, 3), num_classes=1000, **spec)
    assert _rows(ours) == _rows(pattern)
    assert ours.totals.weights == pattern.totals.weights == vgg.PARAMS[arch][0]
    stages, fc = parse_spec(spec["spec"])
    weighted = [r for r in ours.rows if r.type in ("Conv2D", "Dense")]
    assert len(weighted) == int(arch[3:5]) == sum(s.convs for s in stages) + fc + 1
    assert all(s.batch_norm == arch.endswith("_bn") for s in stages)
    assert f"pattern: {spec['spec']}" in str(ours)


def test_vgg16_is_the_lectures_pattern_with_its_numbers():
    assert vgg.spec("vgg16") == LECTURE
    card = card_for("vgg16")
    assert card.totals.weights == 138_357_544
    convs = [r for r in card.rows if r.type == "Conv2D"]
    assert [r.output_shape[-1] for r in convs] == [64] * 2 + [128] * 2 + [256] * 3 + [512] * 6
    # F = 3, S = 1, P = 1 keep the map: W2 = (W − 3 + 2·1)/1 + 1 = W.
    assert all(r.formula == f"({r.output_shape[0]} − 3 + 2·1)/1 + 1 = {r.output_shape[0]}" for r in convs)
    assert [r.output_shape[0] for r in card.rows if r.type == "MaxPool2D"] == [112, 56, 28, 14, 7]
    assert [r.output_shape for r in card.rows if r.type == "Dense"] == [(4096,), (4096,), (1000,)]


def test_vgg_bn_convs_keep_their_bias_and_vgg_fits_small_inputs():
    bn = zoo.get_model("vgg11_bn", input_shape=(32, 32, 3), fc_units=8)
    assert bn.get_layer("stage1_conv1").use_bias and bn.get_layer("stage1_conv1_bn").epsilon == 1e-5
    assert bn.get_layer("avgpool").output.shape[1:] == (7, 7, 512)  # 1×1 repeated 49 times
    with pytest.raises(ShapeError, match="stage5_pool"):
        zoo.get_model("vgg11", input_shape=(31, 31, 3))


def test_spec_grammar_says_batch_norm_per_group():
    stages, _ = parse_spec("[(CONV-BN-RELU)*2-POOL]*1-[(CONV-RELU)*1]*1-SOFTMAX")
    assert [(s.convs, s.pool, s.batch_norm) for s in stages] == [(2, True, True), (1, False, False)]
    model = zoo.get_model("convnet", input_shape=(8, 8, 1), filters=2,
                          spec="[(CONV-BN-RELU)*1-POOL]*1-[(CONV-RELU)*1]*1-SOFTMAX")
    names = [layer.name for layer in model.layers]
    assert "stage1_conv1_bn" in names and "stage2_conv1_bn" not in names
    assert not model.get_layer("stage1_conv1").use_bias and model.get_layer("stage2_conv1").use_bias


# -- AlexNet and All-CNN-C ------------------------------------------------------


def test_alexnet_layouts_follow_torchvision_and_figure_2():
    tv, paper = card_for("alexnet"), card_for("alexnet_paper")
    assert tv.totals.weights == 61_100_840
    assert paper.totals.weights == alexnet.figure2_params() == 60_965_224
    pools = lambda card: [r.output_shape for r in card.rows if r.type == "MaxPool2D"]  # noqa: E731
    assert pools(tv) == [(27, 27, 64), (13, 13, 192), (6, 6, 256)]
    assert pools(paper) == [(27, 27, 96), (13, 13, 256), (6, 6, 256)]  # Fig. 2 on 227×227
    rows = {r.name: r for r in paper.rows}
    assert rows["conv2"].weights == 5 * 5 * 48 * 256 + 256  # each kernel sees its GPU's 48 maps
    assert rows["conv2"].formula == "(27 − 5 + 2·2)/1 + 1 = 27; 2 groups: each kernel 5·5·48"
    assert rows["conv3"].weights == 3 * 3 * 256 * 384 + 384  # conv3 sees both GPUs'
    assert rows["norm1"].type == "LocalResponseNormalization"
    assert "k + α/n·Σ a²" in rows["norm1"].formula and "0.0005/5" in rows["norm1"].formula
    assert "60,965,224" in "\n".join(paper.notes)


def test_allconv_is_only_convolutions():
    card = card_for("allconv")
    assert card.totals.weights == 1_369_738
    assert {r.type for r in card.rows if r.weights} == {"Conv2D"}
    assert not [r for r in card.rows if "Pool" in r.type and "Global" not in r.type]
    volumes = {r.name: r.output_shape for r in card.rows}
    assert (volumes["conv3"], volumes["conv6"], volumes["conv7"], volumes["classifier"]) == \
        ((16, 16, 96), (8, 8, 192), (6, 6, 192), (6, 6, 10))
    assert "(32 − 3 + 2·1)/2 + 1 = 16 (floor)" in {r.name: r for r in card.rows}["conv3"].formula
