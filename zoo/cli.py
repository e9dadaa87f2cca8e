"""The ``zoo`` command line: a thin layer over the Python API.

Each command parses its arguments, calls one library function and prints the
result (as text, or as JSON with ``--json``). Adding a command is one
decorated function below; anything that imports Keras is imported inside the
command that needs it, so ``zoo --help`` and ``zoo list`` stay instant.

Errors a user can make (an unknown model, a bad option, a shape the
arithmetic cannot produce: every ``ValueError``, which includes
:class:`cnn_zoo.errors.ZooError` and :class:`layers.arithmetic.ShapeError`) are
printed as one line, ``Error: ...``, on stderr, with exit code 2 and no
traceback (``zoo --traceback ...`` shows it).
"""

from __future__ import annotations

import json
import os
import sys

import click

from cnn_zoo import registry

USAGE_ERROR = 2  # click's exit code for bad usage; every user error gets it


# Raised by click >= 8.2 for a bare `zoo`; its message is the whole help text.
_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _one_line(text) -> str:
    return " ".join(str(text).split())


class _UserError(click.ClickException):
    exit_code = USAGE_ERROR


class ZooGroup(click.Group):
    """A click group whose errors are one line on stderr."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ValueError as error:
            if ctx.params.get("traceback"):
                raise
            raise _UserError(_one_line(error)) from error

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS as error:  # bare `zoo`: click shows the help
            error.show()
            sys.exit(error.exit_code)
        except click.ClickException as error:
            hint = ""
            if isinstance(error, click.UsageError) and error.ctx is not None:
                hint = f" (see '{error.ctx.command_path} --help')"
            click.echo(f"Error: {_one_line(error.format_message())}{hint}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


class Ints(click.ParamType):
    """Integers separated by ',' or 'x' (``32x32x3``, ``32,32,1``), or one of ``words``.

    ``minimum`` bounds every value, ``min_len`` the count; with ``scalar`` one
    integer is returned as an int (the form the arithmetic takes for "all axes").
    """

    name = "ints"

    def __init__(self, example, *, minimum=1, min_len=1, scalar=False, words=()):
        self.example, self.minimum, self.min_len = example, minimum, min_len
        self.scalar, self.words = scalar, tuple(words)

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value  # a default, already converted
        if value.lower() in self.words:
            return value.lower()
        try:
            values = tuple(int(p) for p in value.lower().replace("×", "x").replace("x", ",").split(","))
        except ValueError:
            values = ()
        if len(values) < self.min_len or min(values) < self.minimum:
            self.fail(f"expected {self.example}. Received: {value!r}", param, ctx)
        return values[0] if self.scalar and len(values) == 1 else values


def _emit(data, text, as_json: bool) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else text)


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--traceback", is_flag=True, help="Show the full traceback on errors.")
def main(traceback):
    """cnn-zoo: convolutional networks by name, with their arithmetic shown."""
    # Commands import TensorFlow lazily; keep its C++ INFO/WARNING lines off the terminal.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # TensorFlow leaves oneDNN off on some CPUs; it made LeNet-5 training 2.4x faster here.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


@main.command("list")
@click.argument("pattern", default="*")
@click.option("--pretrained", is_flag=True, help="Only models with published weights.")
@JSON_OPTION
def list_command(pattern, pretrained, as_json):
    """List the models whose names match PATTERN (fnmatch, e.g. 'lenet*')."""
    infos = registry.describe_models(pattern, pretrained=pretrained)
    if not infos and not as_json:
        what = "No published weights" if pretrained else "No models"
        click.echo(f"{what} match {pattern!r}; see 'zoo list'.", err=True)
        return
    width = max((len(i.name) for i in infos), default=0)
    _emit([i.as_dict() for i in infos],
          "\n".join(f"{i.name.ljust(width)}  {i.summary}" for i in infos), as_json)


@main.command("info")
@click.argument("name")
@click.option("--input-shape", metavar="W,H,D", type=Ints("an input volume such as 32,32,1", min_len=2),
              help="Input volume, channels last, e.g. 32,32,1 (default: the model's).")
@JSON_OPTION
def info_command(name, input_shape, as_json):
    """Show the model card of NAME: every layer's shapes, formula, weights and receptive field."""
    registry.get_builder(name)  # an unknown name fails here, before Keras is imported
    from cnn_zoo.card import card_for  # imports Keras

    card = card_for(name, input_shape=input_shape)
    _emit(card.as_dict(), str(card), as_json)


@main.command("explain")
@click.argument("kind", type=click.Choice(["conv", "pool"]))
@click.option("--input", "input_shape", required=True, metavar="W1xH1xD1",
              type=Ints("an input volume such as 32x32x3", min_len=2),
              help="Input volume, channels last, e.g. 32x32x3 (or 100x3 in 1D).")
@click.option("-K", "--filters", type=click.IntRange(min=1), help="K: number of filters (conv only).")
@click.option("-F", "--size", "kernel_size", required=True, metavar="F",
              type=Ints("F such as 5 (or one per axis: 5x3)", scalar=True),
              help="F: window extent, one for all axes or one per axis.")
@click.option("-S", "--stride", metavar="S", type=Ints("S such as 2 (or 2x1)", scalar=True),
              help="S: stride (default 1 for conv, F for pool).")
@click.option("-P", "--padding", default="0", show_default=True, metavar="P",
              type=Ints("P such as 0, 1x2, 'same' or 'valid'", minimum=0, scalar=True,
                        words=("same", "valid")),
              help="P: zeros on each side; one per axis, 'same' or 'valid'.")
@click.option("--rounding", type=click.Choice(["floor", "ceil", "exact"]), default="floor",
              show_default=True, help="What to do when S does not divide W1 − F + 2P.")
@JSON_OPTION
def explain_command(kind, input_shape, filters, kernel_size, stride, padding, rounding, as_json):
    """Explain one conv or pool layer: W2 = (W1 − F + 2P)/S + 1, weights, multiply-adds.

    Also lists the paddings P that make the division whole on each axis.
    Example: zoo explain conv --input 32x32x3 -K 6 -F 5 -S 1 -P 0
    """
    from cnn_zoo.layers.arithmetic import explain_window, valid_paddings

    if (kind == "conv") != (filters is not None):
        raise click.UsageError("-K (the number of filters) is required for conv and not "
                               "taken by pool (a pool keeps the depth)")
    arithmetic = explain_window("conv" if kind == "conv" else "max_pool", input_shape,
                                kernel_size=kernel_size, strides=stride, padding=padding,
                                rounding=rounding, filters=filters, name=kind)
    axes = list(zip(arithmetic.input_shape[:-1], arithmetic.kernel_size, arithmetic.strides,
                    arithmetic.dilation))
    fits = [valid_paddings(w, f, s, dilation=d) for w, f, s, d in axes]
    _emit({"arithmetic": arithmetic.as_dict(), "paddings_that_fit": fits},
          f"{arithmetic}\n{_paddings_text(axes, fits)}", as_json)


def _paddings_text(axes, fits) -> str:
    """'paddings that fit ...: 1 (→ 15), 3 (→ 17)', once if every axis agrees, else per axis."""
    lines = []
    for (w, f, s, d), pads in zip(axes, fits):
        extent = d * (f - 1) + 1
        found = ", ".join(f"{p} (→ {(w - extent + 2 * p) // s + 1})" for p in pads) or "none"
        lines.append(f"W1={w}, F={f}, S={s}: {found}")
    if len(set(lines)) == 1:
        return f"paddings that fit (W2 whole) with {lines[0]}"
    return "\n".join(f"paddings that fit (W2 whole) on axis {i} with {line}"
                      for i, line in enumerate(lines))


@main.command("recipes")
@JSON_OPTION
def recipes_command(as_json):
    """List the shipped recipes with a one-line description."""
    from cnn_zoo.recipe import list_recipes

    rows = list_recipes()
    width = max((len(name) for name, _ in rows), default=0)
    _emit([{"name": n, "description": d} for n, d in rows],
          "\n".join(f"{n.ljust(width)}  {d}" for n, d in rows), as_json)


SET_OPTION = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                          help="Override a recipe value (dotted key, YAML value); repeatable.")


@main.command("train")
@click.argument("recipe", required=False)
@SET_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Run folder (default: runs/RECIPE). Never overwritten: use --resume to continue.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last epoch.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="TFDS data dir.")
@click.option("--distribute", is_flag=True,
              help="Spread each batch over all visible devices (same as --set distribute=true).")
def train_command(recipe, overrides, out_dir, resume, data_dir, distribute):
    """Train RECIPE (a shipped name, see 'zoo recipes', or a YAML file) into a run folder."""
    overrides = (*overrides, "distribute=true") if distribute else overrides
    if recipe is None and not resume:
        raise click.UsageError("give a RECIPE (see 'zoo recipes'), or --resume --out DIR")
    if resume and out_dir is None:
        raise click.UsageError("--resume needs --out DIR, the run folder to continue")
    from cnn_zoo.train import train  # imports Keras

    out_dir = out_dir or os.path.join("runs", os.path.splitext(os.path.basename(recipe))[0])
    result = train(recipe, out_dir, overrides=overrides, resume=resume, data_dir=data_dir)
    if result.status == "interrupted":
        click.echo(result.message, err=True)
        sys.exit(130)
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    click.echo(f"{result.status}: {result.epochs} epochs in {result.run_dir}"
               + (f"; test {metrics}" if metrics else ""))
    if result.message:
        click.echo(result.message, err=True)
    if result.status == "nan":
        sys.exit(1)


@main.command("eval")
@click.argument("run")
@click.option("--data", help="Dataset spec to evaluate on instead of the run's own.")
@click.option("--split", type=click.Choice(["test", "validation", "train"]), default="test",
              show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False), help="TFDS data dir.")
@JSON_OPTION
def eval_command(run, data, split, data_dir, as_json):
    """Print the metrics of a run folder's model (or its model.keras), or of a pretrained TAG."""
    if not os.path.exists(run):
        if "." not in run or os.sep in run:
            raise click.BadParameter(f"{run!r} is neither a run folder nor a pretrained tag "
                                     "such as lenet5.mnist (see 'zoo list --pretrained')")
        from cnn_zoo.hub import evaluate as evaluate_tag  # imports Keras

        metrics = evaluate_tag(run, split=split, data_dir=data_dir)
        _emit(metrics, "  ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}"
                                 for k, v in metrics.items()), as_json)
        return
    from cnn_zoo.train import evaluate  # imports Keras

    metrics = evaluate(run, data=data, split=split, data_dir=data_dir)
    _emit(metrics, "  ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}"
                             for k, v in metrics.items()), as_json)



@main.command("pull")
@click.argument("tag")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def pull_command(tag, quiet):
    """Fetch and verify the weights of a pretrained TAG; print the file's path.

    Looks in the cache ($ZOO_HOME), then saved_models/, then $ZOO_HUB_URL;
    ZOO_OFFLINE=1 never uses the network.
    """
    from cnn_zoo.hub import pull

    click.echo(str(pull(tag, quiet=quiet)))


@main.command("publish")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--tag", required=True, help="arch.name, e.g. lenet5.mnist (arch: the run's model).")
@click.option("--dest", type=click.Path(file_okay=False),
              help="Folder of the manifest and weights (default: the package's saved_models/).")
@click.option("--overwrite", is_flag=True, help="Replace an already published TAG.")
@JSON_OPTION
def publish_command(run_dir, tag, dest, overwrite, as_json):
    """Publish the finished training run RUN_DIR as the pretrained TAG."""
    from cnn_zoo.hub import publish  # imports Keras

    info = publish(run_dir, tag, dest=dest, overwrite=overwrite)
    metric = ", ".join(f"{k} {v:.4f}" for k, v in info.metrics.items() if isinstance(v, float))
    _emit(info.as_dict() | {"tag": info.tag},
          f"published {info.tag}: {info.file} ({info.size} bytes, sha256 {info.sha256[:12]}...); "
          f"{info.metrics['split']} {metric}", as_json)


@main.command("predict")
@click.argument("tag")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("-k", "--top-k", default=5, show_default=True, type=click.IntRange(min=1),
              help="How many classes to show per image.")
@JSON_OPTION
def predict_command(tag, images, top_k, as_json):
    """Top-k classes of each IMAGE (PNG/JPEG, any size or mode) under the pretrained TAG.

    Each image gets the model's own preprocessing. An image that cannot be read
    gets one 'Error:' line on stderr and the others are still predicted; the
    exit code is then 2 (0 when every image was predicted).
    """
    from cnn_zoo.hub import predict  # imports Keras

    results = predict(tag, images, top_k=top_k, on_error="keep")
    good = [r for r in results if r.error is None]
    for r in results:
        if r.error is not None:
            click.echo(f"Error: {_one_line(r.error)}", err=True)
    if as_json:
        _emit([r.as_dict() for r in results], "", True)
    elif good:
        click.echo("\n".join(str(r) for r in good))
    if len(good) < len(results):
        sys.exit(USAGE_ERROR)


@main.command("show")
@click.argument("tag")
@click.argument("image", required=False, type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", default="zoo-show", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the PNG files.")
@click.option("--max-maps", default=64, show_default=True, type=click.IntRange(min=1),
              help="Channels shown per layer.")
def show_command(tag, image, out_dir, max_maps):
    """Draw the first layer's filters of TAG and, with IMAGE, its feature maps layer by layer."""
    from cnn_zoo.hub import show  # imports Keras

    for path in show(tag, image, out_dir, max_maps=max_maps):
        click.echo(str(path))


@main.command("tune")
@click.argument("recipe", required=False)
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
@click.option("--data-dir", type=click.Path(file_okay=False), help="TFDS data dir.")
@click.option("--chief", is_flag=True, help="Serve the oracle to worker processes (Keras Tuner's gRPC).")
@click.option("--workers", type=click.IntRange(min=0), default=0,
              help="Start N local worker processes (implies --chief).")
@click.option("--worker", is_flag=True, help="Run trials for the chief at --oracle; the search is in --out.")
@click.option("--oracle", "oracle_address", metavar="HOST:PORT",
              help="The chief's address (default 127.0.0.1 and a free port; 0.0.0.0 serves other machines).")
@click.option("--tuner-id", default="worker1", show_default=True, help="This worker's name.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the final table.")
def tune_command(recipe, overrides, out_dir, tuner, max_trials, executions_per_trial, time_budget, resume,
                 data_dir, chief, workers, worker, oracle_address, tuner_id, quiet):
    """Search RECIPE's search_space (K/F/S/P, learning rate, ...) with Keras Tuner; print the ranking.

    Shapes that cannot exist are rejected by the arithmetic before anything is
    built. Results: OUT/results.csv, results.json, trials.png, hp_*.png.
    """
    if worker:
        if chief or workers:
            raise click.UsageError("--worker cannot be combined with --chief or --workers")
        if out_dir is None or oracle_address is None:
            raise click.UsageError("--worker needs --out DIR (the chief's search folder) and --oracle HOST:PORT")
        from cnn_zoo.tune import run_worker  # imports Keras

        run_worker(out_dir, oracle_address, tuner_id, data_dir=data_dir, verbose=0 if quiet else 1,
                   log=click.echo)
        return
    from cnn_zoo.tune.search import parse_duration, tune  # imports Keras

    result = tune(recipe, out_dir, overrides=overrides, tuner=tuner, max_trials=max_trials,
                  executions_per_trial=executions_per_trial, resume=resume,
                  time_budget=parse_duration(time_budget) if time_budget else None, data_dir=data_dir,
                  chief=chief, oracle_address=oracle_address, workers=workers,
                  verbose=0 if quiet else 1, log=click.echo)
    click.echo(result.report.table())
    click.echo(f"results: {result.out_dir / 'results.csv'}, results.json, trials.png, hp_*.png")
    if result.message:
        click.echo(result.message, err=True)
    if result.status == "interrupted":
        sys.exit(130)


@main.command("promote")
@click.argument("tune_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--trial", "trial_id", help="Trial to promote (default: the best completed one).")
@SET_OPTION
@click.option("--tag", help="Publish the retrained model as TAG (e.g. convnet.fashion_mnist_tuned).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Run folder for the retraining (default: TUNE_DIR/promoted/trial_ID).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="TFDS data dir.")
@click.option("--dest", type=click.Path(file_okay=False), help="Publish into this folder (default saved_models/).")
@click.option("--overwrite", is_flag=True, help="Replace an already published TAG.")
def promote_command(tune_dir, trial_id, overrides, tag, out_dir, data_dir, dest, overwrite):
    """Retrain a trial of the search in TUNE_DIR with its recipe and publish it as --tag.

    --set applies after the trial's values, e.g. --set epochs=15 --set dataset.max_examples=null
    to retrain on everything a quick search left out.
    """
    from cnn_zoo.tune import promote  # imports Keras

    result = promote(tune_dir, tag=tag, trial_id=trial_id, out_dir=out_dir, overrides=overrides,
                     data_dir=data_dir, dest=dest, overwrite=overwrite)
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    click.echo(f"retrained trial {result.trial_id} in {result.run_dir}" + (f"; test {metrics}" if metrics else ""))
    click.echo("with " + " ".join(f"--set '{o}'" for o in result.overrides))
    if result.published is not None:
        click.echo(f"published {result.published.tag}")
    elif not tag:
        click.echo("not published (no --tag)")


from cnn_zoo.convert.command import convert_command  # noqa: E402 - issue 18 (imports click only)

main.add_command(convert_command)


if __name__ == "__main__":
    main()
