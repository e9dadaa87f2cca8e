"""layers.Conv1D/2D/3D: cross-correlation with K filters of extent F, stride S, padding P, bias."""

import functools
import keras
import numpy as np
import pytest
from keras import ops

from cnn_zoo import layers
from cnn_zoo.layers import arithmetic as ar
from tests.layer_testing import run_layer_test
from tests import numpy_reference as ref
from tests.numpy_reference import (
    conv_input_gradient,
    conv_kernel_gradient,
    conv_reference,
)

CONV = {1: layers.Conv1D, 2: layers.Conv2D, 3: layers.Conv3D}
KERAS_CONV = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _built(layer, x, kernel, bias=None):
    layer.build(x.shape)
    layer.set_weights([kernel] if bias is None else [kernel, bias])
    return layer


# -- random K/F/S/P against the NumPy reference -----------------------------


def _random_case(rng, rank):
    """A random conv: F, S (or dilation), per-side P in one of its forms, rounding, layout."""
    f = [int(v) for v in rng.integers(1, 4, rank)]
    if rng.random() < 0.3:
        d, s = [int(v) for v in rng.integers(1, 3, rank)], [1] * rank
    else:
        d, s = [1] * rank, [int(v) for v in rng.integers(1, 4, rank)]
    rounding = str(rng.choice(["floor", "ceil", "exact"]))
    form = rng.choice(["int", "axes", "pairs", "valid", "same"])
    if form == "same" and rounding == "exact":
        rounding = "floor"
    if form == "int":
        p = int(rng.integers(0, 3))
        pairs, padding = [(p, p)] * rank, p
    elif form == "axes":
        ps = [int(v) for v in rng.integers(0, 3, rank)]
        pairs, padding = [(p, p) for p in ps], tuple(ps)
    elif form == "pairs":
        pairs = [tuple(int(v) for v in rng.integers(0, 4, 2)) for _ in range(rank)]
        padding = tuple(pairs)
    else:
        pairs, padding = [(0, 0)] * rank, str(form)
    spatial = [ref.random_input_size(rng, di * (fi - 1) + 1, si, lo, hi, rounding)
               for fi, si, di, (lo, hi) in zip(f, s, d, pairs)]
    data_format = str(rng.choice(["channels_last", "channels_first"]))
    ref_padding = "same" if form == "same" else pairs
    return dict(f=tuple(f), s=tuple(s), d=tuple(d), padding=padding, ref_padding=ref_padding,
                rounding=rounding, spatial=tuple(spatial), data_format=data_format,
                channels=int(rng.integers(1, 4)), filters=int(rng.integers(1, 4)))


@pytest.mark.parametrize("rank, seed", [(1, s) for s in range(3)] + [(2, s) for s in range(3)]
                         + [(3, s) for s in range(2)])
def test_random_convs_match_numpy_reference(rank, seed):
    rng = np.random.default_rng(100 * rank + seed)
    for _ in range(8):
        c = _random_case(rng, rank)
        x = rng.standard_normal((2, *c["spatial"], c["channels"])).astype("float32")
        kernel = rng.standard_normal((*c["f"], c["channels"], c["filters"])).astype("float32")
        bias = rng.standard_normal(c["filters"]).astype("float32")
        if c["data_format"] == "channels_first":
            x = np.moveaxis(x, -1, 1)
        layer = CONV[rank](c["filters"], c["f"], strides=c["s"], padding=c["padding"],
                           rounding=c["rounding"], dilation_rate=c["d"],
                           data_format=c["data_format"], kernel_initializer="zeros")
        y = _np(_built(layer, x, kernel, bias)(x))
        expected = conv_reference(x, kernel, bias, c["s"], c["ref_padding"], c["d"],
                                  c["rounding"], c["data_format"])
        assert y.shape == expected.shape, c
        assert tuple(layer.compute_output_shape(x.shape)) == y.shape, c
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4, err_msg=str(c))


def test_unknown_spatial_sizes_with_explicit_padding():
    """A model on (None, None, D1) inputs: TensorFlow retraces with unknown sizes."""
    inputs = keras.Input((None, None, 2))
    conv = layers.Conv2D(3, 3, strides=2, padding=((2, 1), (1, 0)), use_bias=False,
                         kernel_initializer="zeros")
    model = keras.Model(inputs, conv(inputs))
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((3, 3, 2, 3)).astype("float32")
    conv.set_weights([kernel])
    for shape in [(1, 8, 8, 2), (1, 9, 6, 2), (2, 5, 7, 2)]:
        x = rng.standard_normal(shape).astype("float32")
        expected = conv_reference(x, kernel, None, 2, [(2, 1), (1, 0)])
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-4)


# -- agreement with keras.layers.Conv*D --------------------------------------


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", ["valid", "same", "same_dilated", "explicit", "channels_first"])
def test_agrees_with_keras_conv(rank, mode):
    rng = np.random.default_rng(rank)
    spatial = (9, 8, 7)[:rank]
    x = rng.standard_normal((2, *spatial, 3)).astype("float32")
    f, k = (3, 2, 3)[:rank], 4
    kernel = rng.standard_normal((*f, 3, k)).astype("float32")
    bias = rng.standard_normal(k).astype("float32")
    ours_kwargs, keras_kwargs, keras_x = {}, {}, x
    if mode == "valid":
        ours_kwargs, keras_kwargs = dict(strides=2, padding=0), dict(strides=2, padding="valid")
    elif mode == "same":
        ours_kwargs = keras_kwargs = dict(strides=2, padding="same")
    elif mode == "same_dilated":
        ours_kwargs = keras_kwargs = dict(dilation_rate=2, padding="same")
    elif mode == "explicit":
        # P as Keras users write it: np.pad, then a 'valid' conv.
        pads = ((2, 1), (0, 2), (1, 1))[:rank]
        ours_kwargs, keras_kwargs = dict(strides=2, padding=pads), dict(strides=2, padding="valid")
        keras_x = np.pad(x, ((0, 0), *pads, (0, 0)))
    else:
        # Compared with Keras in channels_last: keras.layers.Conv2D itself gets
        # channels_first wrong on TensorFlow when W2 == K (see the next test).
        ours_kwargs = dict(strides=2, padding="same", data_format="channels_first")
        keras_kwargs = dict(strides=2, padding="same")
        x = np.moveaxis(x, -1, 1)
    # Zeros: the weights are set below (and a random initializer costs a compile per shape on JAX).
    ours = _built(CONV[rank](k, f, kernel_initializer="zeros", **ours_kwargs), x, kernel, bias)
    theirs = _built(KERAS_CONV[rank](k, f, kernel_initializer="zeros", **keras_kwargs), keras_x,
                    kernel, bias)
    y, expected = _np(ours(x)), _np(theirs(keras_x))
    if mode == "channels_first":
        expected = np.moveaxis(expected, -1, 1)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_channels_first_bias_goes_on_the_channel_axis():
    # Output (B, K, H2, W2) with W2 == K == 4: keras.ops.add on TensorFlow takes a
    # (1, K, 1, 1) bias for an NHWC bias_add here; the layer must not.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 8)).astype("float32")
    kernel = rng.standard_normal((3, 2, 3, 4)).astype("float32")
    bias = np.array([1.0, -2.0, 3.0, -4.0], "float32")
    layer = _built(layers.Conv2D(4, (3, 2), strides=2, data_format="channels_first",
                                 kernel_initializer="zeros"), x, kernel, bias)
    y = _np(layer(x))
    assert y.shape == (2, 4, 4, 4)
    expected = conv_reference(x, kernel, bias, 2, "valid", data_format="channels_first")
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


# -- examples worked out by hand ----------------------------------------------


def _conv1d(kernel, bias=0.0, **kwargs):
    layer = layers.Conv1D(1, len(kernel), kernel_initializer="zeros", **kwargs)
    x = np.array([1, 2, 3, 4, 5], "float32").reshape(1, 5, 1)
    _built(layer, x, np.array(kernel, "float32").reshape(-1, 1, 1), np.array([bias], "float32"))
    return _np(layer(x))[0, :, 0]


def test_1d_signal_by_hand():
    # y[i] = x[i]·1 + x[i+1]·0 + x[i+2]·(−1): a cross-correlation, not a flipped convolution.
    np.testing.assert_array_equal(_conv1d([1, 0, -1]), [-2, -2, -2])
    # P=1: [0, 1, 2, 3, 4, 5, 0] → 0−2, 1−3, 2−4, 3−5, 4−0.
    np.testing.assert_array_equal(_conv1d([1, 0, -1], padding=1), [-2, -2, -2, -2, 4])
    np.testing.assert_array_equal(_conv1d([1, 0, -1], bias=1.0, padding=1), [-1, -1, -1, -1, 5])
    np.testing.assert_array_equal(_conv1d([1, 0, -1], padding=1, strides=2), [-2, -2, 4])
    # Causal padding as a pair: [0, 0, 1, 2, 3, 4, 5].
    np.testing.assert_array_equal(_conv1d([1, 0, -1], padding=((2, 0),)), [-1, -2, -2, -2, -2])
    # Dilation 2: taps x[0], x[2], x[4] → 1 − 5.
    np.testing.assert_array_equal(_conv1d([1, 0, -1], dilation_rate=2), [-4])
    # F=2, S=2 on 5 cells: floor drops the 5; ceil keeps a last window [5, 0].
    np.testing.assert_array_equal(_conv1d([1, 1], strides=2), [3, 7])
    np.testing.assert_array_equal(_conv1d([1, 1], strides=2, rounding="ceil"), [3, 7, 5])


def test_ceil_keeps_a_window_wider_than_the_input():
    # W=2, F=3, S=2: (2 − 3)/2 + 1 = 0.5 → ceil → 1 window, [x0, x1, 0] (as PyTorch's ceil_mode).
    x = np.array([1, 2], "float32").reshape(1, 2, 1)
    layer = _built(layers.Conv1D(1, 3, strides=2, rounding="ceil", kernel_initializer="zeros"),
                   x, np.array([1, 10, 100], "float32").reshape(3, 1, 1), np.zeros(1, "float32"))
    np.testing.assert_array_equal(_np(layer(x))[0, :, 0], [21])
    with pytest.raises(ar.ShapeError):
        layers.Conv1D(1, 3, strides=2).build((None, 2, 1))


IMAGE = np.array([
    [1, 1, 1, 0, 0],
    [0, 1, 1, 1, 0],
    [0, 0, 1, 1, 1],
    [0, 0, 1, 1, 0],
    [0, 1, 1, 0, 0],
], "float32")
X_FILTER = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], "float32")
RIGHT_NEIGHBOUR = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]], "float32")


def _conv2d(kernel, bias=0.0, **kwargs):
    x = IMAGE.reshape(1, 5, 5, 1)
    layer = layers.Conv2D(1, 3, kernel_initializer="zeros", **kwargs)
    _built(layer, x, kernel.reshape(3, 3, 1, 1), np.array([bias], "float32"))
    return _np(layer(x))[0, :, :, 0]


def test_binary_image_by_hand():
    # out[i, j] = I[i, j] + I[i, j+2] + I[i+1, j+1] + I[i+2, j] + I[i+2, j+2]
    np.testing.assert_array_equal(_conv2d(X_FILTER), [
        [4, 3, 4],
        [2, 4, 3],
        [2, 3, 4],
    ])
    # P=1: the same sums with zeros around the image; the inner 3×3 is the above.
    with_padding = np.array([
        [2, 2, 3, 1, 1],
        [1, 4, 3, 4, 1],
        [1, 2, 4, 3, 3],
        [1, 2, 3, 4, 1],
        [0, 2, 2, 1, 1],
    ])
    np.testing.assert_array_equal(_conv2d(X_FILTER, padding=1), with_padding)
    # S=2, P=1: every other row and column of the above.
    np.testing.assert_array_equal(_conv2d(X_FILTER, padding=1, strides=2), [
        [2, 3, 1],
        [1, 4, 3],
        [0, 2, 1],
    ])
    # Bias −3 and ReLU: only the windows that hold a whole "X" of ones fire.
    np.testing.assert_array_equal(_conv2d(X_FILTER, bias=-3.0, activation="relu"), [
        [1, 0, 1],
        [0, 1, 0],
        [0, 0, 1],
    ])
    np.testing.assert_array_equal(_conv2d(X_FILTER, bias=0.5, padding=1), with_padding + 0.5)


def test_asymmetric_filter_reads_the_right_neighbour():
    # Cross-correlation with a 1 right of centre: out[i, j] = I[i, j+1], i.e. the
    # image moved one column left (a flipped convolution would move it right).
    np.testing.assert_array_equal(_conv2d(RIGHT_NEIGHBOUR, padding=1), [
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 1, 1, 0, 0],
        [1, 1, 0, 0, 0],
    ])


def test_multiple_channels_and_filters_sum_over_depth():
    # Two input maps, two filters: filter 0 adds the maps' centre taps, filter 1 subtracts them.
    x = np.stack([IMAGE, 2 * IMAGE], axis=-1)[None]  # (1, 5, 5, 2)
    kernel = np.zeros((1, 1, 2, 2), "float32")
    kernel[0, 0, :, 0] = [1, 1]
    kernel[0, 0, :, 1] = [1, -1]
    layer = _built(layers.Conv2D(2, 1, kernel_initializer="zeros"), x, kernel,
                   np.array([0, 10], "float32"))
    y = _np(layer(x))[0]
    np.testing.assert_array_equal(y[..., 0], 3 * IMAGE)
    np.testing.assert_array_equal(y[..., 1], 10 - IMAGE)


# -- gradient check -------------------------------------------------------------


class InputAsWeight(keras.layers.Layer):
    """Holds the input volume as a trainable weight, so that an SGD step moves it too."""

    def __init__(self, shape, **kwargs):
        super().__init__(**kwargs)
        self.value = self.add_weight(shape=shape, initializer="zeros", name="value")

    def call(self, zeros):
        return zeros + self.value


def _sum_product(upstream, y):
    # A scalar loss, so no reduction over the batch gets in the way.
    return ops.sum(upstream * y)


def backend_gradients(layer, x, upstream):
    """The backend's dL/dx and dL/dw of L = sum(layer(x) · G), on any backend.

    Read off one plain SGD step (learning rate 1) of a tiny Model whose input
    volume is a weight: new = old − dL/d(old). ``layer`` is built, with its
    weights set. Returns (L, dL/dx, [dL/dw for w in layer.get_weights()]).
    """
    source = InputAsWeight(x.shape)
    inputs = keras.Input(batch_shape=x.shape)
    model = keras.Model(inputs, layer(source(inputs)))
    source.value.assign(x.astype("float32"))
    before = layer.get_weights()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss=_sum_product,
                  jit_compile=False)
    loss = model.train_on_batch(np.zeros(x.shape, "float32"), upstream.astype("float32"))
    dx = x.astype("float32") - _np(source.value)
    return float(np.ravel(loss)[0]), dx, [b - a for b, a in zip(before, layer.get_weights())]


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=(3, 2), strides=(2, 1), padding=((1, 0), (2, 1)), rounding="ceil"),
    dict(kernel_size=3, strides=2, padding="same"),
    dict(kernel_size=(2, 3), dilation_rate=(2, 1), padding=1),
])
def test_gradients_match_numpy(kwargs):
    """Backend gradients of L = sum(conv(x) · G) against the NumPy analytic ones.

    The NumPy gradients are in turn checked against central finite
    differences of the NumPy reference.
    """
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 7, 6, 2)).astype("float32").astype("float64")
    conv = layers.Conv2D(3, kernel_initializer="zeros", **kwargs)
    conv.build(x.shape)
    kernel = rng.standard_normal(conv.kernel.shape).astype("float32").astype("float64")
    bias = rng.standard_normal(conv.bias.shape).astype("float32").astype("float64")
    conv.set_weights([kernel, bias])
    upstream = rng.standard_normal(conv.compute_output_shape(x.shape))

    pads = kwargs["padding"] if kwargs["padding"] == "same" else \
        ar.normalize_padding(kwargs["padding"], 2)
    ref = dict(strides=conv.strides, padding=pads, dilation=conv.dilation_rate,
               rounding=conv.rounding)
    dx = conv_input_gradient(x.shape, kernel, upstream, **ref)
    dk = conv_kernel_gradient(x, kernel.shape, upstream, **ref)
    db = upstream.sum(axis=(0, 1, 2))

    # The NumPy gradients against central differences of the NumPy reference.
    def loss(x_, kernel_):
        return float((conv_reference(x_, kernel_, bias, **ref) * upstream).sum())

    eps = 1e-6
    for index in [(0, 0, 0, 0), (1, 6, 5, 1), (0, 3, 2, 1), (1, 0, 5, 0)]:
        bump = np.zeros_like(x)
        bump[index] = eps
        numeric = (loss(x + bump, kernel) - loss(x - bump, kernel)) / (2 * eps)
        assert numeric == pytest.approx(dx[index], rel=1e-5, abs=1e-6)
    for index in [(0, 0, 0, 0), (kernel.shape[0] - 1, kernel.shape[1] - 1, 1, 2)]:
        bump = np.zeros_like(kernel)
        bump[index] = eps
        numeric = (loss(x, kernel + bump) - loss(x, kernel - bump)) / (2 * eps)
        assert numeric == pytest.approx(dk[index], rel=1e-5, abs=1e-6)

    value, backend_dx, (backend_dk, backend_db) = backend_gradients(conv, x, upstream)
    assert value == pytest.approx(loss(x, kernel), rel=1e-4, abs=1e-3)
    np.testing.assert_allclose(backend_dx, dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(backend_dk, dk, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(backend_db, db, rtol=1e-4, atol=1e-4)
    assert np.abs(dx).max() > 0.1 and np.abs(dk).max() > 0.1  # not vacuous


# -- invalid arguments -----------------------------------------------------------


@pytest.mark.parametrize("kwargs, received", [
    (dict(filters=0), "filters=0"),
    (dict(filters=-2), "filters=-2"),
    (dict(kernel_size=0), "kernel_size=0"),
    (dict(kernel_size=-3), "kernel_size=-3"),
    (dict(kernel_size=(3, 3, 3)), "kernel_size=(3, 3, 3)"),
    (dict(kernel_size=(3,)), "kernel_size=(3,)"),
    (dict(strides=0), "strides=0"),
    (dict(strides=(1, 2, 1)), "strides=(1, 2, 1)"),
    (dict(padding="full"), "padding='full'"),
    (dict(padding=-1), "padding=-1"),
    (dict(padding=((1, 2, 3), (0, 0))), "padding=((1, 2, 3), (0, 0))"),
    (dict(padding=(1, 1, 1)), "padding=(1, 1, 1)"),
    (dict(rounding="round"), "rounding='round'"),
    (dict(dilation_rate=0), "dilation_rate=0"),
    (dict(data_format="NHWC"), "data_format='NHWC'"),
    (dict(strides=2, dilation_rate=2), "strides=(2, 2), dilation_rate=(2, 2)"),
])
def test_invalid_arguments(kwargs, received):
    args = dict(filters=4, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(ValueError) as info:
        layers.Conv2D(**args)
    assert f"Received: {received}" in str(info.value)


def test_channel_mismatch_on_second_call():
    layer = layers.Conv2D(4, 3)
    layer(np.zeros((1, 5, 5, 2), "float32"))
    with pytest.raises(ValueError, match=r"(?i)expected axis -1 of input shape to have value 2.*"
                                         r"received input with shape \(1, 5, 5, 3\)"):
        layer(np.zeros((1, 5, 5, 3), "float32"))


def test_shape_errors_at_build_name_the_layer():
    c1 = layers.Conv2D(6, 5, strides=3, padding=1, rounding="exact", name="c1")
    with pytest.raises(ar.ShapeError, match=r"^c1: \(32 − 5 \+ 2·1\)/3 \+ 1 = 10.67 is not a"):
        c1.build((None, 32, 32, 1))
    with pytest.raises(ar.ShapeError, match=r"^c5: \(3 − 5 \+ 2·0\)/1 \+ 1 = -1"):
        layers.Conv1D(2, 5, name="c5")(np.zeros((1, 3, 1), "float32"))
    with pytest.raises(ValueError, match=r"Received: input_shape=\(None, 8, 1\)"):
        layers.Conv2D(2, 3).compute_output_shape((None, 8, 1))


# -- shared layer checks: config, save/reload, mixed precision -------------------


@pytest.mark.parametrize("rank, kwargs, input_shape, output_shape", [
    (1, dict(filters=3, kernel_size=3, strides=2, padding=((2, 1),), use_bias=False),
     (2, 9, 2), (2, 5, 3)),
    (2, dict(filters=4, kernel_size=(3, 2), strides=(2, 1), padding=(1, 0), rounding="ceil",
             activation="relu"), (2, 8, 7, 3), (2, 5, 6, 4)),
    (2, dict(filters=2, kernel_size=3, padding="same", data_format="channels_first",
             kernel_regularizer="l2"), (1, 3, 6, 6), (1, 2, 6, 6)),
    (3, dict(filters=2, kernel_size=2, strides=2, padding=1, rounding="exact"),
     (1, 4, 6, 4, 2), (1, 3, 4, 3, 2)),
])
def test_run_layer_test(rank, kwargs, input_shape, output_shape, tmp_path):
    channels = input_shape[1] if kwargs.get("data_format") == "channels_first" else input_shape[-1]
    f = kwargs["kernel_size"]
    f = (f,) * rank if isinstance(f, int) else f
    params = ar.conv_params(f, channels, kwargs["filters"], kwargs.get("use_bias", True))
    # TensorFlow runs a bfloat16 channels_first conv on the CPU only through oneDNN's bf16
    # kernels (AVX-512/AMX); on an AVX2 CPU keras.layers.Conv2D fails there too ("only
    # supports the NHWC tensor format on the CPU"). Then ours must fail the same way.
    half = kwargs.get("data_format") != "channels_first" or _backend_runs_bf16_channels_first()
    if not half:
        with pytest.raises(Exception, match="NHWC"):
            CONV[rank](**kwargs, dtype="mixed_bfloat16")(np.zeros(input_shape, "float32"))
    run_layer_test(CONV[rank], kwargs, input_shape, expected_output_shape=output_shape,
                   expected_trainable_weights=1 + kwargs.get("use_bias", True),
                   expected_params=params, tmp_path=tmp_path, mixed_precision=half)


@functools.cache  # one probe per session, not one per parametrized case
def _backend_runs_bf16_channels_first() -> bool:
    x = keras.ops.ones((1, 1, 3, 3), dtype="bfloat16")
    try:
        keras.ops.conv(x, keras.ops.ones((1, 1, 1, 1), dtype="bfloat16"), data_format="channels_first")
    except Exception as error:  # the backend's own refusal, whatever its class
        if "NHWC" not in str(error):
            raise
        return False
    return True


def test_get_config_holds_every_argument():
    layer = layers.Conv2D(8, (3, 5), strides=(1, 2), padding=((1, 2), (0, 3)), rounding="ceil",
                          activation="relu", use_bias=False, kernel_initializer="he_normal",
                          name="c")
    config = layer.get_config()
    assert config["filters"] == 8
    assert tuple(config["kernel_size"]) == (3, 5)
    assert tuple(config["strides"]) == (1, 2)
    assert ar.normalize_padding(config["padding"], 2) == ((1, 2), (0, 3))
    assert config["rounding"] == "ceil"
    assert config["use_bias"] is False
    assert config["activation"] == "relu"
    clone = layers.Conv2D.from_config(config)
    assert clone.padding == layer.padding and clone.rounding == "ceil"


# -- explain -----------------------------------------------------------------------


def test_explain_lenet_c1():
    a = layers.Conv2D(6, 5, name="C1").explain((32, 32, 1))
    assert a.output_shape == (28, 28, 6)
    assert (a.weights, a.biases, a.params) == (150, 6, 156)
    assert a.multiply_adds == 28 * 28 * 150
    assert "(32 − 5 + 2·0)/1 + 1 = 28" in str(a)


def test_explain_googlenet_conv1():
    a = layers.Conv2D(64, 7, strides=2, padding=3, name="conv1").explain((224, 224, 3))
    assert a.output_shape == (112, 112, 64)
    assert a.weights == 9408
    assert a.multiply_adds == 118_013_952
    assert "112.5 → floor → 112" in str(a)


def test_explain_uses_the_build_shape_and_matches_count_params():
    layer = layers.Conv2D(5, 3, padding=1, data_format="channels_first")
    layer.build((None, 4, 10, 10))
    a = layer.explain()
    assert a.input_shape == (10, 10, 4)
    assert a.output_shape == (10, 10, 5)
    assert a.params == layer.count_params() == 3 * 3 * 4 * 5 + 5
    with pytest.raises(ValueError, match="explain\\(\\) needs input_shape"):
        layers.Conv2D(5, 3).explain()
