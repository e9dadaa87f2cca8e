"""``python -m cnn_zoo.cli``: the same as the ``zoo`` console script."""

from cnn_zoo.cli import main

main()
