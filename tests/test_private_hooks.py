"""The private Keras and Keras Tuner API the zoo relies on, pinned: each use sits behind one
adapter module, and this test fails when an installed version changes what the adapter needs."""

import configparser
import inspect
from pathlib import Path

import keras
import keras_tuner
import numpy as np
import pytest

import cnn_zoo
import cnn_zoo.layers
from cnn_zoo import keras_private
from cnn_zoo.layers.keras_private import built_input_shape
from cnn_zoo.recipe import OPTIMIZERS
from cnn_zoo.train import KERAS_OPTIMIZERS
from cnn_zoo.tune import kt_private

ADAPTERS = {"keras_private.py", "kt_private.py"}
PRIVATE = ("keras_tuner.src", "keras.src", "_build_shapes_dict", "_flatten_layers")


def test_no_module_outside_the_adapters_reaches_into_private_api():
    roots = [Path(cnn_zoo.__file__).parent, Path(cnn_zoo.layers.__file__).parent]
    offenders = [f"{p}: {word}" for root in roots for p in root.rglob("*.py") if p.name not in ADAPTERS
                 for word in PRIVATE if word in p.read_text()]
    assert offenders == []


@pytest.mark.parametrize("cls,name,params", kt_private.HOOKS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_keras_tuner_hooks_exist_with_the_parameters_we_use(cls, name, params):
    method = getattr(cls, name)
    got = []
    for p in inspect.signature(method).parameters.values():
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        got.append(prefix + p.name)
    assert tuple(got) == params


def test_every_private_override_in_tune_is_a_pinned_hook():
    from cnn_zoo.tune import oracles, tuner

    pinned = {name for _, name, _ in kt_private.HOOKS}
    ours = [tuner.ZooTuner, tuner.BestCheckpoint, oracles.FeasibleOracle, oracles.GridOracle, oracles.BayesianOracle]
    for cls in ours:
        for name, value in vars(cls).items():
            if name.startswith("_") and not name.startswith("__") and callable(value):
                inherited = any(hasattr(base, name) for base in cls.__mro__[1:] if base.__module__.startswith("keras"))
                if inherited:
                    assert name in pinned, f"{cls.__name__}.{name} overrides Keras Tuner without a pin"


def test_oracle_attributes_and_worker_test(tmp_path, monkeypatch):
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(name, raising=False)
    search = keras_tuner.RandomSearch(hypermodel=lambda hp: keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
                                      objective="val_loss", max_trials=1, directory=str(tmp_path))
    for name in kt_private.ORACLE_ATTRIBUTES:
        assert hasattr(search.oracle, name)
    assert kt_private.is_worker(search) is False
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "worker1")  # what cnn_zoo.tune.distributed.tuner_env sets
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    assert kt_private.is_worker(search) is True
    assert kt_private.TrialStatus.COMPLETED == "COMPLETED"


def test_oracle_service_parts():
    pytest.importorskip("grpc")  # keras-tuner's distributed mode needs it; so does ours
    protos, servicer, exit_chief = kt_private.oracle_service()
    assert hasattr(protos.get_service_grpc(), "add_OracleServicer_to_server")
    assert callable(servicer) and callable(exit_chief)


def test_built_input_shape():
    layer = keras.layers.Dense(2)
    assert built_input_shape(layer) is None
    layer(np.zeros((1, 3), "float32"))
    assert built_input_shape(layer) == (1, 3)


def test_every_layer_reaches_a_custom_layers_sublayers_and_nested_models():
    class Block(keras.layers.Layer):  # as layers.inception.Inception holds its BatchNormalizations
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.sublayers = {"bn": keras.layers.BatchNormalization()}

        def call(self, x):
            return self.sublayers["bn"](x)

    block, dense = Block(), keras.layers.Dense(2)
    inner = keras.Sequential([keras.Input((3,)), dense])
    model = keras.Sequential([keras.Input((3,)), block, inner])
    found = keras_private.every_layer(model)
    assert block in found and inner in found and dense in found and block.sublayers["bn"] in found
    assert model not in found


def test_a_call_rebound_on_one_instance_computes_in_its_place_and_is_not_saved(tmp_path):
    def doubled(self, inputs, training=None, mask=None):
        return 2.0 * keras.layers.BatchNormalization.call(self, inputs, training=training, mask=mask)

    layer, other = keras.layers.BatchNormalization(), keras.layers.BatchNormalization()
    model = keras.Sequential([keras.Input((3,)), layer, other])
    config = model.get_config()
    keras_private.rebind_call(layer, doubled)
    assert keras_private.calls_through(layer, doubled) and not keras_private.calls_through(other, doubled)
    assert keras.layers.BatchNormalization.call is not doubled  # the class is untouched
    x = np.arange(12, dtype="float32").reshape(4, 3)
    np.testing.assert_allclose(layer(x), 2 * other(x), rtol=1e-6)  # eager, through Layer.__call__
    np.testing.assert_allclose(model.predict(x, verbose=0), 2 * other(other(x)), rtol=1e-6)  # traced
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, x, epochs=1, verbose=0)  # a traced training step reaches it too
    assert model.get_config() == config
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[0]) is keras.layers.BatchNormalization
    assert not keras_private.calls_through(loaded.layers[0], doubled)


def test_deferred_variables_leave_keras_global_list_as_it_was():
    from keras.src.backend.common import global_state  # the private module the adapter uses

    before = list(global_state.get_global_attribute("uninitialized_variables", []))
    with keras_private.deferred_variables_forgotten():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    assert model.layers[0].kernel.shape == (4, 3)
    assert list(global_state.get_global_attribute("uninitialized_variables", [])) == before


def test_backup_and_restore_private_state(tmp_path):
    backup = keras.callbacks.BackupAndRestore(str(tmp_path))
    state = keras_private.backup_state(backup)
    assert set(state) == set(keras_private.BACKUP_ATTRIBUTES)
    assert str(state["_weights_path"]).endswith(".weights.h5") and state["_current_epoch"] == 0
    assert inspect.signature(getattr(keras.callbacks.BackupAndRestore, keras_private.BACKUP_HOOK)).parameters.keys() \
        == {"self"}


def test_the_versions_we_pin_against_are_the_installed_ones_and_bounded():
    cfg = configparser.ConfigParser()
    cfg.read(Path(cnn_zoo.__file__).resolve().parents[1] / "setup.cfg")
    requires = cfg["options"]["install_requires"]
    assert "keras>=3.5,<3.16" in requires and "keras-tuner[bayesian]>=1.4.7,<1.5" in requires
    major, minor = map(int, keras.__version__.split(".")[:2])
    assert (3, 5) <= (major, minor) < (3, 16)
    assert keras_tuner.__version__.startswith("1.4.")


def test_keras_imports_tensorflow_through_one_lazy_module():
    from keras.src.utils import module_utils, rng_utils

    assert isinstance(module_utils.tensorflow, module_utils.LazyModule)
    assert module_utils.tensorflow.name == "tensorflow" and hasattr(module_utils.tensorflow, "_available")
    assert rng_utils.tf is module_utils.tensorflow  # what set_random_seed asks


def test_weights_file_bytes_are_the_file_save_weights_writes(tmp_path):
    """Keras' H5IOStore takes an io.BytesIO: the bytes load back as the saved file does."""
    def built():
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse")
        model.optimizer.build(model.trainable_variables)
        return model

    keras.utils.set_random_seed(0)
    model = built()
    model.fit(np.ones((8, 6)), np.ones((8, 2)), epochs=1, verbose=0)  # optimizer state too
    (tmp_path / "memory.weights.h5").write_bytes(keras_private.weights_file_bytes(model))
    model.save_weights(tmp_path / "file.weights.h5")
    loaded = {}
    for name in ("memory", "file"):
        other = built()
        other.load_weights(tmp_path / f"{name}.weights.h5")
        loaded[name] = [v.numpy() for v in [*other.weights, *other.optimizer.variables]]
    expected = [v.numpy() for v in [*model.weights, *model.optimizer.variables]]
    for source in ("memory", "file"):
        assert len(loaded[source]) == len(expected)
        assert all(np.array_equal(a, b) for a, b in zip(loaded[source], expected))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_arguments_read_from_keras_source_are_the_ones_it_takes(name):
    arguments = keras_private.optimizer_arguments(name)
    cls = getattr(keras.optimizers, KERAS_OPTIMIZERS[name])
    own = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
           if k not in ("self", "kwargs")}
    assert own.items() <= arguments.items()  # the class's own arguments, with their defaults
    for key, default in arguments.items():  # and those it passes on: each is taken
        if key != "learning_rate" and default is not keras_private.NO_DEFAULT:
            cls(learning_rate=0.01, **{key: default})
    with pytest.raises(ValueError, match="not recognized"):
        cls(learning_rate=0.01, no_such_argument=1)
