"""One writer per output folder, private scratch space, and all-or-nothing publishing.

A command that writes products into an output folder (``socseq run``, ``socseq demo``,
``socseq dsm cv|train|predict``, ``socseq report``) works inside an
:func:`output_transaction`:

1. **Lock.** It takes an exclusive lock on the folder (``OUTPUT/.socseq.lock``, an
   :func:`fcntl.flock` held for the whole command). A second command on the same folder refuses
   at once with one line naming the folder and the holder (:class:`OutputBusyError`). The
   operating system drops the lock when the holder dies, even by ``kill -9``, so a lock left by a
   killed run is stale by construction and is simply taken over.
2. **Recover.** Holding the lock, it finishes a publish that a killed run had committed (see 4)
   and deletes what dead runs left behind (their private folders).
3. **Stage.** It computes in a private folder ``OUTPUT/.socseq-run-<id>/`` (``work/`` for scratch
   such as the Zarr stores, ``stage/`` for the new products laid out as they will be published).
   Nothing outside that folder changes while the run computes, so a failure, a full disk or a
   kill before step 4 leaves the previous products byte-identical.
4. **Publish.** Once every product is staged (and flushed to disk), it writes a journal
   (``OUTPUT/.socseq-publish.json``, atomically): the commit point. It then moves the previous
   marker (``run.json``) aside first, swaps every top-level product (file or folder) with one
   rename each, retires previous products the new set does not have, puts the new marker in
   place last and deletes the journal. The renames stay in one file system, so they need no
   space. If the process dies after the commit, the next command on the folder replays the
   journal (every step is idempotent), so the folder ends with the new complete set.

Readers can rely on the marker: a folder holding ``run.json`` holds the complete set that
``run.json`` describes; while a publish is being applied ``run.json`` is absent.

Reuse: :func:`link_verified` carries a previous product's files into a new stage after checking
each against the :func:`file_digest` its run recorded (hard links: the previous files are only
read, so 1 and 3 hold).

Disk space: :func:`require_free_space` refuses a run before its big writes when the file system
has less room than the run needs, and :func:`disk_full_guard` turns a
``No space left on device`` raised anywhere inside it (Python, GDAL or HDF5) into one line that
names the path and the space needed (:class:`DiskFullError`).

This module is a leaf: it imports only the standard library and :mod:`socseq.exceptions`.
"""

from __future__ import annotations

from socseq.exceptions import DiskFullError, OutputBusyError, PublishError
from socseq.outputs._common import JOURNAL, KEPT_WORK, LOCK_FILE, RUN_PRODUCTS
from socseq.outputs._lock import Holder, OutputLock, lock_output
from socseq.outputs._publish import Staging, output_transaction, product_entries, recover
from socseq.outputs._reuse import file_digest, folder_digests, link_verified
from socseq.outputs._space import (
    disk_full_guard,
    exit_after_hdf5_failure,
    format_bytes,
    require_free_space,
)

__all__ = [
    "JOURNAL",
    "KEPT_WORK",
    "LOCK_FILE",
    "RUN_PRODUCTS",
    "DiskFullError",
    "Holder",
    "OutputBusyError",
    "OutputLock",
    "PublishError",
    "Staging",
    "disk_full_guard",
    "exit_after_hdf5_failure",
    "file_digest",
    "folder_digests",
    "format_bytes",
    "link_verified",
    "lock_output",
    "output_transaction",
    "product_entries",
    "recover",
    "require_free_space",
]
