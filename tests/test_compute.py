"""How a run computes: ``mixed_precision: auto`` chosen from the CPU, recorded in the manifest,
and a bfloat16-trained run saved and evaluated as a float32 model."""

import keras
import numpy as np
import pytest

from cnn_zoo import hardware
from cnn_zoo import run as runs
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


def test_recipe_precision_auto_is_this_machines_choice():
    recipe = load_recipe("lenet5_modern-mnist", ["mixed_precision=auto"])
    expected = hardware.auto_precision(keras.backend.backend(), hardware.devices())
    assert recipe.precision() == expected
    assert recipe.dtype_policy == {"bfloat16": "mixed_bfloat16", "none": None}[expected[0]]
    assert load_recipe("lenet5_modern-mnist", ["mixed_precision=none"]).precision()[0] == "none"


def test_bfloat16_run_is_recorded_and_saved_as_float32(tmp_path):
    result = train("default", tmp_path / "run", overrides=[*QUICK, "mixed_precision=bfloat16"], verbose=0)
    manifest = runs.read_json(tmp_path / "run" / "manifest.json")
    assert manifest["mixed_precision"]["recipe"] == "bfloat16"
    assert manifest["mixed_precision"]["chosen"] == "bfloat16"
    assert manifest["jit_compile"] is False  # as compiled: jit_compile auto is off on a CPU
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
