"""Commands that train or measure: train, finetune, eval, tune, promote."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cnn_zoo.cli import complete
from cnn_zoo.cli.group import (DATA_DIR_OPTION, JSON_OPTION, SET_OPTION, check_data_spec,
                               continue_with, emit, import_keras, metrics_text)
from cnn_zoo.cli.hub import check_model


def _progress(as_json: bool):
    """(verbose, callbacks) for fit: nothing on stdout under --json, else the honest progress bar."""
    if as_json:
        return 0, []
    from cnn_zoo.progress import TrainingProgress  # Keras: only where a progress bar is shown

    return "auto", [TrainingProgress()]


def _finish_run(result, arch: str, as_json: bool) -> None:
    """The run's outcome, where its TensorBoard logs are, and the commands to try next."""
    run_dir = Path(result.run_dir)
    logs = run_dir / "logs"
    next_commands = [f"zoo eval {run_dir}", f"zoo predict {run_dir} IMAGE...",
                     f"zoo publish {run_dir} --tag {arch}.NAME"] if result.metrics else \
        [f"zoo train --resume --out {run_dir}"]
    if as_json:
        emit({"status": result.status, "run_dir": str(run_dir), "epochs": result.epochs,
              "metrics": result.metrics, "images_per_second": result.images_per_second,
              "message": result.message, "tensorboard": str(logs) if logs.is_dir() else None,
              "next": next_commands}, "", True)
    else:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
        click.echo(f"{result.status}: {result.epochs} epochs in {run_dir}" + (f"; test {metrics}" if metrics else ""))
        if logs.is_dir():
            click.echo(f"TensorBoard logs: {logs}  (tensorboard --logdir {logs})")
        click.echo("next: " + "\n      ".join(next_commands))
    if result.message:
        click.echo(result.message, err=True)
    if result.status == "interrupted":
        sys.exit(130)
    if result.status == "nan":
        sys.exit(1)


@click.command("train")
@click.argument("recipe", required=False, shell_complete=complete.recipe_names)
@SET_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Run folder (default: runs/RECIPE). Never overwritten: use --resume to continue.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last epoch.")
@DATA_DIR_OPTION
@click.option("--distribute", is_flag=True,
              help="Spread each batch over all visible devices (same as --set distribute=true).")
@JSON_OPTION
def train_command(recipe, overrides, out_dir, resume, data_dir, distribute, as_json):
    """Train RECIPE (a shipped name, see 'zoo recipes', or a YAML file) into a run folder.

    To start from published weights use 'zoo finetune TAG --data SPEC'.
    """
    # No Keras: a bad recipe, --set or run folder answers at once.
    from cnn_zoo import cluster
    from cnn_zoo import run as runs
    from cnn_zoo.recipe import load_recipe
    from cnn_zoo.registry import check_model_arguments
    from cnn_zoo.run_state import resumed_recipe

    overrides = (*overrides, "distribute=true") if distribute else overrides
    if recipe is None and not resume:
        raise click.UsageError("give a RECIPE (see 'zoo recipes'), or --resume --out DIR")
    if resume and out_dir is None:
        raise click.UsageError("--resume needs --out DIR, the run folder to continue")
    if resume:
        if not (Path(out_dir) / "config.yaml").is_file():
            raise click.BadParameter(f"{out_dir} is not a run folder (no config.yaml)", param_hint="'--out'")
        runs.prepare_folder(out_dir, True)
        loaded = resumed_recipe(out_dir, recipe, overrides)[1]  # RECIPE, if given, must be the run's
    else:
        loaded = load_recipe(recipe, overrides=overrides)
        out_dir = out_dir or os.path.join("runs", os.path.splitext(os.path.basename(recipe))[0])
        if not cluster.configured():  # in a cluster, worker 0 may have started the folder already
            runs.prepare_folder(out_dir, False)
    check_model_arguments(loaded.model.name, loaded.model.kwargs)  # names the model, too
    check_data_spec(loaded.dataset.source)
    continue_with(out_dir, f"zoo train --resume --out {out_dir}")
    import_keras()
    from cnn_zoo.train import train

    verbose, callbacks = _progress(as_json)
    result = train(recipe if resume else loaded, out_dir, overrides=overrides if resume else (),
                   resume=resume, data_dir=data_dir, verbose=verbose, callbacks=callbacks)
    _finish_run(result, loaded.model.name, as_json)


@click.command("finetune")
@click.argument("tag", shell_complete=complete.tag_names)
@click.option("--data", required=True, metavar="SPEC",
              help="Your dataset: folder:DIR (one sub-folder per class), idx:DIR, npz:FILE or tfds:NAME.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder. Never overwritten: use --resume to continue.")
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs (default: the tag's recipe's).")
@SET_OPTION
@click.option("--resume", is_flag=True, help="Continue the fine-tuning run in --out.")
@DATA_DIR_OPTION
@JSON_OPTION
def finetune_command(tag, data, out_dir, epochs, overrides, resume, data_dir, as_json):
    """Fine-tune the pretrained TAG on your own data, with its own classes (the head is rebuilt
    when their number differs). The tag's recipe trains, from its weights, on --data.

    Example: zoo finetune lenet5.mnist --data folder:~/digits --out runs/digits --epochs 5
    """
    from cnn_zoo.hub import info  # startup time: each command imports what it runs

    check_data_spec(data)
    found = info(tag)  # an unknown tag answers before Keras loads
    continue_with(out_dir, f"zoo finetune {tag} --data {data} --out {out_dir} --resume")
    if not resume:
        from cnn_zoo.hub.finetuning import finetune_recipe

        finetune_recipe(tag, data, epochs=epochs, overrides=overrides)  # checks the --set values
    import_keras()
    from cnn_zoo.hub.finetuning import finetune

    verbose, callbacks = _progress(as_json)
    result = finetune(tag, data, out_dir, epochs=epochs, overrides=overrides, resume=resume,
                      data_dir=data_dir, verbose=verbose, callbacks=callbacks)
    _finish_run(result, found.arch, as_json)


@click.command("eval")
@click.argument("model", metavar="TAG|RUN", shell_complete=complete.tag_or_run)
@click.option("--data", metavar="SPEC",
              help="Evaluate on this dataset (e.g. idx:DIR, folder:DIR) instead of the model's own.")
@click.option("--split", type=click.Choice(["test", "validation", "train"]),
              help="Split (default: the one the tag's metric was measured on; a run's test split).")
@DATA_DIR_OPTION
@JSON_OPTION
def eval_command(model, data, split, data_dir, as_json):
    """Print the metrics of a pretrained TAG or a run folder RUN (or its model.keras).

    With --data the images are read at the model's input size and colour, and
    their class names are matched to the model's (by name where they can be;
    a warning says how when they differ).
    """
    check_model(model)
    check_data_spec(data)
    import_keras()
    from cnn_zoo.hub import evaluate  # idem, after the arguments are checked

    metrics = evaluate(model, split=split, data=data, data_dir=data_dir)
    emit(metrics, metrics_text(metrics), as_json)


@click.command("tune")
@click.argument("recipe", required=False, shell_complete=complete.recipe_names)
@SET_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Search folder (default: runs/tune-RECIPE). Never overwritten: use --resume to continue.")
@click.option("--tuner", type=click.Choice(["random", "grid", "bayesian", "hyperband"]),
              help="Search strategy (default: the recipe's tuning.tuner).")
@click.option("--max-trials", type=click.IntRange(min=1),
              help="Trials that train (infeasible shapes are rejected without counting).")
@click.option("--executions-per-trial", type=click.IntRange(min=1), help="Models trained per trial.")
@click.option("--time-budget", metavar="DURATION",
              help="Wall-clock budget, e.g. 30m or 1h: no trial starts after it, a running one stops.")
@click.option("--resume", is_flag=True, help="Continue the search in --out; finished trials are kept.")
@DATA_DIR_OPTION
@click.option("--chief", is_flag=True, help="Serve the oracle to worker processes (Keras Tuner's gRPC).")
@click.option("--workers", type=click.IntRange(min=0), default=0,
              help="Start N local worker processes (implies --chief).")
@click.option("--worker", is_flag=True, help="Run trials for the chief at --oracle; the search is in --out.")
@click.option("--oracle", "oracle_address", metavar="HOST:PORT",
              help="The chief's address (default 127.0.0.1 and a free port; 0.0.0.0 serves other machines).")
@click.option("--tuner-id", default="worker1", show_default=True, help="This worker's name.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the final table.")
@JSON_OPTION
def tune_command(recipe, overrides, out_dir, tuner, max_trials, executions_per_trial, time_budget, resume,
                 data_dir, chief, workers, worker, oracle_address, tuner_id, quiet, as_json):
    """Search RECIPE's search_space (K/F/S/P, learning rate, ...) with Keras Tuner; print the ranking.

    Shapes that cannot exist are rejected by the arithmetic before anything is
    built. Results: OUT/results.csv, results.json, trials.png, hp_*.png.
    """
    # Under --json, stdout holds only the JSON: the search's own lines go to stderr.
    log = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    verbose = 0 if quiet or as_json else 1
    if worker:
        if chief or workers:
            raise click.UsageError("--worker cannot be combined with --chief or --workers")
        if out_dir is None or oracle_address is None:
            raise click.UsageError("--worker needs --out DIR (the chief's search folder) and --oracle HOST:PORT")
        from cnn_zoo.tune.search import check_worker  # no Keras: the worker's arguments first

        check_worker(out_dir, oracle_address, tuner_id)  # before Keras loads
        import_keras()
        from cnn_zoo.tune import run_worker  # idem

        run_worker(out_dir, oracle_address, tuner_id, data_dir=data_dir, verbose=verbose, log=log)
        return
    from cnn_zoo.tune.search import check

    # The folder, the recipe, --set, the search space's entries and the options, before Keras loads.
    check(recipe, out_dir, overrides=overrides, tuner=tuner, max_trials=max_trials,
          executions_per_trial=executions_per_trial, resume=resume, time_budget=time_budget,
          oracle_address=oracle_address)
    import_keras()
    from cnn_zoo.tune.search import parse_duration, tune

    result = tune(recipe, out_dir, overrides=overrides, tuner=tuner, max_trials=max_trials,
                  executions_per_trial=executions_per_trial, resume=resume,
                  time_budget=parse_duration(time_budget) if time_budget else None, data_dir=data_dir,
                  chief=chief, oracle_address=oracle_address, workers=workers, verbose=verbose, log=log)
    if as_json:
        emit({"status": result.status, "out_dir": str(result.out_dir), "message": result.message,
              "report": result.report.as_dict()}, "", True)
    else:
        click.echo(result.report.table())
        click.echo(f"results: {result.out_dir / 'results.csv'}, results.json, trials.png, hp_*.png")
    if result.message:
        click.echo(result.message, err=True)
    if result.status == "interrupted":
        sys.exit(130)


@click.command("promote")
@click.argument("tune_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--trial", "trial_id", help="Trial to promote (default: the best completed one).")
@SET_OPTION
@click.option("--tag", help="Publish the retrained model as TAG (e.g. convnet.fashion_mnist_tuned).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Run folder for the retraining (default: TUNE_DIR/promoted/trial_ID).")
@DATA_DIR_OPTION
@click.option("--dest", type=click.Path(file_okay=False),
              help="Publish into this folder (default $ZOO_HOME/weights).")
@click.option("--overwrite", is_flag=True, help="Replace an already published TAG.")
@JSON_OPTION
def promote_command(tune_dir, trial_id, overrides, tag, out_dir, data_dir, dest, overwrite, as_json):
    """Retrain a trial of the search in TUNE_DIR with its recipe and publish it as --tag.

    --set applies after the trial's values, e.g. --set epochs=15 --set dataset.max_examples=null
    to retrain on everything a quick search left out.
    """
    from cnn_zoo.tune.promotion import check_promote  # idem

    check_promote(tune_dir, tag=tag, trial_id=trial_id, out_dir=out_dir, overrides=overrides, dest=dest,
                  overwrite=overwrite)  # before Keras loads
    import_keras()
    from cnn_zoo.tune import promote

    result = promote(tune_dir, tag=tag, trial_id=trial_id, out_dir=out_dir, overrides=overrides,
                     data_dir=data_dir, dest=dest, overwrite=overwrite, verbose=0 if as_json else "auto")
    if as_json:
        emit({"trial_id": result.trial_id, "run_dir": str(result.run_dir), "metrics": result.metrics,
              "overrides": list(result.overrides),
              "published": result.published.tag if result.published is not None else None}, "", True)
        return
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    click.echo(f"retrained trial {result.trial_id} in {result.run_dir}" + (f"; test {metrics}" if metrics else ""))
    click.echo("with " + " ".join(f"--set '{o}'" for o in result.overrides))
    if result.published is not None:
        click.echo(f"published {result.published.tag}")
    elif not tag:
        click.echo("not published (no --tag)")


COMMANDS = [train_command, finetune_command, eval_command, tune_command, promote_command]
