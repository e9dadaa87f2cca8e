"""GoogLeNet training at 224×224 on CPU: the zoo (Keras 3 on TensorFlow) against PyTorch, and where the time goes.

The zoo side builds and compiles the model exactly as ``zoo train`` does
(:func:`cnn_zoo.train.build_and_compile` under the recipe's
:class:`~cnn_zoo.compute.ComputePlan`, on the shipped recipe ``<model>-imagenet``:
SGD momentum 0.9 with the recipe's rate and weight decay, sparse categorical
cross-entropy from the logits, the family's 0.3 aux-head weights where the recipe trains
aux heads, the plan's steps_per_execution and its fused batch norm: TensorFlow's kernel behind
Keras' BatchNormalization, cnn_zoo.fused_batch_norm), only the batch is the issue's 16. The torch side is
torchvision's ``googlenet`` in train mode with the same aux choice, channels_last
weights and inputs, SGD momentum 0.9 (same rate and decay), CrossEntropyLoss (aux 0.3).
``googlenet`` (Caffe layout: LRN, conv biases, 5×5 branches) has no torchvision twin:
its torch side is the same BN network, so that ratio is indicative only.

Both sides train on one batch of fixed random content (seed 0), repeated: images/s
over the timed steps after warm-up steps, each side in a fresh process (TensorFlow
and torch 2.14 in one process segfault), rounds interleaved, order reversed every
other round. ``--profile`` then runs each side once more under its profiler and
prints the top ops by self time.

    python bench/googlenet_train.py [--model googlenet_bn|googlenet|resnet50|both] [--rounds 3]
        [--variant mixed_precision=bfloat16 --variant fused_batch_norm=false --variant inter=1]
        [--torch-bf16] [--torch-python PATH] [--profile]

A variant is a comma-separated list of zoo recipe overrides (``mixed_precision``,
``jit_compile``, ``steps_per_execution``, ``fused_batch_norm=false`` for Keras 3's own
batch-norm ops, ...) and TensorFlow thread settings (``intra=N``, ``inter=N``: tf.config.threading).
Needs torch and torchvision in the ``--torch-python`` interpreter.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cores, cpu_flags, cpu_name  # noqa: E402

# Before TensorFlow is imported: oneDNN made LeNet-5 training 2.4x faster here.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SIZE, CLASSES, AUX_WEIGHT = 224, 1000, 0.3
PROCESS_KEYS = ("intra", "inter")  # set in the zoo process, not recipe overrides


def batch(n):
    """The fixed batch both sides train on: NHWC float32 ~ N(0, 1), labels 0..999."""
    import numpy as np
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, SIZE, SIZE, 3), dtype="float32"), rng.integers(0, CLASSES, n).astype("int32")


def recipe_for(model, batch_size, overrides=()):
    """The shipped ``<model>-imagenet`` recipe; ResNet-50, which has none, trains as
    torchvision's reference does (SGD 0.1, momentum 0.9, weight decay 1e-4) through
    googlenet_bn-imagenet's recipe with the model swapped."""
    from cnn_zoo.recipe import list_recipes, load_recipe
    if f"{model}-imagenet" in dict(list_recipes()):
        return load_recipe(f"{model}-imagenet", [f"batch_size={batch_size}", *overrides])
    return load_recipe("googlenet_bn-imagenet", [f"batch_size={batch_size}", f"model.name={model}",
                                                 "model.kwargs={}", *overrides])


def parse_variant(text):
    """'k=v,k=v' -> (recipe overrides, process settings)."""
    overrides, settings = [], {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--variant: expected KEY=VALUE. Received: {item!r}")
        if key == "bn":  # the earlier bench-only switch, named in older commands of docs/benchmarks.md
            raise SystemExit("--variant bn=...: the fused batch norm is now the compute plan's default on "
                             "TensorFlow; fused_batch_norm=false measures Keras' own ops")
        if key in PROCESS_KEYS:
            settings[key] = value
        else:
            overrides.append(item)
    return overrides, settings


# ---------------------------------------------------------------- zoo side (TensorFlow only)

def repeated(batch):
    """One fixed batch as a tf.data.Dataset, repeated, for ``fit(steps_per_epoch=N)``; no autotuning
    (nothing here to tune): the teardown of an unexhausted iterator at the end of ``fit`` waits for
    tf.data's autotune thread to wake, a period that doubles from 10 ms, so a timed fit gained 0-5 s
    outside any step (py-spy: ~IteratorResource), as torch's loop never does."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return tf.data.Dataset.from_tensors(batch).repeat().with_options(options)


def zoo_side(args):
    import tensorflow as tf
    overrides, settings = parse_variant(args.variant)
    if "intra" in settings:
        tf.config.threading.set_intra_op_parallelism_threads(int(settings["intra"]))
    if "inter" in settings:
        tf.config.threading.set_inter_op_parallelism_threads(int(settings["inter"]))
    from cnn_zoo import registry
    from cnn_zoo.compute import plan_for
    from cnn_zoo.train import build_and_compile  # the `zoo train` compile path

    recipe = recipe_for(args.model, args.batch_size, overrides)
    x, y = batch(args.batch_size)
    plan = plan_for(recipe)  # as `zoo train` resolves and applies it
    with plan.scope():
        model = build_and_compile(recipe, (SIZE, SIZE, 3), CLASSES, 1000, plan).fit_model
        heads = registry.get_family(args.model).loss_weights(model)
        target = {name: y for name in heads} if heads else y
        data = repeated((x, target))
        model.fit(data, steps_per_epoch=args.warmup, verbose=0)
        start = time.perf_counter()
        history = model.fit(data, steps_per_epoch=args.steps, verbose=0)
        seconds = time.perf_counter() - start
        out = {"rate": args.steps * args.batch_size / seconds, "loss": history.history["loss"][-1],
               "aux": bool(heads), "jit": model.jit_compile, "policy": plan.dtype_policy,
               "fused_batch_norm": plan.fused_batch_norm.chosen}
        if args.profile:
            out["profile"] = zoo_profile(model, data, args.steps)
    return out


def zoo_profile(model, data, steps):
    """Self time per TensorFlow op type over `steps` steps (from the profiler's XSpace)."""
    import tensorflow as tf
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        model.fit(data, steps_per_epoch=steps, verbose=0)
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        files = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
        return {"ops": xspace_self_times(files[0]), "steps": steps, "wall_ms": wall * 1e3}


def xspace_self_times(path):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(path).read_bytes())
    totals = defaultdict(float)  # op type -> self ms
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            # Op events are "scope/name:Type"; nested ones (a function call's body on the
            # same thread) are subtracted from their parent, so each op counts its own time.
            ops = []
            for e in line.events:
                name = plane.event_metadata[e.metadata_id].name
                kind = name.rsplit(":", 1)[1] if ":" in name and "::" not in name else ""
                if kind and not kind.startswith(" "):  # not "EagerLocalExecute: ..." (the Python side)
                    ops.append((e.offset_ps, e.offset_ps + e.duration_ps, kind))
            ops.sort(key=lambda o: (o[0], -o[1]))
            stack = []  # [end, type, self_ps]
            for begin, end, kind in ops:
                while stack and stack[-1][0] <= begin:
                    _, k, s = stack.pop()
                    totals[k] += s / 1e9
                if stack:
                    stack[-1][2] -= end - begin
                stack.append([end, kind, end - begin])
            for _, k, s in stack:
                totals[k] += s / 1e9
    for call in ("StatefulPartitionedCall", "PartitionedCall"):  # the step function itself, not work
        totals.pop(call, None)
    return dict(totals)


# ---------------------------------------------------------------- torch side (torch only)

def torch_side(args):
    import torch
    import torchvision
    from torch_nets import torchvision_net

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    recipe = recipe_for(args.model, args.batch_size)
    aux = bool(recipe.model.kwargs.get("aux_classifiers", False))
    net = torchvision_net(args.model, aux_logits=aux).train().to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=recipe.optimizer.learning_rate, momentum=0.9,
                          weight_decay=recipe.optimizer.kwargs.get("weight_decay", 0.0))
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = batch(args.batch_size)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    yt = torch.from_numpy(y.astype("int64"))

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.torch_bf16):
            out = net(xt)
            if aux:
                loss = loss_fn(out.logits, yt) + AUX_WEIGHT * (loss_fn(out.aux_logits1, yt) +
                                                              loss_fn(out.aux_logits2, yt))
            else:
                loss = loss_fn(out, yt)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    seconds = time.perf_counter() - start
    out = {"rate": args.steps * args.batch_size / seconds, "loss": float(loss), "aux": aux,
           "torch": torch.__version__, "torchvision": torchvision.__version__}
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            wall = time.perf_counter() - start
        ops = {e.key: e.self_cpu_time_total / 1e3 for e in prof.key_averages()}
        out["profile"] = {"ops": ops, "steps": args.steps, "wall_ms": wall * 1e3}
    return out


# ---------------------------------------------------------------- driver

def run_side(side, model, variant, args, profile=False):
    """One side in a fresh process; its last stdout line is a JSON dict."""
    python = args.torch_python if side.startswith("torch") else sys.executable
    cmd = [python, __file__, "--side", side.split("+")[0], "--model", model, "--variant", variant,
           "--batch-size", str(args.batch_size), "--warmup", str(args.warmup), "--steps", str(args.steps),
           "--threads", str(args.threads)]
    cmd += ["--torch-bf16"] if side == "torch+bf16" else []
    cmd += ["--profile"] if profile else []
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{side} {model} {variant!r} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def label(side, variant):
    if side == "zoo":
        return f"zoo {variant}" if variant else "zoo (recipe defaults)"
    return "torch channels_last" + (" + bf16 autocast" if side == "torch+bf16" else "")


def profile_table(name, prof, top=10):
    total = sum(prof["ops"].values())
    rows = sorted(prof["ops"].items(), key=lambda kv: -kv[1])[:top]
    per_step = prof["wall_ms"] / prof["steps"]
    print(f"\n{name}: {per_step:,.0f} ms/step wall, {total / prof['steps']:,.0f} ms/step op self time "
          f"(summed over threads)\n\n| op | ms per step | share |\n| --- | --- | --- |")
    for op, ms in rows:
        print(f"| `{op}` | {ms / prof['steps']:,.1f} | {ms / total:.1%} |")


def load():
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("googlenet_bn", "googlenet", "resnet50", "both"), default="googlenet_bn")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (tracing, oneDNN primitives)")
    ap.add_argument("--steps", type=int, default=6, help="timed steps per side and round")
    ap.add_argument("--threads", type=int, default=cores(), help="torch.set_num_threads")
    ap.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE,...",
                    help="a zoo-side variant measured beside the recipe defaults, e.g. mixed_precision=bfloat16")
    ap.add_argument("--torch-bf16", action="store_true", help="also time torch under bf16 autocast")
    ap.add_argument("--torch-python", default=sys.executable,
                    help="the interpreter whose torch (and torchvision) the torch side uses")
    ap.add_argument("--profile", action="store_true",
                    help="then profile the zoo (defaults and last variant) and torch once: top ops by self time")
    ap.add_argument("--side", choices=("zoo", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.side:
        args.variant = args.variant[0] if args.variant else ""
        print(json.dumps(zoo_side(args) if args.side == "zoo" else torch_side(args)))
        return 0

    models = ("googlenet_bn", "googlenet") if args.model == "both" else (args.model,)
    for v in args.variant:
        parse_variant(v)
    runs = [(m, "zoo", v) for m in models for v in ("", *args.variant)]
    runs += [(m, s, "") for m in models for s in ("torch", *(["torch+bf16"] if args.torch_bf16 else []))]
    before = load()
    print(f"{cpu_name()} ({', '.join(cpu_flags())}), {cores()} cores, "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average before: {before}", flush=True)
    rates, info = defaultdict(list), {}
    for r in range(args.rounds):
        for m, side, v in runs if r % 2 == 0 else runs[::-1]:
            res = run_side(side, m, v, args)
            rates[m, side, v].append(res["rate"])
            info[m, side, v] = res
            print(f"round {r + 1}: {m:12} {label(side, v):40} {res['rate']:6.1f} img/s "
                  f"(loss {res['loss']:.3g}, load {load()})", flush=True)
    after = load()

    print(f"\n| model | side | aux heads | images/s (median of {args.rounds}) | min–max | vs torch |")
    print("| --- | --- | --- | --- | --- | --- |")
    for m, side, v in runs:
        med = statistics.median(rates[m, side, v])
        ref = statistics.median(rates[m, "torch", ""])
        note = " (torchvision's BN net: indicative)" if m == "googlenet" and side != "zoo" else ""
        print(f"| `{m}` | {label(side, v)}{note} | {'yes (0.3)' if info[m, side, v]['aux'] else 'no'} | "
              f"{med:.1f} | {min(rates[m, side, v]):.1f}–{max(rates[m, side, v]):.1f} | {med / ref:.2f}× |")
    t = info[models[0], "torch", ""]
    from importlib import metadata  # not `import keras`: that would load TensorFlow here
    print(f"\nbatch {args.batch_size}, {args.warmup} warm-up + {args.steps} timed steps per side and round; "
          f"keras {metadata.version('keras')}, torch {t['torch']}, torchvision {t['torchvision']} "
          f"({args.threads} threads); TF_ENABLE_ONEDNN_OPTS={os.environ['TF_ENABLE_ONEDNN_OPTS']}; "
          f"load average before {before}, after {after}"
          + ("; shared machine, noisy" if max(float(before.split()[0]), float(after.split()[0])) > 1.5 else ""))

    if args.profile:
        for m in models:
            # The recipe defaults, the last variant (typically the levers combined), torch.
            for side, v in (("zoo", ""), *(("zoo", v) for v in args.variant[-1:]), ("torch", "")):
                profile_table(f"{m}, {label(side, v)}", run_side(side, m, v, args, profile=True)["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
