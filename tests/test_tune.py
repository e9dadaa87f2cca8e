"""Searches on tiny data (300 embedded MNIST digits, 1 epoch, 4-8 filters): infeasible
shapes never trained nor counted as failures, the four tuners, the report files, resume
after a killed process, chief and workers over gRPC on loopback, promote, the CLI."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from cnn_zoo.cli import main
from cnn_zoo.tune import TuneError, load_report, promote, tune

TINY = """\
version: 1
description: a tiny convnet search for the tests
dataset: {source: embedded:mnist5k, validation_fraction: 0.2, max_examples: 300}
preprocessing: [{rescale: 0.00392156862745098}]
model:
  name: convnet
  kwargs: {spec: "[(CONV-RELU)*1-POOL]*2-(FC-RELU)*1-SOFTMAX", filters: [4, 8], kernel_size: 3,
           padding: 1, fc_units: [16]}
optimizer: {name: adam, learning_rate: 0.003}
epochs: 1
batch_size: 64
seed: 0
jit_compile: false
"""
# 28x28 through conv(F, S, P) -> 2x2/2 pool -> conv -> pool, exact: 6 of these 48 exist.
SPARSE = """\
search_space:
  model.kwargs.kernel_size: {choice: [2, 3, 4, 5]}
  model.kwargs.strides: {choice: [1, 2, 3]}
  model.kwargs.padding: {choice: [0, 1, 2, 3]}
"""


@pytest.fixture
def write(tmp_path):
    def write(space=SPARSE, extra="", name="tiny"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(TINY + extra + space)
        return path
    return write


def quiet(*args, **kwargs):
    return tune(*args, verbose=0, **kwargs)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One random search of the sparse space, shared by the tests that read its results:
    3 trials, one real failure in a row would stop it, only the best weights kept."""
    root = tmp_path_factory.mktemp("searched")
    path = root / "tiny.yaml"
    path.write_text(TINY + "tuning: {max_consecutive_failed_trials: 1, keep_checkpoints: 1}\n" + SPARSE
                    + "  optimizer.learning_rate: {float: {min: 0.001, max: 0.01, sampling: log}}\n")
    return quiet(path, root / "out", max_trials=3)


def trial_dirs(out):
    return sorted((out / "search").glob("trial_*"), key=lambda p: int(p.name.split("_")[1]))


def events(trial_dir):
    return [json.loads(line) for line in (trial_dir / "events.jsonl").read_text().splitlines()]


# -- infeasible shapes --------------------------------------------------------


def test_a_mostly_infeasible_space_completes_every_trial(searched):
    out, report = searched.out_dir, searched.report
    assert searched.status == "finished"
    assert report.counts["completed"] == 3 and report.counts["failed"] == 0
    assert [d.name for d in trial_dirs(out)] == ["trial_0", "trial_1", "trial_2"]
    space = report.meta["feasibility"]
    assert space["feasible"] == 6 and space["combinations"] == 48
    # The oracle drew infeasible combinations and rejected each with its reason, unbuilt.
    rejected = report.rejected
    assert rejected["draws"] >= rejected["distinct"] >= len(rejected["examples"]) >= 1
    for entry in rejected["examples"]:  # the arithmetic's own words: layer, formula, what fits
        assert re.match(r"stage[12]_(conv1|pool): \(\d+ − \d+ \+ 2·\d+\)/\d+ \+ 1 = ", entry["reason"])
        assert not _feasible(out, entry["values"])[0]
    for row in report.rows:
        assert row.status == "completed" and row.epochs == 1 and row.runs == 1
        assert row.score is not None and 0 <= row.score <= 1
        assert _feasible(out, row.values) == (True, None)


def test_an_infeasible_trial_is_recorded_not_built_and_not_a_failure(write, tmp_path):
    # Grid search's first trial is the recipe's own values; P=0 makes them infeasible
    # (28 -> 26 -> 13 -> 11 -> 5.5 at stage2_pool).
    out = tmp_path / "out"
    path = write(space="search_space:\n  model.kwargs.padding: {choice: [0, 1, 2]}\n"
                       "  model.kwargs.kernel_size: {choice: [3, 5]}\n",
                 extra="tuning: {max_consecutive_failed_trials: 1}\n")
    result = quiet(path, out, tuner="grid", max_trials=3, overrides=["model.kwargs.padding=0"])
    report = result.report
    first = report.trial("0")
    assert first.status == "infeasible" and first.epochs == 0 and first.score is None
    assert first.note.startswith("stage2_pool: (11 − 2 + 2·0)/2 + 1 = 5.5 is not a whole number")
    assert not (out / "search" / "trial_0" / "execution0" / "history.csv").exists()  # never trained
    assert report.counts == {"trials": 3, "completed": 2, "infeasible": 1, "failed": 0, "running": 0,
                             "rejected_draws": report.rejected["draws"]}
    # The grid stepped over the other infeasible points instead of training them.
    assert all(r.values["model.kwargs.padding"] != 0 or r.values["model.kwargs.kernel_size"] == 5
               for r in report.rows if r.status == "completed")


def test_models_over_the_multiply_add_budget_are_never_trained(write, tmp_path):
    # [4, 8]: 28·28·9·4 + 14·14·9·4·8 + 7·7·8·16 = 90,944 multiply-adds; [32, 64]: 3,888,640.
    space = ("search_space:\n  model.kwargs.filters: {choice: [[4, 8], [32, 64]]}\n"
             "  model.kwargs.stage_dropout: {choice: [0.0, 0.25]}\n"
             "  preprocessing: {choice: [[{rescale: 0.00392156862745098}],\n"
             "                           [{rescale: 0.00392156862745098}, {random_shift: 1}]]}\n")
    path = write(space=space, extra="tuning: {max_multiply_adds: 100000}\n")
    report = quiet(path, tmp_path / "out", max_trials=3).report
    assert report.counts["completed"] == 3 and report.counts["failed"] == 0
    assert all(r.values["model.kwargs.filters"] == [4, 8] for r in report.rows)
    assert report.meta["feasibility"]["infeasible_by_layer"] == {"budget": 1}
    for entry in report.rejected["examples"]:
        assert entry["reason"].startswith("budget: 3,888,640 multiply-adds per image")
    # The searched preprocessing reached the trials: each is one of the two lists.
    assert {len(r.values["preprocessing"]) for r in report.rows} <= {1, 2}


def test_real_failures_still_stop_the_search_with_a_clear_message(write, tmp_path):
    out = tmp_path / "out"
    path = write(space="search_space:\n  model.kwargs.dropout: {choice: [1.5, 2.0]}\n",
                 extra="tuning: {max_consecutive_failed_trials: 2}\n")
    with pytest.raises(TuneError, match=r"2 trials in a row failed .*max_consecutive_failed_trials=2.*--resume"):
        quiet(path, out, max_trials=4)
    report = load_report(out)
    assert report.counts["failed"] == 2 and report.counts["infeasible"] == 0
    assert "dropout" in report.rows[0].note.lower() or "rate" in report.rows[0].note.lower()


# -- tuners, report, promote ----------------------------------------------------


@pytest.mark.parametrize("kind", ["bayesian", "hyperband"])
def test_bayesian_and_hyperband_search_the_feasible_space(write, tmp_path, kind):
    out = tmp_path / "out"
    result = quiet(write(extra="epochs: 2\n" if kind == "hyperband" else ""), out, tuner=kind, max_trials=2)
    report = result.report
    assert report.counts["completed"] == report.counts["trials"] >= 2
    for row in report.rows:
        ok, _ = _feasible(out, row.values)
        assert ok
    if kind == "hyperband":  # rounds continue earlier trials; at most keep_checkpoints weights remain
        assert sum((d / "checkpoint.weights.h5").is_file() for d in trial_dirs(out)) <= 3


def _random_draws(tmp_path, initial_points, trials=4):
    """Trials a Bayesian oracle drew at random, over a 2-hyperparameter space."""
    import keras_tuner
    from cnn_zoo.tune.oracles import make_oracle

    oracle = make_oracle("bayesian", objective="val_accuracy", direction="max", max_trials=trials, seed=0,
                         check=lambda values: (True, None), max_epochs=1, factor=3,
                         max_consecutive_failed_trials=3, initial_points=initial_points)
    oracle._set_project_dir(str(tmp_path / f"ip{initial_points}"), "p")
    hp = keras_tuner.HyperParameters()
    hp.Float("lr", 1e-4, 1e-2, sampling="log")
    hp.Choice("k", [3, 5])
    oracle.update_space(hp)
    draws, random_populate = [], oracle._random_populate_space
    oracle._random_populate_space = lambda: draws.append(1) or random_populate()
    for i in range(trials):
        trial = oracle.create_trial("tuner0")
        oracle.update_trial(trial.trial_id, {"val_accuracy": 0.1 * i})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return len(draws)


def test_bayesian_initial_points_hand_over_to_the_gaussian_process(tmp_path, recwarn):
    # tuning.initial_points: 2 random trials, then the GP proposes; Keras Tuner's default
    # (3 per hyperparameter, 6 here) would still be drawing at random after 4 trials.
    assert _random_draws(tmp_path, 2) == 2
    assert _random_draws(tmp_path, None) == 4
    # A GP fit to 2-3 points warns about its length scales; the oracle keeps that quiet.
    assert not [w for w in recwarn if "sklearn" in w.filename]


def _feasible(out, values):
    from cnn_zoo.recipe import load_recipe
    from cnn_zoo.tune import SearchSpace

    return SearchSpace(load_recipe(out / "config.yaml"), (28, 28, 1)).check(values)


def test_report_files(searched):
    out, report = searched.out_dir, searched.report
    for name in ("trials.png", "hp_model_kwargs_kernel_size.png", "hp_optimizer_learning_rate.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    lines = (out / "results.csv").read_text().splitlines()
    assert lines[0].split(",") == ["rank", "trial", "status", "val_accuracy", "seconds", "epochs_run", "best_epoch",
                                   *report.keys, "note"]
    assert len(lines) == 1 + 3
    data = json.loads((out / "results.json").read_text())
    assert data["counts"]["completed"] == 3 and data["best"]["trial_id"] == report.best().trial_id
    assert data["rejected"]["draws"] == report.rejected["draws"]
    scores = [r.score for r in report.rows]
    assert scores == sorted(scores, reverse=True) and [r.rank for r in report.rows] == [1, 2, 3]
    table = report.table().splitlines()
    assert table[0].startswith("3 trials: 3 completed, 0 infeasible, 0 failed")
    assert table[2].split() == ["rank", "trial", "val_accuracy", "time", "epochs_run", "kernel_size", "strides",
                                "padding", "learning_rate"]
    assert table[3].split()[:3] == ["1", report.best().trial_id, f"{report.best().score:.4f}"]
    # Only the best trial's weights stay on disk (keep_checkpoints: 1).
    kept = [d.name for d in trial_dirs(out) if (d / "checkpoint.weights.h5").is_file()]
    assert kept == [f"trial_{report.best().trial_id}"]


def test_searched_epochs_set_each_trials_training_and_its_own_column(write, tmp_path):
    out = tmp_path / "out"
    space = "search_space:\n  epochs: {choice: [1, 2]}\n"
    report = quiet(write(space=space), out, tuner="grid", max_trials=2).report
    assert sorted((r.values["epochs"], r.epochs) for r in report.rows) == [(1, 1), (2, 2)]
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert header[5] == "epochs_run" and header.count("epochs") == 1
    assert report.table().splitlines()[2].split()[4:] == ["epochs_run", "epochs"]


def test_promote_retrains_the_best_trial_and_publishes_it(searched, tmp_path):
    out, report = searched.out_dir, searched.report
    dest = tmp_path / "saved_models"
    promoted = promote(out, tag="convnet.tiny_tuned", dest=dest, out_dir=tmp_path / "run", verbose=0)
    best = report.best()
    assert promoted.trial_id == best.trial_id
    tuning = json.loads((promoted.run_dir / "tuning.json").read_text())
    assert tuning["trial_id"] == best.trial_id and tuning["search_space"] == report.meta["search_space"]
    # The retraining is the trial's configuration, seed and data: the same validation score.
    history = json.loads((promoted.run_dir / "history.json").read_text())
    assert max(row["val_accuracy"] for row in history) == pytest.approx(best.score, abs=1e-4)
    entry = json.loads((dest / "manifest.json").read_text())["tags"]["convnet.tiny_tuned"]
    description = entry["recipe"]["config"]["description"]
    assert f"trial {best.trial_id} of the " in description and f" search in '{out.name}'" in description
    assert entry["recipe"]["config"]["search_space"]["model.kwargs.kernel_size"] == {"choice": [2, 3, 4, 5]}
    assert entry["kwargs"]["kernel_size"] == best.values["model.kwargs.kernel_size"]
    # The entry names the search and its trial, not this machine's path to the search.
    assert entry["tuning"]["trial_id"] == best.trial_id and entry["tuning"]["tune_dir"] == out.name


def test_time_budget_stops_the_search_and_resume_continues_it(write, tmp_path):
    out = tmp_path / "out"
    result = quiet(write(), out, max_trials=3, time_budget=0.001)
    assert result.status == "budget" and result.report.counts["trials"] == 0
    assert "--resume" in result.message
    again = quiet(None, out, resume=True, max_trials=1)
    assert again.status == "finished" and again.report.counts["completed"] == 1


def test_a_trial_interrupted_mid_way_continues_from_its_last_epoch(write, tmp_path, monkeypatch):
    from cnn_zoo.tune.tuner import Deadline

    out = tmp_path / "out"
    interrupted = []
    original = Deadline.on_epoch_end

    def interrupt_once(self, epoch, logs=None):  # Ctrl-C after epoch 2 (its backup is written)
        original(self, epoch, logs)
        if epoch == 1 and not interrupted:
            interrupted.append(epoch)
            raise KeyboardInterrupt

    monkeypatch.setattr(Deadline, "on_epoch_end", interrupt_once)
    result = quiet(write(extra="epochs: 3\n"), out, max_trials=1)
    assert result.status == "interrupted" and "--resume" in result.message
    assert result.report.rows[0].status == "running"
    again = quiet(None, out, resume=True)
    row = again.report.rows[0]
    assert again.status == "finished" and row.status == "completed" and row.runs == 2
    # One row per epoch: the second run trained epoch 3 only, from the backup of epoch 2.
    lines = (out / "search" / "trial_0" / "execution0" / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["epoch", "0", "1", "2"]
    assert not (out / "search" / "trial_0" / "execution0" / "backup").exists()


# -- resume after a killed process ------------------------------------------------


@pytest.mark.slow
def test_resume_after_a_killed_process_keeps_finished_trials_and_continues_numbering(write, tmp_path):
    out = tmp_path / "out"
    path = write(extra="epochs: 3\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "cnn_zoo.cli", "tune", str(path), "--out", str(out),
                             "--max-trials", "4", "-q"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            ended = [d for d in trial_dirs(out) if (d / "events.jsonl").exists()
                     and events(d)[-1]["event"] == "end"]
            if len(ended) >= 2:
                break
            assert proc.poll() is None, "the search ended before it could be killed"
            time.sleep(0.2)
        else:
            pytest.fail("no 2 trials ended in time")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finished = {d.name: (d / "trial.json").read_text() for d in ended}
    result = quiet(None, out, resume=True)
    report = result.report
    assert report.counts == {"trials": 4, "completed": 4, "infeasible": 0, "failed": 0, "running": 0,
                             "rejected_draws": report.rejected["draws"]}
    assert [d.name for d in trial_dirs(out)] == ["trial_0", "trial_1", "trial_2", "trial_3"]
    for d in trial_dirs(out):
        begins = [e for e in events(d) if e["event"] == "begin"]
        if d.name in finished:  # not redone
            assert len(begins) == 1 and (d / "trial.json").read_text() == finished[d.name]
        else:  # the interrupted trial ran again (from its last epoch), the rest once
            assert 1 <= len(begins) <= 2
        assert events(d)[-1]["event"] == "end" and events(d)[-1]["epochs"] == 3


# -- chief and workers --------------------------------------------------------------


@pytest.mark.slow
def test_a_chief_and_two_workers_on_loopback_run_every_trial_exactly_once(write, tmp_path):
    out = tmp_path / "out"
    result = quiet(write(), out, max_trials=4, workers=2)
    report = result.report
    assert report.counts["completed"] == 4 == report.counts["trials"]
    workers = set()
    for d in trial_dirs(out):
        lines = events(d)
        assert [e["event"] for e in lines] == ["begin", "end"]  # exactly once
        assert lines[0]["tuner_id"] == lines[1]["tuner_id"] and lines[0]["pid"] != os.getpid()
        workers.add(lines[0]["tuner_id"])
    assert workers <= {"worker1", "worker2"}
    assert {p.name for p in (out / "workers").glob("*.log")} == {"worker1.log", "worker2.log"}
    meta = json.loads((out / "tune.json").read_text())
    assert meta["sessions"][-1]["role"] == "chief" and meta["sessions"][-1]["status"] == "finished"


def test_the_oracle_binds_to_loopback_by_default_and_checks_its_address():
    from cnn_zoo.tune.distributed import parse_address

    assert parse_address(None) == ("127.0.0.1", 0)
    assert parse_address("0.0.0.0:8000") == ("0.0.0.0", 8000)
    assert parse_address(":9000") == ("127.0.0.1", 9000)
    with pytest.raises(TuneError, match="HOST:PORT"):
        parse_address("localhost:http")


# -- the command line -------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_tune_prints_the_ranked_table(write, tmp_path):
    out = tmp_path / "out"
    result = run("tune", write(), "--out", out, "--max-trials", 1, "--executions-per-trial", 2, "-q")
    assert result.exit_code == 0, result.output
    assert "1 trials: 1 completed, 0 infeasible, 0 failed" in result.stdout
    assert "rank  trial  val_accuracy  time" in result.stdout
    assert f"results: {out / 'results.csv'}" in result.stdout
    # Two models trained; the trial's score is the mean of their best epochs.
    from cnn_zoo.run import read_history

    best = [max(row["val_accuracy"] for row in read_history(out / "search" / "trial_0" / f"execution{k}"))
            for k in (0, 1)]
    assert load_report(out).rows[0].score == pytest.approx(sum(best) / 2)
    again = run("tune", write(), "--out", out, "-q")
    assert again.exit_code == 2 and "pass --resume to continue" in again.stderr


@pytest.mark.parametrize("args, fragment", [
    (["--set", "search_space.model.kwargs.kernel_size={choise: [3]}"],
     "search_space: model.kwargs.kernel_size has unknown kind 'choise'; did you mean choice?"),
    (["--set", "search_space.model.kwargs.strides={choice: [2]}",
      "--set", "search_space.model.kwargs.padding={choice: [1]}"],
     "no combination of the search space gives shapes that exist"),
    (["--tuner", "hyperband", "--set", "search_space.epochs={int: {min: 1, max: 2}}"],
     "search_space: epochs cannot be searched with the hyperband tuner"),
    (["--resume"], "holds no search to resume"),
    (["--set", "tuning.objective=val_auc", "--set", "dataset.validation_fraction=0"],
     "needs a validation split"),
])
def test_cli_tune_errors_are_one_line(write, tmp_path, args, fragment):
    result = run("tune", write(), "--out", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and fragment in lines[0], result.stderr
    assert not (tmp_path / "out").exists()  # nothing left that would block the corrected command


def test_cli_promote_of_an_unknown_trial_is_one_line(searched):
    result = run("promote", searched.out_dir, "--trial", "7")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: the search in {searched.out_dir} has no trial '7'; its trials: " \
        + ", ".join(sorted(r.trial_id for r in searched.report.rows))
