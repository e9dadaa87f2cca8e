"""What can go wrong when loading a dataset, as one-line errors.

All are :class:`cnn_zoo.errors.ZooError` (a ``ValueError``), so the CLI prints
them as ``Error: ...`` with exit code 2.
"""

from __future__ import annotations

from cnn_zoo.errors import ZooError


class DataError(ZooError):
    """A dataset spec, file or folder that cannot be loaded as asked."""


class DataDownloadError(DataError):
    """A dataset's raw files could not be downloaded (network error, bad checksum).

    Attributes: ``url`` (the URL tried) and ``reason`` (what went wrong there).
    """

    def __init__(self, message: str, url: str, reason: str):
        self.url, self.reason = url, reason
        super().__init__(message)


class DataOfflineError(DataError):
    """ZOO_OFFLINE=1 and the dataset is not on this machine."""
