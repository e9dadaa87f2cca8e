"""LRN forward + backward: the layer against its former form (n shifted slices of a padded copy, pow).

GoogLeNet's LRN after conv2 (16 × 56 × 56 × 192, n = 5, α = 1e-4, β = 0.75), interleaved rounds in
one process, TensorFlow backend, each form inside one tf.function with its gradient.

    python bench/lrn_speed.py [--rounds 5]
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def former(x, n=5, alpha=1e-4, beta=0.75, k=1.0):
    """The padded-copy form of LRN, the baseline layers/lrn.py's sliding sum is measured against."""
    from keras import ops

    channels, half = x.shape[-1], (n - 1) // 2
    squares = ops.pad(ops.square(x), [(0, 0), (0, 0), (0, 0), (half, half)])
    total = None
    for offset in range(n):
        view = squares[..., offset:offset + channels]
        total = view if total is None else total + view
    return x * ops.power(k + (alpha / n) * total, -beta)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--shape", default="16,56,56,192")
    args = ap.parse_args(argv)
    import tensorflow as tf

    sys.path.insert(0, os.path.dirname(__file__))
    from machine import cores, cpu_flags, cpu_name

    from cnn_zoo.layers import LocalResponseNormalization

    x = tf.random.stateless_normal(tuple(int(d) for d in args.shape.split(",")), seed=(0, 0)) * 10
    layer = LocalResponseNormalization()
    forms = {"former (slices, pow)": former, "layer (band matmul, rsqrt)": layer}
    steps = {}
    for name, form in forms.items():
        @tf.function
        def step(x, form=form):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = form(x)
                loss = tf.reduce_sum(y * y)
            return y, tape.gradient(loss, x)
        steps[name] = step
        step(x)  # trace
    y_old, g_old = steps["former (slices, pow)"](x)
    y_new, g_new = steps["layer (band matmul, rsqrt)"](x)
    times = {name: [] for name in steps}
    for r in range(args.rounds):
        for name in steps if r % 2 == 0 else list(steps)[::-1]:
            start = time.perf_counter()
            steps[name](x)[1].numpy()
            times[name].append(1e3 * (time.perf_counter() - start))
    print(f"{cpu_name()} ({', '.join(cpu_flags())}), {cores()} cores; input {args.shape}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"max |Δ| output {float(tf.reduce_max(tf.abs(y_new - y_old))):.2e}, "
          f"gradient {float(tf.reduce_max(tf.abs(g_new - g_old)) / tf.reduce_max(tf.abs(g_old))):.2e} (relative)")
    print(f"\n| form | ms forward + backward, median of {args.rounds} | min–max |\n| --- | --- | --- |")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):,.0f} | {min(values):,.0f}–{max(values):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
