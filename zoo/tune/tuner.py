"""The Tuner: runs one trial at a time, for any of the four oracles.

What it adds to Keras Tuner, and why: docs/design-notes.md.
"""

from __future__ import annotations

import json
import math
import os
import time
import traceback
from pathlib import Path

import keras
import keras_tuner

from cnn_zoo import compute
from cnn_zoo.callbacks import Backup, save_weights_atomically
from cnn_zoo.run import read_history, write_json
from cnn_zoo.tune import kt_private
from cnn_zoo.tune.hypermodel import InfeasibleTrial
from cnn_zoo.tune.oracles import INFEASIBLE, TrialStatus, is_infeasible

CHECKPOINT = "checkpoint.weights.h5"


class Deadline(keras.callbacks.Callback):
    """Stops training at the end of the epoch in which ``deadline`` (time.time()) passes."""

    def __init__(self, deadline):
        super().__init__()
        self.deadline = deadline
        self.stopped = False

    def on_epoch_end(self, epoch, logs=None):
        last = epoch + 1 >= (self.params or {}).get("epochs", epoch + 1)
        if self.deadline is not None and time.time() >= self.deadline and not last:
            self.stopped = True
            self.model.stop_training = True


class BestCheckpoint(kt_private.SaveBestEpoch):
    """Keras Tuner's best-epoch checkpoint, which also remembers the best value of the
    epochs before a resume (else the first epoch after it would overwrite a better file),
    and replaces the file atomically: Keras Tuner writes it in place, so a kill during
    the write left a file that Hyperband's next round could not load."""

    def __init__(self, objective, filepath, best_value=None):
        super().__init__(objective, filepath)
        if best_value is not None and math.isfinite(best_value):
            self.best_value = best_value

    def _save_model(self):
        # Keras Tuner's version also handles the temporary files of tf.distribute's
        # non-chief workers; a trial trains in one process, its own chief.
        save_weights_atomically(self.model, self.filepath)


def _history_object(rows):
    """A keras History from history.csv rows, for Keras Tuner's best-epoch logic."""
    history = keras.callbacks.History()
    history.epoch = [row["epoch"] for row in rows]
    keys = sorted({k for row in rows for k in row if k != "epoch"})
    history.history = {k: [row.get(k, float("nan")) for row in rows] for k in keys}
    return history


def append_event(trial_dir, event: dict) -> None:
    with open(Path(trial_dir) / "events.jsonl", "a") as f:
        f.write(json.dumps(event) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_events(trial_dir) -> list[dict]:
    path = Path(trial_dir) / "events.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line cut by a kill
    return out


def prune_checkpoints(project_dir, keep_ids) -> list[str]:
    """Deletes the weights of every ended trial not in ``keep_ids``; returns their ids."""
    removed = []
    for trial_dir in sorted(Path(project_dir).glob("trial_*")):
        trial_id = trial_dir.name[len("trial_"):]
        events = read_events(trial_dir)
        ended = bool(events) and events[-1].get("event") == "end"
        file = trial_dir / CHECKPOINT
        if ended and trial_id not in keep_ids and file.exists():
            file.unlink()
            removed.append(trial_id)
    return removed


class ZooTuner(keras_tuner.Tuner):
    """``keras_tuner.Tuner`` for zoo recipes (see the module docstring)."""

    def __init__(self, oracle, hypermodel, *, directory, project_name="search", executions_per_trial=1,
                 keep_checkpoints=3, hyperband=False, deadline=None, verbose=1, log=print):
        self.keep_checkpoints = keep_checkpoints
        self.hyperband = hyperband
        self.deadline = deadline
        self.verbose = verbose
        self.log = log
        self._started = {}
        self._budget_stopped = False
        super().__init__(oracle, hypermodel, directory=str(directory), project_name=project_name,
                         executions_per_trial=executions_per_trial, overwrite=False)

    # -- the space, declared without building anything

    def _populate_initial_space(self):
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    # -- one trial

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        recipe = self.hypermodel.recipe(hp)  # InfeasibleTrial before anything is built
        trial_dir = Path(self.get_trial_dir(trial.trial_id))
        objective = self.oracle.objective
        epochs = hp.values.get("tuner/epochs", recipe.epochs)
        initial_epoch = hp.values.get("tuner/initial_epoch", 0)
        folders = [trial_dir / f"execution{k}" for k in range(self.executions_per_trial)]
        # One checkpoint for the trial: its best epoch over every execution, this run or before it.
        earlier = [row for folder in folders for row in read_history(folder)]
        checkpoint = BestCheckpoint(objective, self._get_checkpoint_fname(trial.trial_id), _best(earlier, objective))
        results = []
        with self.hypermodel.plan(recipe).scope():  # the trial computes as zoo train would
            for execution, folder in enumerate(folders):
                folder.mkdir(exist_ok=True)
                before = read_history(folder)
                model = self._build_model(hp, seed=recipe.seed + execution)
                if "tuner/trial_id" in hp.values and not before:  # Hyperband: continue that trial
                    model.optimizer.build(model.trainable_variables)  # its moments are in the file too
                    model.load_weights(self._get_checkpoint_fname(hp.values["tuner/trial_id"]))
                deadline = Deadline(self.deadline)
                callbacks = [
                    # The history row is written before the backup: a kill between the two redoes
                    # that epoch, and read_history keeps the later row.
                    keras.callbacks.CSVLogger(str(folder / "history.csv"), append=True),
                    Backup(str(folder / "backup")),
                    kt_private.TunerCallback(self, trial),
                    checkpoint,
                    deadline,
                ]
                self.hypermodel.fit(hp, model, callbacks=callbacks, epochs=epochs, initial_epoch=initial_epoch,
                                    seed=recipe.seed + execution, verbose=2 if self.verbose >= 2 else 0)
                self._budget_stopped = self._budget_stopped or deadline.stopped
                rows = read_history(folder)
                if not rows:
                    raise RuntimeError(f"trial {trial.trial_id} trained no epoch")
                results.append(_history_object(rows))
        return results

    def _build_model(self, hp, seed):
        # Keras Tuner also runs gc.collect() twice here: about 1 s each with TensorFlow loaded,
        # as long as a small trial; Python's own collector frees the old graphs soon enough.
        keras.backend.clear_session(free_memory=False)
        compute.seed(seed)  # after clear_session, which resets Keras' seed state
        model = self._build_hypermodel(hp)
        if not isinstance(model, keras.Model):
            raise keras_tuner.errors.FatalTypeError(f"the hypermodel returned {type(model).__name__}, "
                                                    "not a keras.Model")
        return model

    def _try_run_and_update_trial(self, trial, *args, **kwargs):
        try:
            self._run_and_update_trial(trial, *args, **kwargs)
            trial.status = TrialStatus.COMPLETED
        except InfeasibleTrial as e:
            trial.status = TrialStatus.FAILED
            trial.message = INFEASIBLE + e.reason
        except keras_tuner.errors.FatalError:
            raise
        except Exception as e:
            failed = isinstance(e, keras_tuner.errors.FailedTrialError)
            trial.status = TrialStatus.FAILED if failed else TrialStatus.INVALID
            trial.message = traceback.format_exc()

    # -- bookkeeping around each trial

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._budget_stopped = False
        self._started[trial.trial_id] = time.time()
        append_event(self.get_trial_dir(trial.trial_id),
                     {"event": "begin", "tuner_id": self.tuner_id, "pid": os.getpid(), "time": time.time()})

    def on_trial_end(self, trial):
        trial_dir = Path(self.get_trial_dir(trial.trial_id))
        seconds = time.time() - self._started.pop(trial.trial_id, time.time())
        epochs = max((len(read_history(d)) for d in trial_dir.glob("execution*")), default=0)
        status = "infeasible" if is_infeasible(trial) else str(trial.status).lower()
        append_event(trial_dir, {"event": "end", "status": status, "seconds": round(seconds, 3),
                                 "epochs": epochs, "budget_stopped": self._budget_stopped,
                                 "tuner_id": self.tuner_id, "pid": os.getpid(), "time": time.time()})
        super().on_trial_end(trial)  # the oracle scores the trial, and the state is saved
        if not self.hyperband:  # Hyperband's later rounds start from earlier trials' weights
            self.prune()
        if status != "infeasible":
            status = str(self.oracle.get_trial(trial.trial_id).status).lower()  # after retries, NaN...
        self._log_trial(trial, status, seconds)

    def prune(self):
        if self.keep_checkpoints is None:
            return []
        best = self.oracle.get_best_trials(max(self.keep_checkpoints, 1))
        keep = {t.trial_id for t in best[: self.keep_checkpoints] if t.status == TrialStatus.COMPLETED}
        return prune_checkpoints(self.project_dir, keep)

    def _log_trial(self, trial, status, seconds):
        if not self.verbose:
            return
        name = self.oracle.objective.name
        if status == "infeasible":
            self.log(f"trial {trial.trial_id} infeasible, not built: {trial.message[len(INFEASIBLE):]}")
            return
        if status != "completed":
            lines = [line for line in (trial.message or "").strip().splitlines() if line.strip()]
            self.log(f"trial {trial.trial_id} {status} after {seconds:.1f} s: "
                     f"{lines[-1].strip() if lines else 'no message'}")
            return
        done = self.oracle.get_trial(trial.trial_id)
        best = self.oracle.get_best_trials(1)
        best_text = f"; best {best[0].score:.4f} (trial {best[0].trial_id})" if best and best[0].score is not None else ""
        score = f"{done.score:.4f}" if done.score is not None else "n/a"
        self.log(f"trial {trial.trial_id} completed in {seconds:.1f} s: {name} {score}{best_text}"
                 + (" (stopped by the time budget)" if self._budget_stopped else ""))

    # -- state files, atomically

    def save(self):
        if not kt_private.is_worker(self):
            self.oracle.save()
        write_json(self._get_tuner_fname(), self.get_state(), strict=True)


def _best(rows, objective):
    values = [row[objective.name] for row in rows if objective.name in row and math.isfinite(row[objective.name])]
    if not values:
        return None
    return max(values) if objective.direction == "max" else min(values)
