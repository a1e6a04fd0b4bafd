"""Exceptions and warnings raised by socseq: the only module that defines them.

Every error a user can trigger derives from :class:`SocseqError`; the command line turns it into
one line on standard error and a non-zero exit status, never a traceback. Messages name the
layer, file or field that is wrong, what was seen, and how to fix it.

Hierarchy::

    SocseqError
    ├── InputFormatError            a file does not follow its layout
    │   └── RunFolderError          a finished run folder lacks or garbles a file
    ├── InputValidationError        a value is out of range, has implausible units, is missing
    │   ├── UnitsError              declared units unknown, or values implausible for them
    │   └── RasterFileNotFoundError a raster named in the configuration does not exist
    ├── ConfigError                 the run configuration is invalid
    ├── GridMismatchError           rasters cannot be brought onto one grid
    │   └── MissingCRSError         a raster has no coordinate reference system
    ├── CarbonBalanceError          a run violated carbon conservation (a bug)
    ├── ConvergenceError            an iteration did not converge
    └── FetchError                  ``socseq fetch`` could not fetch or prepare an input
        ├── DownloadError           HTTP error, timeout or dropped connection for good
        │   ├── OfflineError        the host cannot be reached (or --offline, not cached)
        │   └── TransientDownloadError  one attempt failed in a way worth retrying
        ├── ChecksumError           a download differs from its published checksum
        └── SourceFormatError       a download is corrupt or truncated (also InputFormatError)
    UnitsWarning (UserWarning)      a unit trap reported as a warning (strict=False)
"""

from __future__ import annotations


class SocseqError(Exception):
    """Base class of all errors raised by socseq on bad input or failed runs."""


class InputFormatError(SocseqError):
    """A file does not follow the expected layout (e.g. a malformed RothC ``.dat`` file)."""


class RunFolderError(InputFormatError):
    """A run folder lacks a file the report needs, or a file cannot be read."""


class InputValidationError(SocseqError):
    """An input value is out of range, has implausible units, or is missing."""


class UnitsError(InputValidationError):
    """A layer's declared units are unknown, or its values are implausible for them."""


class RasterFileNotFoundError(InputValidationError, FileNotFoundError):
    """A raster file named in the configuration does not exist."""


class ConfigError(SocseqError):
    """The run configuration is invalid (unknown key, wrong type, missing file)."""


class GridMismatchError(SocseqError):
    """Rasters cannot be brought onto one grid (no CRS, no overlap, wrong shape)."""


class MissingCRSError(GridMismatchError):
    """A raster has no coordinate reference system, so it cannot be placed on the grid."""


class CarbonBalanceError(SocseqError):
    """A model run violated carbon conservation (a bug, never expected in normal use)."""


class ConvergenceError(SocseqError):
    """An iterative procedure (spin-up, periodic moisture cycle) did not converge."""


class FetchError(SocseqError):
    """A public input could not be fetched or prepared (``socseq fetch``)."""


class DownloadError(FetchError):
    """The server answered with an error, timed out, or dropped the connection for good."""


class OfflineError(DownloadError):
    """The host cannot be reached (no network, DNS failure, refused connection)."""


class TransientDownloadError(DownloadError):
    """One download attempt failed in a way worth retrying (timeout, dropped connection, 5xx).

    The downloader retries it with backoff and raises a plain :class:`DownloadError` naming the
    attempts when they are used up; a single request that is not retried (a HEAD) raises it
    as it is, and it reads as any other download error.
    """


class ChecksumError(FetchError):
    """A downloaded file does not match its published checksum."""


class SourceFormatError(FetchError, InputFormatError):
    """A downloaded file is not what the provider's layout promises (corrupt or truncated)."""


class UnitsWarning(UserWarning):
    """A unit trap or an implausible range, reported as a warning because ``strict=False``."""


class OutputBusyError(SocseqError):
    """Another socseq command holds the output folder's lock."""


class DiskFullError(SocseqError):
    """The file system of the output folder has no room for what the run writes."""


class PublishError(SocseqError):
    """A committed publish could not be applied; the next command on the folder retries it."""
