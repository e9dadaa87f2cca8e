"""cnn_zoo.atomic: the one atomic writer (a crash mid-write leaves the old file)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnn_zoo import atomic


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
