"""GoogLeNet against the paper: Szegedy et al. 2014, Table 1, and the reference Caffe model."""

import numpy as np
import pytest

from cnn_zoo import layers
import cnn_zoo as zoo
from tests.layer_testing import run_model_saving_test

# Table 1: output volume of every stage on a 224×224×3 input.
TABLE1_VOLUMES = {
    "conv1": (112, 112, 64), "pool1": (56, 56, 64), "conv2": (56, 56, 192), "pool2": (28, 28, 192),
    "inception_3a": (28, 28, 256), "inception_3b": (28, 28, 480), "pool3": (14, 14, 480),
    "inception_4a": (14, 14, 512), "inception_4b": (14, 14, 512), "inception_4c": (14, 14, 512),
    "inception_4d": (14, 14, 528), "inception_4e": (14, 14, 832), "pool4": (7, 7, 832),
    "inception_5a": (7, 7, 832), "inception_5b": (7, 7, 1024), "avg_pool": (1024,),
    "predictions": (1000,),
}
# Weights (no biases) of each inception stage, from the six widths of Table 1.
TABLE1_INCEPTION_WEIGHTS = {
    "inception_3a": 163_328, "inception_3b": 388_096, "inception_4a": 375_552,
    "inception_4b": 448_512, "inception_4c": 509_440, "inception_4d": 604_672,
    "inception_4e": 867_328, "inception_5a": 1_042_432, "inception_5b": 1_442_816,
}


@pytest.fixture(scope="module")
def caffe():
    return zoo.get_model("googlenet")


@pytest.fixture(scope="module")
def torchvision_layout():
    return zoo.get_model("googlenet_bn")


def test_every_stage_volume_equals_table1(caffe):
    for name, volume in TABLE1_VOLUMES.items():
        assert tuple(caffe.get_layer(name).output.shape[1:]) == volume, name


def test_reference_caffe_parameter_count(caffe):
    # bvlc_googlenet without the auxiliary heads: conv biases, LRN, true 5×5.
    assert caffe.count_params() == 6_998_552


def test_inception_weights_follow_the_table_widths(caffe):
    for name, weights in TABLE1_INCEPTION_WEIGHTS.items():
        block = caffe.get_layer(name)
        biases = sum(w.shape[-1] for w in block.trainable_weights if len(w.shape) == 1)
        assert block.count_params() - biases == weights, name


def test_lrn_where_the_caffe_model_has_it(caffe):
    names = [layer.name for layer in caffe.layers]
    assert names.index("norm1") == names.index("pool1") + 1
    assert names.index("norm2") == names.index("conv2") + 1
    assert names.index("pool2") == names.index("norm2") + 1
    lrn = caffe.get_layer("norm1")
    assert (lrn.size, lrn.alpha, lrn.beta) == (5, 1e-4, 0.75)


def test_true_5x5_branches_and_ceil_pools(caffe):
    block = caffe.get_layer("inception_4a")
    assert block.branch5_kernel_size == 5
    for pool in ("pool1", "pool2", "pool3", "pool4"):
        assert caffe.get_layer(pool).rounding == "ceil"


def test_torchvision_layout_parameter_count(torchvision_layout):
    trainable = sum(int(np.prod(w.shape)) for w in torchvision_layout.trainable_weights)
    assert trainable == 6_624_904
    # Keras also counts BN's moving mean and variance.
    assert torchvision_layout.count_params() == 6_639_464
    assert "norm1" not in [layer.name for layer in torchvision_layout.layers]
    for name, volume in TABLE1_VOLUMES.items():
        assert tuple(torchvision_layout.get_layer(name).output.shape[1:]) == volume, name


def test_auxiliary_classifiers():
    model = zoo.get_model("googlenet", aux_classifiers=True)
    # Each head: 1×1 conv 128, FC 1024, FC 1000 (Caffe counts, with biases).
    assert model.count_params() == 6_998_552 + 3_188_840 + 3_190_888
    assert tuple(model.get_layer("aux1_pool").output.shape[1:]) == (4, 4, 512)
    assert tuple(model.get_layer("aux2_pool").output.shape[1:]) == (4, 4, 528)
    family = zoo.get_family("googlenet")
    assert family.loss_weights(model) == {"predictions": 1.0, "aux1": 0.3, "aux2": 0.3}
    inference = family.inference_model(model)
    assert inference.count_params() == 6_998_552
    assert model.get_layer("aux1_dropout").rate == 0.7


def test_small_input_runs_where_the_arithmetic_allows():
    model = zoo.get_model("googlenet", input_shape=(32, 32, 1), num_classes=10)
    # 32 → conv1 16 → pool1 8 → pool2 4 → pool3 2 → pool4 1 (ceil: the window starts inside).
    assert tuple(model.get_layer("pool4").output.shape[1:]) == (1, 1, 832)
    x = np.random.default_rng(0).random((2, 32, 32, 1), dtype="float32")
    y = model.predict(x, verbose=0)
    assert y.shape == (2, 10)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)


def test_too_small_input_fails_with_the_arithmetic():
    with pytest.raises(layers.ShapeError, match=r"pool\d: \(\d+ − 3 \+ 2·0\)/2 \+ 1"):
        zoo.get_model("googlenet", input_shape=(8, 8, 3))
    with pytest.raises(layers.ShapeError, match="aux1_pool"):
        zoo.get_model("googlenet", input_shape=(32, 32, 3), aux_classifiers=True)


@pytest.mark.parametrize("name", ["googlenet", "googlenet_bn"])
def test_trains_one_step_and_reloads(name, tmp_path):
    model = zoo.get_model(name, input_shape=(32, 32, 3), num_classes=4)
    rng = np.random.default_rng(0)
    x = rng.random((4, 32, 32, 3), dtype="float32")
    y = rng.integers(0, 4, 4)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()[:2]]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()[:2]))
    run_model_saving_test(model, x, tmp_path)


def test_feature_extractor_and_pooling():
    features = zoo.get_model("googlenet", include_top=False, input_shape=(64, 64, 3))
    assert tuple(features.output.shape[1:]) == (2, 2, 1024)
    pooled = zoo.get_model("googlenet", include_top=False, pooling="avg", input_shape=(64, 64, 3))
    assert tuple(pooled.output.shape[1:]) == (1024,)
