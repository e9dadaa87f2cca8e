"""Stand-ins for the publishers' files, in their own formats, with random weights.

- ``torchvision_pth``: the real ``torchvision.models.googlenet`` (aux heads on,
  ``transform_input=True`` as torchvision sets it for its ImageNet weights),
  BatchNorm statistics perturbed so they are not trivial, saved as torchvision
  publishes it (``torch.save(model.state_dict())``); returns the model.
- ``standins``: the same for any torchvision classifier (resnet50, vgg16_bn,
  alexnet...), made in a torch-only subprocess, with torch's logits; VGG's and
  AlexNet's hidden FC layers narrowed on request (``narrow``).
- ``bvlc_onnx`` (in bvlc_graph.py): the ONNX model zoo's googlenet graph.
- ``keras_logits_in`` / ``keras_logits_many``: the converted model's logits under
  another Keras backend, in a subprocess (the backend is fixed at import time).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# Why: torchvision imports torch._dynamo, which imports triton (GPU kernels)
# when it is installed; libtriton segfaults the process if TensorFlow is loaded
# already (measured: torch 2.14.1, triton 3.8.0, tensorflow-cpu 2.21), which
# depends on test order. These CPU tests never use triton: hide it.
sys.modules.setdefault("triton", None)


def torchvision_googlenet(seed: int = 0):
    """torchvision's googlenet with weights whose logits depend on the input (see :func:`perturbed`)."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    model = torchvision.models.googlenet(weights=None, aux_logits=True, transform_input=True,
                                         init_weights=True)
    return perturbed(model, 224, seed)


def perturbed(model, size: int, seed: int = 0):
    """``model`` in eval mode with weights that make its logits depend on the input.

    torchvision's init (N(0, 0.01) for GoogLeNet) with arbitrary BN statistics
    gives logits that are BN's β alone, the same for every image, which would
    prove nothing. So: He-normal convs, BN statistics measured on random
    ``size``×``size`` images (as training would), then γ, β and the statistics
    perturbed.
    """
    import torch

    generator = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu", generator=generator)
        if bns:
            for bn in bns:
                bn.momentum = None  # a plain average over the calibration batches
            model.train()
            model(torch.randn(4, 3, size, size, generator=generator))
        for bn in bns:
            n = bn.num_features
            bn.running_mean.add_(torch.randn(n, generator=generator) * 0.1 * bn.running_var.sqrt())
            bn.running_var.mul_(torch.rand(n, generator=generator) * 0.7 + 0.7)
            bn.weight.copy_(torch.rand(n, generator=generator) + 0.5)
            bn.bias.copy_(torch.randn(n, generator=generator) * 0.2)
            bn.momentum = 0.1
    return model.eval()


def torchvision_pth(path: Path, seed: int = 0):
    """Writes the state dict of a perturbed torchvision googlenet to ``path``; returns the model."""
    import torch

    model = torchvision_googlenet(seed)
    torch.save(model.state_dict(), path)
    return model


def resnet18_pth(path: Path) -> None:
    """A state dict of another layout (torchvision's resnet18), for the rejection tests."""
    import torch
    import torchvision

    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)


def torch_logits(model, x_nchw: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(x_nchw)).numpy()


def images(n: int = 3, seed: int = 0, size: int = 224) -> np.ndarray:
    """Random ``size``×``size`` RGB inputs, NCHW float32 (ImageNet-normalised scale)."""
    return np.random.default_rng(seed).standard_normal((n, 3, size, size)).astype("float32")


def standins(folder: Path, jobs) -> dict:
    """Real torchvision models with perturbed weights, made in a torch-only subprocess (never beside
    TensorFlow): for each (arch, size) or (arch, size, fc) of ``jobs``, a ``.pth``
    (``torch.save(state_dict)``, as torchvision publishes it) and the model's logits on
    :func:`images` of that size. ``fc``: a VGG's or AlexNet's hidden FC width (see :func:`narrow`).
    Returns {job: (path, x NCHW, torch logits)}."""
    folder = Path(folder)
    spec = ",".join(":".join(map(str, job)) for job in sorted(jobs))
    done = subprocess.run([sys.executable, str(Path(__file__)), str(folder), spec], cwd=REPO,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return {job: (folder / f"{_stem(job)}.pth", images(size=job[1]), np.load(folder / f"{_stem(job)}-{job[1]}.npy"))
            for job in jobs}


def _stem(job) -> str:
    return job[0] if len(job) == 2 else f"{job[0]}-fc{job[2]}"


def narrow(model, units: int):
    """``model`` (torchvision's VGG or AlexNet) with hidden FC layers ``units`` wide: the same modules
    and state-dict keys, a file of megabytes instead of hundreds (the builders' ``fc_units``)."""
    import torch

    at = [i for i, m in enumerate(model.classifier) if isinstance(m, torch.nn.Linear)]
    for n, i in enumerate(at):
        old = model.classifier[i]
        model.classifier[i] = torch.nn.Linear(old.in_features if n == 0 else units,
                                              old.out_features if n == len(at) - 1 else units)
    return model


def _write_standins(folder: str, spec: str) -> None:
    """The subprocess of :func:`standins`: one state dict per (arch, fc), logits per size."""
    import torch
    import torchvision

    made, model = None, None
    for item in spec.split(","):  # one model's sizes together: one model in memory at a time
        arch, size, *fc = item.split(":")
        job = (arch, int(size), *map(int, fc))
        if _stem(job) != made:
            torch.manual_seed(0)
            model = torchvision.models.get_model(arch, weights=None)
            made, model = _stem(job), perturbed(narrow(model, job[2]) if fc else model, int(size))
            torch.save(model.state_dict(), Path(folder) / f"{made}.pth")
        np.save(Path(folder) / f"{made}-{size}.npy", torch_logits(model, images(size=int(size))))


def keras_logits(model, x_nhwc: np.ndarray) -> np.ndarray:
    import keras

    from family_conformance import forward  # tests/ is on the path wherever this runs

    logits = keras.Model(model.inputs, model.get_layer("classifier").output)
    return np.asarray(keras.ops.convert_to_numpy(forward(logits, x_nhwc)))


def keras_logits_in(backend: str, source: str, path: Path, x_nhwc: np.ndarray, tmp: Path,
                    arch: str | None = None, **kwargs) -> np.ndarray:
    """The converted model's logits on ``x_nhwc`` with ``KERAS_BACKEND=backend``, in a subprocess."""
    return keras_logits_many(backend, source, [(arch, path, x_nhwc, kwargs)], tmp)[0]


def keras_logits_many(backend: str, source: str, jobs, tmp: Path) -> list:
    """Logits of several conversions in one subprocess with ``KERAS_BACKEND=backend``: ``jobs``
    are (arch or None, path, x NHWC, builder kwargs). One process pays the imports once."""
    import json

    for i, (_, _, x, _) in enumerate(jobs):
        np.save(tmp / f"x{i}.npy", x)
    plan = [[arch, str(path), {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}]
            for arch, path, _, kwargs in jobs]
    code = ("import json, sys, numpy as np, keras\n"
            "sys.path.insert(0, 'tests')\n"
            "from convert_fixtures import keras_logits\n"
            "from cnn_zoo.convert import convert_weights\n"
            f"assert keras.backend.backend() == {backend!r}\n"
            f"for i, (arch, path, kwargs) in enumerate(json.loads({json.dumps(plan)!r})):\n"
            f"    model = convert_weights({source!r}, path, arch, **kwargs)\n"
            f"    x = np.load(f'{tmp}/x{{i}}.npy')\n"
            f"    np.save(f'{tmp}/y{{i}}.npy', keras_logits(model, x))\n"
            "    del model; keras.backend.clear_session()\n")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return [np.load(tmp / f"y{i}.npy") for i in range(len(jobs))]


def differences(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(max |difference|, that over max |reference logit|)."""
    diff = float(np.abs(ours - ref).max())
    return diff, diff / float(np.abs(ref).max())


if __name__ == "__main__":  # python tests/convert_fixtures.py FOLDER arch:size[:fc],... (torch only)
    _write_standins(sys.argv[1], sys.argv[2])
