"""What can go wrong when fetching pretrained weights, as one-line errors.

All are :class:`cnn_zoo.errors.ZooError` (a ``ValueError``), so the CLI prints
them as ``Error: ...`` with exit code 2. The facts behind a message are kept
as attributes, for code.
"""

from __future__ import annotations

from typing import Iterable

from cnn_zoo.errors import ZooError, _did_you_mean, closest


class HubError(ZooError):
    """Pretrained weights that cannot be found, fetched or trusted."""


class ManifestError(HubError):
    """A manifest (local, cached or remote) that is not valid."""


class UnknownTagError(HubError):
    """A tag that no manifest lists. Attributes: ``tag``, ``suggestions``."""

    def __init__(self, tag: str, known: Iterable[str], hint: str):
        self.tag = tag
        self.suggestions = closest(tag, known)
        super().__init__(f"Unknown pretrained tag {tag!r}. {_did_you_mean(self.suggestions)}{hint}")


class IntegrityError(HubError):
    """A weights file whose size or sha256 is not the manifest's.

    Attributes: ``what`` ("size" or "sha256"), ``expected``, ``got``.
    """

    def __init__(self, message: str, what: str, expected, got):
        self.what, self.expected, self.got = what, expected, got
        super().__init__(message)


class DownloadError(HubError):
    """A download that failed: HTTP error, unreachable host, connection broken off."""


class UnreachableError(DownloadError):
    """The hub did not answer, or answered with an HTTP error (404, 500, ...)."""


class OfflineError(HubError):
    """ZOO_OFFLINE=1 and the weights are not on this machine."""
