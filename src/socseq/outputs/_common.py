"""Names and constants shared by the lock, the publish and the disk-space checks."""

from __future__ import annotations

import errno
import re

#: The lock file (holds the holder's PID, host, command and start time as JSON).
LOCK_FILE = ".socseq.lock"
#: The publish journal; its presence means a committed publish is not yet fully applied.
JOURNAL = ".socseq-publish.json"
#: Prefix of each command's private folder (``work/``, ``stage/``, ``old/``).
RUN_PREFIX = ".socseq-run-"
#: Where ``--keep-work`` leaves the scratch of the last successful run.
KEPT_WORK = ".socseq-work"
#: Where ``--keep-work`` leaves the scratch of the last failed run.
KEPT_FAILED_WORK = ".socseq-work-failed"
#: Staging folder of socseq versions before the journal (deleted at the next start).
LEGACY_PARTIAL = ".socseq-partial"
#: The marker of a complete run folder, published last.
MARKER = "run.json"

#: Top-level names a ``socseq run`` may publish. A new run retires those it does not publish
#: (with those listed in the previous ``run.json``), so no product of an older configuration
#: lingers beside the new set.
RUN_PRODUCTS = (
    "maps",
    "soc_stocks.nc",
    "summary.csv",
    "summary.json",
    "timeseries.csv",
    "exclusions.csv",
    "uncertainty",
    "dsm",
    "report.html",
    "figures",
    MARKER,
)

_JOURNAL_FORMAT = 1
_UNAVAILABLE = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_DISK_FULL_TEXT = re.compile(
    r"No space left on device|Disk quota exceeded|errno = 28\b|Free disk space available"
)
_HDF5_FILE = re.compile(r"filename = '([^']+)'")
