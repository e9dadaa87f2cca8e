"""How a run computes: the compute plan per backend and machine (``auto`` chosen from the CPU),
recorded in the manifest, applied alike by ``zoo train`` and every tuning trial, and a
bfloat16-trained run saved and evaluated as a float32 model."""

import keras
import numpy as np
import pytest

from cnn_zoo import compute, hardware
from cnn_zoo import run as runs
from cnn_zoo.compute import plan_for
from cnn_zoo.recipe import load_recipe
from cnn_zoo.train import train

QUICK = ["model.name=lenet5_modern", "dataset.max_examples=400", "batch_size=32", "epochs=1"]
XEON = ["processor\t: 0", "model name\t: Intel(R) Xeon(R) Processor",
        "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8"]
EPYC = ["model name\t: AMD EPYC 7B13", "flags\t\t: fpu sse2 avx2 fma"]


def test_cpu_flags_and_name_read_from_cpuinfo():
    assert hardware.cpu_flags(XEON) == ["avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"]
    assert hardware.cpu_flags(EPYC) == ["avx2"]
    assert hardware.cpu_name(EPYC) == "AMD EPYC 7B13"
    assert hardware.cpu_flags([]) == []  # not Linux: nothing assumed


@pytest.mark.parametrize("backend, devices, lines, chosen", [
    ("tensorflow", ["/device:CPU:0"], XEON, "bfloat16"),       # AMX: measured to win
    ("tensorflow", ["/device:CPU:0"], EPYC, "none"),           # AVX2: bf16 would be emulated
    ("tensorflow", ["/device:CPU:0", "/device:GPU:0"], XEON, "none"),  # not measured there
    ("jax", ["TFRT_CPU_0"], XEON, "none"),
])
def test_auto_precision_follows_the_machine(backend, devices, lines, chosen):
    name, why = hardware.auto_precision(backend, devices, hardware.cpu_flags(lines))
    assert name == chosen and why


CPU, GPU = ["/device:CPU:0"], ["/device:CPU:0", "/device:GPU:0"]


@pytest.mark.parametrize("backend, devices, overrides, jit, steps, why", [
    # jit_compile: auto is jitted on JAX and on accelerators, not on a CPU with TensorFlow or PyTorch.
    ("tensorflow", CPU, [], False, 32, "XLA's convolutions are slower"),
    ("tensorflow", GPU, [], True, 32, "an accelerator"),
    ("jax", ["TFRT_CPU_0"], [], True, 32, "without jax.jit"),
    ("torch", ["cpu"], [], False, 1, "eagerly"),
    ("torch", ["cuda:0"], [], False, 1, "eagerly"),
    # An explicit false is honoured, with the price named; true is honoured everywhere.
    ("jax", ["TFRT_CPU_0"], ["jit_compile=false"], False, 32, "set false by the recipe: JAX then runs every op"),
    ("torch", ["cpu"], ["jit_compile=true"], True, 1, "set by the recipe"),
    # Keras runs one step per call on PyTorch, and under tf.distribute.
    ("tensorflow", CPU, ["distribute=true"], False, 1, "XLA"),
])
def test_the_plan_is_chosen_per_backend_with_its_reasons(backend, devices, overrides, jit, steps, why):
    plan = plan_for(load_recipe("default", overrides), backend=backend, devices=devices)
    assert plan.compile_args() == {"jit_compile": jit, "steps_per_execution": steps}
    assert why in plan.jit_compile.why
    assert plan.steps_per_execution.asked == 32 and plan.steps_per_execution.why
    record = plan.record()
    assert record["backend"] == backend and record["devices"] == devices
    assert record["jit_compile"] == {"recipe": load_recipe("default", overrides).jit_compile,
                                     "chosen": jit, "why": plan.jit_compile.why}
    if backend == "torch":
        assert "PyTorch" in plan.steps_per_execution.why


def test_the_plan_resolves_mixed_precision_auto_from_the_machine():
    recipe = load_recipe("lenet5_modern-mnist", ["mixed_precision=auto"])
    amx = plan_for(recipe, backend="tensorflow", devices=CPU, flags=hardware.cpu_flags(XEON))
    assert (amx.mixed_precision.chosen, amx.dtype_policy) == ("bfloat16", "mixed_bfloat16")
    assert "AMX" in amx.mixed_precision.why
    assert amx.in_float32().dtype_policy == "float32" and amx.in_float32().jit_compile == amx.jit_compile
    avx2 = plan_for(recipe, backend="tensorflow", devices=CPU, flags=hardware.cpu_flags(EPYC))
    assert avx2.dtype_policy == "float32" and "no AMX" in avx2.mixed_precision.why
    fixed = plan_for(load_recipe("lenet5_modern-mnist", ["mixed_precision=bfloat16"]), backend="jax",
                     devices=["TFRT_CPU_0"])
    assert fixed.mixed_precision.record() == {"recipe": "bfloat16", "chosen": "bfloat16",
                                              "why": "set by the recipe"}
    # This machine: the backend's own devices, and hardware's answer for them.
    here = plan_for(recipe)
    assert list(here.devices) == hardware.devices()
    assert (here.mixed_precision.chosen, here.mixed_precision.why) == hardware.auto_precision(
        keras.backend.backend(), hardware.devices())


def test_distribute_on_pytorch_is_refused_by_the_plan():
    with pytest.raises(runs.RunError, match="distribute: true is not supported on the torch backend"):
        plan_for(load_recipe("default", ["distribute=true"]), backend="torch", devices=["cpu"])


def test_bfloat16_run_is_recorded_and_saved_as_float32(tmp_path):
    result = train("default", tmp_path / "run", overrides=[*QUICK, "mixed_precision=bfloat16"], verbose=0)
    plan = runs.read_json(tmp_path / "run" / "manifest.json")["compute"]
    assert plan["mixed_precision"] == {"recipe": "bfloat16", "chosen": "bfloat16", "why": "set by the recipe"}
    assert plan["dtype_policy"] == "mixed_bfloat16" and plan["replicas"] == 1
    assert plan["jit_compile"]["chosen"] is False  # jit_compile auto is off on a CPU with TensorFlow
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    saved = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}
    # The saved float32 model is what was evaluated: the recorded accuracy is its own.
    from cnn_zoo.evaluation import evaluate

    assert evaluate(tmp_path / "run")["accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1e-6)
    # ... and it carries the trained weights: the same as the training-time weights file.
    weights = keras.models.clone_model(saved)
    weights.load_weights(tmp_path / "run" / "model.weights.h5")
    for a, b in zip(saved.get_weights(), weights.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_tuning_trial_computes_under_the_plan_of_zoo_train(tmp_path, monkeypatch):
    # This machine told it has AMX: mixed_precision: auto is bfloat16 on TensorFlow.
    monkeypatch.setattr(hardware, "cpu_flags", lambda lines=None: ["avx2", "amx_bf16"])
    from cnn_zoo.tune import tune
    from cnn_zoo.tune.hypermodel import ZooHyperModel

    seen = {}

    class Policy(keras.callbacks.Callback):
        def __init__(self, key):
            super().__init__()
            self.key = key

        def on_train_begin(self, logs=None):
            seen[self.key] = (self.model.dtype_policy.name, self.model.get_layer("c1").dtype_policy.name,
                              self.model.jit_compile, self.model.steps_per_execution)

    overrides = [*QUICK, "mixed_precision=auto", "dataset.max_examples=100"]
    train("default", tmp_path / "run", overrides=overrides, verbose=0, callbacks=[Policy("train")])
    fit = ZooHyperModel.fit

    def spied(self, hp, model, *, callbacks=(), **kwargs):
        return fit(self, hp, model, callbacks=[*callbacks, Policy("trial")], **kwargs)

    monkeypatch.setattr(ZooHyperModel, "fit", spied)
    result = tune("default", tmp_path / "tune", max_trials=1, verbose=0, overrides=[
        *overrides, "search_space={optimizer.learning_rate: {choice: [0.002]}}"])
    assert result.report.counts["completed"] == 1
    assert seen["trial"] == seen["train"] == ("mixed_bfloat16", "mixed_bfloat16", False, 32)
    plan = runs.read_json(tmp_path / "run" / "manifest.json")["compute"]
    assert plan["mixed_precision"]["chosen"] == "bfloat16" and "AMX" in plan["mixed_precision"]["why"]
    assert keras.config.dtype_policy().name == "float32"  # restored after the search
