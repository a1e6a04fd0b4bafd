"""Give the memory freed by a finished step back to the operating system (glibc only).

glibc keeps freed blocks in per-thread heap arenas for reuse, so after the window tasks of a
run their threads' arenas hold freed window arrays that the resident memory still counts while
the products step allocates its own. ``malloc_trim(0)`` returns the free parts of every arena.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["release_free_heap"]


def release_free_heap() -> None:
    """Return the free memory of the heap arenas to the operating system; glibc only."""
    if not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim  # glibc's name; musl's differs
    except (OSError, AttributeError):
        return
    trim(0)
