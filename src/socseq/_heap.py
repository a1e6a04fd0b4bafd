"""Give the memory freed by a finished step back to the operating system (glibc only).

glibc keeps freed blocks in per-thread heap arenas for reuse and, once large arrays have been
freed, serves arrays of up to 32 MiB from those arenas instead of their own mappings (its
dynamic mmap threshold). After the window tasks of a run, their threads' arenas hold freed
window arrays that the resident memory still counts while the products step, in another
thread, allocates its own. ``malloc_trim(0)`` returns the free parts of every arena.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["release_free_heap"]


def release_free_heap() -> None:
    """Return free heap memory to the operating system; a no-op outside glibc."""
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):  # musl or no C library found: nothing to do
        return
    trim(0)
