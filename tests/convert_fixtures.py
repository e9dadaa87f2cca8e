"""Stand-ins for the publishers' GoogLeNet files, in their own formats, with random weights.

- ``torchvision_pth``: the real ``torchvision.models.googlenet`` (aux heads on,
  ``transform_input=True`` as torchvision sets it for its ImageNet weights),
  BatchNorm statistics perturbed so they are not trivial, saved as torchvision
  publishes it (``torch.save(model.state_dict())``); returns the model.
- ``bvlc_onnx`` (in bvlc_graph.py): the ONNX model zoo's googlenet graph.
- ``keras_logits_in``: the converted model's logits under another Keras
  backend, in a subprocess (the backend is fixed at import time).
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
    """torchvision's googlenet with weights whose logits depend on the input.

    torchvision's init (N(0, 0.01)) with arbitrary BN statistics gives logits
    that are BN's β alone, the same for every image, which would prove
    nothing. So: He-normal convs, BN statistics measured on random images
    (as training would), then γ, β and the statistics perturbed.
    """
    import torch
    import torchvision

    torch.manual_seed(seed)
    model = torchvision.models.googlenet(weights=None, aux_logits=True, transform_input=True,
                                         init_weights=True)
    generator = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu", generator=generator)
        for bn in bns:
            bn.momentum = None  # a plain average over the calibration batches
        model.train()
        model(torch.randn(4, 3, 224, 224, generator=generator))
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


def images(n: int = 3, seed: int = 0) -> np.ndarray:
    """Random 224×224 RGB inputs, NCHW float32 (ImageNet-normalised scale)."""
    return np.random.default_rng(seed).standard_normal((n, 3, 224, 224)).astype("float32")


def keras_logits(model, x_nhwc: np.ndarray) -> np.ndarray:
    import keras

    logits = keras.Model(model.inputs, model.get_layer("classifier").output)
    return np.asarray(logits.predict(x_nhwc, verbose=0))


def keras_logits_in(backend: str, source: str, path: Path, x_nhwc: np.ndarray, tmp: Path) -> np.ndarray:
    """The converted model's logits on ``x_nhwc`` with ``KERAS_BACKEND=backend``, in a subprocess."""
    np.save(tmp / "x.npy", x_nhwc)
    code = ("import sys, numpy as np, keras\n"
            "sys.path.insert(0, 'tests')\n"
            "from convert_fixtures import keras_logits\n"
            "from cnn_zoo.convert import convert_weights\n"
            f"assert keras.backend.backend() == {backend!r}\n"
            f"model = convert_weights({source!r}, {str(path)!r})\n"
            f"np.save({str(tmp / 'y.npy')!r}, keras_logits(model, np.load({str(tmp / 'x.npy')!r})))\n")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(tmp / "y.npy")


def differences(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(max |difference|, that over max |reference logit|)."""
    diff = float(np.abs(ours - ref).max())
    return diff, diff / float(np.abs(ref).max())
