"""Local response normalisation: NumPy reference from Caffe's definition, TF's op, errors."""

import keras
import numpy as np
import pytest

from cnn_zoo.layers.lrn import LocalResponseNormalization
from tests.layer_testing import run_layer_test


def lrn_reference(a, size=5, alpha=1e-4, beta=0.75, k=1.0):
    """Caffe ACROSS_CHANNELS, channels last:
    b_c = a_c / (k + α/n Σ_{|c'−c| ≤ (n−1)/2} a_c'²)^β."""
    a = a.astype("float64")
    channels = a.shape[-1]
    half = (size - 1) // 2
    out = np.empty_like(a)
    for c in range(channels):
        window = a[..., max(0, c - half):min(channels, c + half + 1)]
        out[..., c] = a[..., c] / (k + alpha / size * np.sum(window ** 2, axis=-1)) ** beta
    return out


def _run(layer, x):
    return keras.ops.convert_to_numpy(layer(x))


@pytest.mark.parametrize("size, alpha, beta, k, channels", [
    (5, 1e-4, 0.75, 1.0, 16),   # GoogLeNet (Caffe bvlc_googlenet)
    (5, 1e-2, 0.75, 2.0, 7),    # AlexNet's k = 2, a strong α so the effect is large
    (3, 0.5, 0.5, 1.0, 4),
    (7, 0.1, 1.0, 0.5, 3),      # window wider than the channels: zeros beyond
    (1, 0.3, 0.75, 1.0, 5),     # n = 1: each channel on its own
])
def test_matches_numpy_reference(size, alpha, beta, k, channels):
    x = 10 * np.random.default_rng(size).standard_normal((2, 4, 3, channels)).astype("float32")
    layer = LocalResponseNormalization(size, alpha, beta, k)
    np.testing.assert_allclose(_run(layer, x), lrn_reference(x, size, alpha, beta, k), rtol=1e-5,
                               atol=1e-5)


def test_googlenet_defaults_change_large_activations():
    layer = LocalResponseNormalization()
    assert (layer.size, layer.alpha, layer.beta, layer.k) == (5, 1e-4, 0.75, 1.0)
    x = np.full((1, 1, 1, 5), 100.0, "float32")
    # Centre channel: Σ a² = 5·10⁴, scale = 1 + 1e-4/5·5·10⁴ = 2, b = 100 / 2^0.75.
    assert _run(layer, x)[0, 0, 0, 2] == pytest.approx(100 / 2 ** 0.75, rel=1e-6)
    # Edge channel: only 3 channels in its window (zero padded), Σ a² = 3·10⁴.
    assert _run(layer, x)[0, 0, 0, 0] == pytest.approx(100 / 1.6 ** 0.75, rel=1e-6)


def test_caffe_alpha_is_tf_alpha_times_n():
    tf = pytest.importorskip("tensorflow")
    x = 20 * np.random.default_rng(0).standard_normal((2, 5, 5, 12)).astype("float32")
    size, alpha, beta, k = 5, 1e-3, 0.75, 1.0
    ours = _run(LocalResponseNormalization(size, alpha, beta, k), x)
    # TF: depth_radius = (n − 1)/2, bias = k, and its alpha is Caffe's α/n.
    tf_scaled = tf.nn.local_response_normalization(x, depth_radius=2, bias=k, alpha=alpha / size,
                                                   beta=beta).numpy()
    np.testing.assert_allclose(ours, tf_scaled, rtol=1e-5, atol=1e-5)
    # Passing Caffe's α to TF unchanged normalises n times too strongly.
    tf_unscaled = tf.nn.local_response_normalization(x, depth_radius=2, bias=k, alpha=alpha,
                                                     beta=beta).numpy()
    assert np.abs(ours - tf_unscaled).max() > 0.1 * np.abs(ours).max()


def _gradient(layer, x, weights):
    """d Σ(layer(x)·weights) / dx with the active backend's own autodiff, as NumPy."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda a: (layer(a) * weights).sum())(x))
    if backend == "torch":
        import torch

        a = torch.tensor(x, requires_grad=True)
        (layer(a) * torch.tensor(weights)).sum().backward()
        return a.grad.numpy()
    import tensorflow as tf

    a = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(a)
        loss = tf.reduce_sum(layer(a) * weights)
    return tape.gradient(loss, a).numpy()


def test_gradient_matches_tensorflows_lrn():
    """The window sum is a band matmul and β = 0.75 an rsqrt product: their gradient is TF's own LRN's."""
    import tensorflow as tf

    x = (20 * np.random.default_rng(1).standard_normal((2, 5, 5, 12))).astype("float32")
    weights = np.random.default_rng(2).standard_normal((2, 5, 5, 12)).astype("float32")
    ours = _gradient(LocalResponseNormalization(5, 1e-3, 0.75, 1.0), x, weights)
    a = tf.constant(x)
    with tf.GradientTape() as tape:  # the reference: TensorFlow's op (its alpha is Caffe's α/n)
        tape.watch(a)
        loss = tf.reduce_sum(tf.nn.local_response_normalization(a, 2, bias=1.0, alpha=1e-3 / 5,
                                                                  beta=0.75) * weights)
    np.testing.assert_allclose(ours, tape.gradient(loss, a).numpy(), rtol=1e-4, atol=1e-5)


def test_channels_first():
    x = 10 * np.random.default_rng(1).standard_normal((2, 6, 3, 4)).astype("float32")  # BCHW
    layer = LocalResponseNormalization(3, 0.05, data_format="channels_first")
    expected = np.moveaxis(lrn_reference(np.moveaxis(x, 1, -1), 3, 0.05), -1, 1)
    np.testing.assert_allclose(_run(layer, x), expected, rtol=1e-5, atol=1e-5)
    assert layer.explain().input_shape == (3, 4, 6)


def test_mixed_precision_rounds_once():
    # Squares, sum and pow in float32: the bfloat16 result is the float32 one rounded once.
    x = 30 * np.random.default_rng(2).standard_normal((2, 4, 4, 8)).astype("float32")
    x = keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.cast(x, "bfloat16"), "float32"))
    half = LocalResponseNormalization(alpha=1e-3, dtype="mixed_bfloat16")
    y = half(x)
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    y = keras.ops.convert_to_numpy(keras.ops.cast(y, "float32"))
    np.testing.assert_allclose(y, lrn_reference(x, alpha=1e-3), rtol=2 ** -8)


def test_run_layer_test(tmp_path):
    y = run_layer_test(LocalResponseNormalization, dict(size=3, alpha=0.2, beta=0.75, k=1.5),
                       (2, 3, 3, 6), expected_output_shape=(2, 3, 3, 6),
                       expected_trainable_weights=0, expected_params=0, tmp_path=tmp_path)
    assert np.isfinite(y).all()


def test_explain():
    arithmetic = LocalResponseNormalization().explain((56, 56, 192))
    assert arithmetic.kind == "lrn"
    assert arithmetic.output_shape == (56, 56, 192)
    assert arithmetic.kernel_size == (1, 1) and arithmetic.strides == (1, 1)  # no spatial window
    assert arithmetic.params == 0
    assert arithmetic.multiply_adds == 56 * 56 * 192 * 5
    assert "1 + 0.0001/5·Σ a²)^0.75" in arithmetic.formulas[-1]
    with pytest.raises(ValueError, match="explain\\(\\) needs input_shape"):
        LocalResponseNormalization().explain()


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=4), "Received: size=4"),
    (dict(size=0), "Received: size=0"),
    (dict(size=2.5), "Received: size=2.5"),
    (dict(alpha=-1e-4), "Received: alpha=-0.0001"),
    (dict(alpha="1e-4"), "Received: alpha='1e-4'"),
    (dict(beta=float("nan")), "Received: beta=nan"),
    (dict(k=0), "Received: k=0"),
    (dict(data_format="NHWC"), "Received: data_format='NHWC'"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LocalResponseNormalization(**kwargs)


def test_unknown_channels():
    with pytest.raises(ValueError, match="channel axis of the input must be known"):
        LocalResponseNormalization().build((None, 8, 8, None))
