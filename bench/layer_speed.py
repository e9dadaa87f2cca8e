"""Conv and max-pool layers against Keras' own: training-step time on LeNet-5 and GoogLeNet shapes.

Each case is one layer (``layers.Conv2D`` / ``layers.MaxPool2D`` against the
equivalent ``keras.layers`` stack) in a tiny Model,

    Input → per-channel trainable scale → layer under test → MSE to zeros,

trained with plain SGD through ``train_on_batch``: one step is the forward
pass, the backward pass (to the weights and, through the scale, to the
layer's input, as in the middle of a network) and the update. Both sides are
measured the same way, in interleaved rounds (the order alternates each
round), and each figure is the median over the rounds of milliseconds per
step. Two clocks: process CPU time (all threads), which other jobs on a
shared machine barely disturb and which the ratio is taken from, and wall
time, which they do. The ratio is ours / Keras; the target is ≤ 1.05.

    python bench/layer_speed.py [--rounds 7] [--steps 3] [--only googlenet]
    KERAS_BACKEND=jax python bench/layer_speed.py

The total run is kept to a few minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time

# Before TensorFlow is imported: oneDNN made LeNet-5 training 2.4x faster here.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cnn_zoo import layers  # noqa: E402
from cnn_zoo.compute import plan_for  # noqa: E402
from cnn_zoo.recipe import load_recipe  # noqa: E402
from machine import cpu_flags, cpu_name  # noqa: E402  (bench/machine.py)

K = keras.layers


# name, batch, input (H, W, D), our layer, Keras' equivalent (a list of layers)
def cases():
    return [
        ("LeNet C1 conv 6@5×5, 32×32×1", 256, (32, 32, 1),
         lambda: layers.Conv2D(6, 5), lambda: [K.Conv2D(6, 5)]),
        ("LeNet C3 conv 16@5×5, 14×14×6", 256, (14, 14, 6),
         lambda: layers.Conv2D(16, 5), lambda: [K.Conv2D(16, 5)]),
        ("LeNet S2 pool 2×2/2, 28×28×6", 256, (28, 28, 6),
         lambda: layers.MaxPool2D(2), lambda: [K.MaxPooling2D(2)]),
        ("LeNet S4 pool 2×2/2, 10×10×16", 256, (10, 10, 16),
         lambda: layers.MaxPool2D(2), lambda: [K.MaxPooling2D(2)]),
        # P=3 on 224 is pads (3, 2) after floor: a pad op then 'valid', as Keras' exact equivalent.
        ("GoogLeNet conv1 64@7×7/2 P=3, 224×224×3 (vs ZeroPadding2D(3)+valid)", 8, (224, 224, 3),
         lambda: layers.Conv2D(64, 7, strides=2, padding=3),
         lambda: [K.ZeroPadding2D(3), K.Conv2D(64, 7, strides=2)]),
        ("GoogLeNet conv1 64@7×7/2 P=3, 224×224×3 (vs 'same': pads (2, 3), no pad op)", 8,
         (224, 224, 3), lambda: layers.Conv2D(64, 7, strides=2, padding=3),
         lambda: [K.Conv2D(64, 7, strides=2, padding="same")]),
        ("GoogLeNet 3×3 conv 128@3×3 P=1, 28×28×192", 8, (28, 28, 192),
         lambda: layers.Conv2D(128, 3, padding=1), lambda: [K.Conv2D(128, 3, padding="same")]),
        ("GoogLeNet 1×1 conv 192@1×1, 14×14×480", 16, (14, 14, 480),
         lambda: layers.Conv2D(192, 1), lambda: [K.Conv2D(192, 1)]),
        ("GoogLeNet pool1 3×3/2 ceil, 112×112×64 (vs 'same')", 8, (112, 112, 64),
         lambda: layers.MaxPool2D(3, 2, rounding="ceil"),
         lambda: [K.MaxPooling2D(3, 2, padding="same")]),
        ("GoogLeNet pool3 3×3/2 ceil, 28×28×480 (vs 'same')", 16, (28, 28, 480),
         lambda: layers.MaxPool2D(3, 2, rounding="ceil"),
         lambda: [K.MaxPooling2D(3, 2, padding="same")]),
        ("GoogLeNet pool proj 3×3/1 P=1, 28×28×192 (vs 'same')", 8, (28, 28, 192),
         lambda: layers.MaxPool2D(3, 1, padding=1),
         lambda: [K.MaxPooling2D(3, 1, padding="same")]),
    ]


class Scale(keras.layers.Layer):
    """A trainable per-channel scale, so the backward pass reaches the tested layer's input."""

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.gamma


def make_step(stack, batch, shape, jit):
    inputs = keras.Input(shape, batch_size=batch)
    y = Scale()(inputs)
    for layer in stack:
        y = layer(y)
    model = keras.Model(inputs, y)
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse", jit_compile=jit)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *shape)).astype("float32")
    target = np.zeros(model.output_shape, "float32")
    return lambda: model.train_on_batch(x, target)


def timed(step, steps):
    """(wall ms, CPU ms) per step."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return ((time.perf_counter() - wall) / steps * 1000,
            (time.process_time() - cpu) / steps * 1000)


def run_case(case, rounds, steps, jit):
    name, batch, shape, ours, theirs = case
    sides = {"ours": make_step([ours()], batch, shape, jit),
             "keras": make_step(theirs(), batch, shape, jit)}
    for step in sides.values():  # compile and warm up
        step()
        step()
    times = {side: [] for side in sides}
    for r in range(rounds):
        order = ["ours", "keras"] if r % 2 == 0 else ["keras", "ours"]
        for side in order:
            times[side].append(timed(sides[side], steps))
    wall = {s: statistics.median(t[0] for t in times[s]) for s in sides}
    cpu = {s: statistics.median(t[1] for t in times[s]) for s in sides}
    # Per-round CPU ratios, to show the spread the noise leaves.
    ratios = sorted(o[1] / k[1] for o, k in zip(times["ours"], times["keras"]))
    return name, batch, cpu, wall, ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per case")
    parser.add_argument("--steps", type=int, default=3, help="training steps per round and side")
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    args = parser.parse_args()

    backend = keras.backend.backend()
    # XLA as `zoo train` resolves jit_compile: auto here (cnn_zoo.compute): on JAX, and TF with a GPU.
    jit = plan_for(load_recipe("default")).jit_compile.chosen
    started = time.perf_counter()
    machine = f"{cpu_name()} ({', '.join(cpu_flags()) or 'no AVX2'})"
    print(f"# bench/layer_speed.py — {datetime.date.today()} — {machine}, {os.cpu_count()} cores — "
          f"keras {keras.__version__}, backend {backend} (jit_compile={jit})")
    if backend == "tensorflow":
        import tensorflow as tf
        print(f"# tensorflow {tf.__version__}, TF_ENABLE_ONEDNN_OPTS="
              f"{os.environ['TF_ENABLE_ONEDNN_OPTS']}")
    print(f"# median ms per training step over {args.rounds} interleaved rounds of "
          f"{args.steps} steps; ratio = ours / keras\n")
    print("| case | batch | ours CPU ms | keras CPU ms | ratio (CPU) | per-round range | "
          "ours wall ms | keras wall ms | ratio (wall) |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    for case in cases():
        if args.only.lower() not in case[0].lower():
            continue
        name, batch, cpu, wall, ratios = run_case(case, args.rounds, args.steps, jit)
        print(f"| {name} | {batch} | {cpu['ours']:.1f} | {cpu['keras']:.1f} | "
              f"{cpu['ours'] / cpu['keras']:.3f} | {ratios[0]:.2f}–{ratios[-1]:.2f} | "
              f"{wall['ours']:.1f} | {wall['keras']:.1f} | {wall['ours'] / wall['keras']:.3f} |",
              flush=True)
    print(f"\n# total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
