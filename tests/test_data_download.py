"""Datasets by name: downloaded when missing, from a loopback HTTP server on 127.0.0.1.

ZOO_DATA_URL points the downloads at the server (ZOO_DATA_URL/<folder>/<file>);
the files served are real idx .gz files: tiny ones made here (with their own
checksums), or the official MNIST files from data_fixtures.raw_mnist.
"""

from __future__ import annotations

import hashlib
import socket

import numpy as np
import pytest
from click.testing import CliRunner

from data_fixtures import loopback, need, raw_mnist, write_idx  # noqa: F401  (fixtures)
from cnn_zoo.data import (DataDownloadError, DataError, DataOfflineError, fetch_raw_files,
                          load_dataset, read_idx)
from cnn_zoo.data.tfds import RawFile, download_files, registered_files
from cnn_zoo.errors import ZooError

LABELS = "t10k-labels-idx1-ubyte.gz"


@pytest.fixture(autouse=True)
def no_data_settings(monkeypatch):
    """What CI or a user may have set must not decide these tests."""
    for var in ("ZOO_TFDS_RAW_DIR", "ZOO_OFFLINE", "ZOO_TFDS_DIR", "ZOO_DATA_URL", "TFDS_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)


def closed_port_url() -> str:
    """A loopback URL where nothing listens: the connection is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def tiny_files(tmp_path, loopback):  # noqa: F811
    """Two tiny real-format idx .gz files served at /tiny/, and their RawFiles."""
    arrays = {"a-images-idx3-ubyte.gz": np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4),
              "a-labels-idx1-ubyte.gz": np.array([3, 1], np.uint8)}
    files = []
    for name, array in arrays.items():
        body = write_idx(tmp_path / name, array, compress=True).read_bytes()
        loopback.files[f"/tiny/{name}"] = body
        files.append(RawFile(f"{loopback.url}/tiny/{name}", name, len(body),
                             hashlib.sha256(body).hexdigest()))
    return files, arrays


def manual(tmp_path, name="mnist"):
    """Where downloads of `name` land in the TFDS data dir tmp_path / "tfds"."""
    return tmp_path / "tfds" / "downloads" / "manual" / name


def served_mnist(loopback, raw_mnist, corrupt=None):  # noqa: F811
    for path in raw_mnist.glob("*.gz"):
        body = path.read_bytes()
        if path.name == corrupt:
            body = body[:100] + bytes([body[100] ^ 1]) + body[101:]  # one bit flipped
        loopback.files[f"/mnist/{path.name}"] = body


# ----------------------------------------------------------------------- the downloader


def test_download_files_verified_atomic_with_progress(tmp_path, loopback, capsys):  # noqa: F811
    (tmp_path / "made").mkdir()
    files, arrays = tiny_files(tmp_path / "made", loopback)
    folder = download_files(files, tmp_path / "dl")
    for name, array in arrays.items():
        np.testing.assert_array_equal(read_idx(folder / name), array)
    assert sorted(p.name for p in folder.iterdir()) == sorted(arrays)  # no temporary file left
    err = capsys.readouterr().err
    assert "dl/a-images-idx3-ubyte.gz: downloaded" in err  # the progress line (not a terminal)
    asked = len(loopback.requests)
    download_files(files, tmp_path / "dl")  # complete and verified: not fetched again
    assert len(loopback.requests) == asked == 2


def test_download_rejects_a_bad_checksum_and_keeps_nothing(tmp_path, loopback):  # noqa: F811
    (tmp_path / "made").mkdir()
    files, _ = tiny_files(tmp_path / "made", loopback)
    bad = files[0]._replace(sha256="0" * 64)
    with pytest.raises(DataDownloadError, match="sha256 mismatch") as error:
        download_files([bad], tmp_path / "dl")
    assert error.value.url == bad.url and isinstance(error.value, ZooError)
    assert list((tmp_path / "dl").iterdir()) == []  # no partial or unverified file


# ----------------------------------------------------------------------- by name


def test_registered_urls_are_tfds_own():
    import tensorflow_datasets as tfds

    files = {f.filename: f for f in registered_files(tfds.builder("mnist", data_dir="/nonexistent"))}
    assert files[LABELS] == RawFile(
        f"https://storage.googleapis.com/cvdf-datasets/mnist/{LABELS}", LABELS, 4542,
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")
    assert len(files) == 4


def test_unreachable_server_is_one_line_with_url_error_and_offline_help(tmp_path, monkeypatch):
    base = closed_port_url()
    monkeypatch.setenv("ZOO_DATA_URL", base)
    with pytest.raises(DataDownloadError) as error:
        load_dataset("mnist", "test", data_dir=tmp_path / "tfds")
    message = str(error.value)
    assert "\n" not in message
    assert f"{base}/mnist/t10k-images-idx3-ubyte.gz" in message and error.value.url in message
    assert "Connection refused" in message  # the real network error
    assert "ZOO_TFDS_RAW_DIR" in message and "mnist/" in message  # how to work offline
    assert not manual(tmp_path).exists()  # nothing left behind


def test_silent_server_times_out_in_one_line(tmp_path, monkeypatch):
    from cnn_zoo.data import tfds

    # A socket that listens but never answers: the kernel completes the connect,
    # then nothing comes, as behind a firewall that drops the traffic.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("ZOO_DATA_URL", base)
        monkeypatch.setattr(tfds, "TIMEOUT", 0.5)
        with pytest.raises(DataDownloadError) as error:
            fetch_raw_files("mnist", tmp_path / "tfds", quiet=True)
    message = str(error.value)
    assert "\n" not in message and f"{base}/mnist/t10k-images-idx3-ubyte.gz" in message
    assert "timed out" in message and "ZOO_TFDS_RAW_DIR" in message
    assert not manual(tmp_path).exists()


def test_cli_train_offline_ends_in_one_line_exit_2(tmp_path, monkeypatch):
    from cnn_zoo.cli import main

    base = closed_port_url()
    monkeypatch.setenv("ZOO_DATA_URL", base)
    monkeypatch.setenv("ZOO_TFDS_DIR", str(tmp_path / "tfds"))
    result = CliRunner().invoke(main, ["train", "lenet5-mnist", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: tfds:mnist"), result.stderr
    assert f"{base}/mnist/" in lines[0] and "Connection refused" in lines[0]


@pytest.mark.parametrize("mirror", [False, True])
def test_zoo_offline_never_touches_the_network(tmp_path, monkeypatch, loopback, mirror):  # noqa: F811
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.setenv("ZOO_DATA_URL", loopback.url)
    if mirror:  # a mirror folder without this dataset's sub-folder
        (tmp_path / "mirror" / "fashion-mnist").mkdir(parents=True)
        monkeypatch.setenv("ZOO_TFDS_RAW_DIR", str(tmp_path / "mirror"))
    with pytest.raises(DataOfflineError) as error:
        load_dataset("mnist", "test", data_dir=tmp_path / "tfds")
    message = str(error.value)
    assert loopback.requests == []
    assert "\n" not in message and "ZOO_OFFLINE=1" in message and "ZOO_TFDS_RAW_DIR" in message
    if mirror:
        assert f"ZOO_TFDS_RAW_DIR={tmp_path / 'mirror'}/mnist/ (that folder is missing)" in message


def test_incomplete_mirror_is_one_line_without_network(tmp_path, monkeypatch, loopback,
                                                       raw_mnist):  # noqa: F811
    monkeypatch.setenv("ZOO_DATA_URL", loopback.url)
    (tmp_path / "mirror" / "mnist").mkdir(parents=True)
    for path in raw_mnist.glob("t10k-*.gz"):
        (tmp_path / "mirror" / "mnist" / path.name).write_bytes(path.read_bytes())
    (tmp_path / "mirror" / "mnist" / LABELS).write_bytes(b"\x1f\x8b not the labels")
    monkeypatch.setenv("ZOO_TFDS_RAW_DIR", str(tmp_path / "mirror"))
    with pytest.raises(DataError) as error:
        load_dataset("mnist", "test", data_dir=tmp_path / "tfds")
    message = str(error.value)
    assert "\n" not in message and loopback.requests == []
    assert f"lacks {LABELS}, train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz" in message


def test_corrupt_download_rejected_then_resumed_file_by_file(tmp_path, monkeypatch, loopback,
                                                              raw_mnist):  # noqa: F811
    monkeypatch.setenv("ZOO_DATA_URL", loopback.url)
    served_mnist(loopback, raw_mnist, corrupt=LABELS)
    with pytest.raises(DataDownloadError, match=f"{loopback.url}/mnist/{LABELS}: sha256 mismatch"):
        fetch_raw_files("mnist", tmp_path / "tfds", quiet=True)
    # the file before it is complete and verified; the bad one and any temporary file are gone
    assert [p.name for p in manual(tmp_path).iterdir()] == ["t10k-images-idx3-ubyte.gz"]
    served_mnist(loopback, raw_mnist)
    del loopback.requests[:]
    folder = fetch_raw_files("mnist", tmp_path / "tfds", quiet=True)
    assert sorted(loopback.requests) == sorted(f"/mnist/{n}" for n in (
        LABELS, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"))
    for path in raw_mnist.glob("*.gz"):
        assert (folder / path.name).read_bytes() == path.read_bytes()


def test_missing_data_fails_a_test_with_one_line(tmp_path, monkeypatch):
    from cnn_zoo.data import prepare_tfds

    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(pytest.fail.Exception) as failure:
        need(prepare_tfds, "fashion_mnist", tmp_path)
    assert "\n" not in failure.value.msg and "ZOO_TFDS_RAW_DIR" in failure.value.msg
    assert not failure.value.pytrace


@pytest.mark.slow  # TFDS builds mnist from the downloaded files: about 25 s on 2 cores
def test_mnist_by_name_downloads_prepares_and_loads(tmp_path, monkeypatch, loopback,
                                                     raw_mnist):  # noqa: F811
    monkeypatch.setenv("ZOO_DATA_URL", loopback.url)
    served_mnist(loopback, raw_mnist)
    test = load_dataset("mnist", "test", data_dir=tmp_path / "tfds")
    assert len(loopback.requests) == 4 and len(test) == 10000
    reference = load_dataset(f"idx:{raw_mnist}", "test")
    assert {i.tobytes() for i in test.x} == {i.tobytes() for i in reference.x}
    assert sorted(p.name for p in manual(tmp_path).iterdir()) == sorted(
        p.name for p in raw_mnist.glob("*.gz"))
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # prepared: no network needed any more
    assert len(load_dataset("mnist", "train", data_dir=tmp_path / "tfds")) == 60000
    assert len(loopback.requests) == 4
