"""Give the memory that large arrays held back to the operating system (glibc only).

glibc serves an allocation from its heap arenas unless it is larger than the mmap threshold,
and raises that threshold (up to 32 MiB) each time a mapped block is freed, so that after a
while the window-sized arrays of a run come from per-thread arenas, which keep freed memory
and fragment: the resident memory of a 10⁷-cell run crept from 2 to 4 GB over its windows.
:func:`map_large_arrays` fixes the threshold, so every array of 4 MiB or more has its own
mapping, returned to the system when freed; :func:`release_free_heap` returns what the arenas
hold free (``malloc_trim``).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

__all__ = ["map_large_arrays", "release_free_heap"]

#: ``mallopt`` parameter of glibc's ``malloc.h``.
M_MMAP_THRESHOLD = -3
#: Allocations of at least this size get their own mapping [bytes].
LARGE_ARRAY_BYTES = 4 * 2**20


def _glibc() -> Any | None:
    """Return the C library when it is glibc (with ``mallopt`` and ``malloc_trim``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")  # glibc's name; musl's differs
        libc.mallopt  # noqa: B018  (musl has neither function)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def map_large_arrays() -> None:
    """Give every allocation of :data:`LARGE_ARRAY_BYTES` or more its own mapping (glibc)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, LARGE_ARRAY_BYTES)


def release_free_heap() -> None:
    """Return the free memory of the heap arenas to the operating system (glibc)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
