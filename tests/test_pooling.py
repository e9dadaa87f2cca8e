"""layers.MaxPool1D/2D/3D: the largest value in each window; padded cells never win."""

import keras
import numpy as np
import pytest
from keras import ops

from cnn_zoo import layers
from cnn_zoo.layers import arithmetic as ar
from tests.layer_testing import run_layer_test
from tests import numpy_reference as ref
from tests.numpy_reference import max_pool_input_gradient, max_pool_reference
from tests.test_conv import backend_gradients

POOL = {1: layers.MaxPool1D, 2: layers.MaxPool2D, 3: layers.MaxPool3D}
KERAS_POOL = {1: keras.layers.MaxPooling1D, 2: keras.layers.MaxPooling2D,
              3: keras.layers.MaxPooling3D}


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _random_case(rng, rank):
    f = tuple(int(v) for v in rng.integers(1, 4, rank))
    s = None if rng.random() < 0.3 else tuple(int(v) for v in rng.integers(1, 4, rank))
    strides = f if s is None else s
    rounding = str(rng.choice(["floor", "ceil", "exact"]))
    form = str(rng.choice(["int", "pairs", "valid", "same"]))
    if form == "same" and rounding == "exact":
        rounding = "floor"
    if form == "int":
        p = int(rng.integers(0, min(f)))
        pairs, padding = [(p, p)] * rank, p
    elif form == "pairs":
        # Each side smaller than the window, so every window holds an input cell.
        pairs = [tuple(int(v) for v in rng.integers(0, fi, 2)) for fi in f]
        padding = tuple(pairs)
    else:
        pairs, padding = [(0, 0)] * rank, form
    spatial = [ref.random_input_size(rng, fi, si, lo, hi, rounding)
               for fi, si, (lo, hi) in zip(f, strides, pairs)]
    return dict(f=f, s=s, strides=strides, padding=padding,
                ref_padding="same" if form == "same" else pairs, rounding=rounding,
                spatial=tuple(spatial),
                data_format=str(rng.choice(["channels_last", "channels_first"])))


@pytest.mark.parametrize("rank, seed", [(1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 0)])
def test_random_pools_match_numpy_reference(rank, seed):
    rng = np.random.default_rng(10 * rank + seed)
    for _ in range(8):
        c = _random_case(rng, rank)
        x = rng.standard_normal((2, *c["spatial"], 3)).astype("float32")
        if c["data_format"] == "channels_first":
            x = np.moveaxis(x, -1, 1)
        layer = POOL[rank](c["f"], c["s"], padding=c["padding"], rounding=c["rounding"],
                           data_format=c["data_format"])
        y = _np(layer(x))
        expected = max_pool_reference(x, c["f"], c["strides"], c["ref_padding"], c["rounding"],
                                      c["data_format"])
        assert y.shape == expected.shape, c
        assert tuple(layer.compute_output_shape(x.shape)) == y.shape, c
        np.testing.assert_array_equal(y, expected.astype("float32"), err_msg=str(c))


# -- padding: padded cells never win ---------------------------------------------


def test_padded_cells_never_win_on_negative_inputs():
    rng = np.random.default_rng(0)
    x = (-1.0 - rng.random((2, 5, 6, 3))).astype("float32")  # every cell in [−2, −1)
    y = _np(layers.MaxPool2D(3, strides=1, padding=1)(x))
    assert y.shape == (2, 5, 6, 3)
    assert (y < -1 + 1e-7).all() and np.isfinite(y).all()  # never a padded 0 (or −∞)
    np.testing.assert_array_equal(y, max_pool_reference(x, 3, 1, [(1, 1), (1, 1)]))


def test_negative_signal_by_hand():
    # [−3, −1, −2, −5] with F=2, S=2, P=1: windows [pad, −3], [−1, −2], [−5, pad].
    x = np.array([-3, -1, -2, -5], "float32").reshape(1, 4, 1)
    np.testing.assert_array_equal(_np(layers.MaxPool1D(2, padding=1)(x))[0, :, 0], [-3, -1, -5])
    # Zero padding (as keras.layers.ZeroPadding1D before a pool would do) is what must not happen.
    zero_padded = np.pad(x, ((0, 0), (1, 1), (0, 0)))
    assert _np(keras.layers.MaxPooling1D(2)(zero_padded))[0, :, 0].tolist() == [0, -1, 0]


def test_pool_on_binary_image_by_hand():
    image = np.array([
        [1, 0, 0, 0, 0],
        [0, 0, 0, 2, 0],
        [0, 3, 0, 0, 0],
        [0, 0, 0, 0, 4],
        [5, 0, 0, 0, 0],
    ], "float32").reshape(1, 5, 5, 1)
    # 2×2/2, floor: the last row and column (and the 4 and 5 in them) are dropped.
    np.testing.assert_array_equal(_np(layers.MaxPool2D(2)(image))[0, ..., 0], [[1, 2], [3, 0]])
    # 2×2/2, ceil: a last, partial window over row and column 4.
    np.testing.assert_array_equal(_np(layers.MaxPool2D(2, rounding="ceil")(image))[0, ..., 0],
                                  [[1, 2, 0], [3, 0, 4], [5, 0, 0]])
    # 3×3/2, P=1: windows centred on rows/columns 0, 2, 4.
    np.testing.assert_array_equal(_np(layers.MaxPool2D(3, 2, padding=1)(image))[0, ..., 0],
                                  [[1, 2, 2], [3, 3, 4], [5, 0, 4]])


# -- ceil rounding: GoogLeNet's pools ------------------------------------------------


def test_googlenet_pools_ceil():
    pool = layers.MaxPool2D(3, strides=2, rounding="ceil")
    sizes = [112]
    for _ in range(4):
        sizes.append(pool.compute_output_shape((None, sizes[-1], sizes[-1], 64))[1])
    assert sizes == [112, 56, 28, 14, 7]
    floor = layers.MaxPool2D(3, strides=2)
    assert floor.compute_output_shape((None, 112, 112, 64)) == (None, 55, 55, 64)
    rng = np.random.default_rng(1)
    for size in (28, 14):
        x = rng.standard_normal((1, size, size, 2)).astype("float32")
        y = _np(pool(x))
        assert y.shape == (1, size // 2, size // 2, 2)
        np.testing.assert_array_equal(y, max_pool_reference(x, 3, 2, "valid", "ceil"))


def test_ceil_never_starts_a_window_in_the_right_padding():
    # W=5, F=2, S=2, P=1: a 4th window would start at padded index 6 = W + P.
    x = np.arange(1, 6, dtype="float32").reshape(1, 5, 1)
    y = _np(layers.MaxPool1D(2, 2, padding=1, rounding="ceil")(x))[0, :, 0]
    np.testing.assert_array_equal(y, [1, 3, 5])


def test_ceil_keeps_a_window_wider_than_the_input():
    # W=2, F=3, S=2, ceil: one window [x0, x1, −∞].
    x = np.array([-4, -2], "float32").reshape(1, 2, 1)
    np.testing.assert_array_equal(_np(layers.MaxPool1D(3, 2, rounding="ceil")(x))[0, :, 0], [-2])


# -- agreement with keras.layers.MaxPooling*D -----------------------------------------


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("ours, theirs", [
    (dict(pool_size=2), dict(pool_size=2)),
    (dict(pool_size=3, strides=2, padding="valid"), dict(pool_size=3, strides=2, padding="valid")),
    (dict(pool_size=3, strides=2, padding="same"), dict(pool_size=3, strides=2, padding="same")),
    # P=1 around a 3-window with S=1 is Keras' 'same'.
    (dict(pool_size=3, strides=1, padding=1), dict(pool_size=3, strides=1, padding="same")),
    # Ceil on an even size with a 3/2 window is Keras' 'same' (GoogLeNet).
    (dict(pool_size=3, strides=2, rounding="ceil"), dict(pool_size=3, strides=2, padding="same")),
])
def test_agrees_with_keras_max_pooling(rank, ours, theirs):
    rng = np.random.default_rng(rank)
    x = rng.standard_normal((2, *(8, 6, 4)[:rank], 3)).astype("float32")
    y = _np(POOL[rank](**ours)(x))
    expected = _np(KERAS_POOL[rank](**theirs)(x))
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y, expected)


def test_agrees_with_keras_channels_first():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 8, 7)).astype("float32")
    y = _np(layers.MaxPool2D(3, 2, padding="same", data_format="channels_first")(x))
    expected = _np(keras.layers.MaxPooling2D(3, 2, padding="same")(np.moveaxis(x, 1, -1)))
    np.testing.assert_array_equal(y, np.moveaxis(expected, -1, 1))


# -- gradient --------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    dict(pool_size=3, strides=2, padding=1),
    dict(pool_size=3, strides=2, rounding="ceil"),
    dict(pool_size=(2, 3), strides=(1, 2), padding=((1, 0), (2, 1))),
])
def test_gradient_goes_to_the_window_max(kwargs):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 7, 6, 2))
    pool = layers.MaxPool2D(**kwargs)
    upstream = rng.standard_normal(pool.compute_output_shape(x.shape))
    value, dx, weights = backend_gradients(pool, x, upstream)
    padding = ar.normalize_padding(kwargs.get("padding", 0), 2)
    expected = max_pool_input_gradient(x.astype("float32"), upstream, pool.pool_size,
                                       pool.strides, padding, pool.rounding)
    assert weights == []
    np.testing.assert_allclose(dx, expected, rtol=1e-5, atol=1e-5)
    reference = max_pool_reference(x.astype("float32"), pool.pool_size, pool.strides, padding,
                                   pool.rounding)
    assert value == pytest.approx(float((reference * upstream).sum()), rel=1e-4, abs=1e-4)


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, received", [
    (dict(pool_size=0), "pool_size=0"),
    (dict(pool_size=(2, 2, 2)), "pool_size=(2, 2, 2)"),
    (dict(pool_size=2, strides=0), "strides=0"),
    (dict(pool_size=2, strides=(1,)), "strides=(1,)"),
    (dict(pool_size=2, padding="full"), "padding='full'"),
    (dict(pool_size=2, padding=-1), "padding=-1"),
    (dict(pool_size=3, padding=3), "padding=3, pool_size=3"),
    (dict(pool_size=(3, 2), padding=((0, 1), (2, 0))),
     "padding=((0, 1), (2, 0)), pool_size=(3, 2)"),
    (dict(pool_size=2, rounding="round"), "rounding='round'"),
    (dict(pool_size=2, data_format="NCHW"), "data_format='NCHW'"),
])
def test_invalid_arguments(kwargs, received):
    with pytest.raises(ValueError) as info:
        layers.MaxPool2D(**kwargs)
    assert f"Received: {received}" in str(info.value)


def test_shape_errors_name_the_layer():
    with pytest.raises(ar.ShapeError, match=r"^pool3: \(7 − 2 \+ 2·0\)/2 \+ 1 = 3.5 is not a"):
        layers.MaxPool2D(2, rounding="exact", name="pool3").build((None, 7, 7, 1))
    with pytest.raises(ar.ShapeError, match=r"^pool4: \(2 − 3 \+ 2·0\)/3 \+ 1"):
        layers.MaxPool1D(3, name="pool4")(np.zeros((1, 2, 1), "float32"))
    with pytest.raises(ValueError, match=r"(?i)expected ndim=4"):
        layers.MaxPool2D(2)(np.zeros((1, 4, 1), "float32"))


# -- shared layer checks, config, explain -------------------------------------------


@pytest.mark.parametrize("rank, kwargs, input_shape, output_shape", [
    (1, dict(pool_size=3, strides=2, padding=1), (2, 9, 2), (2, 5, 2)),
    (2, dict(pool_size=3, strides=2, rounding="ceil"), (2, 14, 14, 3), (2, 7, 7, 3)),
    (2, dict(pool_size=(2, 3), padding=((1, 0), (0, 2)), data_format="channels_first"),
     (1, 2, 5, 7), (1, 2, 3, 3)),
    (3, dict(pool_size=2), (1, 4, 6, 4, 2), (1, 2, 3, 2, 2)),
])
def test_run_layer_test(rank, kwargs, input_shape, output_shape, tmp_path):
    run_layer_test(POOL[rank], kwargs, input_shape, expected_output_shape=output_shape,
                   expected_trainable_weights=0, expected_params=0, tmp_path=tmp_path)


def test_config_strides_default_to_pool_size():
    layer = layers.MaxPool2D((3, 2), padding=((1, 0), (0, 1)), rounding="ceil")
    assert layer.strides == (3, 2)
    config = layer.get_config()
    assert tuple(config["pool_size"]) == (3, 2) and tuple(config["strides"]) == (3, 2)
    assert ar.normalize_padding(config["padding"], 2) == ((1, 0), (0, 1))
    assert config["rounding"] == "ceil"
    assert layers.MaxPool2D.from_config(config).get_config() == config


def test_explain_googlenet_pool1():
    a = layers.MaxPool2D(3, 2, rounding="ceil", name="pool1").explain((112, 112, 64))
    assert a.output_shape == (56, 56, 64)
    assert (a.weights, a.biases, a.params, a.multiply_adds) == (0, 0, 0, 0)
    assert "(112 − 3 + 2·0)/2 + 1 = 55.5 → ceil → 56" in str(a)
    assert "weights" not in str(a)
