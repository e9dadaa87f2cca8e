"""Time to 99.0% MNIST test accuracy: the shipped `lenet5_modern-mnist` recipe against plain PyTorch.

PyTorch side (the issue's setup): the same LeNet-5 (modern), Adam 1e-3, batch 128, no
augmentation, all 60,000 training images, test accuracy after every epoch. Zoo side:
``zoo train lenet5_modern-mnist`` as shipped (its own data layer, schedule, augmentation,
validation hold-out and defaults for this machine), with the test accuracy taken after
every epoch by a callback. Each side runs in a fresh process; its clock starts before
the interpreter does (imports count) and stops at the end of each epoch's test
evaluation. Both sides evaluate the same 10,000 test images, handed over in one .npz.

    python bench/time_to_accuracy.py [--rounds 3] [--target 0.99] [--png docs/img/time_to_accuracy.png]
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

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
RECIPE = "lenet5_modern-mnist"


def torch_curve(arrays, t0, epochs, threads, seed):
    """[(seconds since t0, test accuracy)] per epoch of the plain PyTorch loop."""
    import numpy as np
    import torch
    from torch import nn
    from torch_nets import lenet5_modern

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    data = np.load(arrays)
    x = torch.from_numpy(data["x"]).permute(0, 3, 1, 2).contiguous()  # (60000, 1, 32, 32)
    y = torch.from_numpy(data["y"].astype("int64"))
    xt = torch.from_numpy(data["x_test"]).permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy(data["y_test"].astype("int64"))
    net = lenet5_modern()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    curve = []
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(x[idx]), y[idx]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            correct = sum(int((net(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum())
                          for i in range(0, len(xt), 1000))
        curve.append((time.time() - t0, correct / len(xt)))
    return curve


def zoo_curve(arrays, t0, epochs, overrides):
    """[(seconds since t0, test accuracy)] per epoch of `zoo train` with the shipped recipe."""
    import keras
    import numpy as np

    from cnn_zoo.train import train

    data = np.load(arrays)
    x_test, y_test = data["x_test"], data["y_test"]
    curve = []

    class TestAccuracy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            probs = self.model.predict(x_test, batch_size=1000, verbose=0)
            if isinstance(probs, dict):  # a family with auxiliary heads: the main output
                probs = probs[next(iter(probs))]
            curve.append((time.time() - t0, float(np.mean(probs.argmax(-1) == y_test))))

    with tempfile.TemporaryDirectory() as out:
        over = [f"epochs={epochs}"] if epochs else []
        result = train(RECIPE, Path(out) / "run", verbose=0, callbacks=[TestAccuracy()],
                       overrides=[*over, *overrides])
        plan = json.loads((result.run_dir / "manifest.json").read_text())["compute"]
    return curve, {k: plan[k] for k in ("mixed_precision", "jit_compile")}


def write_arrays(data, path):
    """The test images preprocessed as the recipe evaluates them (pad 2, LeNet scaling), and the
    training images the same way for the PyTorch side (which does no augmentation)."""
    import numpy as np

    from cnn_zoo import preprocess
    from cnn_zoo.data import load_dataset

    steps = [{"pad": 2}, "lenet_scale"]
    train, test = load_dataset(data, "train"), load_dataset(data, "test")
    np.savez(path, x=preprocess.apply(train.x, steps), y=train.y,
             x_test=preprocess.apply(test.x, steps), y_test=test.y)


def run_side(side, args, seed):
    """One side in a fresh process; its clock starts before the interpreter does."""
    cmd = [args.torch_python if side == "torch" and args.torch_python else sys.executable, __file__,
           "--side", side, "--arrays", args.arrays, "--threads", str(args.threads),
           "--seed", str(seed), *[f"--set={o}" for o in args.set]]
    if side == "torch":
        cmd += ["--epochs", str(args.torch_epochs)]
    t0 = time.time()
    out = subprocess.run([*cmd, "--t0", repr(t0)], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"the {side} side failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_reaching(curve, target):
    """(seconds, epoch) of the first epoch at or above target, or (None, None)."""
    for epoch, (seconds, acc) in enumerate(curve, 1):
        if acc >= target:
            return seconds, epoch
    return None, None


def plot(results, target, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = {"zoo": "tab:blue", "torch": "tab:orange"}
    labels = {"zoo": f"zoo train {RECIPE}", "torch": "plain PyTorch (Adam 1e-3, batch 128)"}
    for side, runs in results.items():
        for i, run in enumerate(runs):
            secs, accs = zip(*run["curve"])
            ax.plot(secs, [100 * a for a in accs], "o-", ms=3, color=colours[side], alpha=0.8,
                    label=labels[side] if i == 0 else None)
    ax.axhline(100 * target, color="grey", ls="--", lw=1)
    ax.set_ylim(97.5, 99.6)
    ax.set_xlabel("seconds since the process started")
    ax.set_ylabel("MNIST test accuracy (%)")
    ax.set_title(f"Time to {100 * target:.1f}% MNIST test accuracy, {len(results['zoo'])} rounds\n"
                 f"{_machine_line()}", fontsize=8)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def _machine_line():
    sys.path.insert(0, str(Path(__file__).parent))
    from machine import cores, cpu_flags, cpu_name

    return f"{cpu_name()} ({', '.join(cpu_flags())}), {cores()} cores"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--target", type=float, default=0.99)
    ap.add_argument("--torch-epochs", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=0, help="zoo side: override the recipe's epochs (0: as shipped)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--data", default="mnist", help="dataset spec for the test arrays and the PyTorch side")
    ap.add_argument("--torch-python", help="the Python whose torch the PyTorch side uses; default this one")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra recipe override for the zoo side")
    ap.add_argument("--png", default="docs/img/time_to_accuracy.png")
    ap.add_argument("--side", choices=("zoo", "torch"), help=argparse.SUPPRESS)
    ap.add_argument("--arrays", help=argparse.SUPPRESS)
    ap.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.side == "torch":
        print(json.dumps({"curve": torch_curve(args.arrays, args.t0, args.epochs, args.threads, args.seed)}))
        return 0
    if args.side == "zoo":
        overrides = [*args.set, f"seed={args.seed}"]
        curve, chosen = zoo_curve(args.arrays, args.t0, args.epochs, overrides)
        print(json.dumps({"curve": curve, "chosen": chosen}))
        return 0

    load = os.getloadavg()[0]
    results = {"zoo": [], "torch": []}
    with tempfile.TemporaryDirectory() as tmp:
        args.arrays = str(Path(tmp) / "mnist.npz")
        write_arrays(args.data, args.arrays)
        for r in range(args.rounds):  # interleaved, the order reversed every other round
            for side in ("zoo", "torch") if r % 2 == 0 else ("torch", "zoo"):
                results[side].append(run_side(side, args, seed=r))
                run = results[side][-1]
                secs, epoch = first_reaching(run["curve"], args.target)
                accs = " ".join(f"{100 * a:.2f}" for _, a in run["curve"])
                print(f"round {r + 1} {side}: {args.target:.1%} at epoch {epoch} after "
                      f"{secs and round(secs, 1)} s; curve {accs}; last epoch ends at "
                      f"{run['curve'][-1][0]:.1f} s {run.get('chosen', '')}", flush=True)
    print(f"\n{_machine_line()}; load average before {load:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"\n| side | seconds to {args.target:.1%}, median (min–max) of {args.rounds} | epoch reached | "
          "final test accuracy |\n| --- | --- | --- | --- |")
    medians = {}
    for side, runs in results.items():
        reached = [first_reaching(run["curve"], args.target) for run in runs]
        secs = [s for s, _ in reached if s is not None]
        finals = ", ".join(f"{100 * run['curve'][-1][1]:.2f}%" for run in runs)
        epochs = ", ".join(str(e) for _, e in reached)
        if len(secs) < len(runs):
            print(f"| {side} | reached in {len(secs)} of {len(runs)} rounds | {epochs} | {finals} |")
            continue
        medians[side] = statistics.median(secs)
        print(f"| {side} | {medians[side]:.1f} ({min(secs):.1f}–{max(secs):.1f}) | {epochs} | {finals} |")
    if len(medians) == 2:
        print(f"\nratio zoo / PyTorch: {medians['zoo'] / medians['torch']:.2f}x (target <= 0.8)")
    plot(results, args.target, args.png)
    Path(args.png).with_suffix(".json").write_text(json.dumps(
        {"machine": _machine_line(), "load_before": load, "target": args.target, "results": results}, indent=1))
    print(f"curves: {args.png} (the figures: {Path(args.png).with_suffix('.json')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
