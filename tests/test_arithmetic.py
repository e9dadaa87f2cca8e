"""Shape arithmetic: W2 = (W1 − F + 2P)/S + 1, its rounding, its errors and its counts."""

import random
import re

import pytest

from cnn_zoo import layers
from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers import window_plan as wp


def pytorch_pooling_output_shape(size, kernel, pad_l, pad_r, stride, dilation, ceil_mode):
    """PyTorch's pooling_output_shape_pad_lr (aten/src/ATen/native/Pool.h), transcribed."""
    numerator = (size + pad_l + pad_r - dilation * (kernel - 1) - 1
                 + (stride - 1 if ceil_mode else 0))
    out = numerator // stride + 1  # div_rtn: rounds towards −∞
    if ceil_mode and (out - 1) * stride >= size + pad_l:
        # ensure that the last pooling starts inside the image
        out -= 1
    return out


# -- output_size ------------------------------------------------------------


@pytest.mark.parametrize("size, f, s, p, floor, ceil", [
    (32, 5, 1, 0, 28, 28),     # LeNet C1
    (28, 2, 2, 0, 14, 14),     # LeNet S2
    (224, 7, 2, 3, 112, 113),  # GoogLeNet conv1: 223/2 + 1 = 112.5
    (112, 3, 2, 0, 55, 56),    # GoogLeNet pool1 needs ceil
    (32, 5, 3, 1, 10, 11),
    (5, 3, 1, 1, 5, 5),
])
def test_output_size_floor_and_ceil(size, f, s, p, floor, ceil):
    assert layers.output_size(size, f, s, p) == floor
    assert layers.output_size(size, f, s, p, "floor") == floor
    assert layers.output_size(size, f, s, p, "ceil") == ceil


def test_output_size_exact_when_whole():
    assert layers.output_size(32, 5, 3, 3, "exact") == 12          # (32 − 5 + 6)/3 + 1
    assert layers.output_size(224, 7, 2, (3, 2), "exact") == 112   # per-side pair
    assert layers.output_size(10, 3, 1, 0, "exact", dilation=2) == 6  # extent 5


def test_per_side_pair_counts_both_sides():
    assert layers.output_size(10, 3, 1, (2, 0)) == 10
    assert layers.output_size(10, 3, 1, (0, 0)) == 8
    assert layers.output_size(10, 3, 1, (1, 1)) == layers.output_size(10, 3, 1, 1)


def test_ceil_drops_a_window_that_would_start_in_the_right_padding():
    # W=5, F=2, S=2, P=1: (5 − 2 + 2)/2 + 1 = 3.5; ceil gives 4, but the 4th
    # window would start at padded index 6 >= W + P = 6, wholly in the right padding.
    assert layers.output_size(5, 2, 2, 1, "ceil") == 3
    assert pytorch_pooling_output_shape(5, 2, 1, 1, 2, 1, True) == 3
    # Without padding, S > F can likewise put a whole last window past the input.
    assert layers.output_size(5, 1, 3, 0, "ceil") == 2


def test_ceil_matches_pytorch_formula():
    rng = random.Random(1)
    for _ in range(400):
        size, f = rng.randint(1, 40), rng.randint(1, 7)
        s, d = rng.randint(1, 5), rng.randint(1, 2)
        lo, hi = rng.randint(0, f - 1), rng.randint(0, f - 1)
        for ceil_mode in (False, True):
            expected = pytorch_pooling_output_shape(size, f, lo, hi, s, d, ceil_mode)
            rounding = "ceil" if ceil_mode else "floor"
            if expected < 1:  # PyTorch would fail too ("Output size is too small")
                with pytest.raises(ar.ShapeError):
                    layers.output_size(size, f, s, (lo, hi), rounding, dilation=d)
                continue
            got = layers.output_size(size, f, s, (lo, hi), rounding, dilation=d)
            assert got == expected, (size, f, s, lo, hi, d, ceil_mode)


def test_floor_counts_window_positions():
    """Floor rounding is the number of window starts: len(range(0, W + 2P − F + 1, S))."""
    rng = random.Random(0)
    checked = 0
    for _ in range(300):
        w, f, s, p = rng.randint(1, 64), rng.randint(1, 9), rng.randint(1, 6), rng.randint(0, 4)
        if w + 2 * p < f:
            continue
        assert layers.output_size(w, f, s, p) == len(range(0, w + 2 * p - f + 1, s)), (w, f, s, p)
        checked += 1
    assert checked > 200


def test_same_padding_is_tensorflows():
    # W2 = ceil(W1 / S), the odd cell of padding after.
    assert ar.same_padding(224, 7, 2) == (2, 3)
    assert ar.same_padding(112, 3, 2) == (0, 1)
    assert ar.same_padding(28, 3, 1) == (1, 1)
    assert ar.same_padding(6, 1, 4) == (0, 0)
    assert ar.same_padding(10, 3, 1, dilation=2) == (2, 2)


# -- valid paddings and the exact-mode error --------------------------------


def test_valid_paddings():
    assert layers.valid_paddings(32, 5, 3) == [0, 3, 6]
    assert layers.valid_paddings(32, 5, 1) == [0, 1, 2, 3, 4]
    assert layers.valid_paddings(224, 7, 2) == []          # 224 − 7 is odd
    assert layers.valid_paddings(28, 5, 1, max_padding=2) == [0, 1, 2]
    for p in layers.valid_paddings(32, 5, 3):
        assert layers.output_size(32, 5, 3, p, "exact") == (32 - 5 + 2 * p) // 3 + 1


def test_exact_error_names_layer_formula_and_fitting_paddings():
    with pytest.raises(ar.ShapeError) as info:
        layers.output_size(32, 5, 3, 1, "exact", layer="conv2")
    message = str(info.value)
    assert message.startswith("conv2: ")
    assert "(32 − 5 + 2·1)/3 + 1 = 10.67 is not a whole number" in message
    assert "paddings that fit with F=5, S=3: 0, 3, 6" in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)
    assert info.value.layer == "conv2"
    assert info.value.suggestions == {"padding": [0, 3, 6]}
    assert info.value.value == pytest.approx(29 / 3 + 1)


def test_exact_error_when_no_padding_can_fit_suggests_strides_and_kernels():
    with pytest.raises(ar.ShapeError) as info:
        layers.output_size(32, 5, 2, 0, "exact", layer="conv1")
    error = info.value
    message = str(error)
    assert "(32 − 5 + 2·0)/2 + 1 = 14.5 is not a whole number" in message
    assert "27 is odd" in message
    assert error.suggestions["padding"] == []
    strides, kernels = error.suggestions["strides"], error.suggestions["kernel_size"]
    assert strides and kernels
    assert f"strides that fit with F=5, P=0: {', '.join(map(str, strides))}" in message
    assert f"kernel sizes that fit with S=2: {', '.join(map(str, kernels))}" in message
    # Every suggestion really fits.
    for s in strides:
        layers.output_size(32, 5, s, 0, "exact")
    for f in kernels:
        layers.output_size(32, f, 2, 0, "exact")
    # And what it leaves out does not (S=2 is the one asked for).
    assert 2 not in strides and 5 not in kernels


def test_exact_error_other_even_stride():
    with pytest.raises(ar.ShapeError) as info:
        layers.output_size(21, 4, 4, 1, "exact")
    error = info.value
    assert "no padding P makes 21 − 4 + 2·P a multiple of 4" in str(error)
    assert error.suggestions["strides"] and error.suggestions["kernel_size"]
    for s in error.suggestions["strides"]:
        layers.output_size(21, 4, s, 1, "exact")
    for f in error.suggestions["kernel_size"]:
        layers.output_size(21, f, 4, 1, "exact")


@pytest.mark.parametrize("rounding", ["floor", "ceil", "exact"])
def test_window_larger_than_padded_input(rounding):
    with pytest.raises(ar.ShapeError) as info:
        layers.output_size(3, 5, 1, 0, rounding, layer="c5")
    message = str(info.value)
    assert message.startswith("c5: (3 − 5 + 2·0)/1 + 1 = -1")
    assert "not positive" in message or "no whole window" in message
    assert "P >= 1" in message
    fix = info.value.suggestions["padding"][0]
    assert layers.output_size(3, 5, 1, fix, rounding) >= 1


@pytest.mark.parametrize("kwargs, word", [
    (dict(size=32, kernel_size=5, stride=0), "stride=0"),
    (dict(size=32, kernel_size=0), "kernel_size=0"),
    (dict(size=0, kernel_size=1), "size=0"),
    (dict(size=32, kernel_size=5, padding=-1), "padding=-1"),
    (dict(size=32, kernel_size=5, padding=(1, 2, 3)), "padding=(1, 2, 3)"),
    (dict(size=32, kernel_size=2.5), "kernel_size=2.5"),
    (dict(size=32, kernel_size=5, dilation=0), "dilation=0"),
    (dict(size=32, kernel_size=5, rounding="round"), "rounding='round'"),
])
def test_output_size_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match="Received: " + re.escape(word)):
        layers.output_size(**kwargs)


# -- normalisation of arguments ---------------------------------------------


@pytest.mark.parametrize("padding, expected", [
    ("valid", ((0, 0), (0, 0))),
    ("VALID", ((0, 0), (0, 0))),
    ("same", "same"),
    (0, ((0, 0), (0, 0))),
    (3, ((3, 3), (3, 3))),
    ((1, 2), ((1, 1), (2, 2))),
    (((1, 2), (0, 3)), ((1, 2), (0, 3))),
    ([1, [2, 3]], ((1, 1), (2, 3))),
])
def test_normalize_padding_forms(padding, expected):
    assert ar.normalize_padding(padding, 2) == expected


@pytest.mark.parametrize("padding", ["full", "causal", -1, (1,), (1, 2, 3), ((1, 2, 3), (0, 0)),
                                     1.5, None, ((1, -1), (0, 0))])
def test_normalize_padding_errors(padding):
    with pytest.raises(ValueError, match=r"Received: padding="):
        ar.normalize_padding(padding, 2)


def test_padding_config_round_trip():
    for padding in ["same", 0, 2, (1, 2), ((1, 2), (0, 3))]:
        pairs = ar.normalize_padding(padding, 2)
        assert ar.normalize_padding(ar.padding_to_config(pairs), 2) == pairs


@pytest.mark.parametrize("value, expected", [(3, (3, 3)), ((3, 5), (3, 5)), ([2, 1], (2, 1))])
def test_normalize_tuple(value, expected):
    assert ar.normalize_tuple(value, 2, "kernel_size") == expected


@pytest.mark.parametrize("value", [0, -1, (3,), (3, 3, 3), 3.0, "3", None, True, (3, 0)])
def test_normalize_tuple_errors(value):
    with pytest.raises(ValueError, match=r"Received: kernel_size="):
        ar.normalize_tuple(value, 2, "kernel_size")


def test_normalize_tuple_rejects_arrays_with_a_value_error():
    np = pytest.importorskip("numpy")
    assert ar.normalize_tuple(np.int64(3), 2, "strides") == (3, 3)
    with pytest.raises(ValueError, match="Received: strides="):
        ar.normalize_tuple(np.array([2, 2]), 2, "strides")


def test_normalize_rounding():
    assert [ar.normalize_rounding(r) for r in ar.ROUNDINGS] == ["floor", "ceil", "exact"]
    with pytest.raises(ValueError, match="Received: rounding='nearest'"):
        ar.normalize_rounding("nearest")


# -- counts ------------------------------------------------------------------


def test_conv_weights_params_and_multiply_adds():
    # LeNet C1: (5·5·1)·6 + 6 = 156 parameters, 28·28·150 = 117,600 multiply-adds.
    assert layers.conv_weights((5, 5), 1, 6) == 150
    assert layers.conv_params((5, 5), 1, 6) == 156
    assert layers.conv_params((5, 5), 1, 6, use_bias=False) == 150
    assert layers.conv_multiply_adds((28, 28), (5, 5), 1, 6) == 117_600
    # GoogLeNet conv1 7×7/2 on 224×224×3 → 112×112×64: 9,408 weights, 118,013,952 multiply-adds.
    assert layers.conv_weights((7, 7), 3, 64) == 7 * 7 * 3 * 64 == 9408
    assert layers.conv_multiply_adds((112, 112), (7, 7), 3, 64) == 112 * 112 * 9408 == 118_013_952
    # Any rank: 3×3×3 over 4 channels, 8 filters.
    assert layers.conv_params((3, 3, 3), 4, 8) == 27 * 4 * 8 + 8
    assert layers.conv_weights((3,), 2, 5) == 30


def test_receptive_fields():
    lenet = layers.receptive_fields([(5, 1), (2, 2), (5, 1)])  # C1, S2, C3
    assert [r.size for r in lenet] == [5, 6, 14]
    assert [r.jump for r in lenet] == [1, 2, 2]
    # GoogLeNet stem: conv1 7/2, pool1 3/2, conv2 1/1, conv2 3/1, pool2 3/2.
    # r: 1+6·1=7 (j 2); 7+2·2=11 (j 4); 11 (j 4); 11+2·4=19 (j 4); 19+2·4=27 (j 8).
    stem = layers.receptive_fields([(7, 2), (3, 2), (1, 1), (3, 1), (3, 2)])
    assert [(r.size, r.jump) for r in stem] == [(7, 2), (11, 4), (11, 4), (19, 4), (27, 8)]
    assert layers.receptive_fields([]) == []


def test_grow_receptive_field_with_dilation():
    field = ar.grow_receptive_field(ar.ReceptiveField(1, 1), 3, 1, dilation=2)
    assert field == ar.ReceptiveField(5, 1)


# -- explain_window ----------------------------------------------------------


def test_explain_googlenet_conv1():
    a = layers.explain_window("conv", (224, 224, 3), kernel_size=7, strides=2, padding=3,
                              filters=64, name="conv1")
    assert a.output_shape == (112, 112, 64)
    assert a.padding == ((3, 3), (3, 3))
    assert (a.weights, a.biases, a.params) == (9408, 64, 9472)
    assert a.multiply_adds == 118_013_952
    assert a.quotients == (112.5, 112.5)
    text = str(a)
    assert "conv1: 224×224×3 → 112×112×64" in text
    assert "(224 − 7 + 2·3)/2 + 1 = 112.5 → floor → 112" in text
    assert "9,408" in text and "118,013,952" in text
    assert a.as_dict()["params"] == 9472


def test_explain_pool_defaults_stride_to_size_and_has_no_weights():
    a = layers.explain_window("max_pool", (28, 28, 6), kernel_size=2)
    assert a.strides == (2, 2)
    assert a.output_shape == (14, 14, 6)
    assert (a.weights, a.biases, a.multiply_adds) == (0, 0, 0)
    ceil = layers.explain_window("max_pool", (112, 112, 64), kernel_size=3, strides=2,
                                 rounding="ceil")
    assert ceil.output_shape == (56, 56, 64)


def test_explain_raises_shape_error_with_layer_name():
    with pytest.raises(ar.ShapeError, match=r"^conv9: \(32 − 5 \+ 2·1\)/3 \+ 1 = 10.67"):
        layers.explain_window("conv", (32, 32, 1), kernel_size=5, strides=3, padding=1,
                              rounding="exact", filters=4, name="conv9")


# -- lowering to native kernels ----------------------------------------------


def _plan(spatial, f, s, padding, rounding="floor", d=1):
    rank = len(spatial)
    return wp.window_plan(spatial, (f,) * rank, (s,) * rank, ar.normalize_padding(padding, rank),
                          rounding, (d,) * rank)


def test_window_plan_lowering_choices():
    # Valid: no padding, floor.
    assert _plan((32, 32), 5, 1, 0) == wp.WindowPlan((28, 28), "valid", ((0, 0), (0, 0)))
    # Floor leaves a cell no window reaches: still "valid", nothing cropped.
    assert _plan((7,), 2, 2, 0) == wp.WindowPlan((3,), "valid", ((0, 0),))
    # P=1 with F=3, S=1 is exactly TensorFlow's 'same'.
    assert _plan((28, 28), 3, 1, 1) == wp.WindowPlan((28, 28), "same", ((0, 0), (0, 0)))
    # GoogLeNet conv1: 7×7/2, P=3 on 224: the windows use 3 before and only 2 after, which
    # is not 'same' (2, 3); the plan pads all of P (a 'valid' op skips the unused cell).
    assert _plan((224, 224), 7, 2, 3) == wp.WindowPlan((112, 112), "valid", ((3, 3), (3, 3)))
    # P=1 on 8 with F=3, S=2: windows use (1, 0), 'same' is (0, 1): explicit pads.
    assert _plan((8,), 3, 2, 1) == wp.WindowPlan((4,), "valid", ((1, 1),))
    # Floor that reaches none of P_hi: no pad op at all.
    assert _plan((6,), 2, 2, [(0, 1)]) == wp.WindowPlan((3,), "valid", ((0, 0),))
    # GoogLeNet pools, 3×3/2 ceil: the partial last window is 'same' padding (0, 1).
    for w, out in [(112, 56), (56, 28), (28, 14), (14, 7)]:
        assert _plan((w, w), 3, 2, 0, "ceil") == wp.WindowPlan((out, out), "same", ((0, 0),) * 2)
    # Ceil on an odd remainder that 'same' does not reproduce: explicit pads.
    assert _plan((10,), 3, 3, 0, "ceil") == wp.WindowPlan((4,), "valid", ((0, 2),))
    # 'same' stays 'same'.
    assert _plan((224, 224), 7, 2, "same").native == "same"


def test_window_plan_agrees_with_output_size():
    rng = random.Random(2)
    for _ in range(300):
        w, f, s = rng.randint(1, 30), rng.randint(1, 5), rng.randint(1, 4)
        lo, hi = rng.randint(0, f - 1), rng.randint(0, f - 1)
        rounding = rng.choice(["floor", "ceil"])
        if w + lo + hi < f:
            continue
        plan = _plan((w,), f, s, [(lo, hi)], rounding)
        expected = layers.output_size(w, f, s, (lo, hi), rounding)
        assert plan.output_spatial == (expected,)
        if plan.native == "same":
            pad_lo, pad_hi = ar.same_padding(w, f, s)
            assert pad_lo == lo
            assert -(-w // s) == expected
        else:
            # A 'valid' op on the padded input gives exactly the planned size.
            (a, b), = plan.pads
            if (a, b) != (0, 0):
                assert a == lo and b >= hi  # all of P, and more if ceil needs it
            assert (w + a + b - f) // s + 1 == expected
