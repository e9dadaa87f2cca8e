"""What this machine's CPU can do, and the defaults chosen from it (``mixed_precision: auto``).

Pure reading of ``/proc/cpuinfo``, and the backend's devices (``devices``, which imports
Keras when called). The measurements behind each choice are in
docs/benchmarks.md ("LeNet-5 training throughput").
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

# The vector flags that decide which oneDNN kernels run (AVX2 / AVX-512 / AMX).
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def _cpuinfo(path="/proc/cpuinfo") -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:  # not Linux: nothing known, so nothing is assumed
        return []


def cpu_name(lines=None) -> str:
    for line in _cpuinfo() if lines is None else lines:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_flags(lines=None) -> list[str]:
    """The flags of FLAGS this CPU has, in FLAGS' order."""
    for line in _cpuinfo() if lines is None else lines:
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            return [f for f in FLAGS if f in have]
    return []


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def auto_precision(backend: str, devices, flags=None) -> tuple[str, str]:
    """(mixed_precision, why) for ``mixed_precision: auto``.

    bfloat16 only where it was measured to win: TensorFlow on a CPU with AMX (oneDNN runs
    bf16 convolutions and matmuls on the tile unit; LeNet-5 trained 1.2x faster, same accuracy).
    Everywhere else float32: on AVX2 bf16 is emulated, and accelerators were not measured.
    """
    if accelerated(devices):
        return "none", "an accelerator: float32 until bfloat16 is measured there"
    if backend != "tensorflow":
        return "none", f"the {backend} backend on CPU: float32 (bfloat16 measured on TensorFlow only)"
    flags = cpu_flags() if flags is None else flags
    if "amx_bf16" in flags:
        return "bfloat16", "the CPU has AMX (amx_bf16): bfloat16 matmuls and convolutions run on it"
    return "none", "the CPU has no AMX: bfloat16 would be emulated, float32 is faster"


def accelerated(devices) -> bool:
    """Whether ``devices`` (as :func:`devices` names them) include a GPU or a TPU."""
    return any(k in d.upper() for d in devices for k in ("GPU", "CUDA", "TPU"))


def devices(backend: str | None = None) -> list[str]:
    """The devices ``backend`` (default: Keras') computes on, ``["cpu"]`` when it lists none;
    read once per process and backend."""
    if backend is None:
        # Keras imported here: this module is read without it (auto_precision).
        import keras
        backend = keras.backend.backend()
    return list(_listed(backend))


@functools.lru_cache(maxsize=None)
def _listed(backend: str) -> tuple:
    if backend == "tensorflow":
        import tensorflow as tf  # the backend's own listing: only the backend in use is imported
        return tuple(d.name for d in tf.config.list_logical_devices())
    if backend == "jax":
        import jax
        return tuple(str(d) for d in jax.devices())
    if backend == "torch":
        import torch
        return tuple("cuda:%d" % i for i in range(torch.cuda.device_count())) or ("cpu",)
    return ("cpu",)
