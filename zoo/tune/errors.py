"""The tuner's user error, in a leaf module that every part of cnn_zoo.tune may import."""

from cnn_zoo.errors import ZooError


class TuneError(ZooError):
    """A search that cannot run as asked; the message says how to fix it."""
