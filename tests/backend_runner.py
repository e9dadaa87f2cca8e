"""Trains every shipped recipe for a few steps on this process's Keras backend.

    KERAS_BACKEND=jax python backend_runner.py DATA_DIR IMAGENET_FOLDER CIFAR_NPZ

Started by tests/test_backends.py, one process per backend (TensorFlow and PyTorch
2.14 must not meet in one). Each recipe trains a few epochs of a few steps on a
small slice of its own data (TFDS from DATA_DIR; the ImageNet recipes on a
generated ImageNet-layout folder, at a small crop; the CIFAR-10 ones on a generated npz
of CIFAR's shape) through the steps of
``cnn_zoo.train.train`` that compute: the compute plan, the seed, the data, the
model as ``build_and_compile`` makes it, and ``fit`` on ``fit_inputs`` (the run
folder, evaluation and saving are left to the full runs of ``default``). One
JSON line per recipe: the per-epoch training losses, the plan, whether
TensorFlow was loaded, and the CPU seconds taken.
"""

import json
import math
import sys
import time

import yaml

from cnn_zoo import compute
from cnn_zoo.fit_data import fit_inputs
from cnn_zoo.recipe import list_recipes, load_recipe
from cnn_zoo.train import build_and_compile, load_data

EPOCHS = 3
# The ImageNet recipes' 224x224 crop, made small; GoogLeNet's auxiliary pools need 96.
CROP = [96, 96]


def quick(recipe, imagenet, cifar):
    """``recipe`` on a tiny slice: a few epochs of a few steps, no validation, no early stopping."""
    overrides = [f"epochs={EPOCHS}", "dataset.validation_fraction=0", "callbacks.early_stopping=null",
                 "callbacks.reduce_lr_on_plateau=null"]
    if recipe.dataset.source.startswith("folder:"):
        steps = [dict(s) for s in recipe.preprocessing]
        for step in steps:
            if "random_resized_crop" in step:
                step["random_resized_crop"] = {**step["random_resized_crop"], "size": CROP}
        overrides += [f"dataset.source=folder:{imagenet}", "batch_size=4",
                      f"preprocessing={yaml.safe_dump(steps, default_flow_style=True).strip()}"]
    elif recipe.dataset.source in ("cifar10", "tfds:cifar10"):  # no CIFAR-10 download here: an npz of its shape
        overrides += [f"dataset.source=npz:{cifar}", "batch_size=16"]
    else:
        overrides += ["dataset.max_examples=64", "batch_size=32"]
    quick = recipe.with_overrides(overrides)
    if quick.model.name == "allconv":
        # All-CNN-C (no batch norm, weight decay, 50% dropout) barely moves in 15 steps at a
        # scaled-down rate: the recipe's own rate, so that the few steps show it learning
        # (ResNet-20 at its own 0.1 and batch 16 diverges: it keeps the scaling).
        return quick
    # The linear scaling rule (Goyal et al. 2017): a smaller batch takes a smaller step.
    rate = recipe.optimizer.learning_rate * min(1.0, quick.batch_size / recipe.batch_size)
    return quick.with_overrides([f"optimizer.learning_rate={rate}"])


def few_steps(recipe, data_dir):
    """(per-epoch training losses, the plan's record) of ``recipe``, as ``zoo train`` fits it."""
    plan = compute.plan_for(recipe)
    compute.seed(recipe.seed)
    splits, contract = load_data(recipe, data_dir)
    with plan.scope():
        compiled = build_and_compile(recipe, contract["input_shape"], splits["train"].num_classes,
                                     math.ceil(len(splits["train"]) / recipe.batch_size), plan)
        data, _ = fit_inputs(recipe, splits, compiled.fit_model, seed=recipe.seed)
        history = compiled.fit_model.fit(data, epochs=recipe.epochs, shuffle=False, verbose=0)
    return history.history["loss"], plan.record()


def main(data_dir, imagenet, cifar):
    for name, _ in list_recipes():
        start = time.process_time()
        losses, plan = few_steps(quick(load_recipe(name), imagenet, cifar), data_dir)
        print(json.dumps({"recipe": name, "losses": losses, "compute": plan,
                          "tensorflow": "tensorflow" in sys.modules,
                          "cpu_seconds": round(time.process_time() - start, 1)}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
