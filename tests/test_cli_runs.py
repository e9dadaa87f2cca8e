"""The CLI on real trained models: eval --data, class names that differ, run folders as models,
fine-tuning from a tag, and what a finished run prints.

Uses the small published model of hub_fixtures (LeNet-5 modern, one epoch on
400 embedded MNIST digits) and digits from the embedded MNIST sample written
as PNG files, so nothing here needs a download or ../shared.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from hub_fixtures import TAG, published  # noqa: F401  (fixture)
from cnn_zoo.cli import main


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def cli_env(tmp_path, published, monkeypatch):  # noqa: F811
    """The CLI finds the published tag through ZOO_HUB_URL, with an empty cache."""
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_HUB_URL", published.dest.as_uri())
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    return published


@pytest.fixture(scope="module")
def digits():
    from cnn_zoo.data import load_dataset

    return load_dataset("embedded:mnist5k", "test")


def _write_folder(root, digits, names: dict, per_class=40):
    """root/{train,test}/<name>/*.png from the digits of class ``digit`` for each {name: digit}
    (the same images in both); returns root and the test images with their digits."""
    xs, ys = [], []
    for name, digit in sorted(names.items()):
        images = digits.x[digits.y == digit][:per_class]
        for split in ("train", "test"):
            (root / split / name).mkdir(parents=True)
            for i, image in enumerate(images):
                Image.fromarray(image[..., 0]).save(root / split / name / f"{i:03d}.png")
        xs.append(images[..., 0])
        ys.append(np.full(len(images), digit))
    return root, np.concatenate(xs), np.concatenate(ys)


def test_eval_of_a_tag_honours_data(cli_env, tmp_path, digits):
    # Other data than the tag's: 50 digits, all labelled 0 whatever they show.
    path = tmp_path / "zeros.npz"
    x = digits.x[:50, ..., 0]
    np.savez(path, x_train=x, y_train=np.zeros(50, np.int64), x_test=x, y_test=np.zeros(50, np.int64))
    own = json.loads(_cli("eval", TAG, "--json").stdout)
    result = _cli("eval", TAG, "--data", f"npz:{path}", "--json")
    assert result.exit_code == 0, result.output
    other = json.loads(result.stdout)
    assert other["dataset"] == f"npz:{path}" and other["examples"] == 50
    assert other["dataset"] != own["dataset"] and other["examples"] != own["examples"]
    share_of_zeros = np.mean(digits.y[:50] == 0)
    assert other["accuracy"] <= share_of_zeros + 0.1  # scored against the given labels


def test_eval_on_a_folder_with_other_class_names_says_how_they_were_matched(cli_env, tmp_path, digits):
    # Folders "3" and "7": labels 0 and 1 in the folder, classes 3 and 7 of the model.
    folder, x, y = _write_folder(tmp_path / "digits", digits, {"3": 3, "7": 7})
    result = _cli("eval", TAG, "--data", f"folder:{folder}", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["classes"] == "by name" and data["examples"] == 80
    # The same images with their true digits as labels score the same.
    np.savez(tmp_path / "truth.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    truth = json.loads(_cli("eval", TAG, "--data", f"npz:{tmp_path / 'truth.npz'}", "--json").stdout)
    assert data["accuracy"] == pytest.approx(truth["accuracy"], abs=1e-6)
    (warning,) = [line for line in result.stderr.splitlines() if "downloaded" not in line]
    assert warning.startswith("Warning: folder:") and "class names (3, 7) differ from the model's" in warning
    assert warning.endswith("matched them by name")

    other, _, _ = _write_folder(tmp_path / "pets", digits, {"cat": 3, "dog": 7}, per_class=10)
    result = _cli("eval", TAG, "--data", f"folder:{other}")
    assert result.exit_code == 0, result.output
    assert "matched by position" in result.stderr and "cat, dog" in result.stderr
    assert "classes: by position" in result.stdout


def test_predict_eval_and_show_take_a_run_folder(cli_env, tmp_path, digits):
    run_dir = cli_env.run_dir
    image = tmp_path / "seven.png"
    Image.fromarray(digits.x[digits.y == 7][0, ..., 0]).save(image)
    result = _cli("predict", run_dir, image, "-k", "3", "--json")
    assert result.exit_code == 0, result.output
    (prediction,) = json.loads(result.stdout)
    labels = [top["label"] for top in prediction["top"]]
    assert len(labels) == 3 and set(labels) <= set("0123456789")
    tag_result = json.loads(_cli("predict", TAG, image, "-k", "3", "--json").stdout)
    assert [top["label"] for top in tag_result[0]["top"]] == labels  # the same model, published

    metrics = json.loads(_cli("eval", run_dir, "--json").stdout)
    recorded = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["examples"] == recorded["examples"]
    assert metrics["accuracy"] == pytest.approx(recorded["accuracy"], abs=1e-6)
    assert json.loads(_cli("eval", run_dir / "model.keras", "--json").stdout)["accuracy"] == metrics["accuracy"]

    result = _cli("show", run_dir, "--out", tmp_path / "show", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"][0].endswith("filters_c1.png")


def test_finetune_a_tag_on_three_classes_from_its_weights(cli_env, tmp_path, digits):
    import keras

    folder, _, _ = _write_folder(tmp_path / "three", digits, {"one": 1, "four": 4, "nine": 9}, per_class=30)
    out = tmp_path / "tuned"
    # A vanishing learning rate: what the run ends with is what it started from.
    result = _cli("finetune", TAG, "--data", f"folder:{folder}", "--out", out, "--epochs", "1",
                  "--set", "optimizer.learning_rate=1.0e-12", "--set", "schedule.name=constant", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "finished" and data["epochs"] == 1 and data["run_dir"] == str(out)
    assert data["next"] == [f"zoo eval {out}", f"zoo predict {out} IMAGE...",
                            f"zoo publish {out} --tag lenet5_modern.NAME"]
    assert "rebuilt" in result.stderr or "freshly initialised" in result.stderr
    contract = json.loads((out / "preprocessing.json").read_text())
    assert contract["class_names"] == ["four", "nine", "one"]
    from cnn_zoo import layers

    layers.register_all()
    tuned = keras.saving.load_model(out / "model.keras")
    from cnn_zoo.hub import load

    original = load(TAG)
    assert tuned.output_shape[-1] == 3
    for name in ("c1", "c3", "c5"):
        for a, b in zip(tuned.get_layer(name).get_weights(), original.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, atol=1e-6)

    again = _cli("finetune", TAG, "--data", f"folder:{folder}", "--out", out)
    assert again.exit_code == 2 and "--resume" in again.stderr  # never overwritten


def test_train_ends_with_the_logs_and_the_next_commands(tmp_path):
    out = tmp_path / "run"
    result = _cli("train", "default", "--out", out, "--set", "epochs=1", "--set", "dataset.max_examples=200")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("epoch 1/1: ")  # not a terminal: one plain line per epoch
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert lines[-5].startswith(f"finished: 1 epochs in {out}; test ")
    assert lines[-4] == f"TensorBoard logs: {out / 'logs'}  (tensorboard --logdir {out / 'logs'})"
    assert lines[-3:] == [f"next: zoo eval {out}", f"      zoo predict {out} IMAGE...",
                          f"      zoo publish {out} --tag lenet5.NAME"]
    assert (out / "logs").is_dir()


def test_tune_json_is_one_document(tmp_path):
    from test_tune import SPARSE, TINY

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY + SPARSE)
    result = _cli("tune", recipe, "--out", tmp_path / "out", "--max-trials", 1, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "finished" and data["out_dir"] == str(tmp_path / "out")
    assert data["report"]["counts"]["completed"] == 1 and data["report"]["best"]["trial_id"]


def test_a_recipe_argument_the_builder_refuses_is_one_line(tmp_path):
    result = _cli("train", "default", "--out", tmp_path / "run", "--set", "model.kwargs.pooling=mean",
                  "--set", "dataset.max_examples=100")
    assert result.exit_code == 2, result.output
    assert result.stderr == "Error: `pooling` must be None, 'avg' or 'max'. Received: pooling='mean'\n"


QUIET_RUN = """
import atexit, sys
atexit.register(lambda: print("tensorflow imported:", "tensorflow" in sys.modules))
from cnn_zoo.cli import main
main(sys.argv[1:])
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_tensorflows_start_up_lines_stay_hidden_on_every_backend(tmp_path, backend):
    # Keras imports TensorFlow on JAX too (it seeds it), after Keras itself has loaded: its C++
    # start-up lines (absl, oneDNN) are hidden unless --verbose, as on TensorFlow. A PyTorch
    # process never imports it (cnn_zoo.compute.seed: beside PyTorch it can crash the process).
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    args = ["train", "default", "--set", "epochs=1", "--set", "dataset.max_examples=64",
            "--set", "steps_per_execution=1", "--out", str(tmp_path / "run")]
    proc = subprocess.run([sys.executable, "-c", QUIET_RUN, *args], env={**env, "KERAS_BACKEND": backend},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # On JAX, so that the hiding is what this test saw.
    assert f"tensorflow imported: {backend != 'torch'}" in proc.stdout
    noise = [line for line in proc.stderr.splitlines() if "absl" in line or "oneDNN" in line
             or line.startswith(("I0000", "W0000", "E0000"))]
    assert noise == []
