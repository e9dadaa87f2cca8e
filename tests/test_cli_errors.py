"""Bad input to the CLI, as a user types it: one `Error:` line, exit 2, never a traceback.

Every mistake that needs no model is found before Keras (and TensorFlow) is imported; damaged
and untrusted files (a cut-off or Python-carrying model.keras, an npz of pickled objects) are
refused in one line that says why.

The folders are real: ``published`` (hub_fixtures) is a finished run, ``killed`` a run of the
default recipe killed in its first epoch. ``search`` holds what the checks of ``zoo tune`` and
``zoo promote`` read before Keras loads (tune.json, the recipe, the trials' folders); searches
that ran are tested in test_tune.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from cli_process import HEAVY, ROOT, zoo_in_subprocess
from hub_fixtures import TAG, published  # noqa: F401  (fixture)
from test_cli import assert_user_error, run
from test_tune import SPARSE, TINY


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """The default recipe's run, SIGKILLed at its first training step (ZOO_FAULT)."""
    run_dir = tmp_path_factory.mktemp("killed") / "run"
    code = ("import sys\nfrom cnn_zoo.train import train\n"
            "train('default', sys.argv[1], verbose=0, overrides=['dataset.max_examples=300', 'epochs=2'])")
    out = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True, text=True,
                         timeout=600, env=dict(os.environ, ZOO_FAULT="batch@1", PYTHONPATH=str(ROOT)))
    assert out.returncode == -signal.SIGKILL, out.stderr[-3000:]
    return run_dir


def _lambda_model_file(path):
    """A real .keras file with a Lambda layer: its config holds Python bytecode."""
    import keras

    model = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Lambda(lambda x: x * 2.0),
                              keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.save(path)


@pytest.fixture(scope="module")
def folders(tmp_path_factory, published, killed):  # noqa: F811
    """Name -> path of the folders and files the bad inputs name."""
    root = tmp_path_factory.mktemp("folders")
    run_dir = published.run_dir
    runs = {}
    for name in ("truncated", "missing", "lambda"):
        runs[name] = root / name
        shutil.copytree(run_dir, runs[name])
    model = runs["truncated"] / "model.keras"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    (runs["missing"] / "model.keras").unlink()
    _lambda_model_file(runs["lambda"] / "model.keras")
    search = root / "search"  # what the checks read: see the module docstring
    (search / "search" / "trial_0").mkdir(parents=True)
    (search / "search" / "trial_1").mkdir()
    for trial in ("trial_0", "trial_1"):
        (search / "search" / trial / "trial.json").write_text("{}")
    (search / "tune.json").write_text("{}")
    (search / "config.yaml").write_text("name: tiny\n" + TINY + SPARSE)
    (root / "tiny.yaml").write_text(TINY + SPARSE)
    pickled = root / "pickled.npz"  # images as an object array: loading them would unpickle
    images = np.empty(8, dtype=object)
    images[:] = [np.zeros((28, 28), np.uint8)] * 8
    np.savez(pickled, x_train=images, y_train=np.zeros(8, np.int64), x_test=images, y_test=np.zeros(8, np.int64))
    (root / "text.npz").write_text("not an archive")
    return {"PICKLED": pickled, "NOT_NPZ": root / "text.npz", "RUN": run_dir, "KILLED": killed, "SEARCH": search, "TINY": root / "tiny.yaml",
            "NEW": root / "new", "HUB": published.dest, "OTHER_HUB": root / "hub",
            "TRUNCATED": runs["truncated"], "MISSING": runs["missing"], "LAMBDA": runs["lambda"]}


# (argv with folder names, a fragment of the one line): every one needs no model and no Keras.
BEFORE_KERAS = [
    (["explain", "conv", "--input", "32x32x3", "-K", "6", "-F", "5x3x2"], "gives 3 values"),
    # train
    (["train", "default", "--set", "optimizer.kwargs.bogus=1"],
     "optimizer.kwargs.bogus is not an argument of Keras' adam optimizer"),
    (["train", "default", "--set", "optimizer.kwargs.beta_1=abc"], "beta_1 must be a number"),
    (["train", "default", "--set", "optimizer.kwargs.amsgrad=1"], "amsgrad must be true or false"),
    (["train", "default", "--set", "optimizer.kwargs.learning_rate=0.1"], "set by optimizer.learning_rate"),
    (["train", "default", "--set", "model.name=lenett"], "Unknown model 'lenett'"),
    (["train", "default", "--set", "model.kwargs.bogus=1"], "Model 'lenet5' takes no argument 'bogus'"),
    (["train", "default", "--set", "model.kwargs.dropuot=0.1", "--set", "model.name=lenet5_modern"],
     "Did you mean 'dropout'?"),
    (["train", "default", "--set", "dataset.source=npz:PICKLED"], "holds arrays of Python objects"),
    (["train", "lenet5-mnist", "--resume", "--out", "KILLED"],
     "holds a run of the recipe 'default', not 'lenet5-mnist'"),
    (["train", "--resume", "--out", "RUN"], "is a finished run, nothing to resume"),
    (["train", "default", "--out", "RUN"], "already exists and is not empty"),
    (["train", "--resume", "--out", "KILLED", "--set", "epochs=0"], "epochs must be a positive integer"),
    # eval
    (["eval", "TRUNCATED"], "model.keras is damaged, not a whole .keras file"),
    (["eval", "MISSING"], "no model at"),
    (["eval", "LAMBDA"], "model.keras is refused: the function of layer 'lambda' is Python code"),
    (["eval", "LAMBDA/model.keras"], "is refused"),
    (["eval", "KILLED"], "no model at"),
    (["eval", "RUN", "--data", "npz:PICKLED"], "refused: the file holds arrays of Python objects"),
    (["eval", "RUN", "--data", "npz:NOT_NPZ"], "refused: the file is not a .npz file of arrays"),
    # publish
    (["publish", "TRUNCATED", "--tag", "lenet5_modern.x", "--dest", "OTHER_HUB"], "is damaged"),
    (["publish", "MISSING", "--tag", "lenet5_modern.x", "--dest", "OTHER_HUB"],
     "is not a finished run folder (no model.keras)"),
    (["publish", "LAMBDA", "--tag", "lenet5_modern.x", "--dest", "OTHER_HUB"], "is refused"),
    (["publish", "RUN", "--tag", "lenet5.x", "--dest", "OTHER_HUB"], "its tag must start with 'lenet5_modern.'"),
    (["publish", "KILLED", "--tag", "lenet5.x", "--dest", "OTHER_HUB"], "is not a finished run folder"),
    (["publish", "RUN", "--tag", TAG, "--dest", "HUB"], "is already published"),
    # tune
    (["tune"], "give a RECIPE"),
    (["tune", "--resume"], "--resume needs --out DIR"),
    (["tune", "--resume", "--out", "RUN"], "holds no search to resume"),
    (["tune", "TINY", "--out", "SEARCH"], "already exists and is not empty"),
    (["tune", "TINY", "--out", "NEW", "--time-budget", "soon"], "a duration looks like 30m"),
    (["tune", "TINY", "--out", "NEW", "--set", "search_space.model.kwargs.kernel_size={choise: [3]}"],
     "unknown kind 'choise'"),
    (["tune", "TINY", "--out", "NEW", "--tuner", "hyperband", "--set",
      "search_space.epochs={int: {min: 1, max: 2}}"], "cannot be searched with the hyperband tuner"),
    (["tune", "TINY", "--out", "NEW", "--set", "tuning.objective=val_foo"],
     "Received: tuning.objective='val_foo'"),
    (["tune", "TINY", "--out", "NEW", "--set", "dataset.validation_fraction=0"], "needs a validation split"),
    (["tune", "TINY", "--out", "NEW", "--set", "model.name=lenett"], "Unknown model 'lenett'"),
    (["tune", "TINY", "--out", "NEW", "--set", "model.kwargs.filterz=[8]"], "Did you mean 'filters'?"),
    (["promote", "SEARCH", "--set", "model.kwargs.bogus=1"], "takes no argument 'bogus'"),
    (["tune", "default", "--out", "NEW"], "search_space of recipe 'default' is empty"),
    (["tune", "--resume", "--out", "SEARCH", "--set", "epochs=2"], "--set cannot change a search"),
    (["tune", "default", "--resume", "--out", "SEARCH"], "holds a search of recipe 'tiny', not 'default'"),
    (["tune", "--resume", "--out", "SEARCH", "--tuner", "grid"], "it cannot change on resume"),
    (["tune", "TINY", "--out", "NEW", "--chief", "--oracle", "1.2.3.4:99999"], "must be HOST:PORT"),
    (["tune", "--worker", "--out", "SEARCH", "--oracle", "nohost"], "needs the chief's port"),
    (["tune", "--worker", "--out", "NEW", "--oracle", "127.0.0.1:1"], "holds no search (no tune.json)"),
    (["tune", "--worker", "--out", "SEARCH", "--oracle", "127.0.0.1:1", "--tuner-id", "chief"],
     "must not contain 'chief'"),
    # promote
    (["promote", "RUN"], "holds no search (no tune.json)"),
    (["promote", "SEARCH", "--trial", "9"], "has no trial '9'; its trials: 0, 1"),
    (["promote", "SEARCH", "--tag", "Not A Tag"], "A pretrained tag is 'arch.name'"),
    (["promote", "SEARCH", "--set", "epochs=many"], "epochs must be an integer"),
    (["promote", "SEARCH", "--set", "bogus=1"], "bogus is not a recipe key"),
    (["promote", "SEARCH", "--out", "RUN"], "already exists and is not empty"),
    (["promote", "SEARCH", "--tag", "lenet5.x"], "its tag must start with 'convnet.'"),
]


def _argv(args, folders):
    """``args`` with the folder names replaced by their paths (NAME, NAME/rest, KEY=npz:NAME)."""
    out = []
    for arg in args:
        before, npz, after = arg.rpartition("npz:")
        head, sep, rest = (after if npz else arg).partition("/")
        path = str(folders[head] / rest if sep else folders[head]) if head in folders else None
        out.append(arg if path is None else f"{before}{npz}{path}")
    return out


@pytest.fixture
def keras_forbidden(monkeypatch):
    """Any import of Keras, TensorFlow, JAX, torch or Keras Tuner fails, and so does the CLI's
    own import_keras: a command that reached either would not end in its one line."""
    for name in (*HEAVY, "keras_tuner"):
        monkeypatch.setitem(sys.modules, name, None)  # `import keras` now raises ImportError

    def import_keras():
        raise AssertionError("the command imported Keras before finding the mistake")

    from cnn_zoo.cli import group, hub, models, page, training

    for module in (group, hub, models, page, training):
        monkeypatch.setattr(module, "import_keras", import_keras)


@pytest.mark.parametrize("args,fragment", BEFORE_KERAS, ids=[" ".join(args) for args, _ in BEFORE_KERAS])
def test_a_mistake_that_needs_no_model_is_one_line_before_keras(folders, keras_forbidden, args, fragment):
    assert_user_error(run(*_argv(args, folders)), fragment)


def test_the_same_mistakes_import_no_keras_in_a_fresh_process(folders):
    picked = [args for command in ("train", "eval", "publish", "tune", "promote")
              for args in [a for a, _ in BEFORE_KERAS if a[0] == command][:2]]
    codes, heavy, stderr = zoo_in_subprocess(*(_argv(args, folders) for args in picked))
    assert heavy == [] and codes == [2] * len(picked), stderr
    lines = stderr.splitlines()
    assert len(lines) == len(picked) and all(line.startswith("Error: ") for line in lines), stderr


def test_the_silent_resume_with_another_recipe_is_refused_and_leaves_the_run_as_it_was(folders):
    before = {p.name: p.read_bytes() for p in folders["KILLED"].iterdir() if p.is_file()}
    assert_user_error(run("train", "lenet5-mnist", "--resume", "--out", str(folders["KILLED"])),
                      "'default', not 'lenet5-mnist'", f"zoo train --resume --out {folders['KILLED']}")
    assert {p.name: p.read_bytes() for p in folders["KILLED"].iterdir() if p.is_file()} == before


# -- files Keras or NumPy would refuse with a traceback -------------------------------------


def test_a_model_file_keras_cannot_rebuild_is_one_line(folders, tmp_path):
    """A whole zip whose config names a class no one registered: Keras' own refusal, in one line."""
    run_dir = tmp_path / "run"
    shutil.copytree(folders["RUN"], run_dir)
    model = run_dir / "model.keras"
    with zipfile.ZipFile(folders["RUN"] / "model.keras") as source, zipfile.ZipFile(model, "w") as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][-1]["class_name"] = "NoSuchLayer"
                data = json.dumps(config).encode()
            out.writestr(item, data)
    assert_user_error(run("eval", str(run_dir)), f"{model} cannot be loaded")


@pytest.fixture(scope="module")
def pickled(tmp_path_factory):
    """An npz whose images are an object array: loading it would unpickle."""
    path = tmp_path_factory.mktemp("npz") / "pickled.npz"
    images = np.empty(8, dtype=object)
    images[:] = [np.zeros((28, 28), np.uint8)] * 8
    labels = np.zeros(8, np.int64)
    np.savez(path, x_train=images, y_train=labels, x_test=images, y_test=labels)
    return path


def test_eval_on_an_npz_of_pickled_objects_is_refused_in_one_line(folders, pickled):
    assert_user_error(run("eval", str(folders["RUN"]), "--data", f"npz:{pickled}"),
                      f"npz:{pickled}: refused: the file holds arrays of Python objects")


def test_training_on_an_npz_of_pickled_objects_is_refused_in_one_line(tmp_path, pickled):
    out = tmp_path / "run"
    assert_user_error(run("train", "default", "--set", f"dataset.source=npz:{pickled}", "--out", str(out)),
                      "refused: the file holds arrays of Python objects")
    assert not out.exists()  # refused before the run folder was made


def test_a_builtin_builders_keywords_read_from_its_source_are_its_signatures():
    """check_model_arguments reads a family module's source to answer before Keras: it must agree."""
    from cnn_zoo import registry
    from cnn_zoo.models import FAMILIES

    for name, (module, _) in FAMILIES.items():
        assert registry._source_keywords(module, name) == registry._builder_keywords(registry.get_builder(name))
