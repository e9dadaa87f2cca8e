"""``zoo export``: a tag or a run folder as a file that runs without cnn-zoo; imports only click until it runs."""

from __future__ import annotations

import click

from cnn_zoo.cli.group import JSON_OPTION, emit

FORMATS = ("keras", "savedmodel", "tflite", "onnx")  # = cnn_zoo.export.FORMATS, without importing it


@click.command("export")
@click.argument("tag_or_run")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS),
              help="keras (.keras: stock Keras layers where every layer has a stock form, else "
                   "cnn-zoo's, which need it to load), savedmodel (a folder with a serving signature), "
                   "tflite, onnx.")
@click.option("--out", "out", required=True, type=click.Path(),
              help="Where to write it; PATH.json beside it records the tag, the weights' sha256, "
                   "the input contract, the labels and the versions.")
@click.option("--int8", type=click.Choice(["dynamic", "full"]),
              help="tflite only: int8 weights (dynamic), or int8 weights and activations calibrated on "
                   "the recipe's training data (full). The accuracy drop goes into the JSON file.")
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@JSON_OPTION
def export_command(tag_or_run, fmt, out, int8, force, as_json):
    """Export TAG_OR_RUN (a pretrained tag, or a `zoo train --out` folder) with its preprocessing inside.

    The file takes raw uint8 images (N, H, W, C), as the dataset stores them, and
    returns class probabilities. See docs/export.md.
    """
    from cnn_zoo.cli.group import import_keras  # startup time: the command's modules load when it runs

    import_keras()
    from cnn_zoo.export import export

    record = export(tag_or_run, fmt, out, int8=int8, overwrite=force)
    check = record.get("int8_check") or {}
    text = f"{out}: {fmt}{' int8 ' + int8 if int8 else ''}, input {record['input']['shape']} uint8 -> " \
           f"{len(record['labels'])} probabilities; record in {out}.json"
    if fmt == "keras":  # whether the file loads without cnn-zoo, and why not
        text += f"\nload: {record['load'].replace('PATH', repr(str(out)))}"
        text += "".join(f"\n  needs cnn-zoo: {why}" for why in record["needs_cnn_zoo"])
    if "accuracy_drop" in check:
        text += (f"\nint8: top-1 agreement {check['top1_agreement']:.4f} on {check['images']} test images, "
                 f"accuracy {check['float_accuracy']:.4f} -> {check['int8_accuracy']:.4f}")
    emit({**record, "path": str(out)}, text, as_json)


COMMANDS = (export_command,)
