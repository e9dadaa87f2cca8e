"""Training runs: the run folder, resume after a kill, NaN handling, determinism, distribution.

Everything trains on the embedded MNIST sample (no download) with a few
hundred images, so each run takes seconds.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from cnn_zoo import run as runs
from cnn_zoo.evaluation import evaluate
from cnn_zoo.train import train

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["model.name=lenet5_modern", "dataset.max_examples=400", "batch_size=32"]
RUN_FILES = ("config.yaml", "manifest.json", "preprocessing.json", "history.csv", "history.json",
             "curves.png", "metrics.json", "model.keras", "model.weights.h5")


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def test_run_folder_end_to_end(tmp_path):
    result = train("default", tmp_path / "run", overrides=[*QUICK, "epochs=2"], verbose=0)
    run_dir = tmp_path / "run"
    assert result.status == "finished" and result.epochs == 2
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    assert (run_dir / "logs").is_dir()
    assert [epoch for epoch, _ in __import__("cnn_zoo.callbacks").callbacks.checkpoints(
        run_dir / "checkpoints")] == [1, 2]
    manifest = runs.read_json(run_dir / "manifest.json")
    assert manifest["status"] == "finished" and manifest["seed"] == 0
    assert manifest["backend"] == "tensorflow" and manifest["versions"]["keras"]
    assert manifest["train_images_per_second"] > 0
    metrics = runs.read_json(run_dir / "metrics.json")
    assert metrics["split"] == "test" and 0.3 < metrics["accuracy"] <= 1.0  # 10 classes: chance is 0.1
    assert metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])
    # The stored config is the resolved recipe; re-evaluating the run reproduces the metric.
    again = evaluate(run_dir)
    assert again["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-6)
    contract = runs.read_json(run_dir / "preprocessing.json")
    assert contract["input_shape"] == [32, 32, 1] and len(contract["class_names"]) == 10


def _tiny_fitted(callback):
    """A seeded 3 -> 2 Dense model, fitted one epoch with ``callback``."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    if callback is not None:
        model.fit(np.ones((8, 3), "float32"), np.zeros((8, 2), "float32"), epochs=1, verbose=0,
                  callbacks=[callback])
    return model


def _killed_mid_write(model, monkeypatch, save):
    """Runs ``save()`` killed half-way through writing the weights file to the disk (the
    file is made in memory first, so the disk write is where a kill can tear it)."""
    real_write = Path.write_bytes

    def torn_write(self, data):
        real_write(self, data[: len(data) // 2])
        raise KeyboardInterrupt  # the kill
    monkeypatch.setattr(Path, "write_bytes", torn_write)
    with pytest.raises(KeyboardInterrupt):
        save()
    monkeypatch.setattr(Path, "write_bytes", real_write)


def test_backup_killed_mid_write_keeps_the_last_whole_state(tmp_path, monkeypatch):
    """A process killed while the resume state is written leaves the previous state,
    which a later fit restores (Keras' own BackupAndRestore wrote the weights in place)."""
    from cnn_zoo.callbacks import Backup

    first = _tiny_fitted(Backup(str(tmp_path), delete_checkpoint=False))
    saved = [w.copy() for w in first.get_weights()]
    backup = Backup(str(tmp_path))
    backup.set_model(first)
    _killed_mid_write(first, monkeypatch, lambda: backup.on_epoch_end(1))

    again = _tiny_fitted(None)
    restore = Backup(str(tmp_path))
    restore.set_model(again)
    restore.on_train_begin()
    assert again._initial_epoch == 1
    for got, want in zip(again.get_weights(), saved):
        np.testing.assert_array_equal(got, want)


def test_tuner_best_checkpoint_killed_mid_write_keeps_the_last_whole_file(tmp_path, monkeypatch):
    """The same for a trial's best-epoch checkpoint (Keras Tuner's wrote it in place),
    which Hyperband loads to continue a trial."""
    import keras_tuner

    from cnn_zoo.tune.tuner import BestCheckpoint

    path = tmp_path / "checkpoint.weights.h5"
    first = _tiny_fitted(BestCheckpoint(keras_tuner.Objective("loss", "min"), str(path)))
    saved = [w.copy() for w in first.get_weights()]
    checkpoint = BestCheckpoint(keras_tuner.Objective("loss", "min"), str(path))
    checkpoint.set_model(first)
    _killed_mid_write(first, monkeypatch, lambda: checkpoint.on_epoch_end(1, {"loss": 0.0}))

    again = _tiny_fitted(None)
    again.load_weights(path)
    for got, want in zip(again.get_weights(), saved):
        np.testing.assert_array_equal(got, want)


def test_existing_run_is_never_overwritten(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("mine")
    with pytest.raises(runs.RunError, match="already exists and is not empty; pass --resume"):
        train("default", run_dir, overrides=QUICK)
    assert (run_dir / "notes.txt").read_text() == "mine" and len(list(run_dir.iterdir())) == 1
    with pytest.raises(runs.RunError, match="no run to resume"):
        train(None, tmp_path / "nothing", resume=True)


class PoisonWeights:
    """Sets the output kernel to NaN at the start of an epoch (a diverging run, on demand).

    The output layer, because ReLU and max-pool can swallow a NaN further up.
    """

    def __new__(cls, epoch):
        import keras

        class _Poison(keras.callbacks.Callback):
            def on_epoch_begin(self, e, logs=None):
                if e + 1 == epoch:
                    w = self.model.get_layer("output").kernel
                    w.assign(np.full(w.shape, np.nan, dtype="float32"))
        return _Poison()


def test_nan_stops_cleanly_and_keeps_the_last_good_checkpoint(tmp_path):
    # One step per execution, so the callback sees every batch and can name it.
    result = train("default", tmp_path / "run", verbose=0, callbacks=[PoisonWeights(epoch=3)],
                   overrides=[*QUICK, "epochs=4", "steps_per_execution=1"])
    assert result.status == "nan"
    assert "NaN at epoch 3, batch 1;" in result.message and "epoch 2" in result.message
    manifest = runs.read_json(tmp_path / "run" / "manifest.json")
    assert manifest["status"] == "nan" and manifest["message"] == result.message
    # The saved model is the epoch-2 checkpoint: finite, and as good as its metric says.
    assert np.isfinite(result.metrics["loss"])
    assert evaluate(tmp_path / "run")["accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1e-6)
    from cnn_zoo.callbacks import checkpoints
    assert [e for e, _ in checkpoints(tmp_path / "run" / "checkpoints")] == [1, 2]


def test_nan_with_several_steps_per_execution_names_the_epoch(tmp_path):
    result = train("default", tmp_path / "run", verbose=0, callbacks=[PoisonWeights(epoch=2)],
                   overrides=[*QUICK, "epochs=3", "steps_per_execution=4"])
    assert result.status == "nan"
    assert "loss became NaN at epoch 2; stopped and kept the last good checkpoint (epoch 1)" \
        in result.message


def test_same_seed_same_metrics(tmp_path):
    a = train("default", tmp_path / "a", overrides=[*QUICK, "epochs=1"], verbose=0)
    b = train("default", tmp_path / "b", overrides=[*QUICK, "epochs=1"], verbose=0)
    assert a.metrics == b.metrics
    assert runs.read_history(tmp_path / "a") == runs.read_history(tmp_path / "b")
    c = train("default", tmp_path / "c", overrides=[*QUICK, "epochs=1", "seed=1"], verbose=0)
    assert c.metrics != a.metrics


@pytest.mark.slow
def test_resume_after_sigkill_loses_at_most_one_epoch(tmp_path):
    run_dir = tmp_path / "run"
    code = textwrap.dedent(f"""
        from cnn_zoo.train import train
        train("default", {str(run_dir)!r}, verbose=0,
              overrides=["model.name=lenet5_modern", "dataset.max_examples=1500",
                         "batch_size=8", "epochs=4"])
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 240
    # Wait for the second epoch to be under way, then kill without warning.
    while time.time() < deadline and len(runs.read_history(run_dir)) < 1:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(runs.read_history(run_dir))
    assert 1 <= done_before < 4
    assert runs.read_json(run_dir / "manifest.json")["status"] == "running"

    result = train(None, run_dir, resume=True, verbose=0)
    assert result.status == "finished"
    history = runs.read_history(run_dir)
    assert [row["epoch"] for row in history] == [0, 1, 2, 3]
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    assert runs.read_json(run_dir / "manifest.json")["epochs"] == 4
    with pytest.raises(runs.RunError, match="finished run, nothing to resume"):
        train(None, run_dir, resume=True)


DISTRIBUTED = """
import json, os, sys
backend = os.environ["KERAS_BACKEND"]
if backend == "tensorflow":
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from cnn_zoo.train import train
r = train("default", sys.argv[1], verbose=0, overrides=[
    "model.name=lenet5_modern", "dataset.max_examples=256", "batch_size=32", "epochs=1",
    "distribute=true"])
print(json.dumps({"status": r.status, "accuracy": r.metrics["accuracy"]}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_distributed_on_two_virtual_cpus(tmp_path, backend):
    env = _env(KERAS_BACKEND=backend, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    out = subprocess.run([sys.executable, "-c", DISTRIBUTED, str(tmp_path / "run")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "finished"
    manifest = runs.read_json(tmp_path / "run" / "manifest.json")
    assert manifest["compute"]["replicas"] == 2
    assert len(manifest["compute"]["devices"]) >= 2
    # The default recipe asks for 32 steps per execution; tf.distribute gets 1 (cnn_zoo.compute).
    assert manifest["compute"]["steps_per_execution"]["chosen"] == (1 if backend == "tensorflow" else 32)


JAX_ONLY = """
import importlib.abc, sys

class NoTensorFlow(importlib.abc.MetaPathFinder):
    # A machine with JAX alone: every import of tensorflow fails.
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorflow_datasets", "tensorboard"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")

sys.meta_path.insert(0, NoTensorFlow())
from cnn_zoo.train import train
r = train("default", sys.argv[1], verbose=0, overrides=[
    "model.name=lenet5_modern", "dataset.max_examples=256", "batch_size=32", "epochs=1"])
assert r.status == "finished", r
print("accuracy", r.metrics["accuracy"])
"""


@pytest.mark.slow
def test_jax_backend_trains_without_tensorflow(tmp_path):
    out = subprocess.run([sys.executable, "-c", JAX_ONLY, str(tmp_path / "run")],
                         env=_env(KERAS_BACKEND="jax"), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1].startswith("accuracy")
    assert not (tmp_path / "run" / "logs").exists()  # TensorBoard needs TensorFlow
    assert runs.read_json(tmp_path / "run" / "manifest.json")["backend"] == "jax"


@pytest.mark.slow
def test_googlenet_with_auxiliary_heads_trains_and_evaluates_without_them(tmp_path):
    # 96×96: the smallest round size where the 5×5/3 auxiliary pools still fit after 4a and 4d.
    result = train("default", tmp_path / "run", verbose=0, overrides=[
        "model.name=googlenet", "model.kwargs={aux_classifiers: true}",
        "preprocessing=[resize: [96, 96], rescale: 0.00392156862745098]",
        "dataset.max_examples=48", "batch_size=16", "epochs=1", "steps_per_execution=1",
        "callbacks.early_stopping=null", "dataset.validation_fraction=0"])
    assert result.status == "finished"
    assert set(result.metrics) == {"accuracy", "loss"}  # the main head alone, as at inference
    history = runs.read_history(tmp_path / "run")
    assert {"aux1_loss", "aux2_loss", "predictions_accuracy"} <= set(history[0])
    again = evaluate(tmp_path / "run")
    assert again["accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1e-6)


def _interrupted_run(run_dir, epochs_done=1):
    """A run stopped by Ctrl-C after ``epochs_done`` epochs: resumable."""
    import keras

    class CtrlC(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == epochs_done:
                raise KeyboardInterrupt
    result = train("default", run_dir, overrides=[*QUICK, "epochs=3"], verbose=0, callbacks=[CtrlC()])
    assert result.status == "interrupted"
    return run_dir


def test_resume_after_nan_starts_from_the_kept_checkpoint(tmp_path):
    from cnn_zoo import run_state

    run_dir = tmp_path / "run"
    first = train("default", run_dir, verbose=0, callbacks=[PoisonWeights(epoch=3)],
                  overrides=[*QUICK, "epochs=4", "steps_per_execution=1"])
    assert first.status == "nan"
    assert run_state.resume_point(run_state.Ledger.read(run_dir)).epoch == 2  # not epoch 1
    result = train(None, run_dir, resume=True, verbose=0)
    assert result.status == "finished" and result.epochs == 4 and result.message == ""
    assert [row["epoch"] for row in runs.read_history(run_dir)] == [0, 1, 2, 3]
    assert np.isfinite(result.metrics["loss"])


def test_a_failed_start_writes_nothing_and_its_folder_can_be_reused(tmp_path):
    from cnn_zoo.errors import UnknownArgumentError

    run_dir = tmp_path / "run"
    with pytest.raises(UnknownArgumentError, match="bogus"):
        train("default", run_dir, overrides=[*QUICK, "epochs=1", "model.kwargs.bogus=1"], verbose=0)
    assert not run_dir.exists()
    # What an older zoo left after such a start: a recipe, a "failed" manifest, an empty history.
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("name: default\n")
    runs.write_json(run_dir / "manifest.json", {"status": "failed"})
    (run_dir / "history.csv").write_text("")
    (run_dir / "logs").mkdir()
    result = train("default", run_dir, overrides=[*QUICK, "epochs=1"], verbose=0)
    assert result.status == "finished" and result.epochs == 1


def test_resume_refuses_another_recipe_and_a_damaged_history_before_training(tmp_path):
    run_dir = _interrupted_run(tmp_path / "run")
    with pytest.raises(runs.RunError, match="holds a run of the recipe 'default', not 'lenet5-mnist'"):
        train("lenet5-mnist", run_dir, resume=True, verbose=0)
    (run_dir / "history.csv").write_text("epoch,accuracy,loss\n0,0.5,1.0\nnot,a,number\n")
    with pytest.raises(runs.RunError, match=r"history.csv is damaged at line 3 .*restore it"):
        train(None, run_dir, resume=True, verbose=0)
    assert runs.read_json(run_dir / "manifest.json")["status"] == "interrupted"  # nothing written


def test_unwritable_out_is_one_line_and_nothing_is_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    with pytest.raises(runs.RunError, match="cannot write into the run folder .* choose a writable"):
        train("default", blocker / "run", overrides=[*QUICK, "epochs=1"], verbose=0)
    with pytest.raises(runs.RunError, match="is a file, not a folder"):
        train("default", blocker, overrides=[*QUICK, "epochs=1"], verbose=0)
    assert blocker.read_text() == "mine"


def test_resume_replays_the_data_order_of_the_epochs_done():
    """A resumed fit sees the batches an uninterrupted one would (Keras 3.15's fit opens two
    tf.data iterators per epoch; cnn_zoo.run_state.replay_epochs replays them)."""
    import keras
    import tensorflow as tf

    from cnn_zoo.data import make_pipeline
    from cnn_zoo.run_state import replay_epochs

    x = np.arange(64 * 4, dtype="float32").reshape(64, 2, 2, 1)
    y = np.arange(64) % 10
    seen = []

    class Recorder(keras.Model):
        def train_step(self, data):
            tf.py_function(lambda v: seen.append(float(v)), [tf.reduce_sum(data[0][0])], [])
            return {"sum": tf.reduce_sum(data[0])}  # Keras needs an output

    def fit(skip, initial_epoch):
        seen.clear()
        data = make_pipeline(x, y, 16, shuffle=True, seed=0, steps=[{"random_shift": 1}], augment=True)
        replay_epochs(data, skip)
        inputs = keras.Input((2, 2, 1))
        model = Recorder(inputs, keras.layers.Flatten()(inputs))
        model.compile("sgd")
        model.fit(data, epochs=3, initial_epoch=initial_epoch, verbose=0)
        return list(seen)

    uninterrupted = fit(0, 0)
    assert len(uninterrupted) == 12
    assert fit(2, 2) == uninterrupted[8:]
