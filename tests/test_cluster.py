"""Multi-worker training: cnn_zoo.cluster and `zoo launch`.

On loopback, 2 worker processes, CPU, TensorFlow's MultiWorkerMirroredStrategy: (a) 2 workers
and 1 with the same global batch end with the same weights after a few steps of plain SGD;
(b) a worker SIGKILLed mid-epoch, then --resume on all workers finishes the run; (c) a wrong
TF_CONFIG is one line (exit 2) within a bounded time, never a hang.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnn_zoo import cluster as clusters
from cnn_zoo import run as runs

ROOT = Path(__file__).resolve().parents[1]
# Full-batch plain SGD on 128 training images, no augmentation: shuffling cannot change a step.
TINY = ["model.name=lenet5_modern", "dataset.max_examples=128", "dataset.validation_fraction=0.25",
        "preprocessing=[{pad: 2}, lenet_scale]", "optimizer.name=sgd", "optimizer.learning_rate=0.05",
        "schedule.name=constant", "callbacks.early_stopping=null", "epochs=3", "batch_size=128"]


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT), KERAS_BACKEND="tensorflow")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _tf_config(addresses, index):
    return json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})


# --- (c) a wrong configuration: one line, bounded time --------------------------------------

@pytest.mark.parametrize("text, match", [
    ("{not json", "TF_CONFIG is not valid JSON"),
    (_tf_config(["127.0.0.1:2222", "127.0.0.1:2223"], 2), r"task index must be 0\.\.1 .*index=2"),
    (_tf_config(["127.0.0.1:2222"], -1), r"index=-1"),
    (_tf_config(["127.0.0.1"], 0), "must be host:port"),
    (json.dumps({"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}), "only chief and worker"),
    (json.dumps({"cluster": {"worker": ["a:1"]}}), '"task"'),
])
def test_bad_tf_config_is_one_line(text, match):
    with pytest.raises(clusters.ClusterError, match=match) as error:
        clusters.from_env("tensorflow", {"TF_CONFIG": text})
    assert "\n" not in str(error.value)


def test_tf_config_parsed():
    c = clusters.from_env("tensorflow", {"TF_CONFIG": _tf_config(["h0:1", "h1:2", "h2:3"], 2)})
    assert (c.workers, c.index, c.is_chief) == (["h0:1", "h1:2", "h2:3"], 2, False)
    assert c.record() == {"workers": 3, "chief": 0, "backend": "tensorflow",
                          "addresses": ["h0:1", "h1:2", "h2:3"]}
    assert clusters.from_env("tensorflow", {}) is None


def test_jax_variables_checked():
    c = clusters.from_env("jax", {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234",
                                  "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                                  "KERAS_DISTRIBUTION_PROCESS_ID": "1"})
    assert (len(c.workers), c.index, c.backend) == (2, 1, "jax")
    with pytest.raises(clusters.ClusterError, match="must be 0..1"):
        clusters.from_env("jax", {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234",
                                  "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                                  "KERAS_DISTRIBUTION_PROCESS_ID": "2"})


def test_unreachable_peer_fails_within_the_timeout():
    from cnn_zoo.local_cluster import free_ports

    a, b = free_ports(2)  # nobody will listen on b
    cluster = clusters.parse_tf_config(_tf_config([f"127.0.0.1:{a}", f"127.0.0.1:{b}"], 0))
    start = time.monotonic()
    with pytest.raises(clusters.ClusterError, match=f"worker 1 at 127.0.0.1:{b} did not answer within 1 s"):
        clusters.wait_for_peers(cluster, timeout=1.0)
    assert time.monotonic() - start < 5


def test_shard_splits_every_example_once():
    from cnn_zoo.data.sources import Dataset

    ds = Dataset(np.zeros((10, 2, 2, 1), np.uint8), np.arange(10, dtype=np.int32), tuple("abcdefghij"), "test", "train")
    c = clusters.parse_tf_config(_tf_config(["a:1", "b:2"], 1))
    part, batch = clusters.shard(ds, c, 8)
    assert batch == 4 and part.y.tolist() == [1, 3, 5, 7, 9]
    with pytest.raises(clusters.ClusterError, match="multiple of the number of workers"):
        clusters.shard(ds, c, 7)


def test_shard_splits_streamed_files_once_per_epoch():
    """A streamed dataset's files: each worker gets its own, none read by two."""
    from cnn_zoo.data.sources import Dataset
    from cnn_zoo.data.stream import ImageFiles

    paths = [f"/data/c{i % 3}/{i}.jpg" for i in range(11)]
    ds = Dataset(ImageFiles(paths, 3), np.arange(11, dtype=np.int32) % 3, ("a", "b", "c"), "folder:/data",
                 "train")
    parts = [clusters.shard(ds, clusters.parse_tf_config(_tf_config(["a:1", "b:2"], i)), 32)[0]
             for i in range(2)]
    seen = [list(p.x.paths) for p in parts]
    assert sorted(seen[0] + seen[1]) == sorted(paths) and not set(seen[0]) & set(seen[1])


@pytest.mark.slow
@pytest.mark.parametrize("config, match", [
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}', "task index"),
    ("UNREACHABLE", "did not answer within 2 s"),
])
def test_cli_wrong_tf_config_exits_2_in_bounded_time(tmp_path, config, match):
    if config == "UNREACHABLE":
        from cnn_zoo.local_cluster import free_ports
        a, b = free_ports(2)
        config = _tf_config([f"127.0.0.1:{a}", f"127.0.0.1:{b}"], 0)
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "cnn_zoo.cli", "train", "default", "--out",
                          str(tmp_path / "run")], env=_env(TF_CONFIG=config, ZOO_CLUSTER_TIMEOUT="2"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and match in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert time.monotonic() - start < 60
    assert not (tmp_path / "run").exists()


# --- (a), (b): real runs on loopback ---------------------------------------------------------

def _model():
    """The model the seed builds, untrained."""
    import keras

    from cnn_zoo.recipe import load_recipe
    from cnn_zoo.train import build_and_compile

    recipe = load_recipe("default", overrides=TINY)
    keras.utils.set_random_seed(recipe.seed)
    return build_and_compile(recipe, (32, 32, 1), 10, 1).model


def _weights(run_dir):
    model = _model()
    model.load_weights(run_dir / "model.weights.h5")
    return model.get_weights()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_two_workers_match_one_with_the_same_global_batch(tmp_path, backend):
    from cnn_zoo.local_cluster import launch

    env = _env(KERAS_BACKEND=backend)
    one = launch(1, "default", tmp_path / "one", overrides=TINY, env=env, timeout=300)
    two = launch(2, "default", tmp_path / "two", overrides=TINY, env=env, timeout=300)
    assert one.ok, one.logs
    assert two.ok, two.logs
    manifest = runs.read_json(tmp_path / "two" / "manifest.json")
    assert manifest["cluster"]["workers"] == 2 and manifest["cluster"]["chief"] == 0
    assert manifest["cluster"]["backend"] == backend
    assert manifest["compute"]["replicas"] == 2 and manifest["status"] == "finished"
    assert runs.read_json(tmp_path / "one" / "manifest.json")["cluster"]["workers"] == 1
    w1, w2 = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert len(w1) == len(w2)
    start = _model().get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(start, w2))  # it did train
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_worker_killed_mid_epoch_then_resumed_on_all_workers(tmp_path):
    from cnn_zoo.local_cluster import launch

    args = [*TINY, "batch_size=32", "epochs=3"]  # 4 steps an epoch: batch@6 is mid-epoch 2
    killed = launch(2, "default", tmp_path / "run", overrides=args, env=_env(), timeout=300,
                    worker_env={1: {"ZOO_FAULT": "batch@6"}})
    assert killed.returncodes[1] == -9, killed.logs
    manifest = runs.read_json(tmp_path / "run" / "manifest.json")
    assert manifest["status"] == "running"
    assert [row["epoch"] for row in runs.read_history(tmp_path / "run")] == [0]
    resumed = launch(2, None, tmp_path / "run", resume=True, env=_env(), timeout=300)
    assert resumed.ok, resumed.logs
    assert [row["epoch"] for row in runs.read_history(tmp_path / "run")] == [0, 1, 2]
    manifest = runs.read_json(tmp_path / "run" / "manifest.json")
    assert manifest["status"] == "finished" and manifest["epochs"] == 3
    assert (tmp_path / "run" / "model.keras").is_file()


def test_keras_private_names_the_multi_worker_fixes_use():
    """cnn_zoo.keras_private's two multi-worker adapters reach into these (Keras 3.15)."""
    pytest.importorskip("tensorflow")
    import keras
    from keras.src.backend.tensorflow import trainer

    from cnn_zoo.keras_private import first_replica_logs_under_multi_worker

    assert callable(trainer._collective_all_reduce_multi_worker)
    first_replica_logs_under_multi_worker()
    assert trainer.reduce_per_replica.zoo_first
    if keras.backend.backend() == "tensorflow":
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        assert hasattr(model, "_distribute_strategy")


def test_cli_lists_launch():
    from click.testing import CliRunner

    from cnn_zoo.cli import main

    out = CliRunner().invoke(main, ["launch", "--help"])
    assert out.exit_code == 0 and "--workers" in out.output
