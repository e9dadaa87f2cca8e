"""CIFAR-10 by name (``cifar10`` = ``tfds:cifar10``), and the CIFAR recipes, on a tiny archive.

CIFAR-10 cannot be downloaded here (170 MB from www.cs.toronto.edu), so the archive served on
loopback is a tiny one in CIFAR's own binary format: ``cifar-10-binary.tar.gz`` holding
``cifar-10-batches-bin/`` with five ``data_batch_*.bin``, ``test_batch.bin`` (each record a
label byte and a 32×32 image as 3 planes of 1,024 bytes) and ``batches.meta.txt``, which TFDS'
own cifar10 builder reads. TFDS registers the official archive's size and sha256; the tiny one
has others. So: one test shows that the real registration refuses the tiny archive (the check
is on), and the tests that prepare it register the tiny archive's own size and sha256 in its
place (``Cifar10.url_infos``), which the zoo's download check and TFDS' build check both read.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import numpy as np
import pytest

from data_fixtures import loopback  # noqa: F401  (fixture)
from cnn_zoo.data import DataDownloadError, load_dataset
from cnn_zoo.data.tfds import RawFile, registered_files
from cnn_zoo.train import train

ARCHIVE = "cifar-10-binary.tar.gz"
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PER_BATCH, TEST = 6, 10


def cifar_archive(seed: int = 0) -> tuple[bytes, dict]:
    """A tiny cifar-10-binary.tar.gz and the (images HWC, labels) of its train and test splits."""
    rng = np.random.default_rng(seed)
    files, splits = {}, {"train": ([], []), "test": ([], [])}
    batches = [(f"data_batch_{i}.bin", "train", PER_BATCH) for i in range(1, 6)] + \
        [("test_batch.bin", "test", TEST)]
    for name, split, count in batches:
        images = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
        labels = (np.arange(count) + len(splits[split][1])) % 10
        records = [bytes([int(label)]) + image.transpose(2, 0, 1).tobytes()  # R, G, B planes
                   for image, label in zip(images, labels)]
        files[name] = b"".join(records)
        splits[split][0].extend(images)
        splits[split][1].extend(labels)
    files["batches.meta.txt"] = ("\n".join(NAMES) + "\n\n").encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue(), {k: (np.stack(x), np.array(y)) for k, (x, y) in splits.items()}


def register_tiny(monkeypatch, body: bytes) -> None:
    """TFDS' registration of cifar10's archive, with the tiny archive's size and sha256."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download import checksums

    cls = tfds.builder_cls("cifar10")
    (url, _), = cls.url_infos.items()
    monkeypatch.setattr(cls, "url_infos", {url: checksums.UrlInfo(
        size=len(body), checksum=hashlib.sha256(body).hexdigest(), filename=ARCHIVE)})


@pytest.fixture(autouse=True)
def no_data_settings(monkeypatch):
    for var in ("ZOO_TFDS_RAW_DIR", "ZOO_OFFLINE", "ZOO_TFDS_DIR", "ZOO_DATA_URL", "TFDS_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A TFDS data dir with the tiny archive prepared as cifar10 (from a mirror folder)."""
    from cnn_zoo.data import prepare_tfds

    body, arrays = cifar_archive()
    root = tmp_path_factory.mktemp("cifar")
    (root / "mirror" / "cifar10").mkdir(parents=True)
    (root / "mirror" / "cifar10" / ARCHIVE).write_bytes(body)
    with pytest.MonkeyPatch.context() as patch:
        register_tiny(patch, body)
        patch.setenv("ZOO_TFDS_RAW_DIR", str(root / "mirror"))
        prepare_tfds("cifar10", root / "tfds")
    return root / "tfds", arrays


def test_registered_archive_is_tfds_own():
    import tensorflow_datasets as tfds

    assert registered_files(tfds.builder("cifar10", data_dir="/nonexistent")) == [RawFile(
        f"https://www.cs.toronto.edu/~kriz/{ARCHIVE}", ARCHIVE, 170052171,
        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd")]


def test_the_real_registration_refuses_the_tiny_archive(tmp_path, monkeypatch, loopback):  # noqa: F811
    body, _ = cifar_archive()
    loopback.files[f"/cifar10/{ARCHIVE}"] = body
    monkeypatch.setenv("ZOO_DATA_URL", loopback.url)
    with pytest.raises(DataDownloadError) as error:
        load_dataset("cifar10", "test", data_dir=tmp_path / "tfds")
    message = str(error.value)
    assert "\n" not in message and f"{loopback.url}/cifar10/{ARCHIVE}" in message
    assert f"the server announces {len(body)} bytes but cifar10/{ARCHIVE} is 170052171 bytes" in message
    assert not (tmp_path / "tfds" / "downloads" / "manual" / "cifar10").exists()


@pytest.mark.slow  # TFDS builds the dataset: about 10 s on 2 cores
def test_cifar10_by_name_downloads_prepares_and_loads(tmp_path, monkeypatch, loopback):  # noqa: F811
    body, arrays = cifar_archive(seed=1)
    loopback.files[f"/cifar10/{ARCHIVE}"] = body
    monkeypatch.setenv("ZOO_DATA_URL", loopback.url)
    register_tiny(monkeypatch, body)
    test = load_dataset("cifar10", "test", data_dir=tmp_path / "tfds")
    assert loopback.requests == [f"/cifar10/{ARCHIVE}"]
    manual = tmp_path / "tfds" / "downloads" / "manual" / "cifar10" / ARCHIVE
    assert manual.read_bytes() == body  # verified, then kept for a rebuild
    x, y = arrays["test"]
    assert test.x.shape == (TEST, 32, 32, 3) and list(test.class_names) == NAMES
    # TFDS shuffles the records; as a set, each image came back with its label, its R, G, B
    # planes read into HWC pixel for pixel.
    assert {(i.tobytes(), int(label)) for i, label in zip(test.x, test.y)} == \
        {(i.tobytes(), int(label)) for i, label in zip(x, y)}
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # prepared: no network needed any more
    assert len(load_dataset("cifar10", "train", data_dir=tmp_path / "tfds")) == 5 * PER_BATCH
    assert len(loopback.requests) == 1


@pytest.mark.slow  # a few training steps of each recipe's model on the tiny archive
@pytest.mark.parametrize("recipe", ["resnet20-cifar10", "allconv-cifar10"])
def test_cifar_recipe_runs_a_few_steps(prepared, tmp_path, monkeypatch, recipe):
    data_dir, _ = prepared
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    result = train(recipe, tmp_path / "run", data_dir=data_dir, verbose=0,
                   overrides=["epochs=2", "batch_size=8"])
    assert result.status == "finished", result.message
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["examples"]["test"] == TEST
    assert manifest["examples"]["train"] + manifest["examples"]["validation"] == 5 * PER_BATCH
    assert 0 <= result.metrics["accuracy"] <= 1 and result.epochs == 2


def test_cifar10_beside_pytorch_is_read_from_its_binary_archive(tmp_path, monkeypatch):
    """Where TensorFlow cannot run (a PyTorch process), tfds:cifar10 is read from the archive
    with NumPy: the same images, pixel for pixel, and labels, in the files' order."""
    from cnn_zoo.data import DataError, load_splits, sources

    monkeypatch.setattr(sources, "without_tensorflow", lambda: "TensorFlow cannot run beside PyTorch")
    with pytest.raises(DataError, match=r"tfds:cifar10 is read from its raw files here .* "
                                        r"cifar10/ with cifar-10-binary.tar.gz"):
        load_splits("cifar10", data_dir=tmp_path / "tfds")
    body, arrays = cifar_archive(seed=2)
    (tmp_path / "mirror" / "cifar10").mkdir(parents=True)
    (tmp_path / "mirror" / "cifar10" / ARCHIVE).write_bytes(body)
    monkeypatch.setenv("ZOO_TFDS_RAW_DIR", str(tmp_path / "mirror"))
    splits = load_splits("cifar10", data_dir=tmp_path / "tfds")
    for split in ("train", "test"):
        x, y = arrays[split]
        np.testing.assert_array_equal(splits[split].x, x)
        np.testing.assert_array_equal(splits[split].y, y)
        assert list(splits[split].class_names) == NAMES and "NumPy" in splits[split].info["read"]
    (tmp_path / "mirror" / "cifar10" / ARCHIVE).write_bytes(body[: len(body) // 2])
    with pytest.raises(DataError, match="not a readable tar.gz"):
        load_splits("cifar10", data_dir=tmp_path / "tfds")
