"""The search space of a recipe: parsing, Keras Tuner declaration, applying values, the
shape check, and one clear line for every bad entry (no training here)."""

import json

import keras_tuner
import pytest

from cnn_zoo.recipe import load_recipe
from cnn_zoo.tune.space import SearchSpace, SearchSpaceError, parse_key

TINY = """\
version: 1
dataset: {source: embedded:mnist5k, validation_fraction: 0.2, max_examples: 300}
preprocessing: [{rescale: 0.00392156862745098}]
model:
  name: convnet
  kwargs: {spec: "[(CONV-RELU)*1-POOL]*2-(FC-RELU)*1-SOFTMAX", filters: [4, 8], kernel_size: 3,
           padding: 1, fc_units: [16]}
epochs: 1
batch_size: 64
"""


@pytest.fixture
def recipe(tmp_path):
    def make(space: str, extra: str = ""):
        path = tmp_path / "tiny.yaml"
        path.write_text(TINY + extra + "search_space:\n" + space)
        return load_recipe(path)
    return make


def test_shipped_convnet_space_declares_every_entry_to_keras_tuner():
    space = SearchSpace(load_recipe("convnet-fashion_mnist"), (28, 28, 1))
    hp = keras_tuner.HyperParameters()
    for param in space.params:
        param.declare(hp)
    names = [p.name for p in hp.space]
    assert names == list(load_recipe("convnet-fashion_mnist").search_space)
    filters = hp.space[names.index("model.kwargs.filters")]
    # Keras Tuner holds ints, floats, strings and bools only: lists travel as JSON.
    assert isinstance(filters, keras_tuner.engine.hyperparameters.Choice)
    assert [json.loads(v) for v in filters.values] == [[16, 32], [24, 48], [32, 64]]
    assert json.loads(filters.default) == [32, 64]  # the recipe's own value
    lr = hp.space[names.index("optimizer.learning_rate")]
    assert (lr.min_value, lr.max_value, lr.sampling, lr.default) == (0.0003, 0.003, "log", 0.001)
    assert space.decode(hp.values)["model.kwargs.filters"] == [32, 64]
    # The recipe's dropout 0 is not offered: Keras Tuner's default is then the first choice.
    assert space.decode(hp.values)["model.kwargs.dropout"] == 0.25
    # A whole preprocessing list is one choice: the recipe's steps with a shift inserted.
    shipped = load_recipe("convnet-fashion_mnist")
    choices = [space.recipe_for({**space.decode(hp.values), "preprocessing": v}).preprocessing
               for v in space.params[names.index("preprocessing")].values]
    for steps, shift in zip(choices, (1, 2)):
        assert [*steps[:2], steps[3]] == list(shipped.preprocessing)
        assert steps[2] == {"random_shift": {"max": shift, "fill": "edge", "value": 0.0}}


def test_bool_choices_travel_as_json(recipe):
    # Keras Tuner would hold True/False as 1/0, which convnet refuses: bools travel as JSON.
    space = SearchSpace(recipe("  model.kwargs.batch_norm: {choice: [false, true]}\n"), (28, 28, 1))
    hp = keras_tuner.HyperParameters()
    space.params[0].declare(hp)
    batch_norm = hp.space[0]
    assert batch_norm.values == ["false", "true"]
    assert space.decode(hp.values)["model.kwargs.batch_norm"] is False
    assert space.decode({**hp.values, "model.kwargs.batch_norm": "true"})["model.kwargs.batch_norm"] is True
    assert "model.kwargs.batch_norm=true" in space.overrides(space.decode(
        {**hp.values, "model.kwargs.batch_norm": "true"}))


def test_values_apply_to_the_recipe_and_fold_into_set_overrides(recipe):
    space = SearchSpace(recipe("  model.kwargs.filters: {choice: [[4, 8], [8, 16]]}\n"
                               "  optimizer.learning_rate: {float: {min: 0.001, max: 0.01, sampling: log}}\n"
                               "  batch_size: {choice: [32, 64]}\n"))
    values = {"model.kwargs.filters": [8, 16], "optimizer.learning_rate": 0.005, "batch_size": 32}
    trial = space.recipe_for(values)
    assert trial.model.kwargs["filters"] == [8, 16]
    assert trial.optimizer.learning_rate == 0.005 and trial.batch_size == 32
    assert space.overrides(values) == ["model.kwargs.filters=[8, 16]", "optimizer.learning_rate=0.005",
                                       "batch_size=32"]


def test_per_stage_and_per_conv_keys_expand_scalars(recipe):
    space = SearchSpace(recipe('  model.kwargs.spec: {choice: ["[(CONV-RELU)*2-POOL]*2-(FC-RELU)*1-SOFTMAX"]}\n'
                               "  model.kwargs.filters[1]: {choice: [8, 16]}\n"
                               "  model.kwargs.kernel_size[0][1]: {choice: [3, 5]}\n"
                               "  model.kwargs.fc_units[0]: {int: {min: 8, max: 64, step: 8}}\n"))
    values = {"model.kwargs.spec": "[(CONV-RELU)*2-POOL]*2-(FC-RELU)*1-SOFTMAX",
              "model.kwargs.filters[1]": 16, "model.kwargs.kernel_size[0][1]": 5, "model.kwargs.fc_units[0]": 24}
    kwargs = space.recipe_for(values).model.kwargs
    assert kwargs["filters"] == [4, 16]                  # stage 2's K
    assert kwargs["kernel_size"] == [[3, 5], 3]          # stage 1, conv 2's F; the scalar expanded
    assert kwargs["fc_units"] == [24]
    assert "model.kwargs.kernel_size=[[3, 5], 3]" in space.overrides(values)
    assert parse_key("model.kwargs.kernel_size[0][1]") == ("model", "kwargs", "kernel_size", 0, 1)


def test_nested_form_equals_dotted_keys(recipe):
    nested = SearchSpace(recipe("  model: {kwargs: {filters: {choice: [[4, 8], [8, 8]]}}}\n"
                                "  optimizer: {learning_rate: {choice: [0.01, 0.001]}}\n"))
    assert [p.key for p in nested.params] == ["model.kwargs.filters", "optimizer.learning_rate"]


def test_feasibility_is_counted_and_each_check_gives_the_arithmetic_reason(recipe):
    space = SearchSpace(recipe("  model.kwargs.kernel_size: {choice: [2, 3, 4, 5]}\n"
                               "  model.kwargs.strides: {choice: [1, 2, 3]}\n"
                               "  model.kwargs.padding: {choice: [0, 1, 2, 3]}\n"), (28, 28, 1))
    summary = space.feasibility()
    assert summary["exact"] and summary["combinations"] == summary["checked"] == 48
    # Counted by hand from W2 = (W1 - F + 2P)/S + 1 (exact), two 2x2/2 pools after it:
    feasible = [(f, s, p) for f in (2, 3, 4, 5) for s in (1, 2, 3) for p in (0, 1, 2, 3)
                if _exact_chain(28, f, s, p)]
    assert summary["feasible"] == len(feasible) < 48 / 4
    ok, reason = space.check({"model.kwargs.kernel_size": 3, "model.kwargs.strides": 2,
                              "model.kwargs.padding": 1})
    assert not ok and reason.startswith("stage1_conv1: (28 − 3 + 2·1)/2 + 1 = 14.5")
    assert space.check({"model.kwargs.kernel_size": 3, "model.kwargs.strides": 1,
                        "model.kwargs.padding": 1}) == (True, None)


def _exact_chain(w, f, s, p):
    for _ in range(2):
        num = w - f + 2 * p
        if num < 0 or num % s:
            return False
        w = num // s + 1
        if w < 2 or w % 2:
            return False
        w //= 2
    return True


BAD = [
    ("  model.kwargs.filters: 16\n", "model.kwargs.filters", "must be one mapping such as"),
    ("  model.kwargs.filters: {choise: [[4, 8]]}\n", "model.kwargs.filters", "unknown kind 'choise'; did you mean choice?"),
    ("  model.kwargs.kernel_size: {choice: []}\n", "model.kwargs.kernel_size", "non-empty list"),
    ("  model.kwargs.kernel_size: {choice: [3, 3]}\n", "model.kwargs.kernel_size", "lists 3 twice"),
    ("  model.kwargs.kernel_size: {int: {min: 5, max: 3}}\n", "model.kwargs.kernel_size", "min < max"),
    ("  model.kwargs.kernel_size: {int: {min: 1.5, max: 4}}\n", "model.kwargs.kernel_size", "int.min must be an integer"),
    ("  model.kwargs.kernel_size: {int: {min: 1, max: 4, stp: 1}}\n", "model.kwargs.kernel_size", "no option 'stp'; did you mean step?"),
    ("  optimizer.learning_rate: {float: {min: 0, max: 0.1, sampling: log}}\n", "optimizer.learning_rate", "needs min > 0"),
    ("  optimizer.learning_rate: {float: {min: 0.1, max: 1, sampling: cubic}}\n", "optimizer.learning_rate", "sampling must be one of"),
    ("  optimizer.learnin_rate: {float: {min: 0.001, max: 0.1}}\n", "optimizer.learnin_rate", "did you mean learning_rate?"),
    ("  optimizer.learning_rate: {choice: [0.01, -1]}\n", "optimizer.learning_rate", "learning_rate must be positive"),
    ("  batch_size: {choice: [64, 0.5]}\n", "batch_size", "must be an integer"),
    ("  model.kwargs.filtres: {choice: [[4, 8]]}\n", "model.kwargs.filtres", "Did you mean 'filters'?"),
    ("  model.kwargs.filters[5]: {choice: [8]}\n", "model.kwargs.filters[5]", "index 5 is out of range"),
    ("  model.kwargs.kernel_size: {choice: [0, 3]}\n", "model.kwargs.kernel_size", "`kernel_size` values must be ints >= 1"),
    ("  model.kwargs.filters: {choice: [[4, 8, 16]]}\n", "model.kwargs.filters", "one per stage (2)"),
    ("  tuning.max_trials: {choice: [1, 2]}\n", "tuning.max_trials", "cannot be searched"),
    ("  model.name: {choice: [convnet, lenet5]}\n", "model.name", "cannot be searched"),
    ('  "model..filters": {choice: [1]}\n', "model..filters", "is not a recipe path"),
    ("  model.kwargs.filters: {choice: [[4, 8]]}\n  model.kwargs.filters[0]: {choice: [8]}\n",
     "model.kwargs.filters[0]", "overlaps model.kwargs.filters"),
]


@pytest.mark.parametrize("space, key, fragment", BAD, ids=[b[2][:30] for b in BAD])
def test_each_bad_entry_is_one_line_naming_its_key(recipe, space, key, fragment):
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace(recipe(space), (28, 28, 1))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"search_space: {key} ")
    assert fragment in message
    assert info.value.key == key


def test_an_empty_space_and_tuner_specific_rules(recipe, tmp_path):
    path = tmp_path / "none.yaml"
    path.write_text(TINY)
    with pytest.raises(SearchSpaceError, match="is empty: give the recipe a search_space"):
        SearchSpace(load_recipe(path))
    space = SearchSpace(recipe("  epochs: {int: {min: 1, max: 3}}\n"
                               "  optimizer.learning_rate: {float: {min: 0.001, max: 0.01}}\n"))
    with pytest.raises(SearchSpaceError, match=r"^search_space: epochs cannot be searched with the hyperband"):
        space.check_tuner("hyperband")
    with pytest.raises(SearchSpaceError, match=r"^search_space: optimizer.learning_rate needs a step for the grid"):
        space.check_tuner("grid")
    space.check_tuner("random")
    space.check_tuner("bayesian")


def test_multiply_add_budget_rejects_costly_values_before_building(recipe):
    space = SearchSpace(recipe("  model.kwargs.filters: {choice: [[4, 8], [8, 16], [64, 128]]}\n",
                               extra="tuning: {max_multiply_adds: 1000000}\n"), (28, 28, 1))
    assert space.check({"model.kwargs.filters": [8, 16]}) == (True, None)
    ok, reason = space.check({"model.kwargs.filters": [64, 128]})
    assert not ok
    # 28·28·9·1·64 + 14·14·9·64·128 + 7·7·128·16 = 15,002,624 multiply-adds per image.
    assert reason == ("budget: 15,002,624 multiply-adds per image (conv and hidden FC layers) exceed "
                      "tuning.max_multiply_adds = 1,000,000")
    summary = space.feasibility()
    assert (summary["feasible"], summary["combinations"]) == (2, 3)
    assert summary["infeasible_by_layer"] == {"budget": 1}
    # Without a budget the same value is feasible.
    assert SearchSpace(recipe("  model.kwargs.filters: {choice: [[4, 8], [64, 128]]}\n"),
                       (28, 28, 1)).check({"model.kwargs.filters": [64, 128]}) == (True, None)


def test_multiply_add_budget_must_be_positive(recipe):
    from cnn_zoo.recipe import RecipeError

    with pytest.raises(RecipeError, match="max_multiply_adds must be a positive integer or null"):
        recipe("  model.kwargs.filters: {choice: [[4, 8]]}\n", extra="tuning: {max_multiply_adds: 0}\n")
    with pytest.raises(RecipeError, match="initial_points must be a positive integer or null"):
        recipe("  model.kwargs.filters: {choice: [[4, 8]]}\n", extra="tuning: {initial_points: 0}\n")


def test_shipped_space_rejects_half_its_shapes_and_the_costly_ones(recipe):
    summary = SearchSpace(load_recipe("convnet-fashion_mnist"), (28, 28, 1)).feasibility()
    # S=2 makes every 28 − F + 2P odd (half of the 108); of the S=1 half, 12 need more
    # multiply-adds than the budget (e.g. K=[32,64] with F=5, or P=2 with F=3).
    assert (summary["combinations"], summary["feasible"]) == (108, 42)
    assert summary["infeasible_by_layer"] == {"stage1_conv1": 54, "budget": 12}


def test_the_ranked_table_shows_a_preprocessing_choice_in_one_short_cell(tmp_path):
    from cnn_zoo.tune.report import Report, TrialRow

    steps = [{"rescale": 0.00392156862745098}, {"random_shift": 2}, {"random_flip": "horizontal"}]
    row = TrialRow("0", "completed", 0.9, {"preprocessing": steps, "model.kwargs.filters": [8, 16]},
                   12.0, 15, 14, 1, None, rank=1)
    report = Report(tmp_path, "val_accuracy", "max", [row], ["preprocessing", "model.kwargs.filters"],
                    {"draws": 0}, {})
    header, line = report.table().splitlines()[2:4]
    assert header.split() == ["rank", "trial", "val_accuracy", "time", "epochs_run", "preprocessing", "filters"]
    assert "rescale, random_shift 2, random_flip horizontal  [8,16]" in line


def test_the_shipped_space_builds_without_an_input_shape():
    # A layer's size limits grow with the input: without one, [512] FC units are not
    # judged on a huge probe input (fc1 over 2**31 weights) but accepted as well formed.
    space = SearchSpace(load_recipe("convnet-fashion_mnist"))
    assert space.input_shape is None and space.check({"model.kwargs.fc_units": [512]}) == (True, None)
    # A malformed value is still one line naming its key.
    with pytest.raises(SearchSpaceError, match=r"^search_space: model.kwargs.fc_units value \[0\]"):
        SearchSpace(load_recipe("convnet-fashion_mnist",
                                overrides=["search_space.model.kwargs.fc_units={choice: [[0]]}"]))
