"""``zoo launch``: several local workers of one training run, on loopback."""

from __future__ import annotations

import sys

import click

from cnn_zoo.cli.group import SET_OPTION, emit


@click.command("launch")
@click.option("--workers", type=click.IntRange(min=1), required=True, help="How many local workers.")
@click.argument("recipe", required=False)
@SET_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Run folder, written by worker 0 (default: runs/RECIPE).")
@click.option("--resume", is_flag=True, help="Continue the run in --out on every worker.")
@click.option("--backend", type=click.Choice(["tensorflow", "jax"]),
              help="Keras backend of the workers (default: KERAS_BACKEND, else tensorflow).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def launch_command(workers, recipe, overrides, out_dir, resume, backend, as_json):
    """Train RECIPE on WORKERS local processes (127.0.0.1), as 'zoo train' would on that many hosts.

    Each worker gets the standard environment (TF_CONFIG; KERAS_DISTRIBUTION_* for JAX);
    see README "Many machines".
    """
    if recipe is None and not resume:
        raise click.UsageError("give a RECIPE, or --resume --out DIR")
    from cnn_zoo.local_cluster import launch  # startup time: the command's modules load when it runs

    result = launch(workers, recipe, out_dir, overrides=overrides, resume=resume, backend=backend)
    lines = [f"worker {i}: exit {code}" + (f"\n  {log.splitlines()[-1]}" if code and log else "")
             for i, (code, log) in enumerate(zip(result.returncodes, result.logs))]
    emit({"workers": workers, "returncodes": result.returncodes, "out_dir": result.out_dir,
          "ok": result.ok}, "\n".join(lines), as_json)
    if not result.ok:
        sys.exit(2 if 2 in result.returncodes else 1)  # 2: a worker's one-line user error


COMMANDS = (launch_command,)
