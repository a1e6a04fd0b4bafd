"""Exceptions raised by socseq.

Every error a user can trigger derives from :class:`SocseqError`; the command line turns it into
one line on standard error and a non-zero exit status, never a traceback. Messages name the
layer, file or field that is wrong, what was seen, and how to fix it.
"""

from __future__ import annotations


class SocseqError(Exception):
    """Base class of all errors raised by socseq on bad input or failed runs."""


class InputFormatError(SocseqError):
    """A file does not follow the expected layout (e.g. a malformed RothC ``.dat`` file)."""


class InputValidationError(SocseqError):
    """An input value is out of range, has implausible units, or is missing."""


class ConfigError(SocseqError):
    """The run configuration is invalid (unknown key, wrong type, missing file)."""


class GridMismatchError(SocseqError):
    """Rasters cannot be brought onto one grid (no CRS, no overlap, wrong shape)."""


class CarbonBalanceError(SocseqError):
    """A model run violated carbon conservation (a bug, never expected in normal use)."""


class ConvergenceError(SocseqError):
    """An iterative procedure (spin-up, periodic moisture cycle) did not converge."""
