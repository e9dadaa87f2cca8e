"""LeNet-5 against LeCun et al. 1998: layer shapes and trainable parameters per layer."""

import numpy as np
import pytest

import cnn_zoo as zoo
from tests.layer_testing import run_model_saving_test

# Sec. II-B of the paper: trainable parameters of each layer.
PAPER_PARAMS = {"c1": 156, "s2": 12, "c3": 1_516, "s4": 32, "c5": 48_120, "f6": 10_164}
PAPER_VOLUMES = {"c1": (28, 28, 6), "s2": (14, 14, 6), "c3": (10, 10, 16), "s4": (5, 5, 16),
                 "c5": (1, 1, 120), "f6": (84,), "output": (10,)}
# Connections (the paper's count): one per weight use plus one per bias per output cell.
PAPER_CONNECTIONS = {"c1": 122_304, "c3": 151_600}


def trainable(layer):
    return sum(int(np.prod(w.shape)) for w in layer.trainable_weights)


@pytest.fixture(scope="module")
def lenet5():
    return zoo.get_model("lenet5")


def test_per_layer_parameters_equal_the_paper(lenet5):
    for name, params in PAPER_PARAMS.items():
        assert trainable(lenet5.get_layer(name)) == params, name
    assert trainable(lenet5) == 60_000
    # The RBF prototypes (84 × 10, ±1) are fixed, as in the paper.
    rbf = lenet5.get_layer("output")
    assert trainable(rbf) == 0 and lenet5.count_params() == 60_840
    assert set(np.unique(rbf.get_weights()[0])) == {-1.0, 1.0}


def test_volumes_equal_the_paper(lenet5):
    for name, volume in PAPER_VOLUMES.items():
        assert tuple(lenet5.get_layer(name).output.shape[1:]) == volume, name


def test_connections_equal_the_paper(lenet5):
    for name, connections in PAPER_CONNECTIONS.items():
        arithmetic = lenet5.get_layer(name).explain()
        cells = int(np.prod(arithmetic.output_shape[:-1]))
        assert arithmetic.multiply_adds + cells * arithmetic.biases == connections, name


def test_c3_follows_table_one(lenet5):
    from cnn_zoo import layers
    table = np.array(layers.LENET5_C3_TABLE)
    assert table.shape == (6, 16)
    # Maps 0-5 see 3 S2 maps, 6-14 see 4, map 15 sees all 6: 60 connections of 25 weights.
    assert list(table.sum(axis=0)) == [3] * 6 + [4] * 9 + [6]
    c3 = lenet5.get_layer("c3")
    dense = np.asarray(c3.dense_kernel() if hasattr(c3, "dense_kernel") else c3.kernel)
    assert dense.shape == (5, 5, 6, 16)
    unconnected = dense[:, :, table == 0]
    assert np.all(unconnected == 0)


def test_scaled_tanh_and_softmax_over_negative_distances(lenet5):
    x = np.random.default_rng(0).random((3, 32, 32, 1), dtype="float32")
    y = lenet5.predict(x, verbose=0)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    distances = lenet5.get_layer("output").output
    probe = zoo.models.builder_parts.keras.Model(lenet5.inputs, distances)
    d = probe.predict(x, verbose=0)
    np.testing.assert_allclose(y, np.exp(-d) / np.exp(-d).sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    assert lenet5.get_layer("c1").activation.__name__ == "scaled_tanh"


def test_softmax_head_variant():
    model = zoo.get_model("lenet5", head="softmax")
    assert trainable(model) == 60_000 + 850
    with pytest.raises(ValueError, match="Received: head='svm'"):
        zoo.get_model("lenet5", head="svm")


def test_modern_variant_counts():
    model = zoo.get_model("lenet5_modern")
    per_layer = {name: trainable(model.get_layer(name)) for name in ("c1", "c3", "c5", "f6", "output")}
    assert per_layer == {"c1": 156, "c3": 2_416, "c5": 48_120, "f6": 10_164, "output": 850}
    assert model.count_params() == 61_706


@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern"])
def test_trains_one_step_and_reloads(name, tmp_path):
    model = zoo.get_model(name)
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 32, 32, 1), dtype="float32"), rng.integers(0, 10, 8)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.train_on_batch(x, y))
    run_model_saving_test(model, x, tmp_path)


def test_input_too_small_fails_with_the_arithmetic():
    from cnn_zoo import layers
    with pytest.raises(layers.ShapeError, match="c5"):
        zoo.get_model("lenet5_modern", input_shape=(24, 24, 1))
