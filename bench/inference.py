"""LeNet-5 inference: the `zoo predict` path's model call against PyTorch eager and torch.compile.

The zoo side loads a tag (``lenet5_modern.mnist`` by default) as `zoo predict`
does (``zoo.load``, the tag's preprocessing with augmentation off) and times
`zoo predict`'s path: the engine ``cnn_zoo.hub.engine`` runs for this model once
its LiteRT conversion has paid (raw uint8 in, the preprocessing fused into the
graph), and other ways to call the same model (levers), the keras engine's
predict_on_batch among them. The torch side runs the same LeNet-5 (conv 6@5×5, max-pool,
conv 16@5×5, max-pool, conv 120@5×5, FC 84, FC 10, ReLU, softmax) with the
tag's weights copied over, eager and ``torch.compile`` (inductor), and checks
that its probabilities agree with the zoo's to 1e-4 (the same function, so the
same work).

Figures: images/s of calls at batch 1,024 on the first 1,024 MNIST test
images, preprocessing already done (float32 in, probabilities out as NumPy),
and batch-1 latency (median, p90 of 200 calls); "whole path" rows start from
the raw uint8 images and include the preprocessing. TensorFlow and torch never
share a process (the pair segfaults with torch 2.14): each side is a fresh
subprocess, the arrays go through an .npz, and rounds alternate the order.

    ZOO_TFDS_RAW_DIR=../shared/data python bench/inference.py [--rounds 3] [--torch-python PATH]
        [--zoo-threads INTRA,INTER ...] [--torch-threads N ...] [--quick]
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

from cnn_zoo.preprocess.steps import lenet_scale  # NumPy only: the torch side may import it

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

BATCH = 1024
LATENCY_CALLS = 200
TOLERANCE = 1e-4
LAYERS = ("c1", "c3", "c5", "f6", "output")  # lenet5_modern's layers with weights, in order


def throughput(fn, x, min_seconds=1.5, min_calls=5):
    """Images/s of fn(x): the median call after two warm-up calls (tracing, compiling)."""
    fn(x), fn(x)
    times, start = [], time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    return len(x) / statistics.median(times)


def latency(fn, x1, calls=LATENCY_CALLS, max_seconds=4.0):
    """Median and p90 of single-image calls, in milliseconds (fewer calls, at least 20, for a slow path)."""
    for _ in range(5):
        fn(x1)
    times, start = [], time.perf_counter()
    while len(times) < calls and (len(times) < 20 or time.perf_counter() - start < max_seconds):
        t = time.perf_counter()
        fn(x1)
        times.append(time.perf_counter() - t)
    times.sort()
    return 1e3 * statistics.median(times), 1e3 * times[int(0.9 * (len(times) - 1))]


def measure(variants, data):
    """{name: figures} for {name: (fn, input name, exact)}: fn takes a batch and returns probabilities."""
    import numpy as np

    reference, out = data["probs"], {}
    for name, (fn, which, exact) in variants.items():
        x = data[which]
        y = np.asarray(fn(x), dtype=np.float64)
        agree = float(np.mean(y.argmax(-1) == reference.argmax(-1)))
        diff = float(np.max(np.abs(y - reference)))
        if exact and diff > TOLERANCE:
            raise SystemExit(f"{name}: probabilities differ from the zoo's by {diff:.2e} > {TOLERANCE}")
        ips = throughput(fn, x)
        med, p90 = latency(fn, x[:1])
        out[name] = {"ips": ips, "lat": med, "p90": p90, "diff": diff, "top1": agree}
    return out


# --- the TensorFlow side -------------------------------------------------------------------------

def prepare(path, args):
    """Writes the shared arrays: raw uint8 images, preprocessed inputs, the weights, the zoo's probabilities."""
    import numpy as np

    import cnn_zoo as zoo
    from cnn_zoo.data import load_dataset
    from cnn_zoo.hub.loading import family_of
    from cnn_zoo.hub.engine import keras_probabilities
    from cnn_zoo.preprocessing_spec import Preprocessing

    raw = load_dataset("mnist", "test").x[:BATCH]
    raw = raw[..., None] if raw.ndim == 3 else raw
    model = zoo.load(args.tag, quiet=True)
    if model.zoo_info.arch != "lenet5_modern":
        raise SystemExit(f"the torch side is lenet5_modern's network; {args.tag} is {model.zoo_info.arch}")
    pre = Preprocessing.from_dict(model.zoo_info.preprocessing)
    x = pre.apply(raw, training=False)
    weights = {f"{n}.{i}": w for n in LAYERS for i, w in enumerate(model.get_layer(n).get_weights())}
    np.savez(path, raw=raw, x=x, probs=keras_probabilities(model, x, family_of(model.zoo_info)),
             steps=json.dumps(pre.to_dict()), **weights)


def zoo_side(data, args):
    import keras
    import numpy as np
    import tensorflow as tf

    if args.threads:
        intra, inter = (int(v) for v in args.threads.split(","))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    import cnn_zoo as zoo
    from cnn_zoo.hub import prediction
    from cnn_zoo.hub.engine import engine_for, keras_probabilities
    from cnn_zoo.hub.loading import family_of
    from cnn_zoo.preprocessing_spec import Preprocessing

    model = zoo.load(args.tag, quiet=True)
    family = family_of(model.zoo_info)
    pre = Preprocessing.from_dict(json.loads(str(data["steps"])))
    call = tf.function(lambda x: model(x, training=False))
    xla = tf.function(lambda x: model(x, training=False), jit_compile=True)
    keras.config.set_dtype_policy("mixed_bfloat16")  # the same weights, bf16 compute (AMX here)
    model16 = zoo.load(args.tag, quiet=True)
    keras.config.set_dtype_policy("float32")
    call16 = tf.function(lambda x: model16(x, training=False))

    def path(x):  # the keras engine: what cnn_zoo.hub.predict ran on a batch before LiteRT
        return keras_probabilities(model, x, family)

    # What cnn_zoo.hub.predict runs on this model's batches once the conversion has paid
    # (auto: after ~40,000 images or ~1,000 calls on one loaded model); forced here so that
    # the timing starts at the steady state.
    litert = engine_for(model, pre, family, BATCH, "litert")

    def arrays(raw):  # cnn_zoo.hub.predict on uint8 arrays: Pillow per image, preprocessing, top-k
        probs = np.zeros((len(raw), 10))
        for row, p in zip(probs, prediction.predict(model, list(raw[..., 0]), top_k=10)):
            row[list(p.indices)] = p.probabilities
        return probs

    variants = {
        "zoo predict's path: litert engine (raw images in, preprocessing fused)": (litert, "raw", True),
        "keras engine: predict_on_batch in chunks of 1,024 (the predict path before)": (path, "x", True),
        "model.predict(batch_size=64)":
            (lambda x: model.predict(x, batch_size=64, verbose=0), "x", True),
        "model.predict(batch_size=1024)":
            (lambda x: model.predict(x, batch_size=BATCH, verbose=0), "x", True),
        "tf.function(model(x, training=False))": (lambda x: call(x).numpy(), "x", True),
        "tf.function, jit_compile=True (XLA)": (lambda x: xla(x).numpy(), "x", True),
        "tf.function, mixed_bfloat16": (lambda x: np.asarray(call16(x), np.float32), "x", False),
        "whole path from uint8: keras engine (NumPy preprocessing + predict_on_batch)":
            (lambda r: path(pre.apply(r)), "raw", True),
        "whole path from uint8: cnn_zoo.hub.predict (Pillow per image, top-k)": (arrays, "raw", True),
    }
    if args.quick:
        variants = {k: v for k, v in variants.items() if "Pillow" not in k}
    return measure(variants, data)


# --- the torch side ------------------------------------------------------------------------------

def torch_side(data, args):
    import torch
    from torch import nn
    from torch_nets import compiled_frozen, lenet5_modern

    if args.threads:
        torch.set_num_threads(int(args.threads))
    net = lenet5_modern(softmax=True).eval()
    modules = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for name, module in zip(LAYERS, modules):
            kernel = torch.from_numpy(data[f"{name}.0"])
            # Keras: conv HWIO, dense (in, out); torch: OIHW, (out, in). c5's output is 1×1, so
            # Flatten gives the same 120 features in both layouts.
            module.weight.copy_(kernel.permute(3, 2, 0, 1) if kernel.ndim == 4 else kernel.T)
            module.bias.copy_(torch.from_numpy(data[f"{name}.1"]))
    compiled = compiled_frozen(net)  # inductor: one static graph per batch size

    def run(model):
        def fn(x):
            with torch.inference_mode():
                return model(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
        return fn

    def from_uint8(model):  # pad 2 with 0, then lenet_scale: x/255*1.275 - 0.1, as the tag's steps
        def fn(raw):
            with torch.inference_mode():
                x = torch.nn.functional.pad(torch.from_numpy(raw).permute(0, 3, 1, 2).float(), (2, 2, 2, 2))
                return model(lenet_scale(x)).numpy()
        return fn

    steps = json.loads(str(data["steps"]))["steps"]
    if [next(iter(s)) for s in steps if next(iter(s)) != "random_shift"] != ["pad", "lenet_scale"]:
        raise SystemExit(f"the torch side repeats pad + lenet_scale only; this tag's steps: {steps}")
    return measure({
        "PyTorch eager": (run(net), "x", True),
        "torch.compile": (run(compiled), "x", True),
        "whole path from uint8: torch preprocessing + torch.compile": (from_uint8(compiled), "raw", True),
    }, data)


# --- the parent ----------------------------------------------------------------------------------

def run_side(side, python, npz, args, threads=""):
    cmd = [python, __file__, "--side", side, "--npz", str(npz), "--tag", args.tag, "--threads", threads]
    if args.quick:
        cmd.append("--quick")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the {side} side failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def versions(python):
    code = ("import json, platform; from importlib import metadata as m; v = {}\n"
            "for n in ('tensorflow-cpu', 'tensorflow', 'keras', 'torch'):\n"
            "    try: v[n] = m.version(n)\n    except m.PackageNotFoundError: pass\nprint(json.dumps(v))")
    return json.loads(subprocess.run([python, "-c", code], capture_output=True, text=True).stdout)


def summary(results, rounds):
    """Markdown table rows: per variant, median and min–max images/s, the ratio, latency."""
    rows = ["| call | batch-1024 images/s, median (min–max) | / torch.compile | batch-1 latency "
            "median / p90 (ms) | max abs diff, top-1 agreement |", "| --- | ---: | ---: | ---: | --- |"]
    compiled = statistics.median(r["ips"] for r in results["torch.compile"])
    for name, figures in results.items():
        ips = [f["ips"] for f in figures]
        lat = statistics.median(f["lat"] for f in figures)
        p90 = statistics.median(f["p90"] for f in figures)
        rows.append(f"| {name} | {statistics.median(ips):,.0f} ({min(ips):,.0f}–{max(ips):,.0f}) | "
                    f"{statistics.median(ips) / compiled:.2f}× | {lat:.2f} / {p90:.2f} | "
                    f"{figures[0]['diff']:.1e}, {100 * figures[0]['top1']:.2f} % |")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tag", default="lenet5_modern.mnist")
    ap.add_argument("--torch-python", default=sys.executable,
                    help="the Python whose torch to use, e.g. /work/venvs/torch213/bin/python")
    ap.add_argument("--torch-threads", action="append", default=[], metavar="N",
                    help="also run the torch side with N threads (repeatable)")
    ap.add_argument("--zoo-threads", action="append", default=[], metavar="INTRA,INTER",
                    help="also run the zoo side with these TensorFlow thread pools (repeatable)")
    ap.add_argument("--quick", action="store_true", help="leave out the slow Pillow-per-image row")
    ap.add_argument("--side", choices=("prepare", "zoo", "torch"), help=argparse.SUPPRESS)
    ap.add_argument("--npz", help=argparse.SUPPRESS)
    ap.add_argument("--threads", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.side == "prepare":
        prepare(args.npz, args)
        print("{}")
        return 0
    if args.side:
        import numpy as np
        data = dict(np.load(args.npz))
        print(json.dumps((zoo_side if args.side == "zoo" else torch_side)(data, args)))
        return 0

    from machine import cores, cpu_flags, cpu_name

    load_before = os.getloadavg()
    sides = [("zoo", sys.executable, "")] + [("zoo", sys.executable, t) for t in args.zoo_threads] \
        + [("torch", args.torch_python, "")] + [("torch", args.torch_python, t) for t in args.torch_threads]
    results: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "arrays.npz"
        run_side("prepare", sys.executable, npz, args)
        for r in range(args.rounds):
            start = time.perf_counter()
            for side, python, threads in sides if r % 2 == 0 else sides[::-1]:
                for name, figures in run_side(side, python, npz, args, threads).items():
                    key = f"{name} [{'TF intra,inter' if side == 'zoo' else 'torch'} threads {threads}]" \
                        if threads else name
                    results.setdefault(key, []).append(figures)
            print(f"round {r + 1}: {time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.2f}; " + ", ".join(
                f"{k} {v[-1]['ips']:,.0f}" for k, v in results.items() if "uint8" not in k), flush=True)
    v, vt = versions(sys.executable), versions(args.torch_python)
    print()
    print("\n".join(summary(results, args.rounds)))
    print(f"\n{cpu_name()} ({', '.join(cpu_flags())}), {cores()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; {args.rounds} rounds; "
          f"tag {args.tag}; keras {v.get('keras')}, tensorflow {v.get('tensorflow-cpu') or v.get('tensorflow')}, "
          f"torch {vt.get('torch')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
