"""What every `zoo` command shares: one-line errors, option types, JSON output, quiet Keras.

This module imports nothing heavy: `zoo --help`, `zoo list` and `zoo explain`
must answer before TensorFlow could even start loading.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

import click

from cnn_zoo.atomic import free_space, no_room
from cnn_zoo.errors import DiskFullError, one_line

USAGE_ERROR = 2  # click's exit code for bad usage; every user error gets it

# The exceptions that mean "the user asked for something that cannot be done"
# (module, class): one line and exit 2. Every such error is a ZooError; the
# arithmetic's ShapeError stands beside it (layers/ never imports zoo/). Looked up
# in sys.modules, not imported: an error of a class exists only once its module is
# loaded, and `zoo list` must not import the layers. Everything else (a bare
# ValueError included) is a bug and shows its traceback.
USER_ERRORS = (
    ("cnn_zoo.errors", "ZooError"),
    ("cnn_zoo.layers.arithmetic", "ShapeError"),
)

# Raised by click >= 8.2 for a bare `zoo`; its message is the whole help text.
_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())


def is_user_error(error: BaseException) -> bool:
    for module, name in USER_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(error, cls):
            return True
    return False


class UserError(click.ClickException):
    exit_code = USAGE_ERROR


CONTINUE = "zoo.continue"  # ctx.meta: (run folder, the command that continues a run stopped there)


def continue_with(run_dir, command: str) -> None:
    """If a full disk stops this command once ``run_dir`` holds a run's state, its one line
    ends with ``command``, which continues the run once space is freed."""
    click.get_current_context().meta[CONTINUE] = (run_dir, command)


def _disk_full_line(error, resume) -> str | None:
    """The one line for an error that says the disk had no room, else None."""
    code = no_room(error)
    if not isinstance(error, DiskFullError) and code is None:
        return None
    from cnn_zoo.run_state import STATE  # here: it loads the recipe schema, which `zoo list` needs not

    hint = ""
    if resume is not None and os.path.isfile(os.path.join(resume[0], STATE)):
        hint = f"continue with: {resume[1]}"
    if isinstance(error, DiskFullError):
        return one_line(error.with_hint(hint))
    # A write not made through cnn_zoo.atomic (a log line, a TensorBoard event): its size is unknown.
    filename = getattr(error, "filename", None)
    folder, name = (Path(filename).parent, Path(filename).name) if filename else \
        (Path(resume[0]) if resume else Path.cwd(), "a file")
    return one_line(DiskFullError(folder, name, 0, free_space(folder), at_least=True, errno=code, hint=hint))


def root_params() -> dict:
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().params if ctx is not None else {}


class ZooGroup(click.Group):
    """A click group whose user errors are one line on stderr (exit 2) and whose bugs are tracebacks."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as error:
            if isinstance(error, click.ClickException):
                raise
            full = _disk_full_line(error, ctx.meta.get(CONTINUE))
            if full is None and not is_user_error(error):
                raise
            if ctx.params.get("traceback"):  # shown, and still the user error's exit code 2
                import traceback  # only for --traceback

                click.echo(traceback.format_exc().rstrip(), err=True)
            raise UserError(full or one_line(error)) from error

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
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
                click.echo(f"Error: {one_line(error.format_message())}{hint}", err=True)
                sys.exit(error.exit_code)
            except click.Abort:
                click.echo("Aborted!", err=True)
                sys.exit(1)
            sys.exit(code if isinstance(code, int) else 0)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """The zoo's own warnings as one 'Warning:' line; the libraries' only with --verbose."""
    if root_params().get("verbose"):
        click.echo(warnings.formatwarning(message, category, filename, lineno, line), err=True, nl=False)
    elif category.__module__.startswith("cnn_zoo"):
        click.echo(f"Warning: {one_line(message)}", err=True)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Points file descriptor 2 at /dev/null: TensorFlow's C++ start-up lines ("All log
    messages before absl::InitializeLog() ...", "oneDNN custom operations are on")
    are written there while it loads, whatever TF_CPP_MIN_LOG_LEVEL says."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietTensorFlow:
    """A meta path finder: TensorFlow's top-level package runs with fd 2 silenced, whoever
    imports it and when. On JAX and PyTorch, Keras itself imports it after Keras has loaded
    (keras.utils.set_random_seed seeds it; tf.data reads the data)."""

    busy = False

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or self.busy:
            return None
        import importlib.util  # only once TensorFlow is asked for

        self.busy = True  # the real finders answer the inner look-up
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.busy = False
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def exec_module(module):
                if self in sys.meta_path:
                    sys.meta_path.remove(self)  # the first import is the one that prints
                with _native_stderr_silenced():
                    run(module)

            spec.loader.exec_module = exec_module
        return spec


def import_keras():
    """Imports Keras (and TensorFlow, on any backend, whenever it comes) without their
    start-up noise unless --verbose."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    if root_params().get("verbose"):
        import keras  # only with --verbose: Keras' own messages are wanted
        return keras
    if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietTensorFlow())
    with _native_stderr_silenced():
        import keras
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if "absl.logging" in sys.modules:
        sys.modules["absl.logging"].set_verbosity("error")
    return keras


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


def emit(data, text, as_json: bool) -> None:
    """``data`` as JSON (the stable schema of docs/cli-json.md) or ``text``."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str) if as_json else text)


def metrics_text(metrics: dict) -> str:
    return "  ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in metrics.items())


JSON_OPTION = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON (schema: docs/cli-json.md) instead of text.")
SET_OPTION = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                          help="Override a recipe value (dotted key, YAML value); repeatable.")
DATA_DIR_OPTION = click.option("--data-dir", type=click.Path(file_okay=False), help="TFDS data dir.")


def check_data_spec(spec: str | None) -> None:
    """A dataset spec's syntax, and that a named file or folder exists: before Keras loads."""
    if spec is None:
        return
    from cnn_zoo.data.sources import check_npz, parse_spec  # NumPy only: startup time of the commands without data

    source = parse_spec(spec)
    if source.kind in ("idx", "npz", "folder") and not Path(source.arg).expanduser().exists():
        raise click.BadParameter(f"{source.arg} does not exist (from {spec!r})", param_hint="'--data'")
    if source.kind == "npz":
        check_npz(Path(source.arg).expanduser())  # a pickled or foreign file, from its headers

