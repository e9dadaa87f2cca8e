"""LeNet-5 training throughput: `zoo train` against a plain PyTorch CPU loop.

Both train the same network (``lenet5_modern``: conv 6@5×5, max-pool, conv
16@5×5, max-pool, conv 120@5×5, FC 84, FC 10, ReLU) with Adam at the same
batch size, on the same preprocessed MNIST (32×32, LeNet scaling), one after
the other, several rounds interleaved (the machine is shared and noisy). Each
side's figure is images per second over a whole epoch after a warm-up epoch;
the ratio is zoo / PyTorch.

    python bench/train_throughput.py [--rounds 2] [--batch-size 128] [--data mnist]

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

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(), nn.Flatten(),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
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


def run_side(side, args):
    """One side in a fresh process, so neither framework's thread pools disturb the other."""
    import subprocess
    cmd = [sys.executable, __file__, "--side", side, "--epochs", str(args.epochs),
           "--batch-size", str(args.batch_size), "--threads", str(args.threads), "--data", args.data,
           *[f"--set={o}" for o in args.set]]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def one_side(args):
    if args.side == "zoo":
        return zoo_epochs(args.data, args.batch_size, args.epochs, args.set)
    from cnn_zoo import preprocess
    from cnn_zoo.data import load_dataset

    train = load_dataset(args.data, "train")
    x = preprocess.apply(train.x, [{"pad": 2}, "lenet_scale"])  # (60000, 32, 32, 1) float32
    return statistics.median(torch_epochs(x, train.y, args.batch_size, args.epochs, args.threads)[1:])


def versions():
    from importlib import metadata
    return {name: metadata.version(name) for name in ("keras", "tensorflow-cpu", "torch")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2, help="per round; the first is warm-up")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--data", default="mnist",
                    help="dataset spec: by name (downloaded, or ZOO_TFDS_RAW_DIR offline), idx:DIR, ...")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra recipe override for the zoo side, e.g. steps_per_execution=16")
    ap.add_argument("--side", choices=("zoo", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.side:
        print(one_side(args))
        return 0

    rates = {"zoo": [], "torch": []}
    for r in range(args.rounds):
        for side in ("zoo", "torch") if r % 2 == 0 else ("torch", "zoo"):
            rates[side].append(run_side(side, args))
        print(f"round {r + 1}: zoo {rates['zoo'][-1]:,.0f} img/s, torch {rates['torch'][-1]:,.0f} img/s",
              flush=True)
    z, t = statistics.median(rates["zoo"]), statistics.median(rates["torch"])
    v = versions()
    print(f"\n| side | images/s (median of {args.rounds}) |\n| --- | --- |")
    print(f"| zoo train (keras {v['keras']}, tensorflow-cpu {v['tensorflow-cpu']}) | {z:,.0f} |")
    print(f"| plain PyTorch loop (torch {v['torch']}, {args.threads} threads) | {t:,.0f} |")
    print(f"| ratio zoo / PyTorch | {z / t:.2f}x |")
    print(f"batch {args.batch_size}, 60,000 images per epoch, TF_ENABLE_ONEDNN_OPTS="
          f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS')}, {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
