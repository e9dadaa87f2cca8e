"""Exported files against plain PyTorch: single-image latency, batch-256 throughput, file sizes.

For lenet5.mnist, convnet.fashion_mnist (the shipped weights) and googlenet_bn
(stand-in weights: speed does not depend on their values; the network runs at
224x224 after the centre crop), each format of ``zoo export`` runs in its own
runtime (TensorFlow SavedModel, the TFLite interpreter, onnxruntime), next to
the same network written in plain PyTorch (eager and torch.compile), in a
child process of the same run (TensorFlow and torch 2.14 segfault in one). The zoo's files include the preprocessing (they take raw
uint8 images); the PyTorch networks take the preprocessed float32 NCHW tensor,
so they do less work.

Latency: median of single-image calls; throughput: best of the timed batch-256
calls (images/s). The machine is shared: the load average is printed with the results.

    python bench/export_speed.py [--only lenet5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# torch imports triton when installed; libtriton crashes next to TensorFlow here and CPU needs no triton.
sys.modules.setdefault("triton", None)

import numpy as np  # noqa: E402
from machine import cpu_name  # noqa: E402  (bench/machine.py)

FORMATS = (("savedmodel", None, "sm"), ("tflite", None, "f32.tflite"), ("tflite", "dynamic", "dyn.tflite"),
           ("tflite", "full", "int8.tflite"), ("onnx", None, "m.onnx"))
CASES = ("lenet5.mnist", "convnet.fashion_mnist", "googlenet_bn")


# ----------------------------------------------------------------------------- PyTorch twins

def torch_lenet5():
    """LeNet-5 as the zoo builds it: scaled tanh, trainable subsampling, C3's connection table
    (a masked full conv), RBF output with softmax over negative distances."""
    import torch
    from torch import nn

    class Sub(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.coef, self.bias = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c))

        def forward(self, x):
            return nn.functional.avg_pool2d(x, 2) * 4 * self.coef[:, None, None] + self.bias[:, None, None]

    def act(x):
        return 1.7159 * torch.tanh(2 / 3 * x)

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.s2 = nn.Conv2d(1, 6, 5), Sub(6)
            self.c3, self.s4 = nn.Conv2d(6, 16, 5), Sub(16)
            self.register_buffer("mask", (torch.rand(16, 6, 1, 1) < 0.6).float())
            self.c5, self.f6 = nn.Conv2d(16, 120, 5), nn.Linear(120, 84)
            self.prototypes = nn.Parameter(torch.randn(10, 84))

        def forward(self, x):
            x = act(self.s2(act(self.c1(x))))
            x = act(self.s4(act(nn.functional.conv2d(x, self.c3.weight * self.mask, self.c3.bias))))
            x = act(self.f6(act(self.c5(x)).flatten(1)))
            d = (x * x).sum(-1, keepdim=True) - 2 * x @ self.prototypes.T + (self.prototypes ** 2).sum(-1)
            return torch.softmax(-d, -1)

    return LeNet5(), (1, 32, 32)


def torch_convnet():
    from torch import nn

    net = nn.Sequential(nn.Conv2d(1, 24, 3), nn.ReLU(), nn.Conv2d(24, 24, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(24, 48, 3), nn.ReLU(), nn.Conv2d(48, 48, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(768, 512), nn.ReLU(), nn.Linear(512, 10), nn.Softmax(-1))
    return net, (1, 28, 28)


def torch_googlenet_bn():
    from torch_nets import torchvision_net

    return torchvision_net("googlenet_bn", transform_input=True), (3, 224, 224)


TORCH = {"lenet5.mnist": torch_lenet5, "convnet.fashion_mnist": torch_convnet,
         "googlenet_bn": torch_googlenet_bn}


# ----------------------------------------------------------------------------- timing

def timed(fn, x, repeats):
    fn(x)  # warm-up (and compilation)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    return times


def measure(fn, one, batch, repeats, fn_batch=None):
    latency = statistics.median(timed(fn, one, max(10, repeats * 10)))
    throughput = len(batch) / min(timed(fn if fn_batch is None else fn_batch, batch, repeats))
    return latency * 1e3, throughput


def zoo_model(case):
    import cnn_zoo as zoo
    from cnn_zoo.weights import store

    if case != "googlenet_bn":
        return zoo.load(case, quiet=True)
    info = store.info("googlenet_bn.imagenet")
    model = zoo.get_model(info.arch, **{**info.kwargs, "aux_classifiers": False})
    model.zoo_info = info
    return model


def raw_batch(model, n, rng):
    """``n`` uint8 images of the tag's raw shape; a photo model takes any size (``None``): 256×256,
    what its resize step makes before the 224×224 crop."""
    raw = [d if d else 256 for d in model.zoo_info.preprocessing["raw_shape"]]
    return rng.integers(0, 256, (n, *raw), dtype=np.uint8)


def bench_case(case, folder, repeats, rows):
    import cnn_zoo as zoo
    from cnn_zoo.export.runtime import Runner

    model = zoo_model(case)
    rng = np.random.default_rng(0)
    batch, calibration = raw_batch(model, 256, rng), raw_batch(model, 32, rng)
    for fmt, int8, name in FORMATS:
        path = folder / f"{case}.{name}"
        zoo.export(model, fmt, path, int8=int8, calibration=calibration if int8 == "full" else None,
                   evaluation=(calibration, None) if int8 else None)
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() \
            else path.stat().st_size
        runner = Runner(path, fmt)
        ms, ips = measure(runner.run, batch[:1], batch, repeats)
        label = {"savedmodel": "SavedModel (TF)", "onnx": "ONNX (onnxruntime)"}.get(fmt, "TFLite")
        rows.append((case, label + (f" int8 {int8}" if int8 else (" float32" if fmt == "tflite" else "")),
                     size, ms, ips))
        print(rows[-1], flush=True)
    # TensorFlow and torch 2.14 segfault in one process: the PyTorch rows come from a child.
    done = subprocess.run([sys.executable, __file__, "--torch-side", case, "--repeats", str(repeats)],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the PyTorch side of {case} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    for label, ms, ips in json.loads(done.stdout.strip().splitlines()[-1]):
        rows.append((case, label, None, ms, ips))
        print(rows[-1], flush=True)


def torch_side(case, repeats):
    """[(label, latency ms, images/s)] of the plain PyTorch network, eager and compiled."""
    import torch
    from torch_nets import compiled_frozen

    net, chw = TORCH[case]()
    net.eval()
    tb = torch.from_numpy(np.random.default_rng(0).standard_normal((256, *chw), dtype=np.float32))
    out = []
    with torch.inference_mode():
        # Why two compiled copies: one specialised graph per batch size, no dynamic-shape recompile.
        for label, fn, fn_batch in (("PyTorch eager", net, net),
                                    ("PyTorch torch.compile", compiled_frozen(net), compiled_frozen(net))):
            ms, ips = measure(fn, tb[:1], tb, repeats, fn_batch)
            out.append((label, ms, ips))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch-side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_side:
        print(json.dumps(torch_side(args.torch_side, args.repeats)))
        return
    from importlib import metadata

    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        for case in CASES:
            if args.only and args.only not in case:
                continue
            bench_case(case, Path(folder), args.repeats, rows)
    load_after = os.getloadavg()
    print(f"\n{datetime.date.today()}, {cpu_name()}, {os.cpu_count()} cores, torch {metadata.version('torch')}; "
          f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print("| model | runtime | file size | 1-image latency (ms) | batch-256 throughput (img/s) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for case, label, size, ms, ips in rows:
        size = f"{size / 1e6:.2f} MB" if size else "-"
        print(f"| {case} | {label} | {size} | {ms:.2f} | {ips:,.0f} |")


if __name__ == "__main__":
    main()
