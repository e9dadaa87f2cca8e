"""Keras Tuner's four oracles, taught that some K/F/S/P combinations cannot exist.

What it adds to Keras Tuner, and why: docs/design-notes.md.
"""

from __future__ import annotations

import glob
import os
import time
import warnings

import keras_tuner

from cnn_zoo.run import read_json, write_json
from cnn_zoo.tune import kt_private

INFEASIBLE = "infeasible: "
TrialStatus = kt_private.TrialStatus
synchronized = kt_private.synchronized
# Draws an oracle may reject in a row before it calls the space exhausted (Keras
# Tuner's default is 20: far too few when most combinations are infeasible).
MAX_DRAWS = 2000
# Distinct rejected combinations kept in oracle.json (the count goes on).
MAX_KEPT = 500


class TooManyFailures(RuntimeError):
    """``max_consecutive_failed_trials`` real failures in a row (infeasible trials do not count)."""


def is_infeasible(trial) -> bool:
    return (trial.message or "").startswith(INFEASIBLE)


class FeasibleOracle:
    """Mixin for a keras_tuner Oracle; call :meth:`setup` after ``__init__``."""

    def setup(self, check, deadline=None):
        """``check(hp_values) -> (ok, reason)``; ``deadline``: a time.time() after which
        no trial starts."""
        self.check = check
        self.deadline = deadline
        self.stopped_by_budget = False
        self._max_collisions = MAX_DRAWS
        self.rejected = {}  # values hash -> {"values", "reason", "draws"}
        self.rejected_draws = 0
        self.verbose = 0  # the zoo prints its own lines (cnn_zoo.tune.tuner)
        return self

    # -- sampling

    def _reason(self, values):
        ok, reason = self.check(values)
        return None if ok else reason

    def _reject(self, values, reason):
        key = self._compute_values_hash(values)
        entry = self.rejected.get(key)
        if entry is None and len(self.rejected) < MAX_KEPT:
            entry = self.rejected[key] = {"values": dict(values), "reason": reason, "draws": 0}
        if entry is not None:
            entry["draws"] += 1
        self.rejected_draws += 1

    def _duplicate(self, values):
        if super()._duplicate(values):
            return True
        reason = self._reason(values)
        if reason:
            self._reject(values, reason)
            return True
        return False

    def populate_space(self, trial_id):
        if self.deadline is not None and time.time() >= self.deadline:
            self.stopped_by_budget = True
            return {"status": TrialStatus.STOPPED, "values": None}
        return super().populate_space(trial_id)

    # -- ending trials

    @synchronized
    def end_trial(self, trial):
        if trial.status in (TrialStatus.INVALID, TrialStatus.FAILED) and not is_infeasible(trial):
            reason = self._reason(trial.hyperparameters.values)
            if reason:
                trial.message = INFEASIBLE + reason
        if is_infeasible(trial):
            trial.status = TrialStatus.FAILED  # an impossible shape stays impossible: no retry
        self._too_many = None
        super().end_trial(trial)
        if self._too_many:  # raised once the trial and the oracle are saved
            raise TooManyFailures(self._too_many)

    def _check_consecutive_failures(self):
        # The streak that ends with the latest trial (Keras Tuner scans every window, so an
        # old streak would stop a resumed search again at its first trial).
        failures, last = 0, None
        for trial_id in reversed(self.end_order):
            trial = self.trials[trial_id]
            if is_infeasible(trial):
                continue  # neither a failure nor a success
            if trial.status != TrialStatus.FAILED:
                break
            failures, last = failures + 1, last or trial
        if failures >= self.max_consecutive_failed_trials:
            self._too_many = (
                f"{failures} trials in a row failed (tuning.max_consecutive_failed_trials="
                f"{self.max_consecutive_failed_trials}); the last, trial {last.trial_id}: "
                f"{_last_line(last.message)}")

    # -- state

    def get_state(self):
        state = super().get_state()
        state["zoo"] = {"rejected": list(self.rejected.values()), "rejected_draws": self.rejected_draws}
        return state

    def set_state(self, state):
        super().set_state(state)
        zoo = state.get("zoo") or {}
        self.rejected = {self._compute_values_hash(e["values"]): e for e in zoo.get("rejected", [])}
        self.rejected_draws = zoo.get("rejected_draws", 0)

    def save(self):
        write_json(self._get_oracle_fname(), self.get_state(), strict=True)

    def reload(self):
        # Each state file parsed here first, so that a damaged one is named (Keras Tuner
        # says only "Expecting value: line 1 column 1 (char 0)").
        for path in [*glob.glob(os.path.join(self._project_dir, "trial_*", "trial.json")),
                     self._get_oracle_fname()]:
            read_json(path)
        super().reload()

    def _save_trial(self, trial):
        write_json(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), trial.get_state(),
                   strict=True)


def _last_line(message) -> str:
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no message)"


class RandomOracle(FeasibleOracle, keras_tuner.oracles.RandomSearchOracle):
    pass


class HyperbandOracle(FeasibleOracle, keras_tuner.oracles.HyperbandOracle):
    pass


class BayesianOracle(FeasibleOracle, keras_tuner.oracles.BayesianOptimizationOracle):
    def populate_space(self, trial_id):
        with warnings.catch_warnings():
            # scikit-learn's Gaussian process, fit to a handful of trials, warns that a length
            # scale hit its bound: true of every short search, and nothing a user can act on.
            warnings.filterwarnings("ignore", category=UserWarning, module="sklearn")
            response = super().populate_space(trial_id)
        if response.get("status") == TrialStatus.RUNNING:
            reason = self._reason(response["values"])
            if reason:
                self._reject(response["values"], reason)
                return self._random_populate_space()  # a feasible random draw instead
        return response


class GridOracle(FeasibleOracle, keras_tuner.oracles.GridSearchOracle):
    def _get_next_combination(self, values):
        while True:
            values = super()._get_next_combination(values)
            if values is None:
                return None
            reason = self._reason(values)
            if not reason:
                return values
            self._reject(values, reason)


ORACLES = {"random": RandomOracle, "grid": GridOracle, "bayesian": BayesianOracle,
           "hyperband": HyperbandOracle}


def make_oracle(kind, *, objective, direction, max_trials, seed, check, max_epochs, factor,
                max_consecutive_failed_trials, initial_points=None, deadline=None):
    """The oracle for ``kind`` (random, grid, bayesian, hyperband).

    initial_points: the Bayesian oracle's random trials before its Gaussian process
    (None: Keras Tuner's 3 per hyperparameter); the other oracles draw without a model.
    """
    common = dict(objective=keras_tuner.Objective(objective, direction),
                  # Keras Tuner reads seed 0 as "no seed" (seed or random.randint(...)).
                  seed=seed + 1,
                  max_consecutive_failed_trials=max_consecutive_failed_trials)
    if kind == "hyperband":
        oracle = HyperbandOracle(max_epochs=max_epochs, factor=factor, **common)
        oracle.max_trials = max_trials
    elif kind == "bayesian":
        oracle = BayesianOracle(max_trials=max_trials, num_initial_points=initial_points, **common)
    else:
        oracle = ORACLES[kind](max_trials=max_trials, **common)
    return oracle.setup(check, deadline)
