"""The `zoo` command line through click's CliRunner: output, JSON, and one-line errors."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import cnn_zoo as zoo
from cnn_zoo.layers.arithmetic import ShapeError
from cnn_zoo import registry
from cnn_zoo.cli import main
from cnn_zoo.models import CATALOG


def run(*args):
    return CliRunner().invoke(main, list(args))


def assert_user_error(result, *fragments):
    """Exit code 2, one line on stderr starting 'Error:', nothing on stdout, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


# -- list ----------------------------------------------------------------------


def test_list_shows_every_model_with_its_summary():
    result = run("list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == sorted(CATALOG)
    for line in lines:
        name = line.split()[0]
        assert line.endswith(CATALOG[name][1])


def test_list_pattern_and_json():
    result = run("list", "lenet*", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [m["name"] for m in data] == ["lenet5", "lenet5_modern"]
    assert data[0] == {"name": "lenet5", "summary": CATALOG["lenet5"][1],
                       "module": "cnn_zoo.models.lenet",
                       "pretrained": registry.pretrained_tags("lenet5")}


def test_list_pretrained(monkeypatch):
    monkeypatch.setattr(registry, "pretrained_tags",
                        lambda name: ["lenet5.mnist"] if name == "lenet5" else [])
    result = run("list", "--pretrained", "--json")
    assert [(m["name"], m["pretrained"]) for m in json.loads(result.stdout)] == \
        [("lenet5", ["lenet5.mnist"])]


def test_list_without_matches_says_so():
    result = run("list", "resnet*")
    assert result.exit_code == 0 and result.stdout == ""
    assert "No models match 'resnet*'" in result.stderr
    assert json.loads(run("list", "resnet*", "--json").stdout) == []


@pytest.mark.parametrize("args", [["list"], ["--help"], ["list", "--json"], ["info", "lenett"]])
def test_fast_commands_do_not_import_keras(args):
    code = (
        "import sys\n"
        "from cnn_zoo.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "HEAVY []"


# -- explain -------------------------------------------------------------------


def test_explain_conv_prints_the_arithmetic_and_the_paddings_that_fit():
    result = run("explain", "conv", "--input", "32x32x3", "-K", "6", "-F", "5", "-S", "3", "-P", "0")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "32×32×3 → 10×10×6" in out
    assert "(32 − 5 + 2·0)/3 + 1" in out
    # (32 − 5 + 2P) is a multiple of 3 for P = 0, 3, 6: W2 = 10, 12, 14.
    assert "paddings that fit (W2 whole) with W1=32, F=5, S=3: 0 (→ 10), 3 (→ 12), 6 (→ 14)" in out


def test_explain_pool_per_axis_and_none_fitting():
    result = run("explain", "pool", "--input", "112x56x64", "-F", "3", "-S", "2",
                 "--rounding", "ceil")
    assert result.exit_code == 0, result.output
    assert "112×56×64 → 56×28×64" in result.stdout
    assert "paddings that fit (W2 whole) on axis 0 with W1=112, F=3, S=2: none" in result.stdout
    assert "on axis 1 with W1=56, F=3, S=2: none" in result.stdout


def test_explain_json():
    result = run("explain", "conv", "--input", "28,28,1", "-K", "4", "-F", "3", "-P", "same", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["arithmetic"]["output_shape"] == [28, 28, 4]
    assert data["arithmetic"]["params"] == 3 * 3 * 1 * 4 + 4
    assert data["paddings_that_fit"] == [[0, 1, 2], [0, 1, 2]]


def test_explain_impossible_shape_is_one_line_exit_2():
    line = assert_user_error(run("explain", "conv", "--input", "4x4x1", "-K", "2", "-F", "7"),
                             "(4 − 7 + 2·0)/1 + 1")
    assert "padding" in line  # says what would fit


def test_explain_inexact_shape_with_exact_rounding():
    assert_user_error(run("explain", "conv", "--input", "32x32x3", "-K", "6", "-F", "5", "-S", "2",
                          "--rounding", "exact"), "is not a whole number")


def test_traceback_flag_shows_the_exception():
    result = run("--traceback", "explain", "pool", "--input", "4x4x1", "-F", "7")
    assert isinstance(result.exception, ShapeError)


@pytest.mark.parametrize("args, fragment", [
    (["explain", "conv", "--input", "32x32x3", "-F", "5"], "-K"),
    (["explain", "pool", "--input", "32x32x3", "-F", "2", "-K", "3"], "-K"),
    (["explain", "conv", "--input", "32xx", "-F", "5", "-K", "1"], "'--input'"),
    (["explain", "conv", "--input", "32", "-F", "5", "-K", "1"], "'--input'"),
    (["explain", "pool", "--input", "8x8x1", "-F", "2", "-P", "-1"], "'-P'"),
    (["explain", "blur", "--input", "8x8x1", "-F", "2"], "'blur'"),
    (["list", "--nope"], "--nope"),
    (["nope"], "nope"),
])
def test_bad_usage_is_one_line_exit_2(args, fragment):
    line = assert_user_error(run(*args), fragment)
    assert "--help" in line  # and says where to look


# -- info ----------------------------------------------------------------------


def test_info_unknown_model_suggests_the_closest():
    assert_user_error(run("info", "lenet"), "Unknown model 'lenet'", "'lenet5'")


def test_info_bad_input_shape():
    assert_user_error(run("info", "lenet5", "--input-shape", "32,x,1"), "'--input-shape'")


@pytest.fixture
def tiny_model(fresh_registry):
    import keras

    from cnn_zoo import layers

    @zoo.register_model
    def tiny_cnn(*, input_shape=None, num_classes=3, include_top=True, pooling=None,
                 classifier_activation="softmax", weights=None, name="tiny_cnn"):
        """A two-layer test network."""
        inputs = keras.Input(input_shape or (8, 8, 1))
        x = layers.Conv2D(2, 3, name="conv")(inputs)
        x = keras.layers.Flatten(name="flatten")(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes, name="head")(x), name=name)

    return tiny_cnn


def test_info_prints_the_card(tiny_model):
    result = run("info", "tiny_cnn", "--input-shape", "10x10x1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "tiny_cnn: input 10×10×1"
    assert "(10 − 3 + 2·0)/1 + 1 = 8" in result.stdout
    assert f"params: {3 * 3 * 2 + 2 + 8 * 8 * 2 * 3 + 3:,}" in result.stdout


def test_info_json(tiny_model):
    result = run("info", "tiny_cnn", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["name"] for r in data["rows"]] == ["conv", "flatten", "head"]
    assert data["totals"]["params"] == 3 * 3 * 2 + 2 + 6 * 6 * 2 * 3 + 3


def test_info_shape_the_arithmetic_refuses(tiny_model):
    assert_user_error(run("info", "tiny_cnn", "--input-shape", "2,2,1"), "conv: (2 − 3 + 2·0)/1 + 1")


def test_info_of_a_builtin_model():
    result = run("info", "lenet5_modern")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "lenet5_modern: input 32×32×1"
    assert "params: 61,706" in result.stdout  # 156 + 2,416 + 48,120 + 10,164 + 850
