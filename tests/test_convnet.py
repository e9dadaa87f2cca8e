"""The parametric stack: spec grammar, per-stage hyperparameters, errors before building."""

import numpy as np
import pytest

from cnn_zoo import layers
import cnn_zoo as zoo
from tests.layer_testing import run_model_saving_test
from cnn_zoo.models.convnet_spec import PLANNER, SpecError, parse_spec, plan_convnet


@pytest.mark.parametrize("spec, stages, fc", [
    ("[(CONV-RELU)*2-POOL]*3-(FC-RELU)*2-SOFTMAX", [(2, True)] * 3, 2),
    ("[(CONV-RELU)*1]*1-SOFTMAX", [(1, False)], 0),
    ("[(conv-relu)-pool] - (fc-relu) - softmax", [(1, True)], 1),
    ("[(CONV-RELU)*3-POOL]*1-[(CONV-RELU)*1]*2-(FC-RELU)*1-SOFTMAX",
     [(3, True), (1, False), (1, False)], 1),
])
def test_grammar(spec, stages, fc):
    parsed, k = parse_spec(spec)
    assert [(s.convs, s.pool) for s in parsed] == stages
    assert k == fc


@pytest.mark.parametrize("spec, fragment", [
    ("(CONV-RELU)*2-SOFTMAX", "must start with a stage group"),
    ("[(CONV-RELU)*2-POOL]*3", "must end with"),
    ("[(CONV-RELU)*2-POOL]*3-(FC)-SOFTMAX", "must end with"),
    ("[(CONV-RELU)*0-POOL]*3-SOFTMAX", "N and M must be >= 1"),
    ("[(CONV-RELU)*2-POL]*3-SOFTMAX", "cannot read the stage group"),
])
def test_grammar_errors(spec, fragment):
    with pytest.raises(SpecError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_spec(spec)


def test_plan_shapes_per_stage_hyperparameters():
    plan = plan_convnet((32, 32, 3), "[(CONV-RELU)*2-POOL]*2-(FC-RELU)*1-SOFTMAX",
                        filters=[16, [32, 64]], kernel_size=[5, 3], strides=1, padding=[2, 1],
                        fc_units=[100])
    volumes = {layer.name: layer.output for layer in plan.layers}
    assert volumes == {
        "stage1_conv1": (32, 32, 16), "stage1_conv2": (32, 32, 16), "stage1_pool": (16, 16, 16),
        "stage2_conv1": (16, 16, 32), "stage2_conv2": (16, 16, 64), "stage2_pool": (8, 8, 64),
        "fc1": (100,),
    }


def test_infeasible_shape_names_the_stage():
    with pytest.raises(layers.ShapeError, match=r"stage2_conv1: \(16 − 5 \+ 2·0\)/2 \+ 1 = 6.5") as err:
        zoo.get_model("convnet", input_shape=(32, 32, 3),
                      spec="[(CONV-RELU)*1-POOL]*2-SOFTMAX", kernel_size=[3, 5], padding=[1, 0],
                      strides=[1, 2])
    assert err.value.layer == "stage2_conv1"
    # 16 − 5 = 11 is odd: no P works with S=2; S=1 does, and so do even F.
    assert err.value.suggestions == {"padding": [], "strides": [1], "kernel_size": [2, 4, 6]}


def test_vanishing_shape():
    with pytest.raises(layers.ShapeError, match="stage4_pool.*leaves no whole window"):
        plan_convnet((8, 8, 1), "[(CONV-RELU)*1-POOL]*4-SOFTMAX", padding=1)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(filters=[8, 16, 32]), "one per stage (2)"),
    (dict(kernel_size=[[3, 3], 3]), "stage 1 needs 1 values"),
    (dict(padding=-1), "`padding` values must be ints >= 0"),
    (dict(fc_units=[10, 10]), "one per FC layer (1)"),
])
def test_argument_errors(kwargs, fragment):
    with pytest.raises(SpecError) as err:
        plan_convnet((28, 28, 1), "[(CONV-RELU)*1-POOL]*2-(FC-RELU)*1-SOFTMAX", **kwargs)
    assert fragment in str(err.value)


def test_builds_trains_and_reloads(tmp_path):
    model = zoo.get_model("convnet", input_shape=(28, 28, 1), num_classes=10,
                          spec="[(CONV-RELU)*2-POOL]*2-(FC-RELU)*1-SOFTMAX", filters=[4, 8], fc_units=16)
    # Parameters worked out from K, F, D1 per layer: (F·F·D1)·K + K.
    expected = (9 * 1 * 4 + 4) + (9 * 4 * 4 + 4) + (9 * 4 * 8 + 8) + (9 * 8 * 8 + 8) \
        + (7 * 7 * 8 * 16 + 16) + (16 * 10 + 10)
    assert model.count_params() == expected
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 28, 28, 1), dtype="float32"), rng.integers(0, 10, 8)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.train_on_batch(x, y))
    run_model_saving_test(model, x, tmp_path)


def test_floor_rounding_accepts_what_exact_refuses():
    kwargs = dict(input_shape=(28, 28, 1), spec="[(CONV-RELU)*1-POOL]*3-SOFTMAX", filters=4)
    with pytest.raises(layers.ShapeError):
        zoo.get_model("convnet", **kwargs)
    model = zoo.get_model("convnet", rounding="floor", **kwargs)
    assert tuple(model.get_layer("stage3_pool").output.shape[1:]) == (3, 3, 4)


def test_batch_norm_makes_conv_bn_relu_without_conv_bias(tmp_path):
    kwargs = dict(input_shape=(28, 28, 1), spec="[(CONV-RELU)*1-POOL]*2-(FC-RELU)*1-SOFTMAX",
                  filters=[4, 8], fc_units=16)
    plain = zoo.get_model("convnet", **kwargs)
    model = zoo.get_model("convnet", batch_norm=True, **kwargs)
    # Each conv loses its K biases and gains BN's gamma, beta (trainable) and mean, variance.
    assert model.count_params() - plain.count_params() == (4 + 8) * (4 - 1)
    assert [layer.name for layer in model.layers[1:4]] == ["stage1_conv1", "stage1_conv1_bn", "stage1_conv1_relu"]
    assert not model.get_layer("stage1_conv1").use_bias
    card = zoo.model_card(model)
    assert card.totals.params == model.count_params()
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype="float32")
    run_model_saving_test(model, x, tmp_path)
    with pytest.raises(ValueError, match="Received: batch_norm='yes'"):
        zoo.get_model("convnet", batch_norm="yes", **kwargs)


def test_stage_dropout_follows_each_stage_and_adds_no_weights(tmp_path):
    kwargs = dict(input_shape=(28, 28, 1), spec="[(CONV-RELU)*2-POOL]*1-[(CONV-RELU)*1]*1-(FC-RELU)*1-SOFTMAX",
                  filters=[4, 8], fc_units=16)
    plain = zoo.get_model("convnet", **kwargs)
    model = zoo.get_model("convnet", stage_dropout=0.25, dropout=0.5, **kwargs)
    names = [layer.name for layer in model.layers]
    # After stage 1's pool, and after stage 2's only conv (a stage without a pool).
    assert names[names.index("stage1_pool") + 1] == "stage1_dropout"
    assert names[names.index("stage2_conv1") + 1] == "stage2_dropout"
    assert names[names.index("fc1") + 1] == "fc1_dropout"
    assert model.get_layer("stage1_dropout").rate == 0.25
    assert model.count_params() == plain.count_params()
    assert "stage1_dropout" not in [layer.name for layer in plain.layers]
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype="float32")
    run_model_saving_test(model, x, tmp_path)
    for arg, bad in (("stage_dropout", 1.0), ("dropout", -0.1), ("stage_dropout", True)):
        with pytest.raises(ValueError, match=rf"`{arg}` must be a number in \[0, 1\). Received: {arg}={bad}"):
            zoo.get_model("convnet", **{arg: bad}, **kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(spec="[(CONV-RELU)*2-POOL]*2-(FC-RELU)*1-SOFTMAX", filters=[32, 64], fc_units=[128]),
    dict(spec="[(CONV-RELU)*1-POOL]*2-(FC-RELU)*2-SOFTMAX", filters=[6, 16], kernel_size=5, padding=[2, 0],
         fc_units=[120, 84]),
])
def test_plan_multiply_adds_match_the_model_card(kwargs):
    plan = plan_convnet((28, 28, 1), **kwargs)
    card = zoo.model_card(zoo.get_model("convnet", input_shape=(28, 28, 1), num_classes=10, **kwargs))
    classifier = plan.layers[-1].output[0] * 10
    assert plan.multiply_adds + classifier == card.totals.multiply_adds


def test_plan_multiply_adds_of_the_fashion_mnist_default():
    # W2·H2·(F·F·D1)·K per conv, inputs·units for fc1: worked out by hand.
    expected = 28 * 28 * 9 * 1 * 32 + 28 * 28 * 9 * 32 * 32 + 14 * 14 * 9 * 32 * 64 + 14 * 14 * 9 * 64 * 64 \
        + 7 * 7 * 64 * 128
    assert plan_convnet((28, 28, 1), filters=[32, 64], fc_units=[128]).multiply_adds == expected == 18_690_560


# --------------------------------------------------------------------------- bounds

@pytest.mark.parametrize("repeat", ["100000000000", "99999999999999999999", "100000", "1001"])
def test_depth_is_bounded_before_anything_is_allocated(repeat):
    """A MemoryError, an OverflowError and a hang in the builder, before the bound."""
    spec = f"[(CONV-RELU)*1]*{repeat}-SOFTMAX"
    with pytest.raises(SpecError, match=rf"has {int(repeat):,} layers; at most 1,000 are allowed"):
        parse_spec(spec)
    with pytest.raises(SpecError, match="at most 1,000"):
        zoo.get_model("convnet", input_shape=(8, 8, 1), spec=spec)
    with pytest.raises(PLANNER.rejects, match="at most 1,000"):  # the tuner rejects it as infeasible
        PLANNER.plan((8, 8, 1), {"spec": spec})
    for spec in (f"[(CONV-RELU)*{repeat}]-SOFTMAX", f"[(CONV-RELU)*1]-(FC-RELU)*{repeat}-SOFTMAX"):
        with pytest.raises(SpecError, match="at most 1,000"):
            parse_spec(spec)
    assert len(parse_spec("[(CONV-RELU)*1]*999-(FC-RELU)*1-SOFTMAX")[0]) == 999  # the bound itself


def test_a_repeat_count_of_thousands_of_digits():
    with pytest.raises(SpecError, match="a 5,000-digit number of times; at most 1,000 layers"):
        parse_spec(f"[(CONV-RELU)*1]*{'9' * 5000}-SOFTMAX")


@pytest.mark.parametrize("input_shape, kwargs, fragment", [
    ((100000, 100000, 3), {}, r"^the input 100000×100000×3 holds 30,000,000,000 values per image; at most 2,147,483,647"),
    ((28, 28, 1), {"filters": 10**7}, r"stage1_conv1: its output 28×28×10000000 holds 7,840,000,000 values"),
    ((28, 28, 1), {"fc_units": 10**6, "spec": "[(CONV-RELU)*1]-(FC-RELU)*1-SOFTMAX"},
     r"fc1: 25,088,000,000 weights; at most 2,147,483,647 per layer"),
    ((1024, 1024, 3), {"filters": 256, "spec": "[(CONV-RELU)*30]-SOFTMAX"},
     r"stage1_conv3: the stack needs 1,\d{3},\d{3},\d{3},\d{3} multiply-adds per image up to here; "
     r"at most 1,000,000,000,000"),
])
def test_width_is_bounded_by_the_arithmetic(input_shape, kwargs, fragment):
    with pytest.raises(SpecError, match=fragment):
        plan_convnet(input_shape, **kwargs)
    with pytest.raises(SpecError, match=fragment):
        zoo.get_model("convnet", input_shape=input_shape, **kwargs)


def test_spec_errors_are_zoo_errors():
    from cnn_zoo.errors import ZooError

    assert issubclass(SpecError, ZooError) and issubclass(SpecError, ValueError)
