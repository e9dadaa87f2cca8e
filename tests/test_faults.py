"""Fault injection for training runs: kills at named moments, damaged state files.

A run is killed (SIGKILL, by the ZOO_FAULT hook of cnn_zoo.run_state) or has a state
file corrupted, cut in half, emptied or deleted, and is then resumed. Each case ends in
a finished run whose test accuracy is within 0.2 points of an uninterrupted run's (in
practice equal: the resume replays the data order), with any damaged file named, or in
one clear line (a RunError). Never a traceback, never lost epochs beyond the one in progress.

The run: the embedded default recipe on 600 images, 3 epochs, 5 executions of 4 steps
per epoch (so ``batch@N`` is the N-th execution: 1 is early in epoch 1, 8 mid-epoch 2).
docs/benchmarks.md "Reliability" holds the table of these cases and their outcomes.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cli_process import one_error_line, zoo_with_file_size_limit
from cnn_zoo import run as runs
from cnn_zoo import run_state
from cnn_zoo.evaluation import evaluate
from cnn_zoo.train import train

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["dataset.max_examples=600", "batch_size=32", "epochs=3", "steps_per_execution=4"]
RUN_FILES = ("config.yaml", "manifest.json", "preprocessing.json", "history.csv", "history.json",
             "curves.png", "metrics.json", "model.keras", "model.weights.h5")
KILLED = textwrap.dedent(f"""
    import sys
    from cnn_zoo.train import train
    train("default", sys.argv[1], verbose=0, overrides={ARGS!r})
""")

pytestmark = pytest.mark.slow


def _env(**extra):
    # The test process's own settings (oneDNN...), so that its resume computes as the run did.
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT), **extra)


def _kill_at(run_dir, point):
    """Train into ``run_dir`` in a process that SIGKILLs itself at ``point``."""
    out = subprocess.run([sys.executable, "-c", KILLED, str(run_dir)], env=_env(ZOO_FAULT=point),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == -signal.SIGKILL, out.stderr[-3000:]
    assert runs.read_json(run_dir / "manifest.json")["status"] == "running"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run."""
    result = train("default", tmp_path_factory.mktemp("reference") / "run", overrides=ARGS, verbose=0)
    assert result.status == "finished" and result.epochs == 3
    return result


def _assert_like_reference(result, reference, run_dir, history_lost=False):
    assert result.status == "finished" and result.epochs == 3
    epochs = [row["epoch"] for row in runs.read_history(run_dir)]
    if history_lost:  # the rows that survived, then those of the epoch redone
        assert epochs[-1] == 2 and set(epochs) < {0, 1, 2}
    else:
        assert epochs == [0, 1, 2]
    assert abs(result.metrics["accuracy"] - reference.metrics["accuracy"]) <= 0.002  # 0.2 points
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "backup").exists()  # the resume state goes once the run is finished
    manifest = runs.read_json(run_dir / "manifest.json")
    assert manifest["status"] == "finished" and manifest["epochs"] == 3
    assert evaluate(run_dir)["accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1e-6)
    with pytest.raises(runs.RunError, match="finished run, nothing to resume"):
        train(None, run_dir, resume=True)


# case: (ZOO_FAULT, epochs the resume starts from: at most the one in progress is lost)
KILLS = {
    "early (first steps of epoch 1)": ("batch@1", 0),
    "mid-epoch 2": ("batch@8", 1),
    "writing the backup of epoch 2": ("backup@2", 1),
    "writing the checkpoint of epoch 2": ("checkpoint@2", 2),  # the backup of epoch 2 is written
    "between fit and the final save": ("fit_end", 3),
    "writing model.keras": ("final_save", 3),
}


@pytest.mark.parametrize("case", KILLS)
def test_kill_then_resume_finishes_like_an_uninterrupted_run(tmp_path, reference, case):
    point, start = KILLS[case]
    run_dir = tmp_path / "run"
    _kill_at(run_dir, point)
    assert not (run_dir / "model.keras").exists()  # never half a file where eval looks
    if point == "final_save":
        with pytest.raises(runs.RunError, match="no model at"):
            evaluate(run_dir)
    assert run_state.resume_point(run_state.Ledger.read(run_dir)).epoch == start
    result = train(None, run_dir, resume=True, verbose=0)
    assert result.message == ""  # nothing was damaged
    _assert_like_reference(result, reference, run_dir)


@pytest.fixture(scope="module")
def killed_in_epoch_3(tmp_path_factory):
    """A run killed during epoch 3: its backup and checkpoints hold epochs 1 and 2."""
    run_dir = tmp_path_factory.mktemp("killed") / "run"
    _kill_at(run_dir, "batch@13")
    assert run_state.resume_point(run_state.Ledger.read(run_dir)).epoch == 2
    return run_dir


def _damage(path, how):
    if how == "deleted":
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    elif how == "emptied":
        path.write_bytes(b"")
    elif how == "cut in half":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:  # corrupted: up to 4 KiB in the middle inverted (the probe flipped 4 KiB)
        data = bytearray(path.read_bytes())
        n = min(4096, len(data) // 2)
        start = (len(data) - n) // 2
        data[start:start + n] = bytes(b ^ 0xFF for b in data[start:start + n])
        path.write_bytes(bytes(data))


HOW = ("corrupted", "cut in half", "emptied", "deleted")
# file: how the resume must end; "epoch N from FILE": finished, resumed there, the file named.
FALLS_BACK = {
    "backup/latest.weights.h5": "epoch 2 from checkpoints/epoch_002.weights.h5",
    "backup/training_metadata.json": "epoch 2 from checkpoints/epoch_002.weights.h5",
    "checkpoints/epoch_002.weights.h5": "epoch 2 from backup/latest.weights.h5",
    "checkpoints/epoch_001.weights.h5": "epoch 2 from backup/latest.weights.h5",
}
REWRITTEN = ("preprocessing.json", "manifest.json")  # derived or descriptive: rebuilt, and said so
REFUSED = ("config.yaml", "state.json")  # nothing to fall back to: one clear line
CASES = [(f, h) for f in [*FALLS_BACK, *REWRITTEN, *REFUSED, "history.csv"] for h in HOW]
CASES.append(("backup", "deleted"))


@pytest.mark.parametrize("name,how", CASES)
def test_damaged_state_is_named_and_never_trusted(tmp_path, reference, killed_in_epoch_3, name, how):
    run_dir = tmp_path / "run"
    shutil.copytree(killed_in_epoch_3, run_dir)
    _damage(run_dir / name, how)
    if name in REFUSED or (name == "history.csv" and how == "corrupted"):
        started = time.time()
        with pytest.raises(runs.RunError) as error:
            train(None, run_dir, resume=True, verbose=0)
        message = str(error.value)
        assert "\n" not in message and name in message, message
        assert time.time() - started < 60  # refused before training, not after
        return
    result = train(None, run_dir, resume=True, verbose=0)
    _assert_like_reference(result, reference, run_dir, history_lost=name == "history.csv")
    if name == "history.csv":
        # Cut in half, emptied or deleted: the lost rows are said, the metrics are whole.
        assert "history.csv has no row for epochs 1, 2" in result.message, result.message
        return
    assert name in result.message, result.message
    if name in FALLS_BACK or name == "backup":
        expected = FALLS_BACK.get(name, FALLS_BACK["backup/latest.weights.h5"])
        epoch, source = expected.split(" from ")
        assert f"resuming from {source} ({epoch} of the 2 done)" in result.message, result.message
    else:
        assert "rewritten" in result.message


def test_a_second_trainer_is_refused_and_a_dead_ones_lock_does_not_block(tmp_path, killed_in_epoch_3):
    run_dir = tmp_path / "run"
    shutil.copytree(killed_in_epoch_3, run_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom cnn_zoo.run_state import run_lock\n"
         "with run_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)\n",
         str(run_dir)], env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(runs.RunError, match=f"in use by pid {holder.pid} on "):
            train(None, run_dir, resume=True, verbose=0)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run_dir / run_state.LOCK).exists()  # left by the killed holder: stale, not blocking
    assert train(None, run_dir, resume=True, verbose=0).status == "finished"


def test_cli_says_one_line_for_a_state_it_cannot_trust(tmp_path, killed_in_epoch_3):
    run_dir = tmp_path / "run"
    shutil.copytree(killed_in_epoch_3, run_dir)
    _damage(run_dir / "state.json", "corrupted")
    out = subprocess.run([sys.executable, "-c", "from cnn_zoo.cli import main; main()", "train",
                          "--resume", "--out", str(run_dir)], env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 2, out.stderr[-3000:]
    # (TensorFlow's own start-up lines on stderr are not the zoo's to judge here.)
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "state.json" in errors[0], out.stderr
    assert "Traceback" not in out.stderr


# -- a full disk ------------------------------------------------------------------------------

SETS = [word for setting in ARGS for word in ("--set", setting)]
# case: ZOO_FAULT raising ENOSPC where the run writes its state and its final model
DISK_FULL = {"the first checkpoint": "checkpoint@1:enospc", "model.keras": "final_save:enospc"}


@pytest.mark.parametrize("case", DISK_FULL)
def test_a_full_disk_is_one_line_and_the_resume_finishes_like_an_uninterrupted_run(tmp_path, reference, case):
    run_dir = tmp_path / "run"
    out = subprocess.run([sys.executable, "-c", "from cnn_zoo.cli import main; main()", "train", "default",
                          "--out", str(run_dir), *SETS], env=_env(ZOO_FAULT=DISK_FULL[case]),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 2, out.stderr[-3000:]
    line = one_error_line(out.stderr)
    assert f" in {run_dir}" in line and "(No space left on device)" in line, line
    assert re.search(r"it needs (about|more than) [\d.]+ [kMG]?B, [\d.]+ [kMG]?B free; free some space", line), line
    assert line.endswith(f", then continue with: zoo train --resume --out {run_dir}"), line
    assert not list(run_dir.rglob(".*.tmp*"))  # no temporary file left behind
    result = train(None, run_dir, resume=True, verbose=0)
    _assert_like_reference(result, reference, run_dir)


def test_a_weights_file_h5py_cannot_finish_is_one_line_not_a_crash(tmp_path, reference):
    """The first weights file does not fit, here past a file-size limit so small that even h5py's
    closing writes would fail (as all do on a full disk). When h5py wrote the file itself, it
    could not close it and the process died of a segmentation fault; now the file is made in
    memory (cnn_zoo.callbacks) and the failed write is one line, with the run's state intact."""
    run_dir = tmp_path / "run"
    # 4 kB: room for the run's JSON and YAML files, not for HDF5's metadata at offset 4096.
    out = zoo_with_file_size_limit(4000, ["train", "default", "--out", run_dir, *SETS])
    assert out.returncode == 2, (out.returncode, out.stderr[-3000:])
    line = one_error_line(out.stderr)
    assert f"no room to write latest.weights.h5 in {run_dir / 'backup'} (File too large)" in line, line
    assert f"raise the limit (ulimit -f), then continue with: zoo train --resume --out {run_dir}" in line
    assert not list(run_dir.rglob(".*.tmp*"))
    result = train(None, run_dir, resume=True, verbose=0)
    _assert_like_reference(result, reference, run_dir)


def test_damaged_tuner_state_is_named(tmp_path):
    """tune.json and Keras Tuner's oracle.json / trial.json that cannot be parsed are named."""
    from cnn_zoo.tune.oracles import make_oracle
    from cnn_zoo.tune.report import load_report

    (tmp_path / "tune.json").write_text("")
    with pytest.raises(runs.RunError, match="tune.json is damaged: not valid JSON"):
        load_report(tmp_path)
    oracle = make_oracle("random", objective="val_accuracy", direction="max", max_trials=1, seed=0,
                         check=None, max_epochs=1, factor=3, max_consecutive_failed_trials=3)
    oracle._set_project_dir(str(tmp_path), "project")
    Path(oracle._get_oracle_fname()).write_bytes(b"\x00\xff")
    with pytest.raises(runs.RunError, match="oracle.json is damaged: not text"):
        oracle.reload()
