"""The `zoo` command line through click's CliRunner: output, JSON, and one-line errors."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import cnn_zoo as zoo
from cnn_zoo.layers.arithmetic import ShapeError
from cnn_zoo import registry
from cnn_zoo.cli import main
from cnn_zoo.models import FAMILIES
from cli_process import zoo_in_subprocess


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
    assert [line.split()[0] for line in lines] == sorted(FAMILIES)
    for line in lines:
        name = line.split()[0]
        assert line.endswith(FAMILIES[name][1])


def test_list_pattern_and_json():
    result = run("list", "lenet*", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [m["name"] for m in data] == ["lenet5", "lenet5_modern"]
    assert data[0] == {"name": "lenet5", "summary": FAMILIES["lenet5"][1],
                       "module": "cnn_zoo.models.lenet",
                       "pretrained": registry.pretrained_tags("lenet5")}


def test_list_pretrained_lists_tags_with_dataset_metric_and_size():
    from cnn_zoo.hub import available

    published = available()
    assert "lenet5.mnist" in published
    result = run("list", "--pretrained")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["tag", "dataset", "metric", "size"]
    assert [line.split()[0] for line in lines[1:]] == sorted(published)
    row = next(line for line in lines if line.startswith("lenet5.mnist "))
    accuracy = published["lenet5.mnist"].metrics["accuracy"]
    assert "MNIST" in row and f"test accuracy {accuracy:.2%}" in row and " kB" in row
    data = json.loads(run("list", "--pretrained", "lenet5*", "--json").stdout)
    assert {d["tag"] for d in data} == {t for t in published if t.startswith("lenet5")}
    mnist = next(d for d in data if d["tag"] == "lenet5.mnist")
    assert mnist == {"tag": "lenet5.mnist", "arch": "lenet5", "dataset": "MNIST", "split": "test",
                     "accuracy": accuracy, "examples": 10000, "size": published["lenet5.mnist"].size}


def test_list_without_matches_says_so():
    result = run("list", "mobilenet*")
    assert result.exit_code == 0 and result.stdout == ""
    assert "No models match 'mobilenet*'" in result.stderr
    assert json.loads(run("list", "mobilenet*", "--json").stdout) == []


@pytest.mark.parametrize("args", [["list"], ["--help"], ["list", "--json"], ["info", "lenett"],
                                  ["list", "--pretrained"], ["info", "lenet5.mnist"], ["--version"]])
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


def test_traceback_flag_shows_the_exception_and_keeps_exit_code_2():
    result = run("--traceback", "explain", "pool", "--input", "4x4x1", "-F", "7")
    assert result.exit_code == 2 and result.stdout == ""
    assert "Traceback (most recent call last)" in result.stderr
    assert "ShapeError: " in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("Error: pool") and last == assert_user_error(run(
        "explain", "pool", "--input", "4x4x1", "-F", "7"))


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


# -- version, tag cards, user errors against bugs ---------------------------------


def test_version_is_the_installed_metadata_of_setup_cfg():
    import configparser
    from importlib import metadata
    from pathlib import Path

    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    version = config["metadata"]["version"]
    assert zoo.__version__ == metadata.version("cnn-zoo") == version
    result = run("--version")
    assert result.exit_code == 0 and result.stdout == f"zoo (cnn-zoo) {version}\n"


def test_info_of_a_tag_shows_its_card():
    from cnn_zoo.hub import info

    entry = info("lenet5.mnist")
    result = run("info", "lenet5.mnist")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("lenet5.mnist: lenet5 weights, 10 classes")
    assert f"sha256 {entry.sha256}" in out  # all 64 digits, to check a download by hand
    assert f"accuracy {entry.metrics['accuracy']:.4f}" in out
    assert "labels: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in out
    assert "preprocessing: pad" in out and "lenet_scale" in out
    assert "recipe: lenet5-mnist" in out and "licence CC BY-SA 3.0" in out
    data = json.loads(run("info", "lenet5.mnist", "--json").stdout)
    assert data["tag"] == "lenet5.mnist" and data["sha256"] == entry.sha256
    assert data["recipe"]["config"]["model"]["name"] == "lenet5"
    assert data["preprocessing"]["raw_shape"] == [28, 28, 1]
    assert_user_error(run("info", "lenet5.nope"), "Unknown pretrained tag 'lenet5.nope'")
    assert_user_error(run("info", "lenet5.mnist", "--input-shape", "32,32,1"), "--input-shape")


def test_a_bug_shows_its_traceback_and_a_user_error_does_not(fresh_registry):
    @zoo.register_model
    def buggy(*, input_shape=None, num_classes=3, include_top=True, pooling=None,
              classifier_activation="softmax", weights=None, name="buggy"):
        """A builder with a bug."""
        raise ValueError("an internal invariant broke")

    result = run("info", "buggy")
    assert result.exit_code == 1  # not 2: this is no mistake of the user's
    assert isinstance(result.exception, ValueError) and "invariant" in str(result.exception)

    @zoo.register_model
    def picky(*, input_shape=None, num_classes=3, include_top=True, pooling=None,
              classifier_activation="softmax", weights=None, name="picky"):
        """A builder that refuses its input."""
        raise zoo.ZooError("picky takes no input, Received: input_shape=(1, 1, 1)")

    assert_user_error(run("info", "picky"), "picky takes no input")


def test_shell_completion_of_recipe_model_and_tag_names():
    from click.shell_completion import ShellComplete

    from cnn_zoo.recipe import list_recipes

    complete = ShellComplete(main, {}, "zoo", "_ZOO_COMPLETE")

    def names(args, incomplete):
        return [c.value for c in complete.get_completions(args, incomplete) if c.type == "plain"]

    assert names(["info"], "lenet5") == ["lenet5", "lenet5_modern", *[
        t for t in sorted(zoo.hub.available()) if t.startswith("lenet5")]]
    assert names(["predict"], "lenet5.m") == ["lenet5.mnist"]
    assert names(["eval"], "googlenet.") == ["googlenet.fashion_mnist", "googlenet.imagenet"]
    assert names(["finetune"], "conv") == ["convnet.fashion_mnist"]
    assert names(["train"], "lenet5-") == [n for n, _ in list_recipes() if n.startswith("lenet5-")]
    assert names(["tune"], "") == [n for n, _ in list_recipes()]


# -- fast and quiet: subprocesses, as a user runs them --------------------------------------


def test_explain_and_argument_errors_answer_before_tensorflow_is_imported(tmp_path):
    missing = str(tmp_path / "missing")
    cases = [
        ["explain", "conv", "--input", "32x32x3", "-K", "6", "-F", "5"],
        ["train", "no-such-recipe"],
        ["train", "lenet5-mnist", "--set", "epochs=many"],
        ["eval", missing],
        ["eval", "lenet5.mnist", "--data", f"folder:{missing}"],
        ["eval", "lenet5.nope"],
        ["predict", "lenet5.mnist", f"{missing}.png"],
        ["predict", missing, f"{missing}.png"],
        ["show", "lenet5.mnist", f"{missing}.png"],
        ["finetune", "lenet5.mnist", "--data", f"folder:{missing}", "--out", missing],
        ["finetune", "lenet5.mnist", "--data", "idx:.", "--out", missing, "--set", "optimizer.nme=sgd"],
        ["publish", str(tmp_path), "--tag", "Not A Tag"],
        ["tune", "no-such-recipe"],
    ]
    codes, heavy, stderr = zoo_in_subprocess(*cases)
    assert heavy == []
    assert codes == [0] + [2] * (len(cases) - 1), stderr
    lines = stderr.splitlines()
    assert len(lines) == len(cases) - 1 and all(line.startswith("Error: ") for line in lines), stderr


def test_info_prints_nothing_on_stderr_unless_verbose():
    # No TF_CPP_MIN_LOG_LEVEL from the test runner: the user's default environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    zoo_script = os.path.join(os.path.dirname(sys.executable), "zoo")
    out = subprocess.run([zoo_script, "info", "lenet5"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("lenet5: input 32×32×1")
    assert out.stderr == ""


# -- lazy layers ---------------------------------------------------------------------------


def test_layers_load_on_first_use_and_scaled_tanh_stays_the_function():
    code = (
        "import sys\n"
        "import cnn_zoo.layers as L\n"
        "assert 'keras' not in sys.modules and L.output_size(32, 5) == 28\n"
        "from cnn_zoo.layers.scaled_tanh import ScaledTanh\n"  # a direct submodule import first
        "assert callable(L.scaled_tanh) and L.scaled_tanh.__name__ == 'scaled_tanh'\n"
        "assert L.Conv2D.__module__ == 'cnn_zoo.layers.conv'\n"
        "import keras\n"
        "L.register_all()\n"
        "assert keras.saving.get_registered_object('cnn_zoo>EuclideanRBF') is L.EuclideanRBF\n"
        "print('OK')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "OK", out.stderr[-2000:]


# -- --json: one parseable document on stdout ------------------------------------------


def test_recipes_and_pull_json(tmp_path, monkeypatch):
    from cnn_zoo.hub import info
    from cnn_zoo.recipe import list_recipes

    data = json.loads(run("recipes", "--json").stdout)
    assert [d["name"] for d in data] == [n for n, _ in list_recipes()]
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    result = run("pull", "lenet5.mnist", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    entry = info("lenet5.mnist")
    assert data["tag"] == "lenet5.mnist" and data["sha256"] == entry.sha256 and data["size"] == entry.size
    assert os.path.getsize(data["path"]) == entry.size


@pytest.mark.parametrize("args, fragment", [
    (["info", "lenet5", "--input-shape", "32,32"], "`input_shape` must be 3 positive ints"),
    (["info", "lenet5_modern", "--input-shape", "2,2,1"], "(2 − 5 + 2·0)/1 + 1"),
])
def test_builder_refusals_are_user_errors(args, fragment):
    # Builders validate their arguments with ZooError (a bare ValueError would read as a bug).
    assert_user_error(run(*args), fragment)


def test_show_refuses_an_out_that_names_a_picture_file(tmp_path):
    line = assert_user_error(run("show", "lenet5.mnist", "--out", str(tmp_path / "x.png")),
                             "names a file, but zoo show writes several PNG files")
    assert f"give a folder, e.g. --out {tmp_path / 'x'} (see '" in line
    assert list(tmp_path.iterdir()) == []  # no folder named x.png
