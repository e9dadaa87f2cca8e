"""The two layers the lineage needed: adaptive average pooling (torchvision's VGG and AlexNet)
and the option-A shortcut (He et al.'s CIFAR ResNets). Runs on every backend (scripts/test.sh)."""

import keras
import numpy as np
import pytest
from keras import ops

from cnn_zoo import layers
from cnn_zoo.layers.adaptive_pooling import bins
from tests.layer_testing import run_layer_test


def adaptive_reference(x, out_h, out_w):
    """torch.nn.AdaptiveAvgPool2d written out (channels last): bin i spans
    floor(i·W1/W2) … ceil((i + 1)·W1/W2) − 1."""
    b, h, w, c = x.shape
    y = np.zeros((b, out_h, out_w, c), "float64")
    for i in range(out_h):
        h0, h1 = (i * h) // out_h, -(-((i + 1) * h) // out_h)
        for j in range(out_w):
            w0, w1 = (j * w) // out_w, -(-((j + 1) * w) // out_w)
            y[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
    return y


@pytest.mark.parametrize("size, out", [((1, 1), (7, 7)), ((2, 3), (7, 7)), ((14, 14), (7, 7)),
                                       ((10, 9), (7, 6)), ((7, 7), (7, 7)), ((13, 13), (6, 6))])
def test_adaptive_pool_is_torchs(size, out):
    x = np.random.default_rng(0).standard_normal((2, *size, 5)).astype("float32")
    y = ops.convert_to_numpy(layers.AdaptiveAveragePool2D(out)(x))
    np.testing.assert_allclose(y, adaptive_reference(x, *out), rtol=1e-5, atol=1e-6)


def test_adaptive_pool_channels_first_and_bins():
    x = np.random.default_rng(1).standard_normal((2, 3, 10, 4)).astype("float32")
    y = ops.convert_to_numpy(layers.AdaptiveAveragePool2D((7, 3), data_format="channels_first")(x))
    expected = adaptive_reference(x.transpose(0, 2, 3, 1), 7, 3).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert bins(10, 7) == [(0, 2), (1, 3), (2, 5), (4, 6), (5, 8), (7, 9), (8, 10)]  # overlapping
    assert bins(1, 3) == [(0, 1)] * 3


def test_adaptive_pool_standard_checks(tmp_path):
    run_layer_test(layers.AdaptiveAveragePool2D, {"output_size": (3, 2)}, (2, 7, 5, 4),
                   expected_output_shape=(2, 3, 2, 4), expected_trainable_weights=0, tmp_path=tmp_path)


def test_adaptive_pool_explains_itself():
    even = layers.AdaptiveAveragePool2D(7).explain((14, 14, 512))
    assert even.formulas[0] == "(14 − 2 + 2·0)/2 + 1" and even.output_shape == (7, 7, 512)
    assert even.kernel_size == even.strides == (2, 2)
    uneven = layers.AdaptiveAveragePool2D((7, 7)).explain((10, 1, 8))
    assert uneven.formulas == ("10 in 7 bins of 2–3", "1 in 7 bins of 1") and uneven.kernel_size == (3, 1)
    assert uneven.output_shape == (7, 7, 8) and uneven.weights == 0


def test_adaptive_pool_needs_known_sizes():
    with pytest.raises(ValueError, match="height and width must be known"):
        keras.Model(*(lambda i: (i, layers.AdaptiveAveragePool2D(7)(i)))(keras.Input((None, None, 3))))


@pytest.mark.parametrize("size", [32, 33])
def test_zero_pad_shortcut_subsamples_and_pads_with_zeros(size):
    x = np.random.default_rng(0).standard_normal((2, size, size, 16)).astype("float32")
    y = ops.convert_to_numpy(layers.ZeroPadShortcut(32, 2)(x))
    half = -(-size // 2)  # (W1 − 1)/2 + 1, floored
    assert y.shape == (2, half, half, 32)
    np.testing.assert_array_equal(y[..., :16], x[:, ::2, ::2, :])
    assert not y[..., 16:].any()


def test_zero_pad_shortcut_channels_first_and_identity():
    x = np.random.default_rng(0).standard_normal((1, 4, 6, 6)).astype("float32")
    y = ops.convert_to_numpy(layers.ZeroPadShortcut(8, 1, data_format="channels_first")(x))
    np.testing.assert_array_equal(y[:, :4], x)
    assert y.shape == (1, 8, 6, 6) and not y[:, 4:].any()


def test_zero_pad_shortcut_standard_checks(tmp_path):
    run_layer_test(layers.ZeroPadShortcut, {"filters": 8, "strides": 2}, (2, 6, 6, 4),
                   expected_output_shape=(2, 3, 3, 8), expected_params=0, tmp_path=tmp_path)


def test_zero_pad_shortcut_explains_itself_and_refuses_fewer_filters():
    a = layers.ZeroPadShortcut(32, 2).explain((32, 32, 16))
    assert a.output_shape == (16, 16, 32) and a.weights == 0
    assert a.formulas[0] == "(32 − 1 + 2·0)/2 + 1" and a.quotients[0] == 16.5
    assert a.formulas[-1] == "depth 16 + 16 zero channels = 32 (no weights)"
    with pytest.raises(ValueError, match="at most that many channels"):
        layers.ZeroPadShortcut(8)(np.zeros((1, 4, 4, 16), "float32"))
