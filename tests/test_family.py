"""The family interface: the built-in families on it, train/tune/hub free of family names, and a
family from outside the zoo (tests/family_fixture.py) that trains, tunes, publishes and predicts."""

import ast
import importlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import cnn_zoo as zoo
from cnn_zoo import registry
from cnn_zoo.family import Family
from cnn_zoo.models import FAMILIES

ROOT = Path(__file__).resolve().parents[1]
# The code that must talk to families only through the interface.
INTERFACE_ONLY = ["zoo/train.py", "zoo/fit_data.py", "zoo/evaluation.py", "zoo/run_state.py",
                  *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "zoo/tune").glob("*.py")),
                  *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "zoo/hub").glob("*.py"))]


# -- the built-in families ----------------------------------------------------


def test_each_catalogued_module_defines_exactly_its_families():
    modules = {module for module, _ in FAMILIES.values()}
    defined = {f.name: module for module in modules
               for f in importlib.import_module(module).FAMILIES}
    assert defined == {name: module for name, (module, _) in FAMILIES.items()}
    for name in FAMILIES:
        family = zoo.get_family(name)
        assert isinstance(family, Family) and family.name == name
        assert family.build is zoo.get_builder(name) and family.summary == FAMILIES[name][1]


def test_builtin_families_own_their_heads_outputs_planners_and_converters():
    lenet, googlenet, bn, convnet = (zoo.get_family(n) for n in ("lenet5", "googlenet", "googlenet_bn",
                                                                  "convnet"))
    assert lenet.head == ("output",) and convnet.head == ("classifier",)
    assert googlenet.head == ("classifier", "aux1_classifier", "aux2_classifier")
    assert googlenet.aux_outputs == {"aux1": 0.3, "aux2": 0.3}
    assert googlenet.for_inference({"aux_classifiers": True, "num_classes": 3}) == \
        {"aux_classifiers": False, "num_classes": 3}
    assert googlenet.for_inference({"num_classes": 3}) == {"num_classes": 3}
    assert convnet.planner is not None and lenet.planner is None and googlenet.planner is None
    assert convnet.planner.plan((28, 28, 1), {"spec": "[(CONV-RELU)*1-POOL]*1-SOFTMAX", "filters": 4}) \
        == 28 * 28 * 9 * 4
    assert bn.converter("torchvision").ARCH == "googlenet_bn" and bn.converter("bvlc") is None
    assert googlenet.converter("bvlc").ARCH == "googlenet"


def test_googlenet_training_outputs_and_inference_model_come_from_its_family():
    family = zoo.get_family("googlenet")
    model = zoo.get_model("googlenet", input_shape=(96, 96, 3), num_classes=5, aux_classifiers=True)
    assert family.outputs(model) == ["predictions", "aux1", "aux2"]
    assert family.loss_weights(model) == {"predictions": 1.0, "aux1": 0.3, "aux2": 0.3}
    inference = family.inference_model(model)
    x = np.random.default_rng(0).random((2, 96, 96, 3), dtype="float32")
    np.testing.assert_allclose(inference.predict(x, verbose=0), model.predict(x, verbose=0)["predictions"],
                               rtol=1e-6)
    plain = zoo.get_model("lenet5_modern")
    assert family.loss_weights(plain) is None and family.inference_model(plain) is plain


# Each family small: GoogLeNet's auxiliary pools need 96x96.
SMALL = {"googlenet": dict(input_shape=(96, 96, 3), aux_classifiers=True),
         "googlenet_bn": dict(input_shape=(64, 64, 3))}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_is_fitted_on_its_logits(name):
    """Training fits the input of each softmax output (from_logits): on JAX and PyTorch a
    cross-entropy from probabilities clips at 1e-7, and a confident mistake has no gradient."""
    import keras

    family = zoo.get_family(name)
    model = zoo.get_model(name, num_classes=4, **SMALL.get(name, {}))
    fitted = family.fit_outputs(model)
    assert list(fitted) == family.outputs(model) and all(logits for _, logits in fitted.values())
    logits = keras.Model(model.input, {k: t for k, (t, _) in fitted.items()})
    x = np.random.default_rng(0).random((2, *model.input_shape[1:]), dtype="float32")
    probabilities, got = model(x), logits(x)
    for key in fitted:
        expected = probabilities[key] if isinstance(probabilities, dict) else probabilities
        np.testing.assert_allclose(keras.ops.softmax(got[key]), expected, rtol=1e-5, atol=1e-7)


def test_an_output_without_a_softmax_layer_is_fitted_as_it_is():
    family = zoo.get_family("lenet5_modern")
    linear = zoo.get_model("lenet5_modern", classifier_activation=None)
    assert family.fit_outputs(linear) == {"predictions": (linear.output, True)}  # logits already
    sigmoid = zoo.get_model("lenet5_modern", classifier_activation="sigmoid")
    assert family.fit_outputs(sigmoid) == {"predictions": (sigmoid.output, False)}
    import keras

    inputs = keras.Input((4,))
    bare = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="predictions")(inputs))
    assert family.fit_outputs(bare) == {"predictions": (bare.output, False)}  # no logits to reach


# -- train, tune and hub know no family by name -------------------------------


def _forbidden_names() -> tuple[set, set]:
    """(family names and family modules, layer names that a family owns)."""
    names = set(FAMILIES) | {module.rsplit(".", 1)[1] for module, _ in FAMILIES.values()} | {"convnet_spec"}
    layers = set()
    for name in FAMILIES:
        family = zoo.get_family(name)
        layers |= {*family.head, family.output, *family.aux_outputs, *family.inference_kwargs}
    return names, layers


def _code_words(source: str):
    """(identifiers and imported modules, string constants) of the code, docstrings left out."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    words, strings = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.add(node.id)
        elif isinstance(node, ast.Attribute):
            words.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            words.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            words |= {*(node.module or "").split("."), *(a.name for a in node.names)}
        elif isinstance(node, ast.Import):
            words |= {part for a in node.names for part in a.name.split(".")}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            strings.add(node.value)
    return words, strings


@pytest.mark.parametrize("path", INTERFACE_ONLY)
def test_no_family_or_layer_name_outside_the_family_modules(path):
    names, layers = _forbidden_names()
    words, strings = _code_words((ROOT / path).read_text(encoding="utf-8"))
    found = sorted(w for w in words if any(n in w.lower() for n in names))
    found += sorted(s for s in strings if s in names | layers or s.startswith(tuple(f"{n}_" for n in layers)))
    assert not found, f"{path} names families or their layers: {found}"


def test_the_forbidden_names_are_found_where_they_are_written():
    words, strings = _code_words('"""googlenet in a docstring is prose."""\n'
                                 'from cnn_zoo.models.googlenet import aux_loss_weights\n'
                                 'y = out["predictions"]\nok = space.is_convnet\n')
    names, layers = _forbidden_names()
    assert {"googlenet", "is_convnet"} <= {w for w in words if any(n in w for n in names)}
    assert "predictions" in strings & layers and not any("docstring" in s for s in strings)


# -- a family from outside the zoo --------------------------------------------

RECIPE = """\
version: 1
description: the test family on tiny data
dataset: {source: embedded:mnist5k, validation_fraction: 0.2, max_examples: 300}
preprocessing: [{rescale: 0.00392156862745098}]
model: {name: twohead, kwargs: {aux: true, kernel_size: 3}}
optimizer: {name: adam, learning_rate: 0.01}
epochs: 1
batch_size: 64
seed: 0
jit_compile: false
"""


@pytest.fixture(scope="module")
def twohead(tmp_path_factory):
    """The test family registered (in a registry of its own), its recipe, a ZOO_HOME."""
    from family_fixture import FAMILY

    root = tmp_path_factory.mktemp("twohead")
    (root / "twohead-tiny.yaml").write_text(RECIPE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "REGISTRY", registry.Registry())
        patch.setenv("ZOO_HOME", str(root / "home"))
        zoo.register_model(FAMILY)
        yield root


@pytest.fixture(scope="module")
def trained(twohead):
    """One epoch of the test family, auxiliary head on (~8 s on 2 Xeon cores)."""
    from cnn_zoo.train import train

    return train(twohead / "twohead-tiny.yaml", twohead / "run", verbose=0)


def test_the_family_trains_with_its_auxiliary_head_weighted(twohead, trained):
    from cnn_zoo import run as runs
    from cnn_zoo.evaluation import evaluate

    result = trained
    assert result.status == "finished", result.message
    (row,) = runs.read_history(twohead / "run")
    assert {"probs_accuracy", "side_loss", "val_probs_accuracy"} <= set(row)
    # The family's loss weights: the total is the main loss plus half the side loss.
    assert row["loss"] == pytest.approx(row["probs_loss"] + 0.5 * row["side_loss"], rel=1e-3)
    # The test metric is the main output's alone (the inference model), and reproducible.
    assert set(result.metrics) == {"loss", "accuracy"} and 0.1 < result.metrics["accuracy"] <= 1
    assert evaluate(twohead / "run")["accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1e-6)


def test_the_family_tunes_and_its_planner_rejects_the_impossible_kernel(twohead):
    from cnn_zoo.recipe import load_recipe
    from cnn_zoo.tune import SearchSpace, tune

    path = twohead / "twohead-tune.yaml"
    path.write_text(RECIPE.replace("aux: true, kernel_size: 3", "aux: false, kernel_size: 20")
                    + "search_space:\n  model.kwargs.kernel_size: {choice: [20, 3]}\n")
    space = SearchSpace(load_recipe(path), (28, 28, 1))
    assert [p.key for p in space.shape_params()] == ["model.kwargs.kernel_size"]
    ok, reason = space.check({"model.kwargs.kernel_size": 20})
    assert not ok and reason.startswith("body_conv2:")  # 28 → 9 → a 20-wide kernel does not fit
    # Grid search: the recipe's own value (20) first, refused by the planner before building.
    result = tune(path, twohead / "tune", tuner="grid", max_trials=2, verbose=0)
    report = result.report
    assert report.counts["completed"] == 1 and report.counts["infeasible"] == 1
    first = report.trial("0")
    assert first.status == "infeasible" and first.epochs == 0 and first.note.startswith("body_conv2:")
    assert not (twohead / "tune" / "search" / "trial_0" / "execution0" / "history.csv").exists()
    (done,) = [r for r in report.rows if r.status == "completed"]
    assert done.values["model.kwargs.kernel_size"] == 3 and done.score is not None


def test_the_family_publishes_loads_fine_tunes_and_predicts(twohead, trained):
    from hub_fixtures import write_photos

    from cnn_zoo.hub import load, predict, publish
    from cnn_zoo.hub.loading import HeadRebuiltWarning

    run_dir = trained.run_dir
    assert trained.status == "finished", trained.message
    info = publish(run_dir, "twohead.tiny")
    assert info.arch == "twohead" and info.kwargs["aux"] is True
    model = load("twohead.tiny")  # the family turns the training-only head off
    assert not isinstance(model.output, dict) and "side_logits" not in [l.name for l in model.layers]
    photos = write_photos(twohead / "photos", sizes=((120, 90), (100, 100)))
    from_tag = predict("twohead.tiny", photos, top_k=3)
    from_run = predict(run_dir, photos, top_k=3)  # model.keras still has the side output
    assert [p.indices for p in from_tag] == [p.indices for p in from_run]
    np.testing.assert_allclose([p.probabilities for p in from_tag], [p.probabilities for p in from_run],
                               rtol=1e-4)
    assert all(len(p.labels) == 3 and sum(p.probabilities) <= 1 + 1e-6 for p in from_tag)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        three = load("twohead.tiny", num_classes=3)
    rebuilt = [w for w in caught if issubclass(w.category, HeadRebuiltWarning)]
    assert len(rebuilt) == 1 and "'head_logits'" in str(rebuilt[0].message)
    assert three.output_shape == (None, 3)
    entry = json.loads((twohead / "home" / "weights" / "manifest.json").read_text())["tags"]["twohead.tiny"]
    assert entry["arch"] == "twohead"
