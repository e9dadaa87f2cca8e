"""Commands about models and recipes, none of which trains: list, info, explain, recipes."""

from __future__ import annotations

import click

from cnn_zoo import registry
from cnn_zoo.cli import complete
from cnn_zoo.cli.group import JSON_OPTION, Ints, emit, import_keras


def _is_tag(name: str) -> bool:
    return "." in name  # model names have no dot; a tag is arch.name


@click.command("list")
@click.argument("pattern", default="*")
@click.option("--pretrained", is_flag=True,
              help="List the published weights (tags) instead: tag, dataset, test metric, size.")
@click.option("--remote", is_flag=True, help="With --pretrained: also the tags of the hub at $ZOO_HUB_URL.")
@JSON_OPTION
def list_command(pattern, pretrained, remote, as_json):
    """List the models whose names match PATTERN (fnmatch, e.g. 'lenet*'), or with --pretrained their tags."""
    if pretrained:
        # startup time: each command imports what it runs
        from cnn_zoo.hub.tags import headline, list_pretrained, rows_text

        infos = list_pretrained(pattern, remote=remote)
        if not infos and not as_json:
            click.echo(f"No published weights match {pattern!r}; see 'zoo list --pretrained'.", err=True)
            return
        emit([headline(i) for i in infos], rows_text(infos), as_json)
        return
    infos = registry.describe_models(pattern)
    if not infos and not as_json:
        click.echo(f"No models match {pattern!r}; see 'zoo list'.", err=True)
        return
    width = max((len(i.name) for i in infos), default=0)
    emit([i.as_dict() for i in infos],
         "\n".join(f"{i.name.ljust(width)}  {i.summary}" for i in infos), as_json)


@click.command("info")
@click.argument("name", shell_complete=complete.model_or_tag_names)
@click.option("--input-shape", metavar="W,H,D", type=Ints("an input volume such as 32,32,1", min_len=2),
              help="Input volume, channels last, e.g. 32,32,1 (default: the model's).")
@JSON_OPTION
def info_command(name, input_shape, as_json):
    """Show the model card of NAME (every layer's shapes, formula, weights, receptive field),
    or, for a pretrained TAG such as lenet5.mnist, the tag's card (metrics, preprocessing,
    labels, recipe, sha256)."""
    if _is_tag(name):
        if input_shape is not None:
            raise click.UsageError("--input-shape is for a model NAME; a tag has its own input")
        from cnn_zoo.hub import info  # idem (no Keras for a tag)
        from cnn_zoo.hub.tags import tag_card

        found = info(name)
        emit({"tag": found.tag, **found.as_dict()}, tag_card(found), as_json)
        return
    registry.check_model_name(name)  # before Keras is imported (get_builder would import the model)
    import_keras()
    from cnn_zoo.card import card_for

    card = card_for(name, input_shape=input_shape)
    emit(card.as_dict(), str(card), as_json)


@click.command("explain")
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
    from cnn_zoo.layers.arithmetic import explain_window, valid_paddings  # no Keras

    if (kind == "conv") != (filters is not None):
        raise click.UsageError("-K (the number of filters) is required for conv and not "
                               "taken by pool (a pool keeps the depth)")
    _check_per_axis(input_shape, {"-F": kernel_size, "-S": stride, "-P": padding})
    arithmetic = explain_window("conv" if kind == "conv" else "max_pool", input_shape,
                                kernel_size=kernel_size, strides=stride, padding=padding,
                                rounding=rounding, filters=filters, name=kind)
    axes = list(zip(arithmetic.input_shape[:-1], arithmetic.kernel_size, arithmetic.strides,
                    arithmetic.dilation))
    fits = [valid_paddings(w, f, s, dilation=d) for w, f, s, d in axes]
    emit({"arithmetic": arithmetic.as_dict(), "paddings_that_fit": fits},
         f"{arithmetic}\n{_paddings_text(axes, fits)}", as_json)


def _check_per_axis(input_shape, options: dict) -> None:
    """-F, -S and -P give one value for all axes, or one per spatial axis of --input."""
    axes = len(input_shape) - 1  # the last value is the depth D1
    volume = "x".join(map(str, input_shape))
    for flag, value in options.items():
        if isinstance(value, tuple) and len(value) != axes:
            raise click.BadParameter(
                f"gives {len(value)} values, but --input {volume} has {axes} spatial "
                f"ax{'is' if axes == 1 else 'es'}: give one value, or {axes}. "
                f"Received: {flag} {'x'.join(map(str, value))}", param_hint=f"'{flag}'")


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


@click.command("recipes")
@JSON_OPTION
def recipes_command(as_json):
    """List the shipped recipes with a one-line description."""
    from cnn_zoo.recipe import list_recipes  # idem

    rows = list_recipes()
    width = max((len(name) for name, _ in rows), default=0)
    emit([{"name": n, "description": d} for n, d in rows],
         "\n".join(f"{n.ljust(width)}  {d}" for n, d in rows), as_json)


COMMANDS = [list_command, info_command, explain_command, recipes_command]
