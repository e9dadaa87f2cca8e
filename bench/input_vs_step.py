"""Does augmentation bound training? The input pipeline alone against the model step it feeds.

For a recipe (default ``lenet5_modern-mnist``): images/s of its training pipeline alone
(static preprocessing once, shuffle, per-batch augmentation, batching: what ``model.fit``
is fed), and images/s of the training step alone (the recipe's model, optimizer, precision
and steps_per_execution, on batches already in memory). Rounds alternate the two; the ratio
must be >= 3 for the pipeline never to bound the step.

    python bench/input_vs_step.py [--recipe lenet5_modern-mnist] [--rounds 3]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pipeline_rate(recipe, train_ds, epochs=2):
    """Images/s of the training pipeline alone, over its last epoch (the first warms up)."""
    from cnn_zoo.data import make_pipeline

    ds = make_pipeline(train_ds.x, train_ds.y, recipe.batch_size, steps=recipe.preprocessing,
                       shuffle=True, seed=recipe.seed, augment=True)
    for _ in range(epochs):
        start, n = time.perf_counter(), 0
        for _, yb in ds:
            n += len(yb)
    return n / (time.perf_counter() - start)


def step_rate(recipe, train_ds, batches=100):
    """Images/s of the recipe's training step alone, on ``batches`` batches held in memory."""
    from cnn_zoo.compute import plan_for
    from cnn_zoo.data import make_pipeline
    from cnn_zoo.preprocess import input_shape_after
    from cnn_zoo.train import build_and_compile

    ds = make_pipeline(train_ds.x, train_ds.y, recipe.batch_size, steps=recipe.preprocessing,
                       shuffle=True, seed=recipe.seed, augment=True)
    held = ds.take(batches).cache().repeat()
    steps = math.ceil(len(train_ds) / recipe.batch_size)
    plan = plan_for(recipe)
    spe = plan.steps_per_execution.chosen
    with plan.scope():
        model = build_and_compile(recipe, input_shape_after(recipe.preprocessing, train_ds.image_shape),
                                  train_ds.num_classes, steps, plan).fit_model
        for _ in held.take(batches):  # fill the cache before timing
            pass
        model.fit(held, steps_per_epoch=2 * spe, epochs=1, verbose=0)  # compile
        start = time.perf_counter()
        model.fit(held, steps_per_epoch=steps - steps % spe, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
    return (steps - steps % spe) * recipe.batch_size / seconds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="lenet5_modern-mnist")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    sys.path.insert(0, os.path.dirname(__file__))
    from machine import cores, cpu_flags, cpu_name

    from cnn_zoo.compute import plan_for
    from cnn_zoo.recipe import load_recipe
    from cnn_zoo.train import load_data

    recipe = load_recipe(args.recipe, args.set)
    load = os.getloadavg()[0]
    splits, _ = load_data(recipe)
    train_ds = splits["train"]
    pipe, step = [], []
    for r in range(args.rounds):
        pipe.append(pipeline_rate(recipe, train_ds))
        step.append(step_rate(recipe, train_ds))
        print(f"round {r + 1}: pipeline {pipe[-1]:,.0f} img/s, step {step[-1]:,.0f} img/s", flush=True)
    p, s = statistics.median(pipe), statistics.median(step)
    print(f"\n{cpu_name()} ({', '.join(cpu_flags())}), {cores()} cores; recipe {recipe.name} "
          f"(batch {recipe.batch_size}, precision {plan_for(recipe).mixed_precision.chosen}, augmentation "
          f"{[list(s)[0] for s in recipe.preprocessing]}); load average before {load:.2f}, "
          f"after {os.getloadavg()[0]:.2f}")
    print(f"\n| part | images/s, median of {args.rounds} | min–max |\n| --- | --- | --- |")
    print(f"| input pipeline alone | {p:,.0f} | {min(pipe):,.0f}–{max(pipe):,.0f} |")
    print(f"| training step alone | {s:,.0f} | {min(step):,.0f}–{max(step):,.0f} |")
    print(f"| ratio pipeline / step | {p / s:.1f}× (target ≥ 3) | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
