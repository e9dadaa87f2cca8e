"""``zoo page``: a model, tag or run as one self-contained HTML page; imports only click until it runs."""

from __future__ import annotations

import click

from cnn_zoo.cli import complete
from cnn_zoo.cli.group import JSON_OPTION, Ints, emit, import_keras
from cnn_zoo.errors import size_text


@click.command("page")
@click.argument("model", metavar="MODEL|TAG|RUN", shell_complete=complete.model_or_tag_names)
@click.option("--image", "images", multiple=True, metavar="PHOTO",
              help="An image (PNG, JPEG, any size) whose feature maps, receptive fields and top-5 the page "
                   "shows; repeatable. Needs a TAG or RUN.")
@click.option("--out", type=click.Path(dir_okay=False), metavar="PAGE.html",
              help="The file to write (default: NAME.html here). An existing file is replaced only if "
                   "zoo page wrote it.")
@click.option("--input-shape", metavar="W,H,D", type=Ints("an input volume such as 32,32,1", min_len=2),
              help="A model NAME's input volume, channels last (default: the model's).")
@click.option("--channels", "max_channels", default=16, show_default=True, type=click.IntRange(1, 64),
              help="Feature maps shown per conv or pool stage.")
@JSON_OPTION
def page_command(model, images, out, input_shape, max_channels, as_json):
    """Write one HTML page about MODEL (a model name), TAG (pretrained weights) or RUN (a 'zoo train
    --out' folder): the network as volumes with every layer's K/F/S/P, formula, parameters,
    multiply-adds and receptive field; a K/F/S/P playground; with --image, the feature maps, the
    filters and the top-5. The page needs no server and makes no network request.

    Example: zoo page lenet5.mnist --image digit.png --out lenet5.html
    """
    # Imported here: checking the arguments (model, tag, images, --out) needs no Keras.
    from cnn_zoo.page.request import check

    request = check(model, images, out, input_shape=input_shape, max_channels=max_channels)
    import_keras()
    # Imported here, once the arguments are known good: it imports Keras.
    from cnn_zoo.page.writer import write_page

    written = write_page(request)
    emit(written.as_dict(), f"{written.path}: {written.rows} layers, {written.images} image(s), "
         f"{size_text(written.size)}; open it in a browser", as_json)


COMMANDS = (page_command,)
