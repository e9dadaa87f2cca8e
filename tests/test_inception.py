"""Inception block: Table 1's widths, volumes and counts; equivalence with stock Keras layers."""

import json

import keras
import numpy as np
import pytest

from cnn_zoo.layers.inception import Inception
from tests.layer_testing import run_layer_test

# Szegedy et al. 2014, Table 1: (row, input W=H, input depth, the six widths, output depth,
# weights without biases, multiply-adds). The weights and multiply-adds follow from the
# widths (Table 1's printed "params"/"ops" round, and differ by a few % for 4c-5b).
TABLE1 = [
    ("3a", 28, 192, (64, 96, 128, 16, 32, 32), 256, 163_328, 128_049_152),
    ("3b", 28, 256, (128, 128, 192, 32, 96, 64), 480, 388_096, 304_267_264),
    ("4a", 14, 480, (192, 96, 208, 16, 48, 64), 512, 375_552, 73_608_192),
    ("4b", 14, 512, (160, 112, 224, 24, 64, 64), 512, 448_512, 87_908_352),
    ("4c", 14, 512, (128, 128, 256, 24, 64, 64), 512, 509_440, 99_850_240),
    ("4d", 14, 512, (112, 144, 288, 32, 64, 64), 528, 604_672, 118_515_712),
    ("4e", 14, 528, (256, 160, 320, 32, 128, 128), 832, 867_328, 169_996_288),
    ("5a", 7, 832, (256, 160, 320, 32, 128, 128), 832, 1_042_432, 51_079_168),
    ("5b", 7, 832, (384, 192, 384, 48, 128, 128), 1024, 1_442_816, 70_697_984),
]
# Counting needs no random draws (slow to compile on JAX for every shape).
COUNT_ONLY = dict(kernel_initializer="zeros")
SMALL = dict(n1x1=4, n3x3_reduce=3, n3x3=5, n5x5_reduce=2, n5x5=3, pool_proj=2)


@pytest.mark.parametrize("row", TABLE1, ids=[r[0] for r in TABLE1])
def test_table1_row(row):
    name, size, depth, widths, out_depth, weights, macs = row
    block = Inception(*widths, name=f"inception_{name}", **COUNT_ONLY)
    block.build((None, size, size, depth))
    # Paper layout: every conv has a bias, one per filter.
    assert block.count_params() == weights + sum(widths)
    assert block.compute_output_shape((None, size, size, depth)) == (None, size, size, out_depth)
    arithmetic = block.explain()
    assert arithmetic.output_shape == (size, size, out_depth)
    assert arithmetic.weights == weights
    assert arithmetic.biases == sum(widths)
    assert arithmetic.multiply_adds == macs
    assert arithmetic.params == block.count_params()


def _stem_and_head(bias, bn):
    """GoogLeNet outside the inception blocks: conv1 7×7×3→64, conv2 1×1 64→64,
    conv3 3×3 64→192, fc 1024→1000 (with bias)."""
    convs = [(7 * 7 * 3, 64), (64, 64), (3 * 3 * 64, 192)]
    per_conv = sum(fan * k + (k if bias else 0) + (2 * k if bn else 0) for fan, k in convs)
    return per_conv + 1024 * 1000 + 1000


@pytest.mark.parametrize("batch_norm, k5, total", [
    (False, 5, 6_998_552),  # Caffe bvlc_googlenet, no auxiliary heads
    (True, 3, 6_624_904),   # torchvision googlenet, no auxiliary heads (trainable)
    (True, 5, 7_005_832),   # batch norm with true 5×5 branches (trainable)
])
def test_blocks_sum_to_reference_totals(batch_norm, k5, total):
    trainable = 0
    for _, size, depth, widths, *_ in TABLE1:
        block = Inception(*widths, batch_norm=batch_norm, branch5_kernel_size=k5, **COUNT_ONLY)
        block.build((None, size, size, depth))
        params = sum(int(np.prod(w.shape)) for w in block.trainable_weights)
        assert block.explain().params == params
        trainable += params
    assert trainable + _stem_and_head(bias=not batch_norm, bn=batch_norm) == total


def test_batch_norm_layout_counts():
    widths = TABLE1[0][3]
    block = Inception(*widths, batch_norm=True, branch5_kernel_size=3, **COUNT_ONLY)
    block.build((None, 28, 28, 192))
    convs = sum(widths)  # channels normalised, one BN per conv
    weights = 192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 9 * 16 * 32 + 192 * 32
    # No conv bias; BN: γ, β trainable, moving mean and variance not.
    assert len(block.trainable_weights) == 6 + 12
    assert len(block.non_trainable_weights) == 12
    assert sum(int(np.prod(w.shape)) for w in block.trainable_weights) == weights + 2 * convs
    assert block.count_params() == weights + 4 * convs
    assert block.get_layer("5x5").kernel.shape == (3, 3, 16, 32)
    assert block.get_layer("5x5").bias is None


def test_3a_volume():
    block = Inception(64, 96, 128, 16, 32, 32)
    x = np.random.default_rng(0).standard_normal((1, 28, 28, 192)).astype("float32")
    y = keras.ops.convert_to_numpy(block(x))
    assert y.shape == (1, 28, 28, 256)
    assert (y >= 0).all()  # every branch ends in a conv with ReLU


def test_fixed_sublayer_names():
    block = Inception(**SMALL, batch_norm=True, name="inception_3a", **COUNT_ONLY)
    block.build((None, 6, 6, 8))
    names = {v.path for v in block.weights}
    for conv in ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj"):
        assert f"inception_3a/{conv}/kernel" in names
        assert f"inception_3a/{conv}_bn/gamma" in names
        assert f"inception_3a/{conv}_bn/moving_variance" in names
    assert block.get_layer("pool").pool_size == (3, 3)
    with pytest.raises(ValueError, match="no sub-layer '7x7'"):
        block.get_layer("7x7")


def _stock_model(block, input_shape):
    """The same block out of stock Keras layers (padding 'same' = P = (F − 1)/2 here)."""
    inputs = keras.Input(input_shape)
    bn = block.batch_norm

    def conv(x, name):
        mine = block.get_layer(name)
        stock = keras.layers.Conv2D(mine.filters, mine.kernel_size, padding="same",
                                    use_bias=not bn, activation=None if bn else "relu")
        x = stock(x)
        stock.set_weights(mine.get_weights())
        if bn:
            norm = keras.layers.BatchNormalization(epsilon=0.001)
            x = norm(x)
            norm.set_weights(block.get_layer(f"{name}_bn").get_weights())
            x = keras.layers.ReLU()(x)
        return x

    b1 = conv(inputs, "1x1")
    b2 = conv(conv(inputs, "3x3_reduce"), "3x3")
    b3 = conv(conv(inputs, "5x5_reduce"), "5x5")
    b4 = conv(keras.layers.MaxPooling2D(3, strides=1, padding="same")(inputs), "pool_proj")
    return keras.Model(inputs, keras.layers.Concatenate()([b1, b2, b3, b4]))


@pytest.mark.parametrize("batch_norm, k5", [(False, 5), (True, 3), (False, 3)])
def test_matches_stock_keras_layers(batch_norm, k5):
    rng = np.random.default_rng(1)
    block = Inception(**SMALL, batch_norm=batch_norm, branch5_kernel_size=k5)
    x = rng.standard_normal((2, 7, 7, 6)).astype("float32")
    block.build(x.shape)
    # Random weights everywhere (biases, BN statistics included), variances > 0.
    block.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.path
                       else rng.standard_normal(w.shape).astype("float32") for w in block.weights])
    stock = _stock_model(block, x.shape[1:])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x)),
                               keras.ops.convert_to_numpy(stock(x)), rtol=1e-5, atol=1e-5)


def test_branch_order_on_channel_axis():
    block = Inception(**SMALL)
    x = np.random.default_rng(2).standard_normal((1, 5, 5, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(block(x))
    first = keras.ops.convert_to_numpy(block.get_layer("1x1")(x))
    last = keras.ops.convert_to_numpy(
        block.get_layer("pool_proj")(block.get_layer("pool")(x)))
    np.testing.assert_allclose(y[..., :4], first, atol=1e-6)
    np.testing.assert_allclose(y[..., -2:], last, atol=1e-6)


def test_channels_first_matches_channels_last():
    rng = np.random.default_rng(3)
    last = Inception(**SMALL)
    first = Inception(**SMALL, data_format="channels_first")
    x = rng.standard_normal((2, 5, 5, 3)).astype("float32")
    last.build(x.shape)
    first.build((2, 3, 5, 5))
    first.set_weights(last.get_weights())
    y_first = keras.ops.convert_to_numpy(first(np.transpose(x, (0, 3, 1, 2))))
    np.testing.assert_allclose(np.transpose(y_first, (0, 2, 3, 1)),
                               keras.ops.convert_to_numpy(last(x)), atol=1e-5)
    assert first.compute_output_shape((None, 3, 5, 5)) == (None, 14, 5, 5)
    assert first.explain().input_shape == (5, 5, 3)


@pytest.mark.parametrize("batch_norm, k5", [(False, 5), (True, 3)])
def test_run_layer_test(tmp_path, batch_norm, k5):
    widths = sum(SMALL.values())
    convs_params = 8 * 4 + 8 * 3 + 9 * 3 * 5 + 8 * 2 + k5 * k5 * 2 * 3 + 8 * 2
    params = convs_params + (4 * widths if batch_norm else widths)
    run_layer_test(
        Inception, dict(SMALL, batch_norm=batch_norm, branch5_kernel_size=k5), (2, 6, 6, 8),
        expected_output_shape=(2, 6, 6, 4 + 5 + 3 + 2),
        expected_trainable_weights=18 if batch_norm else 12,
        expected_non_trainable_weights=12 if batch_norm else 0,
        expected_params=params, tmp_path=tmp_path,
    )


def test_explain():
    block = Inception(64, 96, 128, 16, 32, 32, name="inception_3a")
    arithmetic = block.explain((28, 28, 192))
    assert arithmetic.kind == "inception"
    assert arithmetic.input_shape == (28, 28, 192)
    assert arithmetic.kernel_size == (5, 5)  # the widest branch's window
    assert arithmetic.strides == (1, 1)
    assert arithmetic.padding == ((2, 2), (2, 2))
    assert arithmetic.formulas[0] == "(28 − 5 + 2·2)/1 + 1"
    assert arithmetic.formulas[-1].endswith("64 + 128 + 32 + 32 = 256")
    json.dumps(arithmetic.as_dict())
    torch_style = Inception(64, 96, 128, 16, 32, 32, branch5_kernel_size=3).explain((28, 28, 192))
    assert torch_style.kernel_size == (3, 3)
    with pytest.raises(ValueError, match="explain\\(\\) needs input_shape"):
        Inception(**SMALL).explain()
    block.build((None, 28, 28, 192))
    assert block.explain() == arithmetic


@pytest.mark.parametrize("kwargs, message", [
    (dict(SMALL, n1x1=0), "Received: n1x1=0"),
    (dict(SMALL, pool_proj=-2), "Received: pool_proj=-2"),
    (dict(SMALL, n3x3=2.5), "Received: n3x3=2.5"),
    (dict(SMALL, branch5_kernel_size=4), "Received: branch5_kernel_size=4"),
    (dict(SMALL, branch5_kernel_size=0), "Received: branch5_kernel_size=0"),
    (dict(SMALL, bn_momentum=1.0), "Received: bn_momentum=1.0"),
    (dict(SMALL, data_format="nhwc"), "Received: data_format='nhwc'"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Inception(**kwargs)


def test_invalid_inputs():
    block = Inception(**SMALL)
    with pytest.raises(ValueError, match="expected a 4D input"):
        block.build((None, 8, 8))
    block(np.zeros((1, 4, 4, 3), "float32"))
    with pytest.raises(ValueError):  # built for D1 = 3
        block(np.zeros((1, 4, 4, 5), "float32"))
