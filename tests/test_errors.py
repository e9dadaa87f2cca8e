"""One error tree: every error a user can cause is a ZooError (ShapeError beside it), and the CLI
shows exactly those as one line; any other exception is a bug with its traceback."""

import importlib
import inspect
import pkgutil
import subprocess
import sys

import cnn_zoo
from cnn_zoo.errors import ZooError
from cnn_zoo.layers.arithmetic import ShapeError

# Exceptions of the zoo that are not user errors, each for a stated reason.
NOT_USER_ERRORS = {
    "cnn_zoo.layers.arithmetic.ShapeError": "beside ZooError: layers/ imports nothing of the zoo",
    "cnn_zoo.tune.hypermodel.InfeasibleTrial": "Keras Tuner's control flow: a trial it records as failed",
    "cnn_zoo.tune.oracles.TooManyFailures": "raised inside the search; run_search turns it into a TuneError",
    "cnn_zoo.cli.group.UserError": "click's exception that prints a ZooError's one line",
}


def zoo_exception_classes():
    found = {}
    import cnn_zoo.layers  # installed from its own folder: walked on its own

    infos = [*pkgutil.walk_packages(cnn_zoo.__path__, "cnn_zoo."),
             *pkgutil.walk_packages(cnn_zoo.layers.__path__, "cnn_zoo.layers.")]
    for info in infos:
        if info.name.endswith("__main__"):  # running it is `zoo`
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and not issubclass(cls, Warning) and cls.__module__ == info.name:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def test_every_exception_class_of_the_zoo_is_a_zoo_error_or_named_beside_it():
    classes = zoo_exception_classes()
    # the walk sees every package: the errors the CLI once listed one by one are all here
    for name in ("cnn_zoo.recipe_schema.RecipeError", "cnn_zoo.run.RunError", "cnn_zoo.data.errors.DataError",
                 "cnn_zoo.preprocess.checks.PreprocessError", "cnn_zoo.models.convnet_spec.SpecError",
                 "cnn_zoo.tune.errors.TuneError", "cnn_zoo.tune.hyperparam.SearchSpaceError",
                 "cnn_zoo.weights.errors.HubError", "cnn_zoo.errors.CardError"):
        assert name in classes
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, ZooError))
    assert outside == sorted(NOT_USER_ERRORS)
    assert issubclass(ShapeError, ValueError) and issubclass(ZooError, ValueError)


def test_cli_user_errors_are_exactly_zoo_error_and_shape_error():
    from cnn_zoo.cli.group import USER_ERRORS, is_user_error

    assert USER_ERRORS == (("cnn_zoo.errors", "ZooError"), ("cnn_zoo.layers.arithmetic", "ShapeError"))
    from cnn_zoo.tune.search import TuneError

    assert is_user_error(TuneError("x")) and is_user_error(ShapeError("x"))
    assert not is_user_error(ValueError("x")) and not is_user_error(KeyError("x"))


BUGGY = """
import cnn_zoo as zoo
from cnn_zoo.cli import main

@zoo.register_model
def buggy(*, input_shape=None, num_classes=3, include_top=True, pooling=None,
          classifier_activation="softmax", weights=None, name="buggy"):
    '''A builder with a bug.'''
    raise {error}("an internal invariant broke")

main(["info", "buggy"])
"""


def test_cli_shows_a_traceback_for_a_non_zoo_exception_and_one_line_for_a_zoo_error():
    bug = subprocess.run([sys.executable, "-c", BUGGY.format(error="KeyError")],
                         capture_output=True, text=True, timeout=120)
    assert bug.returncode == 1
    assert "Traceback (most recent call last)" in bug.stderr and "KeyError" in bug.stderr
    user = subprocess.run([sys.executable, "-c", BUGGY.format(error="zoo.ZooError")],
                          capture_output=True, text=True, timeout=120)
    assert user.returncode == 2
    assert user.stderr.strip() == "Error: an internal invariant broke"


def test_the_zoo_raises_no_bare_value_error():
    """A bare ValueError reads as a bug (a traceback); the zoo's refusals are ZooErrors. layers/
    keeps Keras' own ValueErrors where Keras raises them (argument checks in ``__init__``,
    input checks in ``build``), and imports nothing of the zoo."""
    import ast
    from pathlib import Path

    root = Path(cnn_zoo.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                    and getattr(node.exc.func, "id", None) in ("ValueError", "TypeError"):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert found == []
