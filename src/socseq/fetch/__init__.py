"""Public inputs without Earth Engine: ``socseq fetch`` and its Python API.

>>> from socseq.fetch import fetch                                  # doctest: +SKIP
>>> result = fetch("20.4,40.8,23.1,42.4", years="1991-2020", out="mkd")   # doctest: +SKIP
>>> result.config                                                   # doctest: +SKIP
PosixPath('mkd/socseq.toml')

See :mod:`socseq.fetch.api` for what is written, :mod:`socseq.fetch.sources` for the source
table and ``docs/data-sources.md`` for the providers, their licences and citations.
"""

from socseq.exceptions import (
    ChecksumError,
    DownloadError,
    FetchError,
    OfflineError,
    SourceFormatError,
)
from socseq.fetch.api import FetchPlan, FetchResult, fetch, plan_fetch
from socseq.fetch.download import HttpOptions
from socseq.fetch.sources import BUILTIN_SOURCES, Source, load_sources

__all__ = [
    "BUILTIN_SOURCES",
    "ChecksumError",
    "DownloadError",
    "FetchError",
    "FetchPlan",
    "FetchResult",
    "HttpOptions",
    "OfflineError",
    "Source",
    "SourceFormatError",
    "fetch",
    "load_sources",
    "plan_fetch",
]
