"""Pretrained models by tag: ``load("lenet5.mnist")`` → a built Keras model with its weights.

The model carries what it was trained with as ``model.zoo_info`` (a
:class:`~cnn_zoo.hub.manifest.WeightsInfo`): the preprocessing that prediction
must repeat, the class names, the metrics, the recipe and the data licence.

Keyword arguments go to the builder and override the published ones. With
the published arguments the weights load as they are; with others (another
``num_classes`` for fine-tuning, ``include_top=False``, ``pooling``, ...) the
published model is built, loaded, and its weights are copied layer by layer,
by name, into the new one. Only the head (the layers named ``classifier`` and
``output``, see cnn_zoo.models.common and cnn_zoo.models.lenet) may differ: it is
rebuilt, freshly initialised, and a warning names it. Any other layer whose
weights no longer fit is an error.
"""

from __future__ import annotations

import warnings

from cnn_zoo import registry
from cnn_zoo.hub import store
from cnn_zoo.hub.manifest import WeightsInfo, normalized

# The fixed names of the layers that depend on num_classes: common.classifier's
# Dense "classifier", LeNet-5's "output" (Dense or RBF). "predictions" is an
# Activation without weights.
HEAD_LAYERS = ("classifier", "output")


class HeadRebuiltWarning(UserWarning):
    """load() rebuilt a model's head (e.g. for another num_classes): those layers are untrained."""


def load(tag: str, *, num_classes: int | None = None, hub=None, quiet: bool = False, **kwargs):
    """The model of ``tag`` with its pretrained weights (pulled and verified first).

    ``num_classes`` different from the published one rebuilds the head for
    fine-tuning; other ``kwargs`` go to the builder (``include_top``,
    ``pooling``, ``classifier_activation``, ``name``, ...). The result has
    ``model.zoo_info``, the tag's :class:`WeightsInfo`.
    """
    if "weights" in kwargs:
        raise ValueError(f"load() takes the weights from the tag {tag!r}; build without them "
                         f"with zoo.get_model(name, ...). Received: weights={kwargs['weights']!r}")
    info = store.info(tag, hub=hub)
    path = str(store.pull(tag, hub=hub, quiet=quiet))
    wanted = dict(info.kwargs)
    if wanted.get("aux_classifiers"):
        wanted["aux_classifiers"] = False  # GoogLeNet's auxiliary heads are for training only
    if num_classes is not None:
        wanted["num_classes"] = num_classes
    wanted.update(kwargs)
    if normalized(wanted) == normalized(info.kwargs):
        model = registry.get_model(info.arch, **wanted, weights=path)
    else:
        published = registry.get_model(info.arch, **info.kwargs, weights=path)
        model = registry.get_model(info.arch, **wanted)
        rebuilt = transfer_weights(published, model, tag=tag)
        if rebuilt:
            changed = {k: v for k, v in wanted.items() if normalized(v) != normalized(info.kwargs.get(k))}
            warnings.warn(
                f"{tag}: rebuilt the head layer(s) {', '.join(map(repr, rebuilt))} for "
                f"{', '.join(f'{k}={v!r}' for k, v in changed.items())} (published: "
                f"num_classes={info.num_classes}); they are freshly initialised, train them. "
                "Every other layer has the pretrained weights.", HeadRebuiltWarning, stacklevel=2)
    model.zoo_info = info
    return model


def transfer_weights(source, target, *, tag: str = "the published model") -> list[str]:
    """Copies weights from ``source`` to ``target`` layer by layer, matched by name.

    Returns the names of the head layers that could not take them (rebuilt);
    any other layer that cannot is a ValueError.
    """
    rebuilt = []
    for layer in target.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        try:
            found = source.get_layer(layer.name).get_weights()
        except ValueError:  # no layer of that name in the published model
            found = None
        if found is not None and [w.shape for w in found] == [w.shape for w in weights]:
            layer.set_weights(found)
        elif layer.name in HEAD_LAYERS or found is None:
            rebuilt.append(layer.name)
        else:
            raise ValueError(
                f"the weights of layer {layer.name!r} have shapes {[w.shape for w in found]} in "
                f"{tag} but {[w.shape for w in weights]} with these arguments; only the head "
                f"({', '.join(HEAD_LAYERS)}) is rebuilt. Keep the published input_shape, or "
                "pass include_top=False to keep only the convolutional part")
    return rebuilt


def resolve(tag_or_model, hub=None, quiet=False):
    """(model, WeightsInfo) from a tag or from a model that ``load`` returned."""
    if isinstance(tag_or_model, str):
        model = load(tag_or_model, hub=hub, quiet=quiet)
        return model, model.zoo_info
    info = getattr(tag_or_model, "zoo_info", None)
    return tag_or_model, info


def evaluate(tag_or_model, *, split: str | None = None, data: str | None = None,
             data_dir=None, hub=None) -> dict:
    """Metrics of a pretrained model on the split its manifest metric was measured on.

    The data come from the recipe recorded in the manifest (same source,
    validation fraction and seed), so the published number is reproduced;
    ``data`` (a dataset spec) evaluates on another dataset instead.
    """
    from cnn_zoo.data import load_dataset
    from cnn_zoo.recipe import Recipe
    from cnn_zoo.train import evaluate_model

    model, info = resolve(tag_or_model, hub)
    if not isinstance(info, WeightsInfo):
        raise ValueError("evaluate() needs a tag or a model from zoo.load(tag) (it reads the "
                         "recorded recipe). Received: a model without zoo_info")
    recipe = Recipe.from_dict(info.recipe["config"], source=f"manifest entry {info.tag}")
    split = split or info.metrics["split"]
    if data is None:
        dataset = recipe.dataset.load(seed=recipe.seed, data_dir=data_dir).get(split)
        if dataset is None:
            raise ValueError(f"the recipe of {info.tag} has no {split!r} split")
    else:
        dataset = load_dataset(data, split, data_dir=data_dir, seed=recipe.seed,
                               validation_fraction=recipe.dataset.validation_fraction)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    metrics = evaluate_model(model, dataset, info.preprocessing["steps"])
    return {"split": split, "examples": len(dataset), "dataset": dataset.source, **metrics}
