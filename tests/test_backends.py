"""Every recipe trains right on every backend: ``zoo train default`` reaches the same test
accuracy on TensorFlow, JAX and PyTorch, and every shipped recipe runs a few steps on each,
its loss falling. Each backend trains in its own process (TensorFlow and PyTorch 2.14 in one
process crash), and on PyTorch TensorFlow is never imported."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import raw_fashion, raw_mnist, tfds_dir, write_idx  # noqa: F401  (fixtures)

from cnn_zoo.data import DataError, load_splits
from cnn_zoo.recipe import list_recipes

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("tensorflow", "jax", "torch")


def _env(backend):
    return dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))


@pytest.mark.slow
def test_default_reaches_the_same_accuracy_on_every_backend(tmp_path):
    # The README's first command on each backend, 3 epochs, the three at once.
    runs = {backend: subprocess.Popen(
        [sys.executable, "-m", "cnn_zoo.cli", "train", "default", "--set", "epochs=3",
         "--out", str(tmp_path / backend)], env=_env(backend), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True) for backend in BACKENDS}
    accuracy = {}
    for backend, run in runs.items():
        output, _ = run.communicate(timeout=900)
        assert run.returncode == 0, f"{backend}: {output[-3000:]}"
        accuracy[backend] = json.loads((tmp_path / backend / "metrics.json").read_text())["accuracy"]
    print("test accuracy of default, 3 epochs:", accuracy)  # in CI's log (pytest -rP)
    # The same recipe, seed and data: within 3 points of each other (TensorFlow: 0.827), far above
    # chance (0.1, where a loss from clipped probabilities left JAX and PyTorch).
    assert max(accuracy.values()) - min(accuracy.values()) <= 0.03, accuracy
    assert min(accuracy.values()) > 0.7, accuracy
    plans = {b: json.loads((tmp_path / b / "manifest.json").read_text())["compute"] for b in BACKENDS}
    assert {b: p["jit_compile"]["chosen"] for b, p in plans.items()} == \
        {"tensorflow": False, "jax": True, "torch": False}
    assert {b: p["steps_per_execution"]["chosen"] for b, p in plans.items()} == \
        {"tensorflow": 32, "jax": 32, "torch": 1}


def _tinted_folder(root, classes=3, per_class=4):
    """An ImageNet-layout folder (train/ and val/, photos of varying size) whose classes differ
    in colour, so that a few steps can learn them."""
    from imagefolders import photo
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"n{c:08d}"
            folder.mkdir(parents=True)
            tint = np.roll([200, 40, 40], c)
            for i in range(per_class):
                h, w = 120 + int(rng.integers(-30, 31)), 160 + int(rng.integers(-40, 41))
                image = (0.5 * photo(rng, h, w) + 0.5 * tint).astype(np.uint8)
                Image.fromarray(image).save(folder / f"{i:05d}.JPEG", quality=90)
    return root


def _tinted_cifar(path, classes=10, per_class=8):
    """A CIFAR-shaped npz (32×32×3, 10 classes) whose classes differ in colour: the CIFAR recipes'
    few steps (CIFAR-10 itself cannot be downloaded here; tests/test_cifar10.py covers its reading)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(classes), per_class)
    tint = np.stack([np.roll([200, 40, 40], c) + 6 * c for c in range(classes)])[y]
    x = np.clip(0.5 * rng.integers(0, 256, (len(y), 32, 32, 3)) + 0.5 * tint[:, None, None, :], 0, 255)
    np.savez(path, x_train=x.astype(np.uint8), y_train=y, x_test=x[::4].astype(np.uint8), y_test=y[::4])
    return path


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_recipe_trains_a_few_steps_on_every_backend(
        tmp_path, backend, tfds_dir, raw_mnist, raw_fashion):  # noqa: F811  (fixtures)
    imagenet = _tinted_folder(tmp_path / "imagenet")
    cifar = _tinted_cifar(tmp_path / "cifar.npz")
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "backend_runner.py"), str(tfds_dir),
                          str(imagenet), str(cifar)], env=_env(backend), capture_output=True, text=True,
                         timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    results = {r["recipe"]: r for r in (json.loads(line) for line in out.stdout.splitlines()
                                        if line.startswith("{"))}
    assert sorted(results) == sorted(name for name, _ in list_recipes())
    for name, result in results.items():
        assert result["compute"]["backend"] == backend
        losses = result["losses"]
        assert len(losses) == 3 and all(np.isfinite(losses)), (name, losses)
        assert min(losses[1:]) < losses[0], (name, losses)  # it learns (a few noisy steps: not always monotonic)
        if backend == "torch":
            assert result["tensorflow"] is False, name  # never beside PyTorch


def test_tfds_mnist_beside_pytorch_is_read_from_its_raw_files(tmp_path, monkeypatch):
    # What a PyTorch process sees (cnn_zoo.data.tfds.without_tensorflow): no TensorFlow to import.
    from cnn_zoo.data import sources

    monkeypatch.setattr(sources, "without_tensorflow", lambda: "TensorFlow cannot run beside PyTorch")
    monkeypatch.delenv("ZOO_TFDS_RAW_DIR", raising=False)
    with pytest.raises(DataError, match=r"tfds:fashion_mnist is read from its raw files here \(TensorFlow "
                                        r"cannot run beside PyTorch\), and none are in .*ZOO_TFDS_RAW_DIR"):
        load_splits("fashion_mnist", data_dir=tmp_path / "tfds")
    rng = np.random.default_rng(0)
    folder = tmp_path / "mirror" / "fashion-mnist"
    folder.mkdir(parents=True)
    for stem, n in (("train", 30), ("t10k", 20)):
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)), compress=True)
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", np.arange(n) % 10, compress=True)
    monkeypatch.setenv("ZOO_TFDS_RAW_DIR", str(tmp_path / "mirror"))
    splits = load_splits("fashion_mnist", validation_fraction=0.2, data_dir=tmp_path / "tfds")
    assert {k: len(v) for k, v in splits.items()} == {"train": 20, "validation": 10, "test": 20}  # stratified: 1 of each class's 3
    assert splits["test"].class_names[0] == "T-shirt/top" and splits["test"].image_shape == (28, 28, 1)
    assert splits["test"].source == "tfds:fashion_mnist" and "NumPy" in splits["test"].info["read"]
