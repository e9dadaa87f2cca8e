"""Every registered family, in timm's style: one set of tests parametrized over ``zoo list``.

A family registered in zoo/models/__init__.py gets these checks without a line
of test code of its own: its published parameter count (``Family.published``)
equals its builder's; its small model (``Family.test_kwargs``) builds, runs
forward, trains a step (forward and backward: every trainable weight moves),
saves as ``.keras`` and reloads with equal outputs, on TensorFlow here and on
JAX and PyTorch in one subprocess each (tests/family_conformance.py); its card
prints every layer and the family's notes.

On JAX and PyTorch each model module runs once, through its family with the fewest published
parameters: its deeper members repeat the same blocks, and JAX compiles a train step of a
ResNet-152 for minutes. (tests/test_convert_lineage.py runs every ResNet depth on JAX.)
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cnn_zoo as zoo
from cnn_zoo.card import card_for
from family_conformance import check

NAMES = zoo.list_models()
# Families whose sources print no one parameter count, and why.
UNPUBLISHED = {"convnet": "a parametric stack: its count is its spec's, which its card shows"}


def representatives() -> list[str]:
    """Per model module, its family with the fewest published parameters (see the docstring)."""
    from cnn_zoo.models import FAMILIES

    chosen = {}
    for name in NAMES:
        published = zoo.get_family(name).published
        size = published.params if published else 0
        module = FAMILIES[name][0]
        if module not in chosen or size < chosen[module][0]:
            chosen[module] = (size, name)
    return sorted(name for _, name in chosen.values())


def _assert_conforms(result: dict, name: str) -> None:
    family = zoo.get_family(name)
    classes = family.test_kwargs.get(
        "num_classes", inspect.signature(family.build).parameters["num_classes"].default)
    assert result["finite"], result
    assert result["output_shape"] == [4, classes], result
    assert result["moved"] == result["weights"] > 0, f"{name}: only {result['moved']} of " \
        f"{result['weights']} trainable weights moved in a training step"
    assert result["reload_difference"] <= 1e-6, result


def test_every_family_cites_its_parameter_count_or_says_why_not():
    missing = {name for name in NAMES if zoo.get_family(name).published is None}
    assert missing == set(UNPUBLISHED)


@pytest.mark.parametrize("name", [n for n in NAMES if n not in UNPUBLISHED])
def test_parameter_count_is_the_published_one(name):
    published = zoo.get_family(name).published
    card = card_for(name, **published.kwargs)  # built without allocating the weights
    assert published.matches(card.totals.weights), (name, card.totals.weights, published)
    assert published.source


@pytest.mark.parametrize("name", NAMES)
def test_builds_trains_saves_and_reloads_on_tensorflow(name, tmp_path):
    result = check(name, tmp_path)
    assert result["backend"] == "tensorflow"
    _assert_conforms(result, name)


@pytest.mark.parametrize("name", NAMES)
def test_card_shows_every_layer_and_the_family_notes(name):
    import keras

    family = zoo.get_family(name)
    card = card_for(name, **family.test_kwargs)
    text = str(card)
    model = zoo.get_model(name, **family.test_kwargs)
    assert card.totals.params == model.count_params()
    assert [row.name for row in card.rows] == [op.name for op in model.operations
                                               if not isinstance(op, keras.layers.InputLayer)]
    for row in card.rows:
        assert f"\n{row.name} " in text
    assert card.notes == family.card_notes(family.test_kwargs)
    for line in card.notes:
        assert line in text
    json.dumps(card.as_dict())


def test_every_model_module_runs_on_the_other_backends():
    from cnn_zoo.models import FAMILIES

    assert {FAMILIES[name][0] for name in representatives()} == {module for module, _ in FAMILIES.values()}
    assert {"resnet18", "vgg11", "alexnet_paper", "allconv", "resnet_cifar"} <= set(representatives())


@pytest.mark.slow  # one family per model module on two more backends: a minute or two each
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_builds_trains_saves_and_reloads_on_other_backends(backend, tmp_path):
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    names = representatives()
    done = subprocess.run([sys.executable, "tests/family_conformance.py", str(tmp_path), *names],
                          cwd=os.path.dirname(os.path.dirname(__file__)) or ".", env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["name"] for r in results] == names
    for result in results:
        assert result["backend"] == backend
        _assert_conforms(result, result["name"])


def test_a_new_family_gets_the_checks(fresh_registry, tmp_path):
    """What a family of one's own needs for these checks: its Family, nothing else."""
    import keras

    from cnn_zoo.family import Family, Published
    from cnn_zoo.models import builder_parts

    def tiny(*, input_shape=None, num_classes=10, include_top=True, pooling=None,
             classifier_activation="softmax", weights=None, name="tiny"):
        inputs = builder_parts.model_input(input_shape, (8, 8, 1))
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="conv")(inputs))
        outputs = builder_parts.classifier(x, num_classes, classifier_activation)
        return builder_parts.finish(inputs, outputs, name, weights)

    zoo.register_model(Family("tiny", tiny, published=Published(90, "(9·1)·4 + 4 + 4·10 + 10"),
                              test_kwargs={"num_classes": 3}))
    assert zoo.get_family("tiny").published.matches(card_for("tiny").totals.weights)
    result = check("tiny", tmp_path)
    _assert_conforms(result, "tiny")
    assert result["output_shape"] == [4, 3] and np.isfinite(result["loss"])
