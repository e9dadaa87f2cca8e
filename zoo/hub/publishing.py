"""Publishing: a finished training run folder becomes a manifest entry and a weights file.

    publish("runs/lenet5-mnist", "lenet5.mnist")   # or: zoo publish runs/lenet5-mnist --tag lenet5.mnist

writes ``lenet5.mnist.weights.h5`` and its entry in ``manifest.json`` (see
:mod:`cnn_zoo.weights.manifest` for the fields) into the user's own hub folder, the
cache (``$ZOO_HOME/weights``), where ``zoo.load`` and ``pull`` find it; never
into the installed package. ``dest=`` (``--dest``) publishes elsewhere: a hub
folder to serve as ``ZOO_HUB_URL``, or a checkout's ``saved_models/``.
The weights are loaded into a freshly built model from the recorded builder
arguments and saved from it: that proves the arguments rebuild the trained
architecture, and leaves out the optimizer state a run's file carries (a third
of LeNet-5's file). The new file is loaded once more, and its outputs are
compared with the run's ``model.keras``.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from pathlib import Path

import numpy as np

from cnn_zoo import atomic, preprocess, registry
from cnn_zoo import run as runs
from cnn_zoo.hub.loading import load_model_file, run_paths
from cnn_zoo.recipe import load_recipe
from cnn_zoo.weights import manifest as mf
from cnn_zoo.weights.errors import HubError
from cnn_zoo.weights.lock import file_lock
from cnn_zoo.weights.manifest import WeightsInfo
from cnn_zoo.weights.store import Hub, local_models

RUN_FILES = ("manifest.json", "config.yaml", "preprocessing.json", "metrics.json", "model.weights.h5",
             "model.keras")


def default_dest() -> Path:
    """The user's own hub folder: the cache of ``Hub.from_env()`` ($ZOO_HOME/weights)."""
    return Hub.from_env().cache


def _shipped_tags() -> dict:
    return mf.read_manifest(local_models() / mf.MANIFEST, {})


def publish(run_dir, tag: str, *, dest=None, overwrite: bool = False,
            dataset_license: dict | None = None, tuning: dict | None = None) -> WeightsInfo:
    """Adds the finished run in ``run_dir`` to the manifest in ``dest`` as ``tag``.

    ``dest`` defaults to the user's own hub folder (:func:`default_dest`), where
    ``zoo.load(tag)`` finds it; a tag shipped with the package is refused there.

    ``tag`` is ``arch.name`` with ``arch`` the run's model. An existing tag
    is replaced only with ``overwrite=True``. ``dataset_license`` (``{"name",
    "license", "attribution", "url"}``) states the licence of a dataset the
    zoo does not know (MNIST and Fashion-MNIST it does). ``tuning`` records
    the search that chose the hyper-parameters (default: the run folder's
    tuning.json, which ``zoo promote`` writes, if any).
    """
    run_dir = Path(run_dir)
    arch, run, recipe = _finished_run(run_dir, tag)
    contract = runs.read_json(run_dir / "preprocessing.json")
    metrics = runs.read_json(run_dir / "metrics.json")
    kwargs = mf.normalized({k: v for k, v in recipe.model.kwargs.items() if k != "weights"})
    kwargs.setdefault("input_shape", list(contract["input_shape"]))
    kwargs.setdefault("num_classes", len(contract["class_names"]))
    dataset = dataset_card(contract["dataset"], dataset_license)
    if tuning is None and (run_dir / "tuning.json").is_file():
        tuning = runs.read_json(run_dir / "tuning.json")
    if tuning and tuning.get("tune_dir"):
        # The search folder's name, not this machine's path to it, goes into a published entry.
        tuning = {**tuning, "tune_dir": Path(tuning["tune_dir"]).name}
    dest, lock = _destination(dest, tag, arch)
    try:
        return _publish_into(dest, lock, tag, arch, overwrite, run_dir, run, recipe, contract,
                             metrics, kwargs, dataset, tuning)
    except OSError as error:
        where = error.filename or dest
        raise HubError(f"cannot publish {tag} into {dest}: {where}: {error.strerror or error}; pass "
                       "--dest (dest=) a folder you can write") from None


def check_publish(run_dir, tag: str, *, dest=None, overwrite: bool = False) -> None:
    """What :func:`publish` would refuse, found without Keras: the tag, the run folder (finished,
    its model file whole and free of Python code, its model the tag's) and a tag already in ``dest``."""
    arch, _, _ = _finished_run(Path(run_dir), tag)
    check_tag(tag, arch, dest=dest, overwrite=overwrite)


def check_tag(tag: str, model: str, *, dest=None, overwrite: bool = False) -> None:
    """Whether a run of ``model`` may be published as ``tag`` into ``dest``: the tag's form, its
    arch, and a tag already there (refused unless ``overwrite``). Needs no Keras."""
    arch, _ = mf.parse_tag(tag)
    _check_arch(tag, model)
    dest, _ = _destination(dest, tag, arch)
    if not overwrite and tag in mf.read_manifest(dest / mf.MANIFEST):
        raise _already_published(tag, dest)


def _check_arch(tag: str, model: str) -> None:
    if mf.parse_tag(tag)[0] != model:
        raise HubError(f"the run trained {model!r}, so its tag must start with "
                       f"'{model}.'. Received: tag={tag!r}")


def _finished_run(run_dir: Path, tag: str):
    """(arch, the run's manifest, its recipe) of the finished run to publish as ``tag``."""
    arch, _ = mf.parse_tag(tag)
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise HubError(f"{run_dir} is not a finished run folder (no {', '.join(missing)}); "
                       "give the --out folder of a `zoo train` run that finished")
    run = runs.read_json(run_dir / "manifest.json")
    if run.get("status") != "finished":
        raise HubError(f"{run_dir} holds a run with status {run.get('status')!r}; only a finished "
                       "run can be published (resume it with zoo train --resume --out DIR)")
    run_paths(run_dir)  # model.keras: whole, and no Python code in it
    recipe = load_recipe(run_dir / "config.yaml")
    _check_arch(tag, recipe.model.name)
    return arch, run, recipe


def _destination(dest, tag: str, arch: str) -> tuple[Path, Path]:
    """(the hub folder to publish into, the lock of its manifest)."""
    if dest is None:
        dest = default_dest()
        if tag in _shipped_tags():
            # The package's entry would win over the cache's, and pull would take this
            # file for a corrupt copy of the shipped one.
            raise HubError(f"{tag} is a tag shipped with cnn-zoo; publish under another name, "
                           f"e.g. {arch}.{tag.split('.', 1)[1]}-mine, or pass --dest DIR")
        return dest, dest / ".locks" / f"{mf.MANIFEST}.lock"  # the store's own lock for this manifest
    dest = Path(dest)
    # The lock lives outside dest, so a checkout's saved_models/ gets no stray files.
    key = hashlib.sha256(str(dest.resolve()).encode()).hexdigest()[:16]
    return dest, Path(tempfile.gettempdir()) / f"cnn-zoo-publish-{key}.lock"


def _already_published(tag: str, dest: Path) -> HubError:
    return HubError(f"{tag} is already published in {dest / mf.MANIFEST}; pass "
                    "overwrite=True (--overwrite) to replace it, or choose another tag")


def _publish_into(dest: Path, lock: Path, tag, arch, overwrite, run_dir, run, recipe, contract,
                  metrics, kwargs, dataset, tuning) -> WeightsInfo:
    dest.mkdir(parents=True, exist_ok=True)
    file = f"{tag}{mf.SUFFIX}"
    with file_lock(lock):
        entries = mf.read_manifest(dest / mf.MANIFEST)
        if tag in entries and not overwrite:
            raise _already_published(tag, dest)
        with atomic.replacing(dest / file, suffix=mf.SUFFIX, mode=mf.READABLE) as tmp:
            _resave(arch, kwargs, run_dir, tmp, contract)
            size, sha256 = mf.digest(tmp)
            info = WeightsInfo(
                tag=tag, arch=arch, file=file, sha256=sha256, size=size, kwargs=kwargs,
                preprocessing={k: mf.normalized(contract[k]) for k in ("steps", "raw_shape", "input_shape")},
                class_names=tuple(contract["class_names"]),
                metrics=_metrics_story(metrics, dataset["source"]),
                recipe={"name": run.get("recipe", ""), "config": mf.normalized(recipe.to_dict())},
                seed=recipe.seed, dataset=dataset, created=runs.now(),
                keras_version=run.get("versions", {}).get("keras", ""),
                backend=run.get("backend", ""),
                tuning=None if tuning is None else mf.normalized(tuning))
            WeightsInfo.from_dict(tag, info.as_dict(), "the new entry")  # the checks a reader makes
        entries[tag] = info
        mf.write_manifest(dest / mf.MANIFEST, entries)
    return info


def _metrics_story(metrics: dict, source: str) -> dict:
    """The run's metrics.json, with who measured them and where they are written."""
    split, examples = metrics.get("split", "test"), metrics.get("examples")
    count = f", {examples:,} images" if isinstance(examples, int) else ""
    return {"split": split, "examples": examples,
            **{k: v for k, v in metrics.items() if k not in ("split", "examples")},
            "measured_by": "cnn-zoo: the run's own evaluation after training, published by zoo publish",
            "source": f"the run's metrics.json ({split} split of {source}{count})"}


def dataset_card(source: str, stated: dict | None) -> dict:
    card = mf.dataset_card(source)
    if stated:
        card = {**card, **stated, "source": source}
    if card["license"] == "unknown":
        warnings.warn(f"the licence of the dataset {source!r} is unknown to the zoo; the entry says "
                      "'unknown': pass dataset_license={'name', 'license', 'attribution', 'url'}",
                      stacklevel=3)
    return card


def _resave(arch, kwargs, run_dir: Path, out: str, contract) -> None:
    """Saves the run's weights from a freshly built model to ``out``, then checks ``out``."""
    try:
        fresh = registry.get_model(arch, **kwargs, weights=str(run_dir / "model.weights.h5"))
    except (ValueError, KeyError) as error:
        raise HubError(f"{run_dir}/model.weights.h5 does not load into {arch} built with "
                       f"{kwargs} ({error})") from None
    fresh.save_weights(out)
    again = registry.get_model(arch, **kwargs, weights=out)
    rng = np.random.default_rng(0)
    raw_shape = [d or 256 for d in contract["raw_shape"]]  # None: any size (streamed data)
    raw = rng.integers(0, 256, size=(4, *raw_shape), dtype=np.uint8)
    x = preprocess.apply(raw, contract["steps"], training=False)
    family = registry.get_family(arch)
    trained = load_model_file(run_dir / "model.keras", compile=False)
    expected = _main_output(trained(x, training=False), family)
    got = _main_output(again(x, training=False), family)
    if not np.allclose(expected, got, rtol=1e-4, atol=1e-5):
        raise HubError(f"{arch} rebuilt with {kwargs} computes other outputs than the run's "
                       f"model.keras (max difference {np.max(np.abs(expected - got)):.3g}); "
                       "the recorded builder arguments do not describe the trained model")


def _main_output(y, family):
    import keras  # imported by _resave already

    return keras.ops.convert_to_numpy(family.main_output(y))
