"""``tune()``: a recipe's search space, searched into a folder that survives a kill.

    OUT/config.yaml     the resolved recipe (--set and the CLI's tuning options applied)
    OUT/tune.json       tuner, objective, search space, feasibility, versions, sessions
    OUT/search/         Keras Tuner's project: oracle.json, trial_<id>/ (trial.json,
                        events.jsonl, execution<k>/history.csv, the best checkpoints)
    OUT/results.csv, results.json, trials.png, hp_<name>.png   the report (cnn_zoo.tune.report)

``tune(..., resume=True)`` continues the search in OUT: finished trials are
not redone, numbering continues, and a trial that was running continues from
its last finished epoch. The recipe is the one stored in OUT (its search
space cannot change under a search); ``max_trials`` may grow.

Why it works this way (Keras Tuner's issues and their answers): docs/design-notes.md.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import time
from pathlib import Path

from cnn_zoo import run as runs
from cnn_zoo.recipe import Recipe, load_recipe
from cnn_zoo.registry import check_model_arguments
from cnn_zoo.tune.distributed import parse_address, run_chief, tuner_env
from cnn_zoo.tune.errors import TuneError
from cnn_zoo.tune.report import write_report
from cnn_zoo.tune.space import SearchSpace, check_tuner, parse_space

__all__ = ["Search", "TuneError", "TuneResult", "run_worker", "tune"]

PROJECT = "search"


@dataclasses.dataclass
class TuneResult:
    out_dir: Path
    status: str       # "finished", "budget" (the time budget ran out), "interrupted"
    report: object    # cnn_zoo.tune.report.Report
    message: str = ""


def parse_duration(text) -> float:
    """'30m', '90s', '1h30m', '1800' (seconds) -> seconds."""
    raw = str(text).strip().lower()
    parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", raw)
    if not raw or not parts or not any(parts.groups()):
        raise TuneError(f"a duration looks like 30m, 90s, 1h30m or 1800 (seconds). Received: {text!r}")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in parts.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise TuneError(f"a duration must be positive. Received: {text!r}")
    return total


def direction_of(objective: str, direction: str = "auto") -> str:
    """min or max for ``objective``; "auto" reads it from the metric's name."""
    if direction != "auto":
        return direction
    name = objective.lower()
    if "loss" in name or "error" in name:
        return "min"
    if any(word in name for word in ("acc", "auc", "precision", "recall", "f1", "iou")):
        return "max"
    raise TuneError(f"cannot tell whether a higher or a lower {objective!r} is better; "
                    f"set tuning.direction: min or max. Received: tuning.objective={objective!r}")


def _settings_overrides(tuner, max_trials, executions_per_trial) -> list[str]:
    out = []
    if tuner is not None:
        out.append(f"tuning.tuner={tuner}")
    if max_trials is not None:
        out.append(f"tuning.max_trials={int(max_trials)}")
    if executions_per_trial is not None:
        out.append(f"tuning.executions_per_trial={int(executions_per_trial)}")
    return out


def prepare(recipe, out_dir, *, overrides=(), tuner=None, max_trials=None, executions_per_trial=None,
            resume=False) -> tuple[Path, Recipe]:
    """The search folder and its recipe: a new one, or the one stored there for --resume.
    Writes nothing."""
    settings = _settings_overrides(tuner, max_trials, executions_per_trial)
    if resume:
        if out_dir is None:
            raise TuneError("--resume needs --out DIR, the folder of the search to continue")
        out_dir = Path(out_dir)
        if not (out_dir / "tune.json").is_file():
            raise TuneError(f"{out_dir} holds no search to resume (no tune.json); start one without --resume")
        if overrides:
            raise TuneError("--set cannot change a search that is resumed (its trials were drawn from "
                            "the stored recipe); start a new search in another --out folder")
        stored = load_recipe(out_dir / "config.yaml")
        if recipe is not None and not isinstance(recipe, Recipe) and Path(str(recipe)).stem != stored.name \
                and str(recipe) != stored.name:
            raise TuneError(f"{out_dir} holds a search of recipe {stored.name!r}, not {recipe!r}; "
                            "resume it with --resume --out DIR alone")
        for key, value in (("tuner", tuner), ("executions_per_trial", executions_per_trial)):
            if value is not None and getattr(stored.tuning, key) != value:
                raise TuneError(f"the search in {out_dir} runs with tuning.{key}="
                                f"{getattr(stored.tuning, key)!r}; it cannot change on resume. "
                                f"Received: {key}={value!r}")
        if max_trials is not None:  # tune() stores the new limit
            stored = load_recipe(out_dir / "config.yaml", overrides=[f"tuning.max_trials={int(max_trials)}"])
        return out_dir, stored
    if recipe is None:
        raise TuneError("give a RECIPE (see 'zoo recipes'), or --resume --out DIR")
    if isinstance(recipe, Recipe):
        recipe = recipe.with_overrides([*overrides, *settings])
    else:
        recipe = load_recipe(recipe, overrides=[*overrides, *settings])
    out_dir = Path(out_dir) if out_dir is not None else Path("runs") / f"tune-{recipe.name}"
    if out_dir.exists() and any(out_dir.iterdir()):
        raise TuneError(f"{out_dir} already exists and is not empty; pass --resume to continue that "
                        "search, or choose another --out folder")
    return out_dir, recipe  # written by tune() once the space is known to be searchable


def check(recipe=None, out_dir=None, *, overrides=(), tuner=None, max_trials=None, executions_per_trial=None,
          resume=False, time_budget=None, oracle_address=None) -> None:
    """What :func:`tune` would refuse that needs neither the data nor Keras: the folder, the
    recipe and its overrides (the model's name and keyword arguments too), the search space's
    entries for the tuner, the objective, the time budget and the chief's address. The shapes
    are checked once the model is known."""
    if time_budget is not None:
        parse_duration(time_budget)
    if oracle_address is not None:
        parse_address(oracle_address)
    _, recipe = prepare(recipe, out_dir, overrides=overrides, tuner=tuner, max_trials=max_trials,
                        executions_per_trial=executions_per_trial, resume=resume)
    check_model_arguments(recipe.model.name, recipe.model.kwargs)
    check_tuner(parse_space(recipe), recipe.tuning.tuner)
    check_objective(recipe)


def check_objective(recipe: Recipe) -> str:
    """The objective's direction (min or max); a validation metric needs a validation split."""
    s = recipe.tuning
    if s.objective.startswith("val_") and not recipe.dataset.validation_fraction:
        raise TuneError(f"tuning.objective {s.objective!r} needs a validation split: "
                        "set dataset.validation_fraction > 0")
    return direction_of(s.objective, s.direction)


class Search:
    """Everything one process of a search needs: recipe, data, space, and its tuner."""

    def __init__(self, out_dir, recipe: Recipe, *, data_dir=None, deadline=None, verbose=1, log=print):
        # Keras and Keras Tuner, here: `zoo tune` checks the recipe and the folder without them
        from cnn_zoo.train import load_data
        from cnn_zoo.tune.hypermodel import ZooHyperModel

        self.out_dir = Path(out_dir)
        self.recipe = recipe
        self.settings = recipe.tuning
        self.direction = check_objective(recipe)
        self.deadline = deadline
        self.verbose = verbose
        self.log = log
        self.data_dir = data_dir
        splits, contract = load_data(recipe, data_dir)
        self.space = SearchSpace(recipe, contract["input_shape"])
        self.space.check_tuner(self.settings.tuner)
        self.hypermodel = ZooHyperModel(self.space, splits, contract)

    @classmethod
    def open(cls, out_dir, **kwargs) -> "Search":
        """The search stored in ``out_dir`` (a worker, or a report)."""
        out_dir = _stored_search(out_dir)
        return cls(out_dir, load_recipe(out_dir / "config.yaml"), **kwargs)

    @property
    def project_dir(self) -> Path:
        return self.out_dir / PROJECT

    @property
    def seed(self) -> int:
        return self.settings.seed if self.settings.seed is not None else self.recipe.seed

    def make_tuner(self):
        from cnn_zoo.tune.oracles import make_oracle  # Keras Tuner (see __init__)
        from cnn_zoo.tune.tuner import ZooTuner

        s = self.settings
        oracle = make_oracle(s.tuner, objective=s.objective, direction=self.direction,
                             max_trials=s.max_trials, seed=self.seed, check=self.space.check_hp_values,
                             max_epochs=self.recipe.epochs, factor=s.hyperband_factor,
                             max_consecutive_failed_trials=s.max_consecutive_failed_trials,
                             initial_points=s.initial_points, deadline=self.deadline)
        return ZooTuner(oracle, self.hypermodel, directory=self.out_dir, project_name=PROJECT,
                        executions_per_trial=s.executions_per_trial, keep_checkpoints=s.keep_checkpoints,
                        hyperband=s.tuner == "hyperband", deadline=self.deadline, verbose=self.verbose,
                        log=self.log)

    def describe(self) -> dict:
        s = self.settings
        return {"recipe": self.recipe.name, "tuner": s.tuner, "objective": s.objective,
                "direction": self.direction, "max_trials": s.max_trials,
                "executions_per_trial": s.executions_per_trial, "seed": self.seed,
                "input_shape": list(self.space.input_shape), "search_space": self.space.describe()}

    def announce(self, feasibility) -> None:
        s = self.settings
        self.log(f"{s.tuner} search of {self.recipe.name}: {len(self.space.params)} hyperparameters, "
                 f"{s.objective} ({self.direction}), up to {s.max_trials} trials -> {self.out_dir}")
        if feasibility:
            share = feasibility["feasible"] / max(feasibility["checked"], 1)
            what = (f"{feasibility['combinations']} combinations" if feasibility["exact"]
                    else f"{feasibility['checked']} sampled combinations")
            self.log(f"shapes: {feasibility['feasible']} of {what} of "
                     f"{', '.join(k.split('.')[-1] for k in feasibility['params'])} exist ({share:.0%}); "
                     "the others are rejected before anything is built")

    def finish(self, tuner, status, message=""):
        """Final pruning (Hyperband keeps every trial's weights until the end) and the report."""
        from cnn_zoo.tune import kt_private  # Keras Tuner (see __init__)

        if tuner is not None and self.settings.tuner == "hyperband" and not kt_private.is_worker(tuner):
            tuner.prune()
        meta = runs.read_json(self.out_dir / "tune.json")
        meta["sessions"][-1].update(status=status, finished=runs.now())
        runs.write_json(self.out_dir / "tune.json", meta)
        return write_report(self.out_dir, self.space)


def _record_session(search: Search, *, new: bool, feasibility, role, time_budget):
    path = search.out_dir / "tune.json"
    if new:
        search.out_dir.mkdir(parents=True, exist_ok=True)
        runs.write_text(search.out_dir / "config.yaml", search.recipe.to_yaml())
        meta = {**search.describe(), "feasibility": feasibility, "created": runs.now(),
                "versions": runs.versions(), "git_commit": runs.git_commit(), "sessions": []}
    else:
        meta = runs.read_json(path)
        meta["max_trials"] = search.settings.max_trials
    meta["sessions"].append({"started": runs.now(), "role": role, "time_budget_s": time_budget,
                             "max_trials": search.settings.max_trials, "command": sys.argv,
                             "status": "running"})
    runs.write_json(path, meta)


def tune(recipe=None, out_dir=None, *, overrides=(), tuner=None, max_trials=None, executions_per_trial=None,
         resume=False, time_budget=None, data_dir=None, chief=False, oracle_address=None, workers=0,
         verbose=1, log=print) -> TuneResult:
    """Search ``recipe``'s search_space with Keras Tuner into ``out_dir``.

    ``tuner`` (random, grid, bayesian, hyperband), ``max_trials`` and
    ``executions_per_trial`` override the recipe's ``tuning`` section;
    ``time_budget`` (seconds): no trial starts after it, and a running trial
    stops at the end of the epoch in which it passes. ``chief=True`` serves
    the oracle on ``oracle_address`` ("host:port", default 127.0.0.1 and a
    free port) for workers (:func:`run_worker`);
    ``workers=N`` also starts N local worker processes.
    """
    out_dir, recipe = prepare(recipe, out_dir, overrides=overrides, tuner=tuner, max_trials=max_trials,
                              executions_per_trial=executions_per_trial, resume=resume)
    if resume and max_trials is not None:
        runs.write_text(out_dir / "config.yaml", recipe.to_yaml())
    deadline = time.time() + float(time_budget) if time_budget else None
    search = Search(out_dir, recipe, data_dir=data_dir, deadline=deadline, verbose=verbose, log=log)
    feasibility = search.space.feasibility(seed=search.seed)
    if feasibility and not feasibility["feasible"]:
        example = next(iter(feasibility["examples"].values()))
        raise TuneError(f"no combination of the search space gives shapes that exist "
                        f"({feasibility['checked']} checked), e.g. {example}")
    _record_session(search, new=not resume, feasibility=feasibility,
                    role="chief" if (chief or workers) else "local", time_budget=time_budget)
    if verbose:
        search.announce(feasibility)
    tuner_obj, status, message = None, "finished", ""
    try:
        if chief or workers:
            tuner_obj = run_chief(search, oracle_address, workers)
        else:
            tuner_obj = search.make_tuner()
            tuner_obj.save()  # so that a kill during the first trial leaves a project to reload
            tuner_obj.search()
        if getattr(tuner_obj.oracle, "stopped_by_budget", False):
            status = "budget"
            message = (f"the time budget ran out; continue with: zoo tune --resume --out {out_dir} "
                       "[--time-budget ...]")
    except KeyboardInterrupt:
        status = "interrupted"
        message = f"interrupted; continue with: zoo tune --resume --out {out_dir}"
    except Exception as error:
        from cnn_zoo.tune.oracles import TooManyFailures  # Keras Tuner, imported by the search by now

        if isinstance(error, TooManyFailures):
            search.finish(tuner_obj, "failed")
            raise TuneError(f"{error}; fix the recipe, or raise tuning.max_consecutive_failed_trials, "
                            f"and continue with: zoo tune --resume --out {out_dir}") from None
        raise
    report = search.finish(tuner_obj, status, message)
    return TuneResult(out_dir, status, report, message)


def _stored_search(out_dir) -> Path:
    out_dir = Path(out_dir)
    if not (out_dir / "tune.json").is_file():
        raise TuneError(f"{out_dir} holds no search (no tune.json); the chief creates it: "
                        "zoo tune RECIPE --chief --out DIR")
    return out_dir


def check_worker(out_dir, oracle_address, tuner_id="worker1") -> tuple[str, int]:
    """The chief's (host, port), once a worker's arguments are known good; needs no Keras."""
    if not tuner_id or "chief" in tuner_id:
        raise TuneError(f"a worker's id must not contain 'chief' (Keras Tuner reads it as the chief). "
                        f"Received: tuner_id={tuner_id!r}")
    host, port = parse_address(oracle_address)
    if not port:
        raise TuneError(f"a worker needs the chief's port: --oracle HOST:PORT. Received: {oracle_address!r}")
    _stored_search(out_dir)
    return host, port


def run_worker(out_dir, oracle_address, tuner_id="worker1", *, data_dir=None, deadline=None, verbose=1,
               log=print):
    """Runs trials for the chief at ``oracle_address`` until it has none left."""
    host, port = check_worker(out_dir, oracle_address, tuner_id)
    if deadline is None and os.environ.get("ZOO_TUNE_DEADLINE"):
        deadline = float(os.environ["ZOO_TUNE_DEADLINE"])
    search = Search.open(out_dir, data_dir=data_dir, deadline=deadline, verbose=verbose, log=log)
    with tuner_env(tuner_id, host, port):
        tuner = search.make_tuner()
        tuner.search()
    return tuner
