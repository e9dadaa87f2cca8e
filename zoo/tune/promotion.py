"""``promote``: retrain a search's best trial with its recipe, then publish it.

The trial's values become ``--set`` overrides of the search's recipe
(``OUT/config.yaml``), so the retrained run is an ordinary ``zoo train`` run
folder (all of the recipe's epochs, its data, its seed) whose ``config.yaml``
says exactly what was trained. The run folder also gets ``tuning.json``
(search folder, trial id, objective, score, the search space, the
overrides), and the recipe's description names the trial, so the published
entry (whose card stores the recipe) carries the search space and the trial id.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from cnn_zoo import hub
from cnn_zoo import run as runs
from cnn_zoo.hub.publishing import check_tag
from cnn_zoo.recipe import load_recipe
from cnn_zoo.registry import check_model_arguments
from cnn_zoo.tune.errors import TuneError
from cnn_zoo.tune.report import load_report
from cnn_zoo.tune.space import SearchSpace, parse_space
from cnn_zoo.weights.manifest import parse_tag


@dataclasses.dataclass
class PromoteResult:
    run_dir: Path
    trial_id: str
    overrides: list
    metrics: dict           # test metrics of the retrained model
    published: object = None  # cnn_zoo.hub.WeightsInfo, when published


def promote(tune_dir, *, tag=None, trial_id=None, out_dir=None, overrides=(), data_dir=None, dest=None,
            overwrite=False, verbose="auto") -> PromoteResult:
    """Retrains trial ``trial_id`` (default: the best completed one) of the search in
    ``tune_dir`` into ``out_dir`` (default ``tune_dir/promoted/trial_<id>``) and, with
    ``tag``, publishes it with :func:`cnn_zoo.hub.publish` (``dest``, ``overwrite`` go there).

    ``overrides`` ("key=value") apply after the trial's values: a search run on
    fewer epochs or examples is retrained on all of them with e.g.
    ``["epochs=15", "dataset.max_examples=null"]``.
    """
    from cnn_zoo.train import train  # imports Keras: `zoo promote` checks the search first

    tune_dir = Path(tune_dir)
    check_promote(tune_dir, tag=tag, trial_id=trial_id, out_dir=out_dir, overrides=overrides, dest=dest,
                  overwrite=overwrite)
    report = load_report(tune_dir)
    if trial_id is None:
        row = report.best()
        if row is None:
            raise TuneError(f"the search in {tune_dir} has no completed trial to promote ({report.summary()})")
    else:
        row = report.trial(trial_id)
        if row is None:  # its folder is there (check_promote), its trial.json unreadable
            raise TuneError(f"trial {trial_id} of {tune_dir} cannot be read ({tune_dir}/search/"
                            f"trial_{trial_id}/trial.json); promote another trial")
        if row.status != "completed":
            raise TuneError(f"trial {row.trial_id} of {tune_dir} is {row.status} ({row.note}); "
                            "promote a completed trial")
    space = SearchSpace.of_search(tune_dir)
    recipe = space.recipe
    trial_values = space.overrides(row.values)
    overrides = [*trial_values, *overrides]
    description = (f"{recipe.model.name} tuned by zoo tune: trial {row.trial_id} of the "
                   f"{recipe.tuning.tuner} search in '{tune_dir.name}' ({report.objective} "
                   f"{row.score:.4f} in the search)")
    overrides.append(f"description={_yaml_string(description)}")
    run_dir = Path(out_dir) if out_dir is not None else tune_dir / "promoted" / f"trial_{row.trial_id}"
    result = train(tune_dir / "config.yaml", run_dir, overrides=overrides, data_dir=data_dir, verbose=verbose)
    tuning = {"tune_dir": str(tune_dir.resolve()), "trial_id": row.trial_id, "tuner": recipe.tuning.tuner,
              "objective": report.objective, "direction": report.direction, "score": row.score,
              "hyperparameters": row.values, "overrides": overrides[:-1], "trial_overrides": trial_values,
              "search_space": space.describe(), "counts": report.counts}
    runs.write_json(Path(result.run_dir) / "tuning.json", tuning)
    if result.status != "finished":
        raise TuneError(f"retraining trial {row.trial_id} ended with status {result.status!r}: "
                        f"{result.message}")
    published = None
    if tag:
        # The search space and trial id reach the entry twice: in the run's recipe
        # (search_space, description) and whole, as the entry's ``tuning`` record.
        published = hub.publish(result.run_dir, tag, dest=dest, overwrite=overwrite, tuning=tuning)
    return PromoteResult(Path(result.run_dir), row.trial_id, overrides[:-1], result.metrics, published)


def check_promote(tune_dir, *, tag=None, trial_id=None, out_dir=None, overrides=(), dest=None,
                  overwrite=False) -> None:
    """What :func:`promote` would refuse before it trains, found without Keras: a folder with no
    search, an unknown trial, a bad ``--set``, an ``out_dir`` in use, a tag that cannot be published."""
    tune_dir = Path(tune_dir)
    if not (tune_dir / "tune.json").is_file():
        raise TuneError(f"{tune_dir} holds no search (no tune.json); give the --out folder of `zoo tune`")
    if trial_id is not None:
        # Keras Tuner keeps trial ID in search/trial_ID/trial.json.
        known = sorted(p.parent.name[len("trial_"):] for p in (tune_dir / "search").glob("trial_*/trial.json"))
        if str(trial_id) not in known:
            raise TuneError(f"the search in {tune_dir} has no trial {trial_id!r}; its trials: "
                            f"{', '.join(known) or 'none'}")
    recipe = load_recipe(tune_dir / "config.yaml", overrides=list(overrides))
    check_model_arguments(recipe.model.name, recipe.model.kwargs)
    if out_dir is not None:
        runs.prepare_folder(out_dir, False)
    if tag:
        if ("model", "name") in {p.base_path[:2] for p in parse_space(recipe)}:
            parse_tag(tag)  # the trial chooses the model
        else:
            check_tag(tag, recipe.model.name, dest=dest, overwrite=overwrite)


def _yaml_string(text: str) -> str:
    return json.dumps(text)  # JSON strings are YAML strings

