"""Errors of ``socseq fetch``: one line naming the URL, what went wrong and what to do."""

from __future__ import annotations

from socseq.exceptions import InputFormatError, SocseqError

__all__ = ["ChecksumError", "DownloadError", "FetchError", "OfflineError", "SourceFormatError"]


class FetchError(SocseqError):
    """A public input could not be fetched or prepared."""


class DownloadError(FetchError):
    """The server answered with an error, timed out, or dropped the connection for good."""


class OfflineError(DownloadError):
    """The host cannot be reached (no network, DNS failure, refused connection)."""


class ChecksumError(FetchError):
    """A downloaded file does not match its published checksum."""


class SourceFormatError(FetchError, InputFormatError):
    """A downloaded file is not what the provider's layout promises (corrupt or truncated)."""
