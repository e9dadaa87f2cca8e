"""Model cards of small Keras models, checked against hand-worked arithmetic."""

import dataclasses
import json
import math

import keras
import pytest
from keras import layers as K

from cnn_zoo import layers
import cnn_zoo as zoo
from cnn_zoo.layers.arithmetic import ReceptiveField
from cnn_zoo.card import model_card


def _rf(size, jump, axes=2):
    return (ReceptiveField(size, jump),) * axes


def _lenet_like():
    """conv5/1 -> pool2/2 -> BN -> conv5/1 -> flatten -> dense -> dropout -> dense, 32×32×1."""
    inputs = keras.Input((32, 32, 1))
    x = K.Conv2D(6, 5, activation="tanh", name="c1")(inputs)       # (B, 28, 28, 6)
    x = K.MaxPooling2D(2, name="s2")(x)                              # (B, 14, 14, 6)
    x = K.BatchNormalization(name="bn")(x)
    x = K.Conv2D(16, 5, name="c3")(x)                                # (B, 10, 10, 16)
    x = K.Flatten(name="flatten")(x)                                 # (B, 1600)
    x = K.Dense(84, name="f6")(x)
    x = K.Dropout(0.5, name="drop")(x)
    outputs = K.Dense(10, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs, name="lenet_like")


@pytest.fixture(scope="module")
def lenet_like_card():
    model = _lenet_like()
    return model, model_card(model)


def _row(card, name):
    (row,) = [r for r in card.rows if r.name == name]
    return row


def test_rows_follow_the_layers_and_sum_to_count_params(lenet_like_card):
    model, card = lenet_like_card
    assert [r.name for r in card.rows] == ["c1", "s2", "bn", "c3", "flatten", "f6", "drop", "out"]
    assert card.input_shape == (32, 32, 1)
    assert sum(r.weights + r.non_trainable for r in card.rows) == model.count_params()
    totals = card.totals
    assert totals.params == model.count_params()
    assert totals.weights == sum(v.numpy().size for v in model.trainable_weights)
    assert totals.non_trainable == 12  # BN's moving mean and variance, 6 each
    assert _row(card, "bn").weights == 12  # gamma and beta


def test_conv_row_hand_worked(lenet_like_card):
    c1 = _row(lenet_like_card[1], "c1")
    assert (c1.type, c1.input_shape, c1.output_shape) == ("Conv2D", (32, 32, 1), (28, 28, 6))
    assert c1.formula == "(32 − 5 + 2·0)/1 + 1 = 28"
    assert c1.weights == (5 * 5 * 1) * 6 + 6 == 156
    assert c1.multiply_adds == 28 * 28 * (5 * 5 * 1) * 6 == 117_600
    assert c1.receptive_field == _rf(5, 1)


def test_multiply_adds_of_every_row(lenet_like_card):
    card = lenet_like_card[1]
    assert {r.name: r.multiply_adds for r in card.rows} == {
        "c1": 117_600, "s2": 0, "bn": 0, "c3": 10 * 10 * (5 * 5 * 6) * 16, "flatten": 0,
        "f6": 1600 * 84, "drop": 0, "out": 84 * 10,
    }
    assert card.totals.multiply_adds == 117_600 + 240_000 + 134_400 + 840
    assert _row(card, "f6").formula == "1600·84 + 84"
    assert _row(card, "flatten").formula == "10·10·16 = 1,600"


def test_receptive_field_of_a_stack(lenet_like_card):
    card = lenet_like_card[1]
    # conv5/1 -> pool2/2 -> conv5/1: r = 5, then 5 + 1·1 = 6 (j 2), then 6 + 4·2 = 14.
    assert _row(card, "s2").receptive_field == _rf(6, 2)
    assert _row(card, "bn").receptive_field == _rf(6, 2)
    assert _row(card, "c3").receptive_field == _rf(14, 2)
    # Flattening a 10-wide map with jump 2 sees (10 − 1)·2 + 14 = 32: the whole input.
    assert _row(card, "flatten").receptive_field[0].size == 32
    assert _row(card, "out").receptive_field[0].size == 32


def test_card_as_data_and_as_text(lenet_like_card):
    model, card = lenet_like_card
    data = json.loads(json.dumps(card.as_dict()))
    assert data["totals"]["params"] == model.count_params()
    assert data["rows"][0]["receptive_field"] == [{"size": 5, "jump": 1}] * 2
    assert data["rows"][0]["output_shape"] == [28, 28, 6]
    text = str(card)
    lines = text.splitlines()
    assert lines[0] == "lenet_like: input 32×32×1"
    assert lines[1].split()[:4] == ["layer", "type", "input", "output"]
    assert any(line.startswith("c1 ") and "(32 − 5 + 2·0)/1 + 1 = 28" in line
               and "117,600" in line and "5 (1)" in line for line in lines)
    assert f"params: {model.count_params():,}" in text
    assert len({len(line) for line in lines[1:3]}) == 1  # header and rule line up


def test_same_padding_and_inexact_strides_show_their_arithmetic():
    inputs = keras.Input((32, 32, 3))
    x = K.Conv2D(4, 3, strides=2, padding="same", name="same")(inputs)
    y = K.Conv2D(4, 5, strides=2, name="floored")(inputs)
    model = keras.Model(inputs, [x, y])
    card = model_card(model)
    # 'same' with S = 2 pads 1 cell in all, after: (32 − 3 + 0 + 1)/2 + 1 = 16.
    assert _row(card, "same").formula == "(32 − 3 + 0 + 1)/2 + 1 = 16"
    assert _row(card, "same").output_shape == (16, 16, 4)
    # (32 − 5)/2 + 1 = 14.5: Keras floors, and the card says so.
    assert _row(card, "floored").formula == "(32 − 5 + 2·0)/2 + 1 = 14 (floor)"


def test_per_axis_kernel_and_global_pooling():
    inputs = keras.Input((12, 20, 1))
    x = K.Conv2D(2, (3, 5), name="conv")(inputs)                    # (B, 10, 16, 2)
    x = K.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, x)
    conv, gap = model_card(model).rows
    assert conv.formula == "axis 0: (12 − 3 + 2·0)/1 + 1 = 10; axis 1: (20 − 5 + 2·0)/1 + 1 = 16"
    assert conv.receptive_field == (ReceptiveField(3, 1), ReceptiveField(5, 1))
    assert gap.formula == "mean over 10×16"
    # The global pool sees the whole input on both axes.
    assert [f.size for f in gap.receptive_field] == [12, 20]


def test_branches_merge_with_the_largest_receptive_field():
    inputs = keras.Input((8, 8, 3))
    a = K.Conv2D(4, 1, name="one")(inputs)
    b = K.Conv2D(2, 3, padding="same", name="three")(inputs)
    x = K.Concatenate(name="concat")([a, b])
    x = keras.ops.add(x, x)  # a bare op: a row too, pass-through
    model = keras.Model(inputs, x)
    card = model_card(model)
    concat = _row(card, "concat")
    assert concat.input_shape == [(8, 8, 4), (8, 8, 2)]
    assert concat.formula == "4 + 2 = 6"
    assert concat.receptive_field == _rf(3, 1)
    add = card.rows[-1]
    assert add.type.startswith("ops.") and add.receptive_field == _rf(3, 1)
    assert card.totals.params == model.count_params()


def test_nested_model_counts_as_one_window():
    sub_in = keras.Input((15, 15, 4))
    y = K.Conv2D(4, 3, name="a")(sub_in)
    y = K.Conv2D(4, 3, name="b")(y)
    block = keras.Model(sub_in, y, name="block")                     # r 5, j 1
    inputs = keras.Input((32, 32, 1))
    x = K.Conv2D(4, 3, strides=2, name="stem")(inputs)              # (B, 15, 15, 4), r 3, j 2
    x = block(x)
    model = keras.Model(inputs, x)
    card = model_card(model)
    row = _row(card, "block")
    assert row.multiply_adds == model_card(block).totals.multiply_adds == \
        13 * 13 * 36 * 4 + 11 * 11 * 36 * 4
    assert row.receptive_field == _rf(3 + (5 - 1) * 2, 2)
    assert card.totals.params == model.count_params()


def test_sequential_model():
    model = keras.Sequential([keras.Input((6, 6, 2)), K.Conv2D(3, 3), K.Flatten(), K.Dense(2)])
    card = model_card(model)
    assert [r.type for r in card.rows] == ["Conv2D", "Flatten", "Dense"]
    assert card.totals.params == model.count_params()


def test_cnn_zoo_layers_explain_themselves():
    inputs = keras.Input((10, 10, 3))
    x = layers.Conv2D(8, 5, padding=2, name="conv")(inputs)          # (B, 10, 10, 8)
    x = layers.MaxPool2D(3, 2, rounding="ceil", name="pool")(x)      # (B, 5, 5, 8)
    model = keras.Model(inputs, x)
    conv, pool = model_card(model).rows
    assert conv.formula == "(10 − 5 + 2·2)/1 + 1 = 10"
    assert conv.multiply_adds == 10 * 10 * (5 * 5 * 3) * 8
    assert conv.weights == (5 * 5 * 3) * 8 + 8
    assert pool.formula == "(10 − 3 + 2·0)/2 + 1 = 5 (ceil)"
    assert pool.output_shape == (5, 5, 8)
    assert pool.receptive_field == _rf(5 + 2, 2)


def test_unknown_input_size_and_channels_first_are_refused():
    inputs = keras.Input((None, None, 3))
    with pytest.raises(ValueError, match="known input size"):
        model_card(keras.Model(inputs, K.Conv2D(2, 3)(inputs)))
    inputs = keras.Input((3, 8, 8))
    with pytest.raises(ValueError, match="channels-last"):
        model_card(keras.Model(inputs, K.Conv2D(2, 3, data_format="channels_first")(inputs)))


def test_card_for_builds_through_the_registry(fresh_registry):
    @zoo.register_model
    def tiny_cnn(*, input_shape=None, num_classes=3, include_top=True, pooling=None,
                 classifier_activation="softmax", weights=None, name="tiny_cnn"):
        inputs = keras.Input(input_shape or (8, 8, 1))
        x = K.Conv2D(2, 3, name="conv")(inputs)
        x = K.Flatten(name="flatten")(x)
        return keras.Model(inputs, K.Dense(num_classes, name="head")(x), name=name)

    card = zoo.card_for("tiny_cnn", input_shape=(10, 10, 1), num_classes=4)
    assert card.name == "tiny_cnn" and card.input_shape == (10, 10, 1)
    assert _row(card, "head").output_shape == (4,)
    assert _row(card, "head").weights == 8 * 8 * 2 * 4 + 4
    assert zoo.card_for("tiny_cnn").input_shape == (8, 8, 1)
    with pytest.raises(zoo.UnknownArgumentError):
        zoo.card_for("tiny_cnn", num_clases=4)


def test_a_layer_that_explains_itself_with_notes():
    class Doubling(keras.layers.Layer):
        """Elementwise y = 2x, described by explain(): F = S = 1 plus a note."""

        def call(self, x):
            return 2 * x

        def explain(self, input_shape=None):
            volume = tuple(self._build_shapes_dict["input_shape"][1:])
            window = layers.explain_window("double", volume, kernel_size=1, strides=1, name=self.name)
            return dataclasses.replace(window, formulas=window.formulas + ("y = 2·x",),
                                       multiply_adds=math.prod(volume))

    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, Doubling(name="double")(K.Conv2D(2, 3, name="conv")(inputs)))
    conv, double = model_card(model).rows
    assert double.formula == "y = 2·x"  # the trivial per-axis formulas are left out
    assert double.multiply_adds == 2 * 2 * 2
    assert double.receptive_field == conv.receptive_field == _rf(3, 1)


# -- the real families, against the papers' and reference models' numbers -----


@pytest.mark.slow
def test_lenet5_card_has_the_papers_parameters():
    card = zoo.card_for("lenet5")
    # LeCun et al. 1998, Sec. II-B: trainable parameters per layer.
    paper = {"c1": 156, "s2": 12, "c3": 1_516, "s4": 32, "c5": 48_120, "f6": 10_164}
    assert {r.name: r.weights for r in card.rows if r.name in paper} == paper
    assert _row(card, "c3").receptive_field == _rf(14, 2)
    assert _row(card, "c5").receptive_field == _rf(32, 4)  # C5 sees the whole 32×32 input


@pytest.mark.slow
def test_googlenet_cards_match_the_reference_counts():
    caffe = zoo.card_for("googlenet")
    assert caffe.totals.params == 6_998_552  # bvlc_googlenet without the auxiliary heads
    # Szegedy et al. 2014 count conv and FC multiply-adds only (the "1.5 billion" budget).
    conv_fc = sum(r.multiply_adds for r in caffe.rows if r.type != "LocalResponseNormalization")
    assert conv_fc == 1_582_671_872
    # Table 1, from the widths: every inception block's output volume and multiply-adds.
    blocks = [r for r in caffe.rows if r.type == "Inception"]
    assert [r.output_shape for r in blocks] == [
        (28, 28, 256), (28, 28, 480), (14, 14, 512), (14, 14, 512), (14, 14, 512),
        (14, 14, 528), (14, 14, 832), (7, 7, 832), (7, 7, 1024)]
    assert [r.multiply_adds for r in blocks] == [
        128_049_152, 304_267_264, 73_608_192, 87_908_352, 99_850_240, 118_515_712,
        169_996_288, 51_079_168, 70_697_984]

    torchvision = zoo.card_for("googlenet_bn")
    assert torchvision.totals.weights == 6_624_904  # torchvision.models.googlenet, no aux
    assert torchvision.totals.multiply_adds == 1_498_376_192  # torchvision's 1.498 GFLOPS


# -- cards of any size: arithmetic, nothing allocated ---------------------------


def test_card_of_a_huge_input_allocates_nothing():
    """`zoo info lenet5 --input-shape 100000x100000x3` built the model and died of
    ResourceExhausted: its F6 kernel alone is 75 billion × 84 floats."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    card = zoo.card_for("lenet5_modern", input_shape=(100000, 100000, 3))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # KiB on Linux
    assert grown_mib < 512, f"building the card allocated {grown_mib:.0f} MiB"
    # The numbers are the arithmetic: C1 is (100000 − 5 + 1)² positions of 5·5·3·6 weights ...
    c1 = card.rows[0]
    assert c1.output_shape == (99996, 99996, 6) and c1.weights == 5 * 5 * 3 * 6 + 6
    assert c1.multiply_adds == 99996 ** 2 * 5 * 5 * 3 * 6
    # ... and every Dense row holds n_in·units + units weights, however large n_in is.
    for row in card.rows:
        if row.type == "Dense":
            n_in, units = row.input_shape[-1], row.output_shape[-1]
            assert row.weights == n_in * units + units
    assert card.totals.params > 10**12
    # Nothing is left for Keras to initialise later: the next scope's exit allocates nothing.
    with keras.StatelessScope():
        pass
    assert keras.ops.convert_to_numpy(keras.metrics.Mean()(keras.ops.ones((2,)))) == 1.0


def test_card_without_allocation_equals_the_built_models_card():
    shapes_only = zoo.card_for("lenet5_modern", input_shape=(40, 36, 1))
    built = model_card(zoo.get_model("lenet5_modern", input_shape=(40, 36, 1)))
    assert shapes_only == built
    assert shapes_only.totals.params == zoo.get_model("lenet5_modern", input_shape=(40, 36, 1)).count_params()


def test_cli_info_of_a_huge_input():
    from click.testing import CliRunner

    from cnn_zoo.cli import main

    result = CliRunner().invoke(main, ["info", "lenet5", "--input-shape", "100000x100000x3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["input_shape"] == [100000, 100000, 3] and data["totals"]["params"] > 10**12
