"""The ``zoo`` command line: a thin layer over the Python API.

Each command parses its arguments, calls one library function and prints the
result (as text, or as JSON with ``--json``, schema in docs/cli-json.md). The
commands live by area: ``models`` (list, info, explain, recipes), ``hub``
(pull, publish, predict, show), ``training`` (train, finetune, eval, tune,
promote), ``page`` (one HTML page); ``common`` holds what they share.

Arguments that need no Keras are checked before Keras (and TensorFlow) is
imported, and ``zoo --help``, ``zoo list`` and ``zoo explain`` never import it.
A user error (a :class:`cnn_zoo.errors.ZooError`, a
:class:`cnn_zoo.layers.arithmetic.ShapeError`, or another error class listed in
``common.USER_ERRORS``) is one line, ``Error: ...``, on stderr, with exit code 2
and no traceback (``zoo --traceback ...`` shows it, with the same exit code), and so is a write
that found no room on the disk (with the command that continues a run, where one can);
anything else is a bug and shows its traceback. Library start-up noise (TensorFlow's C++ log lines, absl,
other libraries' warnings) is hidden unless ``--verbose``.
"""

from __future__ import annotations

import os

import click

from cnn_zoo.cli import convert, hub, models, training
from cnn_zoo.cli import export as export_cli  # _cli: the names export, launch and page are the commands'
from cnn_zoo.cli import launch as launch_cli
from cnn_zoo.cli import page as page_cli
from cnn_zoo.cli.group import ZooGroup

__all__ = ["main"]


def _version(ctx, param, value):
    if not value or ctx.resilient_parsing:
        return
    import cnn_zoo  # the CLI imports each module it needs when its command runs: startup time

    click.echo(f"zoo (cnn-zoo) {cnn_zoo.__version__}")
    ctx.exit()


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--traceback", is_flag=True, help="Show the full traceback on errors.")
@click.option("-v", "--verbose", is_flag=True,
              help="Show the libraries' own log lines and warnings (TensorFlow, absl, Keras).")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Print the version and exit.")
def main(traceback, verbose):
    """cnn-zoo: convolutional networks by name, with their arithmetic shown.

    Shell completion (bash): eval "$(_ZOO_COMPLETE=bash_source zoo)"
    """
    # Set before TensorFlow is imported (commands import it lazily); --verbose leaves them be.
    if not verbose and "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        click.get_current_context().meta["zoo.quieted_tf"] = True
    # TensorFlow leaves oneDNN off on some CPUs; it made LeNet-5 training 2.4x faster here.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def _verbose_after_command(ctx, param, value):
    """`zoo info lenet5 --verbose` means the same as `zoo --verbose info lenet5`."""
    if value:
        ctx.find_root().params["verbose"] = True
        if ctx.meta.pop("zoo.quieted_tf", False):
            del os.environ["TF_CPP_MIN_LOG_LEVEL"]


for _command in (*models.COMMANDS, *hub.COMMANDS, *training.COMMANDS, *convert.COMMANDS,
                 *export_cli.COMMANDS, *launch_cli.COMMANDS, *page_cli.COMMANDS):
    _command.params.append(click.Option(["-v", "--verbose"], is_flag=True, expose_value=False,
                                        callback=_verbose_after_command,
                                        help="Show the libraries' own log lines and warnings."))
    main.add_command(_command)
