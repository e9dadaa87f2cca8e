"""cnn_zoo.atomic: the one atomic writer (a crash mid-write leaves the old file)."""

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cnn_zoo import atomic
from cnn_zoo.errors import DiskFullError


def test_write_text_bytes_json(tmp_path):
    atomic.write_text(tmp_path / "a.txt", "héllo")
    atomic.write_bytes(tmp_path / "b.bin", b"\x00\x01")
    atomic.write_json(tmp_path / "c.json", {"x": 1})
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert json.loads((tmp_path / "c.json").read_text()) == {"x": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "c.json"]  # no temp left


def test_mode_is_applied(tmp_path):
    atomic.write_text(tmp_path / "m.json", "{}", mode=0o644)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644


def test_an_error_mid_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.replacing(path) as tmp:
            tmp.write_text("half of the ne")
            raise RuntimeError("writer failed")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # the temporary file is gone


def test_a_process_killed_mid_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "model.weights.h5"
    path.write_bytes(b"old weights")
    code = (
        "import os, signal, sys\n"
        "from cnn_zoo import atomic\n"
        "with atomic.replacing(sys.argv[1], suffix='.weights.h5') as tmp:\n"
        "    tmp.write_bytes(b'new weigh')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True)
    assert result.returncode == -9
    assert path.read_bytes() == b"old weights"


def test_temporary_name_is_hidden_beside_the_target_and_keeps_the_suffix(tmp_path):
    tmp = atomic.temp_name(tmp_path / "model.keras", ".keras")
    assert tmp.parent == tmp_path and tmp.name.startswith(".model.keras.") and tmp.name.endswith(".keras")
    assert str(os.getpid()) in tmp.name


def test_replacing_works_for_a_library_that_writes_its_own_file(tmp_path):
    path = tmp_path / "out.npy"
    import numpy as np

    with atomic.replacing(path, suffix=".npy") as tmp:
        np.save(tmp, np.arange(3))
    assert np.load(path).tolist() == [0, 1, 2]


def test_no_other_module_replaces_files_itself():
    """One atomic writer: no other module of the zoo calls os.replace."""
    root = Path(atomic.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "atomic.py" and "os.replace(" in p.read_text()]
    assert offenders == []


# -- a full disk ------------------------------------------------------------------------------


def test_a_write_the_folder_has_no_room_for_is_refused_before_it_starts(tmp_path):
    path = tmp_path / "latest.weights.h5"
    path.write_bytes(b"old weights")
    needed = shutil.disk_usage(tmp_path).free + 10 ** 9
    with pytest.raises(DiskFullError) as error:
        with atomic.replacing(path, size=needed) as tmp:
            raise AssertionError("the writer ran")
    assert (error.value.folder, error.value.name, error.value.needed) == (str(tmp_path), path.name, needed)
    message = str(error.value)
    assert f"no room to write latest.weights.h5 in {tmp_path} (No space left on device)" in message
    assert "\n" not in message and f"{needed / 1e9:.1f} GB" in message and "free some space" in message
    assert path.read_bytes() == b"old weights" and [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_a_write_that_runs_out_of_room_is_emptied_at_once_and_named(tmp_path, code):
    """The writer still holds its file when the error comes (as h5py does): the file is released
    then (its descriptor pointed at /dev/null where /proc lists it, and emptied), so the
    writer's last writes and its close succeed; the old file is kept."""
    path = tmp_path / "model.keras"
    path.write_bytes(b"old model")
    with pytest.raises(DiskFullError) as error:
        with atomic.replacing(path) as tmp:
            held = open(tmp, "wb")
            held.write(b"x" * 5000)
            held.flush()
            raise OSError(code, os.strerror(code), str(tmp))
    released = os.fstat(held.fileno())
    if os.path.isdir("/proc/self/fd"):
        assert stat.S_ISCHR(released.st_mode) and os.path.samestat(released, os.stat(os.devnull))
    else:
        assert released.st_size == 0
    held.write(b"the writer's last words")
    held.close()  # would raise if the write could not be done
    assert error.value.errno == code and error.value.at_least and error.value.needed == 5000
    assert os.strerror(code) in str(error.value)
    assert path.read_bytes() == b"old model" and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_tensorflows_full_disk_error_is_a_disk_full_error_and_others_pass_through(tmp_path):
    import tensorflow as tf

    full = tf.errors.ResourceExhaustedError(None, None, "part-00000 of the variables; No space left on device")
    with pytest.raises(DiskFullError):
        with atomic.replacing(tmp_path / "model.savedmodel") as tmp:
            tmp.mkdir()
            raise full
    other = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    for error in (other, OSError(errno.EACCES, "Permission denied"), ValueError("not a disk")):
        with pytest.raises(type(error)):
            with atomic.replacing(tmp_path / "x") as tmp:
                raise error
    assert list(tmp_path.iterdir()) == []
