"""Recipes: the shipped files, the override order and every kind of error."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml

from cnn_zoo import preprocess
from cnn_zoo.recipe import (Recipe, RecipeError, list_recipes, load_recipe, parse_override)

SHIPPED = {"lenet5-mnist": "lenet5", "lenet5_modern-mnist": "lenet5_modern",
           "lenet5-fashion_mnist": "lenet5", "googlenet-fashion_mnist": "googlenet",
           "convnet-fashion_mnist": "convnet", "default": "lenet5"}

MINIMAL = """\
version: 1
description: a test recipe
dataset: {source: embedded:mnist5k}
model: {name: lenet5}
epochs: 3
"""


@pytest.fixture
def write(tmp_path):
    def write(text, name="r.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path
    return write


# --------------------------------------------------------------------------- shipped

@pytest.mark.parametrize("name,model", sorted(SHIPPED.items()))
def test_every_shipped_recipe_loads(name, model):
    r = load_recipe(name)
    assert r.name == name and r.version == 1 and r.model.name == model
    assert r.description and "\n" not in r.description.strip()
    assert r.epochs >= 1 and r.batch_size >= 1
    assert Recipe.from_dict(r.to_dict()) == r  # the resolved config reloads as itself
    shape = preprocess.input_shape_after(r.preprocessing, (28, 28))
    assert shape == ((28, 28, 1) if model == "convnet" else (32, 32, 1))


def test_list_recipes_one_line_each():
    listed = dict(list_recipes())
    assert set(SHIPPED) <= set(listed)
    assert all(desc and "\n" not in desc for desc in listed.values())
    assert [n for n, _ in list_recipes()] == sorted(listed)


def test_lenet_recipes_use_lenet_input():
    for name in ("lenet5-mnist", "lenet5_modern-mnist", "lenet5-fashion_mnist", "default"):
        out = preprocess.apply(np.array([[[0, 255]]], np.uint8), load_recipe(name).preprocessing)
        assert out.min() == np.float32(-0.1) and out.max() == np.float32(1.175), name


def test_default_recipe_needs_no_download():
    r = load_recipe("default")
    assert r.dataset.source.startswith("embedded:")
    splits = r.dataset.load(seed=r.seed)
    assert [len(splits[k]) for k in ("train", "validation", "test")] == [3600, 400, 1000]


def test_convnet_recipe_has_a_search_space():
    r = load_recipe("convnet-fashion_mnist")
    assert r.model.kwargs["spec"] == "[(CONV-RELU)*2-POOL]*2-(FC-RELU)*1-SOFTMAX"
    assert {"model.kwargs.filters", "model.kwargs.kernel_size", "model.kwargs.strides",
            "model.kwargs.padding", "model.kwargs.fc_units", "optimizer.learning_rate"} <= set(r.search_space)


# --------------------------------------------------------------------------- layers and overrides

def test_defaults_then_file_then_overrides(write):
    path = write(MINIMAL)
    r = load_recipe(path)
    assert r.name == "r" and r.epochs == 3  # the file beats the default (10)
    assert r.batch_size == 128 and r.optimizer.name == "adam"  # defaults fill the rest
    r = load_recipe(path, ["epochs=5", "epochs=7", "optimizer.learning_rate=0.01",
                           "distribute=true", "model.kwargs.filters=[16, 32]",
                           "dataset.source=idx:/data/mnist", "mixed_precision=bfloat16"])
    assert r.epochs == 7  # the last --set wins
    assert r.optimizer.learning_rate == 0.01 and isinstance(r.optimizer.learning_rate, float)
    assert r.distribute is True and r.model.kwargs == {"filters": [16, 32]}
    assert r.dataset.source == "idx:/data/mnist"  # the value may hold ':' and '='
    assert r.mixed_precision == "bfloat16"
    assert load_recipe(path).epochs == 3  # overrides never touch the file


def test_mapping_override_merges_into_section():
    r = load_recipe("lenet5-mnist", ["optimizer={name: sgd, kwargs: {momentum: 0.9}}"])
    assert r.optimizer.name == "sgd" and r.optimizer.kwargs == {"momentum": 0.9}
    assert r.optimizer.learning_rate == load_recipe("lenet5-mnist").optimizer.learning_rate
    r = load_recipe("lenet5-mnist", ["callbacks.early_stopping=null", "preprocessing=[{pad: 2}]"])
    assert r.callbacks.early_stopping is None and r.preprocessing == ({"pad": {"width": [2, 2], "value": 0.0}},)
    r = load_recipe("default", ["schedule.name=constant", "callbacks.reduce_lr_on_plateau.patience=2"])
    assert r.callbacks.reduce_lr_on_plateau.patience == 2 and r.callbacks.reduce_lr_on_plateau.factor == 0.1


def test_parse_override_types():
    assert parse_override("a.b=0.01") == (["a", "b"], 0.01)
    assert parse_override("x=true") == (["x"], True)
    assert parse_override("x=[1,2]") == (["x"], [1, 2])
    assert parse_override("x=") == (["x"], None)
    assert parse_override("x=hello world") == (["x"], "hello world")


def test_to_dict_and_yaml():
    r = load_recipe("googlenet-fashion_mnist")
    d = r.to_dict()
    assert d["version"] == 1 and d["model"] == {"name": "googlenet", "kwargs": {}}
    assert d["preprocessing"][0] == {"pad": {"width": [2, 2], "value": 0.0}}
    assert yaml.safe_load(r.to_yaml()) == d
    assert list(d)[:3] == ["name", "description", "version"]


def test_schedules():
    def lr(name, epoch, **kw):
        r = load_recipe("lenet5-mnist", [f"schedule={{name: {name}, warmup_epochs: 0}}"]
                        + [f"schedule.{k}={v}" for k, v in kw.items()] + ["epochs=10"])
        return r.schedule.learning_rate(1.0, epoch, r.epochs)

    assert lr("constant", 7) == 1.0
    assert lr("cosine", 0, alpha=0.1) == 1.0 and lr("cosine", 10, alpha=0.1) == pytest.approx(0.1)
    assert lr("cosine", 5, alpha=0.0) == pytest.approx(0.5)
    assert lr("step", 9.9, decay_epochs=5, decay_rate=0.5) == 0.5 and lr("step", 10, decay_epochs=5, decay_rate=0.5) == 0.25
    assert lr("exponential", 2.5, decay_epochs=5, decay_rate=0.25) == pytest.approx(0.5)
    warm = load_recipe("lenet5_modern-mnist").schedule
    assert warm.learning_rate(1.0, 0.5, 20) == 0.5 and warm.learning_rate(1.0, 1, 20) == 1.0


def test_reading_a_recipe_imports_no_keras():
    code = "import sys, cnn_zoo.recipe as r; r.load_recipe('default'); print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- errors

def test_unknown_key_names_file_path_suggestion_and_allowed(write):
    path = write(MINIMAL + "optimizer: {learnin_rate: 0.1}\n")
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    assert str(e.value) == (f"{path}: optimizer.learnin_rate is not a recipe key; did you mean "
                            "learning_rate? allowed: name, learning_rate, kwargs")


def test_unknown_top_level_key_without_a_close_match(write):
    path = write(MINIMAL + "zzz: 1\n")
    with pytest.raises(RecipeError, match=r"r.yaml: zzz is not a recipe key; allowed: name, description, version, dataset"):
        load_recipe(path)


def test_shipped_file_is_named_in_errors():
    with pytest.raises(RecipeError, match=r"^--set epoch=3: epoch is not a recipe key; did you mean epochs\?"):
        load_recipe("lenet5-mnist", ["epoch=3"])


@pytest.mark.parametrize("extra,match", [
    ("epochs: ten", r"epochs must be an integer; Received: epochs='ten'"),
    ("epochs: 2.5", r"epochs must be an integer; Received: epochs=2.5"),
    ("seed: true", r"seed must be an integer; Received: seed=True"),
    ("distribute: 1", r"distribute must be true or false; Received: distribute=1"),
    ("mixed_precision: fp8", r"mixed_precision must be one of auto, none, bfloat16, float16; Received: mixed_precision='fp8'"),
    ("jit_compile: sometimes", r"jit_compile must be true or false or auto; Received: jit_compile=.sometimes."),
    ("optimizer: {name: adamm}", r"optimizer.name must be one of sgd, adam, adamw"),
    ("optimizer: {learning_rate: -1}", r"optimizer.learning_rate must be positive"),
    ("optimizer: sgd", r"optimizer must be a mapping; Received: optimizer='sgd'"),
    ("schedule: {name: linear}", r"schedule.name must be one of constant, cosine, step, exponential"),
    ("schedule: {warmup_epochs: 3}", r"schedule.warmup_epochs must be smaller than epochs \(3\)"),
    ("batch_size: 0", r"batch_size must be a positive integer"),
    ("search_space: [1, 2]", r"search_space must be a mapping"),
    ("callbacks: {early_stopping: {patience: -1}}", r"callbacks.early_stopping.patience must be >= 0"),
    ("callbacks: {early_stopping: {patiense: 1}}", r"callbacks.early_stopping.patiense is not a recipe key; did you mean patience\?"),
    ("preprocessing: [{pad: -2}]", r"preprocessing is invalid: pad.width must be"),
    ("preprocessing: [blur]", r"preprocessing is invalid: step 0: unknown preprocessing step 'blur'"),
])
def test_wrong_types_and_values(write, extra, match):
    path = write(MINIMAL + extra + "\n")
    with pytest.raises(RecipeError, match=rf"^{path}: {match}"):
        load_recipe(path)


def test_required_keys_version_and_source(write):
    with pytest.raises(RecipeError, match=r"r.yaml: version is required \(an integer\)"):
        load_recipe(write(MINIMAL.replace("version: 1\n", "")))
    with pytest.raises(RecipeError, match=r"r.yaml: version must be 1"):
        load_recipe(write(MINIMAL.replace("version: 1", "version: 2")))
    with pytest.raises(RecipeError, match=r"r.yaml: model.name is required \(a string\)"):
        load_recipe(write(MINIMAL.replace("model: {name: lenet5}", "model: {}")))
    with pytest.raises(RecipeError, match=r"r.yaml: dataset.source is invalid: Unknown dataset source.*Received: source='svhn'"):
        load_recipe(write(MINIMAL.replace("embedded:mnist5k", "svhn")))


def test_cross_field_checks(write):
    with pytest.raises(RecipeError, match="monitor 'val_loss' needs a validation split"):
        load_recipe(write(MINIMAL + "callbacks: {early_stopping: {}}\n"
                          "dataset: {source: mnist, validation_fraction: 0}\n"))
    with pytest.raises(RecipeError, match=r"^recipes/lenet5-mnist.yaml with --set callbacks.reduce_lr_on_plateau={}: "
                                          "callbacks.reduce_lr_on_plateau needs schedule.name: constant"):
        load_recipe("lenet5-mnist", ["callbacks.reduce_lr_on_plateau={}"])
    # checked once all --set are in, so their order does not matter
    r = load_recipe("lenet5-mnist", ["callbacks.reduce_lr_on_plateau={}", "schedule.name=constant"])
    assert r.callbacks.reduce_lr_on_plateau.factor == 0.1


@pytest.mark.parametrize("override,match", [
    ("epochs", r"--set epochs: expected KEY=VALUE"),
    ("=3", r"--set =3: expected KEY=VALUE"),
    ("a..b=1", r"--set a..b=1: expected KEY=VALUE"),
    ("model.kwargs.filters=[1, 2", r"is not valid YAML.*as a list or mapping: close it"),
    ("epochs=ten", r"^--set epochs=ten: epochs must be an integer; Received: epochs='ten'"),
    ("optimizer.learning_rate=fast", r"^--set optimizer.learning_rate=fast: optimizer.learning_rate must be a number"),
    ("optimizer.name.x=1", r"optimizer.name is not a mapping, so it has no key 'x'"),
    ("dataset.sorce=mnist", r"dataset.sorce is not a recipe key; did you mean source\?"),
])
def test_bad_overrides(override, match):
    with pytest.raises(RecipeError, match=match):
        load_recipe("lenet5-mnist", [override])


def test_missing_files_and_bad_files(write, tmp_path):
    with pytest.raises(RecipeError, match=r"nope.yaml: recipe file not found"):
        load_recipe(tmp_path / "nope.yaml")
    with pytest.raises(RecipeError, match=r"unknown recipe 'lenet6'; shipped recipes: .*default.*\(or give the path"):
        load_recipe("lenet6")
    with pytest.raises(RecipeError, match=r"r.yaml: not valid YAML"):
        load_recipe(write("epochs: [1\n"))
    with pytest.raises(RecipeError, match=r"r.yaml: a recipe file holds a mapping of keys \(name, "):
        load_recipe(write("- 1\n- 2\n"))


def test_recipe_error_is_a_value_error():
    assert issubclass(RecipeError, ValueError)
    from cnn_zoo.errors import ZooError

    assert issubclass(RecipeError, ZooError)


# --------------------------------------------------------------------------- what people write

@pytest.mark.parametrize("written, value", [("1e-3", 1e-3), ("1e6", 1e6), ("3E-4", 3e-4),
                                            ("-2.5e-1", -0.25), ("1.5e+2", 150.0), (".5e1", 5.0),
                                            ("0.01", 0.01), ("2", 2)])
def test_numbers_as_people_write_them(written, value):
    """YAML 1.1 reads 1e-3 as a string; the recipe reads it as the number everyone means."""
    assert parse_override(f"optimizer.learning_rate={written}")[1] == value
    r = load_recipe("lenet5-mnist", [f"optimizer.learning_rate={abs(value)}",
                                     f"optimizer.learning_rate={written.lstrip('-')}"])
    assert r.optimizer.learning_rate == pytest.approx(abs(value)) and type(r.optimizer.learning_rate) is float


def test_numbers_in_a_recipe_file(write):
    r = load_recipe(write(MINIMAL + "optimizer: {learning_rate: 3E-4}\ncallbacks: {early_stopping: "
                                    "{min_delta: 1e-4}}\ndescription: 1e5 words\n"))
    assert (r.optimizer.learning_rate, r.callbacks.early_stopping.min_delta) == (3e-4, 1e-4)
    assert r.description == "1e5 words"
    assert parse_override("name=1e3x")[1] == "1e3x"  # only a whole number token is a number
    # Still an integer field: 1e2 is a float, said plainly.
    with pytest.raises(RecipeError, match=r"epochs must be an integer; Received: epochs=100.0"):
        load_recipe("lenet5-mnist", ["epochs=1e2"])


def test_an_unquoted_spec_gets_the_right_hint():
    """The README's convnet spec, unquoted inside the shell's quotes, is not YAML: say how to quote it."""
    spec = "[(CONV-RELU)*2-POOL]*2-(FC-RELU)*1-SOFTMAX"
    with pytest.raises(RecipeError) as e:
        load_recipe("convnet-fashion_mnist", [f"model.kwargs.spec={spec}"])
    message = str(e.value)
    assert f"""--set 'model.kwargs.spec="{spec}"'""" in message and "\n" not in message
    r = load_recipe("convnet-fashion_mnist", [f'model.kwargs.spec="{spec}"'])
    assert r.model.kwargs["spec"] == spec


def test_unreadable_recipe_files_are_one_line(write, tmp_path):
    import os

    path = write(MINIMAL)
    path.chmod(0o000)
    try:
        if not os.access(path, os.R_OK):  # root reads a chmod-000 file: then only /proc below
            with pytest.raises(RecipeError, match=r"r.yaml: cannot read the recipe file \(Permission denied\)"):
                load_recipe(path)
    finally:
        path.chmod(0o644)
    if sys.platform.startswith("linux"):  # a regular file whose read fails, for root too
        with pytest.raises(RecipeError, match=r"^/proc/self/mem: cannot read the recipe file \(Input/output error\)"):
            load_recipe("/proc/self/mem")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(RecipeError, match=r"b.yaml: not a text \(UTF-8\) recipe file"):
        load_recipe(binary)
    with pytest.raises(RecipeError, match=r"recipe file not found \(it is a folder\)"):
        load_recipe(tmp_path)


# --------------------------------------------------------------------------- with_overrides

def test_with_overrides_equals_loading_with_the_same_sets():
    base = load_recipe("lenet5-mnist")
    sets = ["epochs=3", "optimizer={name: sgd}", "optimizer.learning_rate=0.05", "model.kwargs.x=1"]
    changed = base.with_overrides(sets)
    assert changed == load_recipe("lenet5-mnist", sets)
    assert changed.optimizer.name == "sgd" and changed.optimizer.learning_rate == 0.05 and changed.epochs == 3
    assert base.epochs != 3 and base.with_overrides([]) == base  # frozen: the original is unchanged
    assert base.with_overrides("epochs=4").epochs == 4


def test_with_overrides_blames_the_set_that_broke_it():
    with pytest.raises(RecipeError, match=r"^--set epochs=0: epochs must be a positive integer"):
        load_recipe("lenet5-mnist").with_overrides(["batch_size=8", "epochs=0"])
    with pytest.raises(RecipeError, match="is not a recipe key; did you mean epochs"):
        load_recipe("lenet5-mnist").with_overrides(["epoch=2"])


def test_a_recipe_is_plain_data():
    # How it computes is resolved by cnn_zoo.compute.plan_for: no method here reaches Keras either.
    from pathlib import Path

    import cnn_zoo.recipe as recipe_module

    source = Path(recipe_module.__file__).read_text()
    assert "import keras" not in source and "hardware" not in source
    assert not hasattr(load_recipe("default"), "precision")
