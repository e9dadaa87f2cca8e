"""LeNet-5's own layers: trainable subsampling, connection-table conv, scaled tanh, RBF output."""

import json

import keras
import numpy as np
import pytest

from cnn_zoo import layers
from cnn_zoo.layers.connection_table import LENET5_C3_TABLE, ConnectionTableConv2D
from cnn_zoo.layers.rbf import EuclideanRBF, RandomSignCode
from cnn_zoo.layers.scaled_tanh import ScaledTanh, scaled_tanh
from cnn_zoo.layers.subsampling import TrainableSubsampling
from tests.layer_testing import run_layer_test

RNG = np.random.default_rng


def _np(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _windows(x, kernel_size, strides, pads, out_size):
    """(B, H2, W2, Fh, Fw, D) windows of x zero-padded by pads (extra zeros past the end
    so a ceil-rounded last window reads zeros)."""
    (fh, fw), (sh, sw) = kernel_size, strides
    extra = [(lo, hi + f) for (lo, hi), f in zip(pads, kernel_size)]
    xp = np.pad(x.astype("float64"), [(0, 0), *extra, (0, 0)])
    h2, w2 = out_size
    return np.stack([np.stack([xp[:, i * sh:i * sh + fh, j * sw:j * sw + fw, :]
                               for j in range(w2)], axis=1) for i in range(h2)], axis=1)


# ---------------------------------------------------------------------------
# Trainable subsampling (S2, S4).


def subsampling_reference(x, coefficient, bias, pool_size, strides, pads, rounding):
    out = [layers.output_size(w, f, s, p, rounding)
           for w, f, s, p in zip(x.shape[1:3], pool_size, strides, pads)]
    sums = _windows(x, pool_size, strides, pads, out).sum(axis=(3, 4))  # (B, H2, W2, D)
    return sums * coefficient + bias


@pytest.mark.parametrize("size, pool_size, strides, padding, pads, rounding", [
    (28, 2, None, 0, ((0, 0), (0, 0)), "floor"),           # LeNet-5 S2
    (9, 3, 2, 1, ((1, 1), (1, 1)), "floor"),
    (8, 3, 2, 0, ((0, 0), (0, 0)), "ceil"),                # (8 − 3)/2 + 1 = 3.5 → 4
    (7, (2, 3), (1, 2), ((0, 1), (2, 0)), ((0, 1), (2, 0)), "floor"),
    (7, 3, 2, "same", ((1, 1), (1, 1)), "floor"),          # zeros counted in the sum
])
def test_subsampling_matches_reference(size, pool_size, strides, padding, pads, rounding):
    rng = RNG(size)
    x = rng.standard_normal((2, size, size, 3)).astype("float32")
    layer = TrainableSubsampling(pool_size, strides, padding, rounding)
    layer.build(x.shape)
    coefficient, bias = rng.standard_normal((2, 3)).astype("float32")
    layer.set_weights([coefficient, bias])
    fs = layers.arithmetic.normalize_tuple(pool_size, 2, "pool_size")
    ss = fs if strides is None else layers.arithmetic.normalize_tuple(strides, 2, "strides")
    expected = subsampling_reference(x, coefficient, bias, fs, ss, pads, rounding)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-5, atol=1e-5)


def test_subsampling_by_hand():
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    layer = TrainableSubsampling(activation="tanh")
    layer.build(x.shape)
    layer.set_weights([np.array([0.1], "float32"), np.array([-1.0], "float32")])
    # Top-left window 0 + 1 + 4 + 5 = 10 → 0.1·10 − 1 = 0; others 18, 42, 50.
    np.testing.assert_allclose(_np(layer(x))[0, ..., 0], np.tanh([[0.0, 0.8], [3.2, 4.0]]),
                               rtol=1e-6, atol=1e-6)


def test_subsampling_starts_as_average_pooling():
    x = RNG(0).standard_normal((2, 10, 10, 16)).astype("float32")
    expected = _np(keras.layers.AveragePooling2D(2)(x))
    np.testing.assert_allclose(_np(TrainableSubsampling()(x)), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, input_shape, output_shape, params", [
    ("S2", (None, 28, 28, 6), (None, 14, 14, 6), 12),
    ("S4", (None, 10, 10, 16), (None, 5, 5, 16), 32),
])
def test_subsampling_lenet5_counts(name, input_shape, output_shape, params):
    layer = TrainableSubsampling(name=name)
    layer.build(input_shape)
    assert layer.count_params() == params  # LeCun et al. 1998: 2 per map
    assert layer.compute_output_shape(input_shape) == output_shape
    arithmetic = layer.explain()
    assert (arithmetic.weights, arithmetic.biases) == (params // 2, params // 2)
    assert arithmetic.output_shape == output_shape[1:]
    assert arithmetic.multiply_adds == np.prod(output_shape[1:])
    assert arithmetic.formulas[0] == f"({input_shape[1]} − 2 + 2·0)/2 + 1"


def test_subsampling_channels_first():
    x = RNG(1).standard_normal((2, 6, 3, 4)).astype("float32")  # (B, D, H, W)
    layer = TrainableSubsampling(data_format="channels_first")
    layer.build(x.shape)
    coefficient, bias = RNG(2).standard_normal((2, 6)).astype("float32")
    layer.set_weights([coefficient, bias])
    expected = subsampling_reference(np.moveaxis(x, 1, -1), coefficient, bias, (2, 2), (2, 2),
                                     ((0, 0), (0, 0)), "floor")
    np.testing.assert_allclose(_np(layer(x)), np.moveaxis(expected, -1, 1), rtol=1e-5, atol=1e-5)


def test_subsampling_layer_test(tmp_path):
    run_layer_test(TrainableSubsampling, dict(pool_size=2, activation=scaled_tanh), (2, 6, 6, 3),
                   expected_output_shape=(2, 3, 3, 3), expected_trainable_weights=2,
                   expected_params=6, tmp_path=tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    (dict(pool_size=0), "Received: pool_size=0"),
    (dict(pool_size=(2, 2, 2)), "Received: pool_size=\\(2, 2, 2\\)"),
    (dict(strides=-1), "Received: strides=-1"),
    (dict(padding="full"), "Received: padding='full'"),
    (dict(rounding="round"), "Received: rounding='round'"),
])
def test_subsampling_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainableSubsampling(**kwargs)


def test_subsampling_shape_errors():
    with pytest.raises(layers.ShapeError, match="not a whole number"):
        TrainableSubsampling(rounding="exact").build((None, 7, 7, 6))
    with pytest.raises(ValueError, match="number of maps\\) must be known"):
        TrainableSubsampling().build((None, 8, 8, None))


# ---------------------------------------------------------------------------
# Connection-table convolution (C3).

# Table I, read as the S2 maps each C3 map takes (LeCun et al. 1998).
C3_SUBSETS = [(0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
              (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
              (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5), (0, 1, 2, 3, 4, 5)]


def table_conv_reference(x, packed, bias, table, strides, pads, out_size):
    """Output map k = Σ over its connected input maps d of corr(x_d, filter_(d,k)) + b_k,
    the packed filters in column order (output map, then input map)."""
    kernel_size = packed.shape[:2]
    windows = _windows(x, kernel_size, strides, pads, out_size)  # (B, H2, W2, F, F, D1)
    table = np.asarray(table)
    out = np.zeros(windows.shape[:3] + (table.shape[1],))
    i = 0
    for k in range(table.shape[1]):
        for d in range(table.shape[0]):
            if table[d, k]:
                out[..., k] += np.einsum("bhwij,ij->bhw", windows[..., d], packed[:, :, i])
                i += 1
    return out + bias


def test_c3_table_is_table_one():
    table = np.array(LENET5_C3_TABLE)
    assert table.shape == (6, 16)
    assert [tuple(np.flatnonzero(table[:, k])) for k in range(16)] == C3_SUBSETS
    assert table.sum() == 60


def test_c3_parameters():
    c3 = ConnectionTableConv2D(16, 5, LENET5_C3_TABLE, name="C3")
    y = c3(RNG(0).standard_normal((1, 14, 14, 6)).astype("float32"))
    assert y.shape == (1, 10, 10, 16)
    assert c3.count_params() == 1516  # 60 connections × 25 + 16 biases
    assert len(c3.trainable_weights) == 2
    assert c3.kernel.shape == (5, 5, 60)
    arithmetic = c3.explain()
    assert (arithmetic.weights, arithmetic.biases, arithmetic.params) == (1500, 16, 1516)
    assert arithmetic.multiply_adds == 10 * 10 * 1500  # 151,600 connections minus the biases'
    assert arithmetic.formulas[-1].startswith("60 connections × 5·5 = 1,500 weights")
    dense = _np(c3.dense_kernel())
    assert dense.shape == (5, 5, 6, 16)
    np.testing.assert_array_equal(np.abs(dense).sum(axis=(0, 1)) > 0,
                                  np.array(LENET5_C3_TABLE, bool))


@pytest.mark.parametrize("seed, size, depth, filters, kernel_size, strides, padding", [
    (0, 14, 6, 16, 5, 1, 0),   # C3 shape with a random table
    (1, 9, 3, 4, 3, 2, 1),
    (2, 8, 4, 5, (3, 2), (1, 2), ((1, 0), (2, 1))),
])
def test_table_conv_matches_reference(seed, size, depth, filters, kernel_size, strides, padding):
    rng = RNG(seed)
    table = (rng.random((depth, filters)) < 0.5).astype(int)
    table[rng.integers(depth), :] = 1  # every output map has an input
    layer = ConnectionTableConv2D(filters, kernel_size, table.tolist(), strides, padding)
    x = rng.standard_normal((2, size, size, depth)).astype("float32")
    layer.build(x.shape)
    packed = rng.standard_normal(layer.kernel.shape).astype("float32")
    bias = rng.standard_normal(filters).astype("float32")
    layer.set_weights([packed, bias])
    fs = layers.arithmetic.normalize_tuple(kernel_size, 2, "kernel_size")
    ss = layers.arithmetic.normalize_tuple(strides, 2, "strides")
    pads = layers.arithmetic.normalize_padding(padding, 2)
    out = [layers.output_size(w, f, s, p) for w, f, s, p in zip((size, size), fs, ss, pads)]
    expected = table_conv_reference(x, packed, bias, table, ss, pads, out)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-4, atol=1e-4)


def test_full_table_is_an_ordinary_conv():
    rng = RNG(3)
    x = rng.standard_normal((2, 8, 8, 3)).astype("float32")
    layer = ConnectionTableConv2D(4, 3, np.ones((3, 4), int), padding="same")
    stock = keras.layers.Conv2D(4, 3, padding="same")
    y = _np(layer(x))
    stock.build(x.shape)
    stock.set_weights([_np(layer.dense_kernel()), _np(layer.bias)])
    np.testing.assert_allclose(y, _np(stock(x)), rtol=1e-5, atol=1e-5)


def test_unconnected_weights_get_no_update():
    rng = RNG(4)
    x = rng.standard_normal((4, 14, 14, 6)).astype("float32")
    target = rng.standard_normal((4, 10, 10, 16)).astype("float32")

    def one_step(layer):
        inputs = keras.Input((14, 14, 6))
        model = keras.Model(inputs, layer(inputs))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        return model

    ours = one_step(ConnectionTableConv2D(16, 5, LENET5_C3_TABLE))
    stock = one_step(keras.layers.Conv2D(16, 5))
    table_layer = ours.layers[-1]
    stock.layers[-1].set_weights([_np(table_layer.dense_kernel()), _np(table_layer.bias)])
    before = _np(table_layer.dense_kernel())
    ours.train_on_batch(x, target)
    stock.train_on_batch(x, target)
    after, stock_after = _np(table_layer.dense_kernel()), _np(stock.layers[-1].kernel)
    connected = np.broadcast_to(np.array(LENET5_C3_TABLE, bool), after.shape)
    # Same gradient where connected; the missing connections stay exactly zero.
    np.testing.assert_allclose(after[connected], stock_after[connected], rtol=1e-4, atol=1e-6)
    assert not np.allclose(after[connected], before[connected])
    assert (after[~connected] == 0).all()
    assert np.abs(stock_after[~connected]).max() > 0  # a dense kernel would have moved them


def test_table_conv_layer_test(tmp_path):
    config = dict(filters=3, kernel_size=3, connections=[[1, 0, 1], [1, 1, 0]], padding=1,
                  activation=scaled_tanh)
    run_layer_test(ConnectionTableConv2D, config, (2, 5, 5, 2), expected_output_shape=(2, 5, 5, 3),
                   expected_trainable_weights=2, expected_params=4 * 9 + 3, tmp_path=tmp_path)
    layer = ConnectionTableConv2D(**config)
    assert json.loads(json.dumps(layer.get_config()))["connections"] == config["connections"]


@pytest.mark.parametrize("connections, filters, message", [
    ([[1, 0], [1]], 2, "rows differ in length"),
    ([[1, 2], [1, 0]], 2, "values other than 0 and 1"),
    ([[1, 0], [1, 0]], 2, "output map\\(s\\) \\[1\\] have no input map"),
    ([1, 0, 1], 3, "got 1 dimension"),
    ([[1, 1, 1]], 2, "3 columns for filters=2"),
])
def test_table_conv_invalid_tables(connections, filters, message):
    with pytest.raises(ValueError, match=message):
        ConnectionTableConv2D(filters, 3, connections)


def test_table_conv_rows_must_match_input_depth():
    layer = ConnectionTableConv2D(16, 5, LENET5_C3_TABLE)
    with pytest.raises(ValueError, match="6 rows \\(input maps\\) but the input has D1=3"):
        layer.build((None, 14, 14, 3))
    with pytest.raises(ValueError, match="D1=4"):
        layer.explain((14, 14, 4))


# ---------------------------------------------------------------------------
# Scaled tanh.


def test_scaled_tanh_values():
    assert _np(scaled_tanh(np.float32(1.0))) == pytest.approx(1.0, abs=1e-5)
    assert _np(scaled_tanh(np.float32(-1.0))) == pytest.approx(-1.0, abs=1e-5)
    x = RNG(0).standard_normal((3, 7)).astype("float32") * 3
    expected = 1.7159 * np.tanh(2 / 3 * x)
    np.testing.assert_allclose(_np(ScaledTanh()(x)), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_np(scaled_tanh(x)), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_np(ScaledTanh(2.0, 0.5)(x)), 2 * np.tanh(0.5 * x), rtol=1e-6,
                               atol=1e-6)


def test_scaled_tanh_layer_test(tmp_path):
    run_layer_test(ScaledTanh, dict(amplitude=1.5, slope=0.8), (2, 4, 4, 3),
                   expected_output_shape=(2, 4, 4, 3), expected_trainable_weights=0,
                   expected_params=0, tmp_path=tmp_path)
    arithmetic = ScaledTanh().explain((28, 28, 6))
    assert arithmetic.kind == "scaled_tanh" and arithmetic.output_shape == (28, 28, 6)
    assert arithmetic.params == 0
    assert arithmetic.formulas[-1].startswith("f(a) = 1.7159·tanh(0.6667·a)")


def test_scaled_tanh_as_activation_saves(tmp_path):
    inputs = keras.Input((6, 6, 2))
    outputs = layers.Conv2D(3, 3, activation=scaled_tanh)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation=scaled_tanh)(outputs))
    x = RNG(1).standard_normal((2, 6, 6, 2)).astype("float32")
    path = tmp_path / "tanh.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_np(reloaded(x)), _np(model(x)), atol=1e-6)
    assert reloaded.layers[1].activation is scaled_tanh


@pytest.mark.parametrize("kwargs, message", [
    (dict(amplitude="big"), "Received: amplitude='big'"),
    (dict(slope=float("inf")), "Received: slope=inf"),
    (dict(slope=True), "Received: slope=True"),
])
def test_scaled_tanh_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScaledTanh(**kwargs)


# ---------------------------------------------------------------------------
# Euclidean RBF output.


def rbf_reference(x, prototypes):
    return ((x.astype("float64")[:, None, :] - prototypes[None, :, :]) ** 2).sum(axis=-1)


def test_rbf_matches_reference():
    rng = RNG(0)
    x = rng.standard_normal((5, 84)).astype("float32")
    layer = EuclideanRBF(10)
    y = _np(layer(x))
    prototypes = _np(layer.prototypes)
    np.testing.assert_allclose(y, rbf_reference(x, prototypes), rtol=1e-5)
    np.testing.assert_allclose(_np(EuclideanRBF(10, as_logits=True)(x)), -y, rtol=1e-5)


def test_rbf_lenet5_output():
    layer = EuclideanRBF(10)
    layer.build((None, 84))
    assert layer.count_params() == 840  # the paper's 84 × 10 prototype values
    assert (len(layer.trainable_weights), len(layer.non_trainable_weights)) == (0, 1)
    prototypes = _np(layer.prototypes)
    assert set(np.unique(prototypes)) == {-1.0, 1.0}
    # Deterministic: NumPy's generator with the documented seed, on every backend.
    expected = np.random.default_rng(1998).choice([-1.0, 1.0], size=(10, 84))
    np.testing.assert_array_equal(prototypes, expected)
    # A prototype is at distance 0 from itself and is the argmax of the logits −y.
    y = _np(layer(prototypes[3:4]))
    assert y[0, 3] == pytest.approx(0.0, abs=1e-4)
    assert np.argmax(-y) == 3
    arithmetic = layer.explain()
    assert (arithmetic.input_shape, arithmetic.output_shape) == ((84,), (10,))
    assert arithmetic.weights == 840 and arithmetic.multiply_adds == 840


@pytest.mark.parametrize("trainable", [False, True])
def test_rbf_prototypes_fixed_unless_asked(trainable):
    inputs = keras.Input((6,))
    layer = EuclideanRBF(3, trainable_prototypes=trainable, as_logits=True)
    model = keras.Model(inputs, layer(keras.layers.Dense(6)(inputs)))
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = _np(layer.prototypes)
    rng = RNG(1)
    model.train_on_batch(rng.standard_normal((8, 6)).astype("float32"), rng.integers(0, 3, 8))
    assert np.array_equal(_np(layer.prototypes), before) != trainable


def test_rbf_layer_test(tmp_path):
    run_layer_test(EuclideanRBF, dict(units=4), (3, 12), expected_output_shape=(3, 4),
                   expected_trainable_weights=0, expected_non_trainable_weights=1,
                   expected_params=48, tmp_path=tmp_path)
    run_layer_test(EuclideanRBF, dict(units=4, trainable_prototypes=True, as_logits=True,
                                      prototype_initializer=RandomSignCode(7)), (3, 12),
                   expected_trainable_weights=1, expected_non_trainable_weights=0,
                   tmp_path=tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    (dict(units=0), "Received: units=0"),
    (dict(units=10, prototype_initializer="nonsense"), "nonsense"),
])
def test_rbf_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EuclideanRBF(**kwargs)


def test_rbf_invalid_seed_and_input():
    with pytest.raises(ValueError, match="Received: seed=-1"):
        RandomSignCode(-1)
    with pytest.raises(ValueError, match="features\\) must be known"):
        EuclideanRBF(10).build((None, None))


def test_rbf_rubbish_term_makes_cross_entropy_equal_eq9():
    """softplus(−j − logsumexp(−y)) + CE over −y = y_D + log(e^{−j} + Σ e^{−y_i}) (Eq. 9)."""
    from keras import ops

    rng = np.random.default_rng(3)
    x = rng.uniform(-1.7, 1.7, (5, 84)).astype("float32")
    labels = rng.integers(0, 10, 5)
    j = 10.0
    rbf = layers.EuclideanRBF(10, rubbish=j)
    y = ops.convert_to_numpy(rbf(x)).astype("float64")  # e^{−160} underflows float32
    extra = float(ops.convert_to_numpy(rbf.losses[0]))
    ce = np.mean(y[np.arange(5), labels] + np.log(np.exp(-y).sum(axis=1)))
    eq9 = np.mean(y[np.arange(5), labels] + np.log(np.exp(-j) + np.exp(-y).sum(axis=1)))
    np.testing.assert_allclose(ce + extra, eq9, rtol=1e-5)
    assert layers.EuclideanRBF.from_config(rbf.get_config()).rubbish == j
    with pytest.raises(ValueError, match="Received: rubbish='big'"):
        layers.EuclideanRBF(10, rubbish="big")
    # Without j the layer adds nothing to the loss.
    plain = layers.EuclideanRBF(10)
    plain(x)
    assert plain.losses == []
