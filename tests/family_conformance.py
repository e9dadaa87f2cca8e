"""The checks every registered family passes (tests/test_families.py), on the active Keras backend.

``check(name, folder)`` builds the family's small model (``Family.test_kwargs``),
runs it forward, trains one step (forward and backward: some weight must move),
saves it as ``.keras``, reloads it and compares the outputs. Run as a script,
``python tests/family_conformance.py FOLDER NAME...`` does it for each NAME and
prints one JSON line per family, so another backend runs it in a subprocess.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


BATCH = 4


def _numpy(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def forward(model, x):
    """Inference on one batch: a direct call, except on JAX, where an eager call compiles each
    op on its own (minutes for a ResNet) and one compiled graph is quicker."""
    import keras

    return model.predict_on_batch(x) if keras.backend.backend() == "jax" else model(x, training=False)


def check(name: str, folder: Path) -> dict:
    import keras

    import cnn_zoo as zoo

    family = zoo.get_family(name)
    model = zoo.get_model(name, **family.test_kwargs)
    shape = tuple(model.inputs[0].shape[1:])
    classes = int(family.inference_model(model).output.shape[-1])
    rng = np.random.default_rng(0)
    # A batch of BATCH: batch norm over 2 values (a 1×1 map, batch 2) outputs ±1 whatever its
    # input, so the conv before it gets no gradient, and a deep ResNet's gradients blow up.
    x = rng.standard_normal((BATCH, *shape)).astype("float32")
    y = rng.integers(0, classes, size=BATCH)
    before = _numpy(family.main_output(forward(model, x)))
    # Eager on TensorFlow and PyTorch: tracing a 152-layer graph for one step costs more than
    # the step; JAX compiles (see _forward).
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy",
                  loss_weights=family.loss_weights(model), run_eagerly=keras.backend.backend() != "jax")
    weights = [_numpy(w) for w in model.trainable_weights]
    targets = y if not isinstance(model.output, dict) else {k: y for k in family.outputs(model)}
    logs = model.train_on_batch(x, targets, return_dict=True)
    moved = sum(not np.array_equal(a, _numpy(w)) for a, w in zip(weights, model.trainable_weights))
    after = _numpy(family.main_output(forward(model, x)))
    path = Path(folder) / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    again = _numpy(family.main_output(forward(reloaded, x)))
    path.unlink()
    return {"name": name, "backend": keras.backend.backend(), "input_shape": list(shape),
            "output_shape": list(before.shape),
            "finite": bool(np.isfinite(before).all() and np.isfinite(after).all()),
            "loss": float(logs["loss"]), "weights": len(weights), "moved": int(moved),
            "reload_difference": float(np.abs(after - again).max())}


if __name__ == "__main__":
    sys.modules.setdefault("triton", None)  # see tests/convert_fixtures.py
    for family_name in sys.argv[2:]:
        print(json.dumps(check(family_name, Path(sys.argv[1]))), flush=True)
