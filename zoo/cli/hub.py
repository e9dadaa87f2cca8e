"""Commands about pretrained weights and trained models: pull, publish, predict, show."""

from __future__ import annotations

import os
import sys

import click

from cnn_zoo.cli import complete
from cnn_zoo.cli.group import JSON_OPTION, USAGE_ERROR, emit, import_keras, one_line


def check_model(tag_or_run: str) -> None:
    """A run folder that holds a model, or a known tag: checked before Keras is imported."""
    from cnn_zoo.hub.loading import is_run, run_paths  # NumPy, no Keras

    if is_run(tag_or_run):
        run_paths(tag_or_run)
    elif "." not in tag_or_run or os.sep in tag_or_run:
        raise click.BadParameter(f"{tag_or_run!r} is neither a run folder nor a pretrained tag such as "
                                 "lenet5.mnist (see 'zoo list --pretrained')", param_hint="'MODEL'")
    else:
        from cnn_zoo.hub import info

        info(tag_or_run)


@click.command("pull")
@click.argument("tag", shell_complete=complete.tag_names)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@JSON_OPTION
def pull_command(tag, quiet, as_json):
    """Fetch and verify the weights of a pretrained TAG; print the file's path.

    Looks in the cache ($ZOO_HOME), then saved_models/, then $ZOO_HUB_URL;
    ZOO_OFFLINE=1 never uses the network.
    """
    from cnn_zoo.hub import info, pull  # startup time: each command imports what it runs

    path = pull(tag, quiet=quiet or as_json)
    entry = info(tag)
    emit({"tag": tag, "path": str(path), "size": entry.size, "sha256": entry.sha256}, str(path), as_json)


@click.command("publish")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--tag", required=True, help="arch.name, e.g. lenet5.mnist (arch: the run's model).")
@click.option("--dest", type=click.Path(file_okay=False),
              help="Folder of the manifest and weights (default: your hub folder, $ZOO_HOME/weights).")
@click.option("--overwrite", is_flag=True, help="Replace an already published TAG.")
@JSON_OPTION
def publish_command(run_dir, tag, dest, overwrite, as_json):
    """Publish the finished training run RUN_DIR as the pretrained TAG."""
    from cnn_zoo.hub.publishing import check_publish  # idem

    check_publish(run_dir, tag, dest=dest, overwrite=overwrite)  # the tag and the run, before Keras loads
    import_keras()
    from cnn_zoo.hub import publish

    info = publish(run_dir, tag, dest=dest, overwrite=overwrite)
    metric = ", ".join(f"{k} {v:.4f}" for k, v in info.metrics.items() if isinstance(v, float))
    emit(info.as_dict() | {"tag": info.tag},
         f"published {info.tag}: {info.file} ({info.size} bytes, sha256 {info.sha256[:12]}...); "
         f"{info.metrics['split']} {metric}", as_json)


@click.command("predict")
@click.argument("model", metavar="TAG|RUN", shell_complete=complete.tag_or_run)
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("-k", "--top-k", default=5, show_default=True, type=click.IntRange(min=1),
              help="How many classes to show per image.")
@click.option("--engine", type=click.Choice(["auto", "keras", "litert", "onnxruntime"]), default="auto",
              show_default=True,
              help="What runs the model: Keras' predict step, LiteRT (small inputs) or onnxruntime "
                   "(large inputs; converted once, then cached), both on the TensorFlow backend; "
                   "auto picks one only once its conversion pays for itself.")
@JSON_OPTION
def predict_command(model, images, top_k, engine, as_json):
    """Top-k classes of each IMAGE (PNG/JPEG, any size or mode) under a pretrained TAG or
    a run folder RUN (a 'zoo train --out' folder).

    Each image gets the model's own preprocessing. An image that cannot be read
    gets one 'Error:' line on stderr and the others are still predicted; the
    exit code is then 2 (0 when every image was predicted).
    """
    check_model(model)
    missing = [i for i in images if not os.path.exists(i)]
    for path in missing:
        click.echo(f"Error: {path}: no such file", err=True)
    if len(missing) == len(images):
        sys.exit(USAGE_ERROR)  # nothing to predict: answered before Keras loads
    import_keras()
    from cnn_zoo.hub import predict  # idem, after the arguments are checked

    results = predict(model, [i for i in images if i not in missing], top_k=top_k, on_error="keep",
                      engine=engine)
    good = [r for r in results if r.error is None]
    if good and click.get_current_context().find_root().params.get("verbose"):
        click.echo(f"engine: {good[0].engine}", err=True)  # (--json carries it per image)
    for r in results:
        if r.error is not None:
            click.echo(f"Error: {one_line(r.error)}", err=True)
    if as_json:
        emit([r.as_dict() for r in results], "", True)
    elif good:
        click.echo("\n".join(str(r) for r in good))
    if len(good) < len(results) or missing:
        sys.exit(USAGE_ERROR)


def _picture_folder(ctx, param, value):
    """--out is a folder of several PNGs: a name that ends like a picture file is refused
    rather than made into a folder of that name."""
    suffix = os.path.splitext(str(value))[1].lower()
    if suffix in (".png", ".jpg", ".jpeg", ".svg", ".pdf"):
        raise click.BadParameter(f"{value!r} names a file, but zoo show writes several PNG files "
                                 "(filters_*.png, and with IMAGE input.png and maps_*.png) into a "
                                 f"folder: give a folder, e.g. --out {os.path.splitext(str(value))[0]}")
    return value


@click.command("show")
@click.argument("model", metavar="TAG|RUN", shell_complete=complete.tag_or_run)
@click.argument("image", required=False, type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", default="zoo-show", show_default=True, callback=_picture_folder,
              type=click.Path(file_okay=False), help="Folder for the PNG files.")
@click.option("--max-maps", default=64, show_default=True, type=click.IntRange(min=1),
              help="Channels shown per layer.")
@JSON_OPTION
def show_command(model, image, out_dir, max_maps, as_json):
    """Draw the first layer's filters of TAG (or run folder RUN) and, with IMAGE, its feature maps."""
    check_model(model)
    if image is not None and not os.path.exists(image):
        raise click.BadParameter(f"{image}: no such file", param_hint="'IMAGE'")
    import_keras()
    from cnn_zoo.hub import show  # idem

    paths = [str(p) for p in show(model, image, out_dir, max_maps=max_maps)]
    emit({"files": paths}, "\n".join(paths), as_json)


COMMANDS = [pull_command, publish_command, predict_command, show_command]
