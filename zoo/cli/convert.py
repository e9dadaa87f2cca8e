"""``zoo convert``: a publisher's GoogLeNet file into a cached tag; imports only click until it runs."""

from __future__ import annotations

import click

from cnn_zoo.cli.group import JSON_OPTION, emit


@click.command("convert")
@click.argument("source", type=click.Choice(["torchvision", "bvlc"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--tag", required=True,
              help="arch.name for the result, e.g. googlenet_bn.imagenet (the shipped tag: FILE must be "
                   "the publisher's file) or googlenet_bn.mine (a local tag).")
@click.option("--arch", help="The model (default: the tag's; torchvision → googlenet_bn, bvlc → googlenet).")
@JSON_OPTION
def convert_command(source, file, tag, arch, as_json):
    """Convert a publisher's GoogLeNet FILE (SOURCE: torchvision .pth or bvlc .onnx) into the cached TAG.

    Then `zoo predict TAG photo.jpg`, `zoo show TAG photo.jpg` and zoo.load(TAG)
    use it. Needs torch or onnx: pip install 'cnn-zoo[convert]'.
    """
    from cnn_zoo.convert.local import convert_to_tag, describe  # imports Keras

    info = convert_to_tag(source, file, tag=tag, arch=arch)
    emit({"tag": info.tag, "file": info.file, "sha256": info.sha256, "size": info.size},
         describe(info), as_json)


COMMANDS = (convert_command,)
