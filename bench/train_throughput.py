"""LeNet-5 training throughput: `zoo train` against a plain PyTorch CPU loop.

Both train the same network (``lenet5_modern``: conv 6@5×5, max-pool, conv
16@5×5, max-pool, conv 120@5×5, FC 84, FC 10, ReLU) with Adam at the same
batch size, on the same preprocessed MNIST (32×32, LeNet scaling), one after
the other, several rounds interleaved (the machine is shared and noisy). Each
side's figure is images per second over a whole epoch after a warm-up epoch;
the ratio is zoo / PyTorch.

    python bench/train_throughput.py [--rounds 3] [--variant jit_compile=true --variant backend=jax]

Needs torch (``pip install torch==2.13.0``, a CPU wheel).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Before TensorFlow is imported: oneDNN made LeNet-5 training 2.4x faster here.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def torch_epochs(x, y, batch_size, epochs, threads):
    import torch
    from torch import nn
    from torch_nets import lenet5_modern

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = lenet5_modern()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()  # NCHW, PyTorch's native layout
    yt = torch.from_numpy(y.astype("int64"))
    rates = []
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        start = time.perf_counter()
        for i in range(0, len(xt), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        rates.append(len(xt) / (time.perf_counter() - start))
    return rates


def zoo_epochs(data, batch_size, epochs, extra=()):
    from cnn_zoo.train import train

    with tempfile.TemporaryDirectory() as out:
        result = train("lenet5_modern-mnist", Path(out) / "run", verbose=0, overrides=[
            "callbacks.early_stopping=null", f"dataset.source={data}",
            "dataset.validation_fraction=0", f"epochs={epochs}", f"batch_size={batch_size}",
            "preprocessing=[pad: 2, lenet_scale]",  # no augmentation: the same work as the torch loop
            *extra,
        ])
    return result.images_per_second


def run_side(side, args, variant=""):
    """One side in a fresh process, so neither framework's thread pools disturb the other
    (and torch never shares a process with TensorFlow: the pair segfaults in torch 2.14).
    ``variant``: the zoo side's levers, "KEY=VALUE;..." recipe overrides, ``backend=jax`` a backend,
    ``env.NAME=VALUE`` an environment variable (e.g. env.TF_NUM_INTEROP_THREADS=1)."""
    import subprocess
    sets, env = [], dict(os.environ)
    for item in filter(None, variant.split(";")):
        key, _, value = item.partition("=")
        if key == "backend":
            env["KERAS_BACKEND"] = value
        elif key.startswith("env."):
            env[key[4:]] = value
        else:
            sets.append(f"--set={item}")
    python = args.torch_python if side == "torch" and args.torch_python else sys.executable
    cmd = [python, __file__, "--side", side, "--epochs", str(args.epochs),
           "--batch-size", str(args.batch_size), "--threads", str(args.threads), "--data", args.data,
           "--arrays", args.arrays, *[f"--set={o}" for o in args.set], *sets]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(f"the {side} side ({variant or 'default'}) failed:\n{out.stderr[-3000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def one_side(args):
    if args.side == "zoo":
        return zoo_epochs(args.data, args.batch_size, args.epochs, args.set)
    import numpy as np

    arrays = np.load(args.arrays)  # written by the parent, which alone imports TensorFlow
    return statistics.median(torch_epochs(arrays["x"], arrays["y"], args.batch_size, args.epochs,
                                          args.threads)[1:])


def write_arrays(data, path):
    """The preprocessed training set (what the zoo side's static preprocessing makes) for the torch side."""
    import numpy as np

    from cnn_zoo import preprocess
    from cnn_zoo.data import load_dataset

    train = load_dataset(data, "train")
    x = preprocess.apply(train.x, [{"pad": 2}, "lenet_scale"])  # (60000, 32, 32, 1) float32
    np.savez(path, x=x, y=train.y)


def torch_version(args):
    import subprocess
    python = args.torch_python or sys.executable
    return subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                          text=True).stdout.strip()


def versions():
    from importlib import metadata
    return {name: metadata.version(name) for name in ("keras", "tensorflow-cpu")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2, help="per round; the first is warm-up")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--data", default="mnist",
                    help="dataset spec: by name (downloaded, or ZOO_TFDS_RAW_DIR offline), idx:DIR, ...")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra recipe override for the zoo side, e.g. steps_per_execution=16")
    ap.add_argument("--variant", action="append", metavar="KEY=VALUE;...",
                    help="a zoo side to compare (repeatable): recipe overrides, backend=jax, "
                         "env.NAME=VALUE; "
                         "default: the recipe as shipped")
    ap.add_argument("--torch-python", help="the Python whose torch the torch side uses "
                    "(e.g. a venv with torch 2.13.0+cpu); default this one")
    ap.add_argument("--side", choices=("zoo", "torch"), help=argparse.SUPPRESS)
    ap.add_argument("--arrays", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.side:
        print(one_side(args))
        return 0
    args.load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        args.arrays = str(Path(tmp) / "mnist.npz")
        write_arrays(args.data, args.arrays)
        return compare(args)


def compare(args):
    from machine import cores, cpu_flags, cpu_name

    sides = ["torch", *(f"zoo {v}".rstrip() for v in args.variant or [""])]
    rates = {side: [] for side in sides}
    for r in range(args.rounds):  # interleaved, the order reversed every other round
        for side in sides if r % 2 == 0 else sides[::-1]:
            kind, _, variant = side.partition(" ")
            rates[side].append(run_side(kind, args, variant))
        print(f"round {r + 1}: " + ", ".join(f"{s} {v[-1]:,.0f}" for s, v in rates.items()), flush=True)
    t = statistics.median(rates["torch"])
    v = versions()
    print(f"\n{cpu_name()} ({', '.join(cpu_flags())}), {cores()} cores; keras {v['keras']}, "
          f"tensorflow-cpu {v['tensorflow-cpu']}, torch {torch_version(args)} ({args.threads} threads); batch "
          f"{args.batch_size}; TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}; "
          f"load average before: {args.load:.2f}, after: {os.getloadavg()[0]:.2f}")
    print(f"\n| side | images/s, median of {args.rounds} | min–max | ratio to PyTorch |\n| --- | --- | --- | --- |")
    for side, values in rates.items():
        med = statistics.median(values)
        print(f"| {side} | {med:,.0f} | {min(values):,.0f}–{max(values):,.0f} | {med / t:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
