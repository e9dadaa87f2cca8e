"""Fine-tuning: a pretrained tag trained further on a user's own data, with its own classes.

    cnn_zoo.hub.finetune("lenet5.mnist", "folder:~/my_digits", "runs/my-digits", epochs=5)

As keras-hub's ``from_preset(..., num_classes=N)`` followed by ``fit``: the
run is an ordinary training run (``cnn_zoo.train.train``: run folder, resume,
TensorBoard, checkpoints, the compute plan of ``cnn_zoo.compute`` resolved for this
machine and recorded), whose recipe is the one the tag was published with,
with the user's dataset in place of its own. The network starts from the
tag's weights, copied layer by layer by ``loading.transfer_weights``; the head
is rebuilt when the number of classes differs (a HeadRebuiltWarning names it).
The images are read at the tag's raw size and colour, so that every layer but
the head keeps its shape.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import yaml

from cnn_zoo import registry
from cnn_zoo.convert import pulling
from cnn_zoo.hub.loading import HeadRebuiltWarning, transfer_weights
from cnn_zoo.recipe import load_recipe
from cnn_zoo.weights import store


def finetune_recipe(tag: str, data: str, *, epochs: int | None = None, overrides=(), hub=None):
    """The tag's recorded recipe on the dataset ``data`` (a dataset spec), with ``overrides``."""
    info = store.info(tag, hub=hub)
    config = dict(info.recipe["config"])
    raw = info.preprocessing["raw_shape"]
    config["name"] = f"finetune-{tag}"
    config["dataset"] = {**config["dataset"], "source": data, "class_names": None, "max_examples": None,
                         "image_size": list(raw[:2]),
                         "color_mode": "grayscale" if raw[2] == 1 else "rgb"}
    kwargs = {k: v for k, v in info.kwargs.items() if k not in ("input_shape", "num_classes")}
    config["model"] = {**config.get("model", {}), "name": info.arch, "kwargs": kwargs}
    config.pop("search_space", None)
    if epochs is not None:
        overrides = (f"epochs={int(epochs)}", *overrides)
    # load_recipe applies --set overrides with its own checks: give it a file.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"finetune-{tag}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return load_recipe(path, overrides=list(overrides))


def _pretrained_callback(tag: str, hub=None):
    import keras  # here: `zoo finetune` checks the tag and the recipe without Keras

    class PretrainedWeights(keras.callbacks.Callback):
        """Copies the tag's weights into the model being trained, before its first step."""

        def on_train_begin(self, logs=None):
            info = store.info(tag, hub=hub)
            published = registry.get_model(info.arch, **info.kwargs, weights=str(pulling.pull(tag, hub=hub)))
            rebuilt = transfer_weights(published, self.model, tag=tag, head=registry.get_family(info.arch).head)
            if rebuilt:
                warnings.warn(f"{tag}: the layer(s) {', '.join(map(repr, rebuilt))} start freshly "
                              "initialised (another number of classes, or training-only heads); "
                              "every other layer starts from the pretrained weights",
                              HeadRebuiltWarning, stacklevel=2)

    return PretrainedWeights()


def finetune(tag: str, data: str, out_dir, *, epochs: int | None = None, overrides=(), resume=False,
             data_dir=None, hub=None, verbose="auto", callbacks=()):
    """Train the pretrained ``tag`` on ``data`` into the run folder ``out_dir``; a RunResult.

    With ``resume`` the run in ``out_dir`` continues (its own recipe); the
    pretrained weights are copied only if it saved no training state yet.
    """
    from cnn_zoo.train import train  # imports Keras; finetune_recipe, which the CLI checks first, does not

    recipe = None if resume else finetune_recipe(tag, data, epochs=epochs, overrides=overrides, hub=hub)
    backup = Path(out_dir) / "backup"
    started = resume and backup.is_dir() and any(os.scandir(backup))
    extra = list(callbacks) if started else [_pretrained_callback(tag, hub), *callbacks]
    return train(recipe, out_dir, overrides=overrides if resume else (), resume=resume,
                 data_dir=data_dir, verbose=verbose, callbacks=extra)
