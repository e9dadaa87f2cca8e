"""ImageNet-sized inference: `zoo predict`'s model call against torch.compile, at 224×224.

The network is torchvision's (``googlenet`` for ``googlenet_bn``, ``resnet50``
for ``resnet50`` where the zoo has it), with random weights and perturbed
BatchNorm statistics (speed does not depend on their values). The torch side
writes its state dict; the zoo side converts it with ``zoo.convert_weights``,
as ``zoo pull`` does, and every zoo variant is checked against torch's
log-probabilities (1e-4 relative) before it is timed: the same function, so the same work.

Variants, each on the preprocessed float32 input (NHWC for the zoo, NCHW for torch):
- zoo: `zoo predict`'s model call (cnn_zoo.hub.engine with ``auto``: at 224 the onnxruntime
  engine, whose conversion the first round makes and times, then finds cached), the Keras
  engine's ``predict_on_batch`` (the call before it), and the Keras model under
  ``tf.function`` with XLA;
- torch: eager and ``torch.compile`` (inductor, one static graph per batch size, frozen parameters).

Figures: images/s at batch 32 (median call) and batch-1 latency (median, p90).
TensorFlow and torch never share a process (the pair segfaults with torch
2.14): each side is a fresh subprocess, rounds alternate the order.

    python bench/inference_224.py [--arch googlenet_bn] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.modules.setdefault("triton", None)  # torch's GPU kernels: not needed on a CPU, crash-prone

from inference import latency, throughput  # noqa: E402  (bench/inference.py)

BATCH = 32
TOLERANCE = 1e-4
ARCHS = ("googlenet_bn", "resnet50")  # those with a torchvision twin (bench/torch_nets.py)


def figures(fn, x):
    y = fn(x)
    ips = throughput(fn, x, min_seconds=3.0, min_calls=5)
    lat, p90 = latency(fn, x[:1], calls=50, max_seconds=6.0)
    return y, {"ips": ips, "lat": lat, "p90": p90}


def checked(name, y, reference):
    """Max |difference| of the log-probabilities (1,000 near-uniform probabilities of a random
    network would pass any absolute check on the probabilities themselves)."""
    import numpy as np

    logs = np.log(np.maximum(np.asarray(y, np.float64), 1e-30))
    diff = float(np.max(np.abs(logs - np.log(np.maximum(reference, 1e-30)))))
    if diff > TOLERANCE * max(1.0, float(np.max(np.abs(logs)))):
        raise SystemExit(f"{name}: log-probabilities differ from torch's by {diff:.2e}")
    return diff


# --- the torch side ------------------------------------------------------------------------------

def torch_network(arch):
    import torch
    from torch_nets import torchvision_net

    torch.manual_seed(0)
    net = torchvision_net(arch, aux_logits=True, transform_input=True)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():  # statistics that make the logits depend on the image
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        for bn in bns:
            bn.momentum = None
        net.train()
        net(torch.randn(4, 3, 224, 224))
        for bn in bns:
            bn.weight.copy_(torch.rand(bn.num_features) * 0.5 + 0.25)
    return net.eval()


def prepare(folder: Path, arch):
    import numpy as np
    import torch

    net = torch_network(arch)
    torch.save(net.state_dict(), folder / "weights.pth")
    x = np.random.default_rng(0).standard_normal((BATCH, 3, 224, 224)).astype("float32")
    with torch.no_grad():
        probs = torch.softmax(net(torch.from_numpy(x)), -1).numpy()
    np.savez(folder / "arrays.npz", x=x, probs=probs)


def torch_side(folder: Path, arch):
    import numpy as np
    import torch
    from torch_nets import compiled_frozen

    net = torch_network(arch)
    net.load_state_dict(torch.load(folder / "weights.pth"))
    data = np.load(folder / "arrays.npz")
    x, reference = data["x"], data["probs"].astype(np.float64)
    compiled = compiled_frozen(net)

    def run(model):
        def fn(batch):
            with torch.inference_mode():
                return torch.softmax(model(torch.from_numpy(batch)), -1).numpy()
        return fn

    out = {}
    for name, model in (("PyTorch eager", net), ("torch.compile", compiled)):
        y, f = figures(run(model), x)
        out[name] = {**f, "diff": checked(name, y, reference)}
    return out


# --- the zoo side --------------------------------------------------------------------------------

def zoo_side(folder: Path, arch):
    import numpy as np
    import tensorflow as tf

    from cnn_zoo import registry
    from cnn_zoo.convert import convert_weights
    from cnn_zoo.hub.engine import engine_for, keras_probabilities
    from cnn_zoo.preprocessing_spec import Preprocessing

    model = convert_weights("torchvision", folder / "weights.pth", arch)
    family = registry.get_family(arch)
    data = np.load(folder / "arrays.npz")
    x = np.ascontiguousarray(data["x"].transpose(0, 2, 3, 1))
    reference = data["probs"].astype(np.float64)
    xla = tf.function(lambda batch: model(batch, training=False), jit_compile=True)

    # zoo predict's engine: the first round converts to ONNX into this folder's cache (timed), the
    # later rounds find the file there, as a user's later `zoo predict` calls do.
    home = folder / "zoo-home"
    pre = Preprocessing.from_dict({"steps": [], "raw_shape": list(x.shape[1:])})
    start = time.perf_counter()
    first = engine_for(model, pre, family, images=len(x), home=home)
    prepared = time.perf_counter() - start
    if first.name != "onnxruntime":  # the first round: auto would convert from 500 images on
        start = time.perf_counter()
        engine_for(model, pre, family, images=len(x), engine="onnxruntime", home=home)
        prepared = time.perf_counter() - start

    def zoo_predict(batch):
        chosen = engine_for(model, pre, family, images=len(batch), home=home)
        assert chosen.name == "onnxruntime", chosen.reason
        return chosen.on_inputs(batch)

    variants = {
        "zoo predict's model call (auto: the onnxruntime engine)": zoo_predict,
        "Keras engine (`predict_on_batch`, zoo predict's call before)":
            lambda b: keras_probabilities(model, b, family),
        "Keras model, tf.function + XLA": lambda b: np.asarray(family.main_output(xla(b))),
    }
    out = {}
    for name, fn in variants.items():
        y, f = figures(fn, x)
        out[name] = {**f, "diff": checked(name, y, reference)}
    out["zoo predict's model call (auto: the onnxruntime engine)"]["prepared_s"] = prepared
    return out


# --- the parent ----------------------------------------------------------------------------------

def run_side(side, folder, arch):
    done = subprocess.run([sys.executable, __file__, "--side", side, "--folder", str(folder),
                           "--arch", arch], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the {side} side failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="googlenet_bn", choices=ARCHS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--side", choices=("prepare", "zoo", "torch"), help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.side:
        folder = Path(args.folder)
        result = {"prepare": prepare, "zoo": zoo_side, "torch": torch_side}[args.side](folder, args.arch)
        print(json.dumps(result or {}))
        return 0

    from inference import versions
    from machine import cores, cpu_flags, cpu_name

    load_before = os.getloadavg()
    results: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        run_side("prepare", tmp, args.arch)
        for r in range(args.rounds):
            start = time.perf_counter()
            for side in ("zoo", "torch") if r % 2 == 0 else ("torch", "zoo"):
                for name, f in run_side(side, tmp, args.arch).items():
                    results.setdefault(name, []).append(f)
            print(f"round {r + 1}: {time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.2f}; "
                  + ", ".join(f"{k} {v[-1]['ips']:.1f}" for k, v in results.items()), flush=True)
    compiled = statistics.median(f["ips"] for f in results["torch.compile"])
    compiled_lat = statistics.median(f["lat"] for f in results["torch.compile"])
    print(f"\n| {args.arch} at 224×224 | batch-32 images/s, median (min–max) | / torch.compile | "
          "batch-1 latency median / p90 (ms) | latency / torch.compile's | max log-prob diff |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, fs in results.items():
        ips = [f["ips"] for f in fs]
        lat = statistics.median(f["lat"] for f in fs)
        p90 = statistics.median(f["p90"] for f in fs)
        print(f"| {name} | {statistics.median(ips):.1f} ({min(ips):.1f}–{max(ips):.1f}) | "
              f"{statistics.median(ips) / compiled:.2f}× | {lat:.1f} / {p90:.1f} | "
              f"{lat / compiled_lat:.2f}× | {fs[0]['diff']:.1e} |")
    prepared = [f["prepared_s"] for fs in results.values() for f in fs if "prepared_s" in f]
    print(f"\nzoo predict's engine, prepared per round (s; the first converts, the later load the "
          f"cached file): {', '.join(f'{p:.1f}' for p in prepared)}")
    v = versions(sys.executable)
    print(f"\n{cpu_name()} ({', '.join(cpu_flags())}), {cores()} cores; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average {load_before[0]:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after; {args.rounds} rounds; keras {v.get('keras')}, "
          f"tensorflow {v.get('tensorflow-cpu') or v.get('tensorflow')}, torch {v.get('torch')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
