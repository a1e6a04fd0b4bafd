"""The thread budget of a run: concurrent window tasks × threads per task never exceed it.

Recorded inside the running tasks (not computed from the Executor's own arithmetic): every
task notes, when its inputs are read, how many tasks are running at that moment, the numba
threads it was given and the GDAL warper threads passed to its reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numba
import pytest

from socseq.pipeline import phases
from socseq.pipeline.config import load_run_config
from socseq.pipeline.run import run_pipeline

from .conftest import write_region


class _Recorder:
    """Counts running tasks and records the threads each one uses."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.seen: list[tuple[int, int, int]] = []  # (running tasks, numba, GDAL threads)

    def wrap_task(self, task):
        def wrapped(settings, window):
            with self.lock:
                self.running += 1
            try:
                return task(settings, window)
            finally:
                with self.lock:
                    self.running -= 1

        return wrapped

    def wrap_read(self, read):
        def wrapped(plan, window, threads=1):
            # Hold the task a moment so that concurrent tasks overlap for sure.
            time.sleep(0.05)
            with self.lock:
                self.seen.append((self.running, numba.get_num_threads(), threads))
            return read(plan, window, threads)

        return wrapped


@pytest.mark.parametrize(
    ("budget", "chunk"),
    [
        (2, 6),  # many windows: two tasks at a time, one thread each
        (2, 64),  # one window: it gets both threads
        (1, 6),  # one core: one task at a time
    ],
)
def test_tasks_times_threads_stay_within_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int, chunk: int
) -> None:
    region = write_region(tmp_path / "region", ny=12, nx=18)
    config = load_run_config(region.config)
    config = config.model_copy(update={"run": config.run.model_copy(update={"chunk_size": chunk})})
    recorder = _Recorder()
    monkeypatch.setattr(phases, "read_window", recorder.wrap_read(phases.read_window))
    import socseq.pipeline.run as run_module

    monkeypatch.setattr(run_module, "window_task", recorder.wrap_task(run_module.window_task))
    run_pipeline(config, output_dir=tmp_path / "out", threads=budget)

    n_windows = -(-12 // chunk) * -(-18 // chunk)
    assert len(recorder.seen) == n_windows
    peak_tasks = max(running for running, _, _ in recorder.seen)
    for running, numba_threads, gdal_threads in recorder.seen:
        assert running * numba_threads <= budget, recorder.seen
        assert running * gdal_threads <= budget, recorder.seen
    if n_windows >= budget:
        assert peak_tasks == budget  # the budget is used, not only respected
    else:
        assert {t for _, t, _ in recorder.seen} == {min(budget, numba.config.NUMBA_NUM_THREADS)}


def test_zarr_codecs_stay_within_the_budget(tmp_path: Path) -> None:
    # zarr 3 decodes and encodes chunks on a pool of its own (asyncio's default: cores + 4
    # threads). Threads are counted after a whole run in a fresh process: a pool only grows.
    script = f"""
import json, threading
from pathlib import Path
from pipeline.conftest import write_region
from socseq.pipeline.config import load_run_config
from socseq.pipeline.run import run_pipeline

region = write_region(Path({str(tmp_path)!r}) / "region", ny=12, nx=18)
run_pipeline(load_run_config(region.config), output_dir=Path({str(tmp_path)!r}) / "out", threads=1)
print(json.dumps(sorted(t.name for t in threading.enumerate())))
"""
    tests = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tests,
        env={**os.environ, "PYTHONPATH": str(tests)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = json.loads(done.stdout.strip().splitlines()[-1])
    assert not [n for n in names if n.startswith("asyncio")], names
    assert len([n for n in names if n.startswith("zarr_pool")]) <= 1, names
