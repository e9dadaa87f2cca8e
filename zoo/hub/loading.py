"""Pretrained models by tag: ``load("lenet5.mnist")`` → a built Keras model with its weights.

The model carries what it was trained with as ``model.zoo_info`` (a
:class:`~cnn_zoo.weights.manifest.WeightsInfo`): the preprocessing that prediction
must repeat, the class names, the metrics, the recipe and the data licence.

Keyword arguments go to the builder and override the published ones. With
the published arguments the weights load as they are; with others (another
``num_classes`` for fine-tuning, ``include_top=False``, ``pooling``, ...) the
published model is built, loaded, and its weights are copied layer by layer,
by name, into the new one. Only the head (the layers the model's family names
in ``Family.head``) may differ: it is rebuilt, freshly initialised, and a
warning names it. Any other layer whose weights no longer fit is an error.

``load_run(dir)`` does the same for a ``zoo train --out`` folder: its
model.keras, with the preprocessing and class names the run recorded.

``load(tag, raw=True)`` puts that preprocessing inside the model, as Keras layers:
the model takes raw uint8 images (N, H, W, C) as the dataset stores them (of any
size where the steps resize, e.g. the ImageNet tags) and returns class
probabilities. It is the graph ``zoo export`` writes (cnn_zoo.serving).
``preprocessing(tag)`` is that preprocessing alone, one Keras layer.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import yaml

from cnn_zoo import registry
from cnn_zoo.convert import pulling
from cnn_zoo.data import Dataset
from cnn_zoo.errors import ZooError, one_line
from cnn_zoo.family import DEFAULT
from cnn_zoo.layers import register_all
from cnn_zoo.preprocessing_spec import Preprocessing
from cnn_zoo.recipe import Recipe
from cnn_zoo.serving import contract_of, preprocessing_layers, serving_model
from cnn_zoo.weights import store
from cnn_zoo.weights.manifest import WeightsInfo, is_tag, normalized


class HeadRebuiltWarning(UserWarning):
    """load() rebuilt a model's head (e.g. for another num_classes): those layers are untrained."""


class ClassNamesWarning(UserWarning):
    """evaluate() was given data whose class names are not the model's; the message says how
    they were matched."""


class RunModelError(ZooError):
    """A path given as a run folder holds no finished run (model.keras, preprocessing.json)."""


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What a run folder recorded for prediction: ``model.zoo_info`` of ``load_run``."""

    run_dir: str
    preprocessing: dict   # {"steps", "raw_shape", "input_shape"}
    class_names: tuple
    metrics: dict         # metrics.json ({} if the run was not evaluated)
    recipe: dict          # {"config": the resolved recipe} (config.yaml)
    tag = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def arch(self) -> str | None:
        """The run's model name (its recipe's), or None if the run recorded no recipe."""
        return (self.recipe.get("config") or {}).get("model", {}).get("name")


def family_of(info):
    """The :class:`~cnn_zoo.family.Family` of a tag's or run's model (the default one if unknown)."""
    arch = getattr(info, "arch", None)
    if arch is None:
        return DEFAULT
    try:
        return registry.get_family(arch)
    except ValueError:  # a run of a model registered in another process
        return DEFAULT


def load(tag: str | Path, *, num_classes: int | None = None, hub=None, quiet: bool = False, raw: bool = False,
         **kwargs):
    """The model of ``tag`` with its pretrained weights (pulled and verified first).

    ``num_classes`` different from the published one rebuilds the head for
    fine-tuning; other ``kwargs`` go to the builder (``include_top``,
    ``pooling``, ``classifier_activation``, ``name``, ...). The result has
    ``model.zoo_info``, the tag's :class:`WeightsInfo`. ``tag`` may also be a
    run folder (or its model.keras), loaded as :func:`load_run` does.

    ``raw=True``: the model takes raw uint8 images, input "image" (N, H, W, C) as
    the dataset stores them (any H x W where the tag's steps resize), and returns
    "probabilities" (N, classes): the tag's preprocessing is inside, as Keras layers.
    """
    if not isinstance(raw, bool):
        raise ZooError(f"`raw` must be True or False. Received: raw={raw!r}")
    if raw and kwargs.get("include_top") is False:
        raise ZooError("raw=True returns class probabilities, which include_top=False has not: for "
                       "features, put zoo.preprocessing(tag) before zoo.load(tag, include_top=False)")
    if is_run(tag):
        if num_classes is not None or kwargs:
            given = ", ".join(f"{k}={v!r}" for k, v in {"num_classes": num_classes, **kwargs}.items()
                              if v is not None)
            raise ZooError(f"a run folder loads as it was trained; builder arguments apply to tags "
                           f"(fine-tune a run with zoo finetune). Received: {given}")
        model = load_run(tag)
    else:
        model = _load_tag(str(tag), num_classes=num_classes, hub=hub, quiet=quiet, **kwargs)
    return raw_model(model) if raw else model


def raw_model(model):
    """``model`` (from load or load_run) behind its own preprocessing: raw uint8 images in,
    probabilities out, with the same ``zoo_info``."""
    raw = serving_model(model, contract_of(model.zoo_info), name=f"{model.name}_raw")
    raw.zoo_info = model.zoo_info
    return raw


def preprocessing(tag_or_model, *, hub=None):
    """The evaluation-time preprocessing of a tag, a run folder or a loaded model, as one Keras layer.

    It takes raw image batches (N, H, W, C), uint8 or float in 0..255, and returns the model's
    float32 input, as ``zoo predict`` prepares it (augmentation steps do what they do at
    evaluation). A tf.data pipeline maps it over batches (images of one size) or over single
    images as ``lambda x: layer(x[None])[0]``; on the TensorFlow backend only, since inside
    tf.data the layer's ops must be TensorFlow's. On arrays it runs on every backend.
    """
    if isinstance(tag_or_model, (str, Path)):
        info = run_info(tag_or_model) if is_run(tag_or_model) else store.info(str(tag_or_model), hub=hub)
    else:
        info = getattr(tag_or_model, "zoo_info", None)
        if info is None:
            raise ZooError("preprocessing() needs a tag, a run folder, or a model from zoo.load "
                           "(it reads the recorded preprocessing). Received: a model without zoo_info")
    found = preprocessing_layers(contract_of(info))
    if len(found) == 1:
        return found[0]
    import keras  # the layers are Keras already; a second one needs the Sequential

    return keras.layers.Pipeline(found, name="preprocessing")


def _load_tag(tag: str, *, num_classes: int | None = None, hub=None, quiet: bool = False, **kwargs):
    if "weights" in kwargs:
        raise ZooError(f"load() takes the weights from the tag {tag!r}; build without them "
                         f"with zoo.get_model(name, ...). Received: weights={kwargs['weights']!r}")
    info = store.info(tag, hub=hub)
    path = str(pulling.pull(tag, hub=hub, quiet=quiet))
    family = registry.get_family(info.arch)
    wanted = family.for_inference(info.kwargs)  # training-only outputs off
    if num_classes is not None:
        wanted["num_classes"] = num_classes
    wanted.update(kwargs)
    if normalized(wanted) == normalized(info.kwargs):
        model = registry.get_model(info.arch, **wanted, weights=path)
    else:
        published = registry.get_model(info.arch, **info.kwargs, weights=path)
        model = registry.get_model(info.arch, **wanted)
        rebuilt = transfer_weights(published, model, tag=tag, head=family.head)
        if rebuilt:
            changed = {k: v for k, v in wanted.items() if normalized(v) != normalized(info.kwargs.get(k))}
            warnings.warn(
                f"{tag}: rebuilt the head layer(s) {', '.join(map(repr, rebuilt))} for "
                f"{', '.join(f'{k}={v!r}' for k, v in changed.items())} (published: "
                f"num_classes={info.num_classes}); they are freshly initialised, train them. "
                "Every other layer has the pretrained weights.", HeadRebuiltWarning, stacklevel=2)
    model.zoo_info = info
    return model


def transfer_weights(source, target, *, tag: str = "the published model", head=None) -> list[str]:
    """Copies weights from ``source`` to ``target`` layer by layer, matched by name.

    Returns the names of the head layers (``head``, default: the default
    family's) that could not take them (rebuilt); any other layer that cannot is a ZooError.
    """
    if head is None:
        head = DEFAULT.head
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
        elif layer.name in head or found is None:
            rebuilt.append(layer.name)
        else:
            raise ZooError(
                f"the weights of layer {layer.name!r} have shapes {[w.shape for w in found]} in "
                f"{tag} but {[w.shape for w in weights]} with these arguments; only the head "
                f"({', '.join(head)}) is rebuilt. Keep the published input_shape, or "
                "pass include_top=False to keep only the convolutional part")
    return rebuilt


def run_paths(path) -> tuple[Path, Path]:
    """(model.keras, run folder) of a run folder or of a .keras file in one; checks without Keras."""
    path = Path(path)
    run_dir = path if path.is_dir() else path.parent
    model_path = path / "model.keras" if path.is_dir() else path
    if not model_path.is_file():
        raise RunModelError(f"no model at {model_path}: give a finished run folder (zoo train --out) "
                            "or its model.keras, or a pretrained tag (zoo list --pretrained)")
    if not (run_dir / "preprocessing.json").is_file():
        raise RunModelError(f"no preprocessing.json beside {model_path}: the run's preprocessing "
                            "and class names are unknown")
    check_model_file(model_path)
    return model_path, run_dir


def check_model_file(path) -> None:
    """A .keras file that Keras would refuse, named without Keras: a file cut short (no zip
    directory at its end) or one whose config holds Python code, which Keras' safe mode
    refuses to load because loading it could run anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:  # ValueError: not JSON
        raise RunModelError(f"{path} is damaged, not a whole .keras file ({one_line(error)}); restore "
                            "it, or train the run again") from None
    where = _python_code(config)
    if where:
        raise RunModelError(f"{path} is refused: {where} is Python code (a lambda), which could run "
                            "anything when loaded, so Keras' safe mode does not load it. If you trust "
                            "the file's source, load it yourself: keras.saving.load_model(path, "
                            "safe_mode=False)")


def _python_code(config, owner="the model") -> str | None:
    """Where ``config`` (a .keras file's config.json) holds a serialized Python lambda, or None."""
    if isinstance(config, dict):
        if config.get("class_name") == "__lambda__":
            return owner
        inner = config.get("config")
        if isinstance(inner, dict) and isinstance(inner.get("name"), str) and "class_name" in config:
            owner = f"the function of layer {inner['name']!r}"
        values = config.values()
    elif isinstance(config, list):
        values = config
    else:
        return None
    return next((found for value in values if (found := _python_code(value, owner))), None)


def load_model_file(path, **kwargs):
    """``keras.saving.load_model(path, **kwargs)`` of a .keras file checked by
    :func:`check_model_file`; what Keras still refuses is a one-line RunModelError."""
    # Keras and the schedule it deserializes, here: `zoo predict` checks its arguments without them.
    import keras

    import cnn_zoo.schedules  # noqa: F401  (registers the optimizer's schedule)

    check_model_file(path)
    register_all()  # the model file may name any of the zoo's layers
    try:
        return keras.saving.load_model(path, **kwargs)
    except (ValueError, TypeError) as error:  # Keras' answers for a file it cannot rebuild
        raise RunModelError(f"{path} cannot be loaded: {one_line(error)}") from None


def run_info(path) -> RunInfo:
    """What a run folder recorded (preprocessing, class names, metrics, recipe), without Keras."""
    _, run_dir = run_paths(path)
    contract = json.loads((run_dir / "preprocessing.json").read_text())
    metrics_file, config_file = run_dir / "metrics.json", run_dir / "config.yaml"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    recipe = {}
    if config_file.is_file():
        recipe = {"config": yaml.safe_load(config_file.read_text())}
    return RunInfo(str(run_dir), Preprocessing.from_dict(contract).to_dict(),
                   tuple(str(c) for c in contract.get("class_names", ())), metrics, recipe)


def load_run(path):
    """The model of a run folder (or of its model.keras), with ``model.zoo_info`` a :class:`RunInfo`."""
    model_path, _ = run_paths(path)
    info = run_info(path)
    model = load_model_file(model_path)
    model.zoo_info = info
    return model


def is_run(tag_or_path) -> bool:
    """A run folder or a .keras file, as opposed to a pretrained tag."""
    path = Path(tag_or_path)
    return path.is_dir() or path.suffix == ".keras"


def resolve(tag_or_model, hub=None, quiet=False):
    """(model, info) from a tag, a run folder, or a model that ``load``/``load_run`` returned."""
    if isinstance(tag_or_model, (str, Path)):
        model = load(tag_or_model, hub=hub, quiet=quiet)  # a tag or a run folder
        return model, model.zoo_info
    info = getattr(tag_or_model, "zoo_info", None)
    return tag_or_model, info


def match_classes(dataset, class_names):
    """``dataset`` with labels that index ``class_names`` (the model's outputs), and how they were
    matched: "same" (equal names), "by name" (the data's names are among the model's, labels
    remapped) or "by position" (other names: data class i is scored as model class i)."""
    names, theirs = tuple(class_names), tuple(dataset.class_names)
    if theirs == names:
        return dataset, "same"
    shown = ", ".join(theirs[:12]) + (", ..." if len(theirs) > 12 else "")
    mine = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    if set(theirs) <= set(names):
        index = np.array([names.index(n) for n in theirs], np.int32)
        warnings.warn(f"{dataset.source}: its class names ({shown}) differ from the model's ({mine}) "
                      "in number or order; matched them by name", ClassNamesWarning, stacklevel=3)
        return Dataset(dataset.x, index[dataset.y], names, dataset.source, dataset.split,
                       dict(dataset.info)), "by name"
    if len(theirs) > len(names):
        raise ZooError(f"{dataset.source} has {len(theirs)} classes ({shown}) but the model "
                       f"{len(names)} ({mine}): fine-tune it on these classes first (zoo finetune)")
    unknown = [n for n in theirs if n not in names]
    warnings.warn(f"{dataset.source}: its class names ({shown}) are not the model's ({mine}); "
                  f"{len(unknown)} of them ({', '.join(unknown[:5])}) are unknown to it, so classes were "
                  "matched by position (data class i scored as model class i): the accuracy is only "
                  "meaningful if the orders agree", ClassNamesWarning, stacklevel=3)
    return dataset, "by position"


def evaluate(tag_or_model, *, split: str | None = None, data: str | None = None,
             data_dir=None, hub=None) -> dict:
    """Metrics of a pretrained tag (or a run folder) on the split its metric was measured on.

    The data come from the recipe recorded in the manifest (same source,
    validation fraction and seed), so the published number is reproduced;
    ``data`` (a dataset spec) evaluates on another dataset instead, its images
    read at the model's raw size, its classes matched to the model's by name
    where they can be (see :func:`match_classes`; the result's "classes" says how).
    """
    from cnn_zoo.evaluation import evaluate_recipe  # imports Keras, which `zoo eval` checks without

    model, info = resolve(tag_or_model, hub)
    if not isinstance(info, (WeightsInfo, RunInfo)):
        raise ZooError("evaluate() needs a tag, a run folder, or a model from zoo.load(tag) (it "
                       "reads the recorded recipe). Received: a model without zoo_info")
    where = f"manifest entry {info.tag}" if info.tag else f"{info.run_dir}/config.yaml"
    if not info.recipe.get("config"):
        raise ZooError(f"{where}: no recipe recorded, so the data to evaluate on are unknown")
    recipe = Recipe.from_dict(info.recipe["config"], source=where)
    return evaluate_recipe(model, recipe, info.preprocessing["steps"],
                           split=split or info.metrics.get("split") or "test", data=data, data_dir=data_dir,
                           raw_shape=info.preprocessing["raw_shape"], compile=True, where=f"{where}: the recipe",
                           match=lambda dataset: match_classes(dataset, info.class_names),
                           family=family_of(info))


def get_model(name: str, **kwargs):
    """``zoo.get_model``: the registry's builder, where ``weights`` may also be a pretrained tag.

    As keras.applications' ``weights="imagenet"``: ``get_model("lenet5", weights="lenet5.mnist")``
    pulls the tag's file (converted on its first pull if a publisher's) and builds the model
    with the tag's recorded builder arguments, which given ones may repeat but not change
    (``zoo.load(tag, **kwargs)`` rebuilds for other ones). The model carries the tag's entry as
    ``model.zoo_info``. The builders themselves take only a file path.
    """
    tag = kwargs.get("weights")
    if not is_tag(tag):
        return registry.get_model(name, **kwargs)
    info = store.info(tag)
    if info.arch != name:
        raise ZooError(f"weights={tag!r} were trained for {info.arch!r}, not {name!r}; "
                       f"use {info.arch!r} or zoo.load({tag!r})")
    for key, recorded in info.kwargs.items():
        if key not in kwargs or normalized(kwargs[key]) == normalized(recorded):
            continue
        if key == "num_classes":
            raise ZooError(f"weights={tag!r} have {recorded} classes, the model {kwargs[key]}: build with "
                           f"num_classes={recorded}, or use zoo.load({tag!r}, num_classes={kwargs[key]}) "
                           "to rebuild the head")
        made = "converted" if info.source is not None else "trained"
        raise ZooError(f"weights={tag!r} were {made} with {key}={recorded!r}: leave {key} unset, or use "
                       f"zoo.load({tag!r}, {key}=...) to rebuild. Received: {key}={kwargs[key]!r}")
    model = registry.get_model(name, **{**info.kwargs, **kwargs, "weights": str(pulling.pull(tag))})
    model.zoo_info = info
    return model
