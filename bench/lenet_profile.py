"""Where LeNet-5's training step spends its time: the zoo (Keras 3 on TensorFlow) against PyTorch, per op.

Both sides train ``lenet5_modern`` (bench/torch_nets.py's twin) with Adam at batch 128 on one
fixed random batch of 32×32×1 images (the work of bench/train_throughput.py without its data
pipeline): the zoo side compiled as ``zoo train`` compiles it (:func:`cnn_zoo.train.build_and_compile`
under the recipe's :class:`~cnn_zoo.compute.ComputePlan`), the torch side a plain loop. Each side
in a fresh process: warm-up steps, timed steps, then the same steps under its profiler (TensorFlow:
self time per op type from the XSpace, as bench/googlenet_train.py reads it; torch:
``key_averages`` self CPU time). Printed: ms per step (wall), op self time per step summed over
threads, and the top ops, so the gap splits into kernels that differ and time outside kernels.

    python bench/lenet_profile.py [--steps 200] [--variant mixed_precision=none] [--variant steps_per_execution=1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH, WARMUP = 128, 30


def fixed_batch():
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.normal(size=(BATCH, 32, 32, 1)).astype("float32"), rng.integers(0, 10, BATCH).astype("int32")


def zoo_side(args):
    import glob
    import tempfile

    import tensorflow as tf

    from cnn_zoo.compute import plan_for
    from cnn_zoo.recipe import load_recipe
    from cnn_zoo.train import build_and_compile
    from googlenet_train import repeated, xspace_self_times

    recipe = load_recipe("lenet5_modern-mnist", overrides=[f"batch_size={BATCH}", *args.set])
    plan = plan_for(recipe)
    x, y = fixed_batch()
    with plan.scope():
        model = build_and_compile(recipe, (32, 32, 1), 10, 60000 // BATCH, plan).fit_model
        data = repeated((x, y))  # autotune off: its teardown wait would land in the timed fit
        model.fit(data, steps_per_epoch=WARMUP, verbose=0)
        start = time.perf_counter()
        model.fit(data, steps_per_epoch=args.steps, verbose=0)
        wall = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as logdir:
            tf.profiler.experimental.start(logdir)
            model.fit(data, steps_per_epoch=args.steps, verbose=0)
            tf.profiler.experimental.stop()
            ops = xspace_self_times(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0])
    return {"wall_ms": wall * 1e3, "ops": ops, "steps": args.steps, "policy": str(plan.dtype_policy),
            "steps_per_execution": int(model.steps_per_execution), "jit": bool(model.jit_compile)}


def torch_side(args):
    import torch
    from torch import nn
    from torch.profiler import ProfilerActivity, profile

    from torch_nets import lenet5_modern

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = lenet5_modern()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y = fixed_batch()
    xt, yt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y.astype("int64"))

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(xt), yt).backward()
        opt.step()

    for _ in range(WARMUP):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    wall = time.perf_counter() - start
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    ops = {e.key: e.self_cpu_time_total / 1e3 for e in prof.key_averages()}
    return {"wall_ms": wall * 1e3, "ops": ops, "steps": args.steps}


def run_side(side, args, variant=""):
    cmd = [sys.executable, __file__, "--side", side, "--steps", str(args.steps), "--threads", str(args.threads),
           *[f"--set={item}" for item in filter(None, variant.split(";"))]]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{side} {variant!r} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(name, prof, top=12):
    steps = prof["steps"]
    total = sum(prof["ops"].values()) / steps
    wall = prof["wall_ms"] / steps
    print(f"\n{name}: {wall:.2f} ms/step wall ({BATCH * 1e3 / wall:,.0f} images/s), "
          f"{total:.2f} ms/step op self time summed over threads\n\n| op | ms per step | share of op time |\n"
          "| --- | ---: | ---: |")
    for op, ms in sorted(prof["ops"].items(), key=lambda kv: -kv[1])[:top]:
        print(f"| `{op}` | {ms / steps:.3f} | {ms / steps / total:.1%} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE;...")
    ap.add_argument("--set", action="append", default=[], help=argparse.SUPPRESS)
    ap.add_argument("--side", choices=("zoo", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.side:
        print(json.dumps((zoo_side if args.side == "zoo" else torch_side)(args)))
        return 0
    from machine import cores, cpu_flags, cpu_name

    print(f"{cpu_name()} ({', '.join(cpu_flags())}), {cores()} cores; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {os.getloadavg()[0]:.2f}")
    zoo = run_side("zoo", args)
    table(f"zoo (recipe defaults: {zoo['policy']}, steps_per_execution {zoo['steps_per_execution']}, "
          f"jit {zoo['jit']})", zoo)
    for variant in args.variant:
        table(f"zoo {variant}", run_side("zoo", args, variant))
    table("torch", run_side("torch", args))
    print(f"\nload {os.getloadavg()[0]:.2f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
