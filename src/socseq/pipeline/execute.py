"""Where window tasks run: dask's threaded scheduler, a local cluster, or a remote scheduler.

A run is a list of independent window tasks. By default they run on dask's threaded
scheduler in this process; ``workers=N`` starts a :class:`dask.distributed.LocalCluster` with
N single-threaded worker processes; ``scheduler="tcp://host:port"`` uses an existing
dask.distributed cluster (its workers need socseq installed and the run folder on a shared
file system). Tasks read their window of each input and write their window of the results,
so only small partial sums travel back.

Thread budget: a run is given ``threads`` cores (default: this machine's). Concurrent tasks ×
the threads each task uses (numba kernel, GDAL warper: :meth:`Executor.threads_per_task`)
never exceed it: with many windows every core runs its own window single-threaded; with few
windows each one gets several threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from functools import partial
from types import TracebackType
from typing import Any

import dask
from dask.callbacks import Callback

__all__ = ["Executor"]

#: ``progress(done, total)`` after each finished task.
TaskProgress = Callable[[int, int], None]


class _Counter(Callback):
    """Counts finished window tasks of the threaded scheduler for the progress bar."""

    def __init__(self, keys: set[str], total: int, progress: TaskProgress | None) -> None:
        super().__init__()
        self.keys = keys
        self.total = total
        self.done = 0
        self.progress = progress

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if key in self.keys:
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)


#: dask configuration of the environment its nannies give the worker processes they start.
_SPAWN_ENVIRON = "distributed.nanny.pre-spawn-environ"


def _worker_environ() -> dict[str, Any]:
    """Return the environment of dask's worker processes without ``MALLOC_TRIM_THRESHOLD_``.

    dask sets glibc's trim threshold to 64 KiB in its workers, so that freed memory goes back
    to the system at once. A window task frees and allocates hundreds of MB of arrays, which
    then fault their pages in again: four 10^6-cell windows run in turn took 9.1–9.3 s of
    system time with it against 5.4–5.7 s without. glibc's own (adaptive) threshold applies
    instead.
    """
    environ = dict(dask.config.get(_SPAWN_ENVIRON, default={}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


#: dask configuration of the worker processes socseq starts. The statistical profiler (on by
#: default) wakes every 10 ms in each worker to walk the stacks of its threads while holding
#: the GIL; it only feeds the dashboard, which socseq does not start. On 10^6 cells with two
#: workers, two runs each way alternating on a loaded machine: warm-up 19.7 and 16.0 s with
#: it, 12.6 and 13.3 s without; the whole run 65.4 and 47.1 s against 40.6 and 42.9 s.
_WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


def _freeze_worker_modules() -> None:
    """Import what a window task uses and leave it out of garbage collections (a worker).

    A window task collects reference cycles after its read (:mod:`socseq._heap`); the run
    freezes the long-lived objects of its own process first, so that a collection costs what
    the run created (0.01 s), and this does the same in the worker processes socseq starts
    (a collection in a worker: 0.10–0.11 s before, under 1 ms after, measured).
    """
    import gc

    import socseq.pipeline.inputs
    import socseq.pipeline.phases  # noqa: F401

    gc.collect()
    gc.freeze()


def cap_codec_threads(threads: int) -> None:
    """Let zarr decode and encode chunks on at most ``threads`` threads of this process.

    zarr 3 runs its codecs (the Blosc/LZ4 of the scratch stores and rewritten sources) on a
    thread pool of its own, by default asyncio's: cores + 4 threads, whatever ``--threads``
    says. The pool is replaced by one of ``threads`` threads (``threading.max_workers``); zarr
    creates it at its next call.
    """
    import zarr
    from zarr.core import sync

    if zarr.config.get("threading.max_workers", None) != threads:
        zarr.config.set({"threading.max_workers": threads})
        sync.cleanup_resources()


class Executor(AbstractContextManager["Executor"]):
    """Runs lists of independent tasks and reports progress.

    Parameters
    ----------
    workers : int, optional
        Start a LocalCluster with this many worker processes (one thread each).
    scheduler : str, optional
        Address of an existing dask.distributed scheduler.
    threads : int, optional
        Cores the run may use (default: CPU count). With ``workers`` the cores are shared by
        the worker processes; with ``scheduler`` each remote task uses one thread (the
        cluster's own configuration sets its workers' threads).
    """

    def __init__(
        self, workers: int | None = None, scheduler: str | None = None, threads: int | None = None
    ) -> None:
        if workers is not None and scheduler is not None:
            raise ValueError("give workers or scheduler, not both")
        self.workers = workers
        self.scheduler = scheduler
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        self.threads = threads or os.cpu_count() or 1
        self.concurrent = self.threads
        self.client: Any = None
        self.cluster: Any = None

    def threads_per_task(self, n_tasks: int) -> int:
        """Threads each of ``n_tasks`` tasks may use so that all of them stay within budget.

        Also fixes how many tasks run at once on the threaded scheduler.
        """
        if self.scheduler is not None:
            return 1
        slots = self.workers if self.workers is not None else self.threads
        self.concurrent = max(1, min(slots, n_tasks))
        return max(1, self.threads // self.concurrent)

    @property
    def description(self) -> str:
        """Human-readable name of the scheduler, for the run manifest."""
        if self.scheduler is not None:
            return f"dask.distributed at {self.scheduler}"
        if self.workers is not None:
            return f"dask.distributed LocalCluster, {self.workers} worker processes"
        return f"dask threaded scheduler, {self.concurrent} threads"

    def __enter__(self) -> Executor:
        cap_codec_threads(self.threads)
        if self.workers is not None or self.scheduler is not None:
            from dask.distributed import Client, LocalCluster

            if self.scheduler is not None:
                self.client = Client(self.scheduler)
            else:
                assert self.workers is not None
                with dask.config.set({_SPAWN_ENVIRON: _worker_environ(), **_WORKER_CONFIG}):
                    self.cluster = LocalCluster(
                        n_workers=self.workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                self.client = Client(self.cluster)
                self.client.run(_freeze_worker_modules)
                self.client.run(cap_codec_threads, max(1, self.threads // self.workers))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def map(
        self,
        fn: Callable[..., Any],
        first: Any,
        items: Sequence[Any],
        progress: TaskProgress | None = None,
    ) -> list[Any]:
        """Return ``[fn(first, item) for item in items]``, computed in parallel, in order.

        The first exception raised by a task is re-raised here.
        """
        total = len(items)
        if total == 0:
            return []
        if self.client is not None:
            from dask.distributed import as_completed

            # The settings are small: sent with each task rather than scattered, whose
            # content-hashed key a later phase would share while an earlier one releases it.
            futures = self.client.map(partial(fn, first), list(items), pure=False)
            order = {f.key: i for i, f in enumerate(futures)}
            results: list[Any] = [None] * total
            for done, future in enumerate(as_completed(futures), start=1):
                results[order[future.key]] = future.result()
                if progress is not None:
                    progress(done, total)
            return results
        tasks = [dask.delayed(fn, pure=False)(first, item) for item in items]
        keys = {t.key for t in tasks}
        with _Counter(keys, total, progress):
            return list(dask.compute(*tasks, scheduler="threads", num_workers=self.concurrent))
