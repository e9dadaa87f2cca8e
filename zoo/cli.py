"""The ``zoo`` command line: a thin layer over the Python API.

Each command parses its arguments, calls one library function and prints the
result (as text, or as JSON with ``--json``). Adding a command is one
decorated function below; anything that imports Keras is imported inside the
command that needs it, so ``zoo --help`` and ``zoo list`` stay instant.

Errors a user can make (an unknown model, a bad option, a shape the
arithmetic cannot produce: every ``ValueError``, which includes
:class:`zoo.errors.ZooError` and :class:`layers.arithmetic.ShapeError`) are
printed as one line, ``Error: ...``, on stderr, with exit code 2 and no
traceback (``zoo --traceback ...`` shows it).
"""

from __future__ import annotations

import json
import os
import sys

import click

from zoo import registry

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


@main.command("list")
@click.argument("pattern", default="*")
@click.option("--pretrained", is_flag=True, help="Only models with published weights.")
@JSON_OPTION
def list_command(pattern, pretrained, as_json):
    """List the models whose names match PATTERN (fnmatch, e.g. 'lenet*')."""
    infos = registry.describe_models(pattern, pretrained=pretrained)
    if not infos and not as_json:
        click.echo(f"No models match {pattern!r}; see 'zoo list'.", err=True)
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
    from zoo.card import card_for  # imports Keras

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
    from layers.arithmetic import explain_window, valid_paddings

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


if __name__ == "__main__":
    main()
