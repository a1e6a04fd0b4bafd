"""Whether parallel kernel calls from several threads may run at once.

The parallel kernels of :mod:`socseq.rothc._kernel` release the GIL (``nogil=True``), so the
window tasks of a run, one per thread, compute at the same time. Two of numba's threading
layers accept parallel regions launched from several threads at once: ``tbb`` and ``omp``
(GNU OpenMP, present on most Linux systems). The third, ``workqueue``, the fallback where
neither is installed, does not, and numba aborts the process when it sees it happen
(numba documentation, "The Threading Layers"). There, calls take turns as they did when the
kernels held the GIL. numba names the layer only once a parallel region has run, so the first
call takes its turn too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numba

__all__ = ["kernel_launch"]

_TURN = threading.Lock()
#: True when the active threading layer accepts concurrent launches; None before the first.
_CONCURRENT: bool | None = None


@contextmanager
def kernel_launch() -> Iterator[None]:
    """Context of one parallel kernel call: alone when the threading layer requires it."""
    global _CONCURRENT
    if _CONCURRENT:
        yield
        return
    with _TURN:
        yield
        if _CONCURRENT is None:
            _CONCURRENT = numba.threading_layer() != "workqueue"
