"""kill -9 at seeded instants: the folder holds the previous or the new complete set.

Two kinds of instants. *Wall-clock* instants, drawn from a seeded generator over the length of
a run, kill a real ``socseq run`` subprocess wherever it happens to be (mostly computing).
*Publish* instants kill the process just before the N-th rename of the publish, the only
moments when the folder itself changes: through a real ``socseq run`` (slow) and through a
small publisher that stages a copy of a clean run's products and publishes it with the same
code (fast). After each kill: if ``run.json`` is present the folder already holds a complete
set; otherwise the publish journal is there, and the next start (:func:`socseq.outputs.recover`)
completes it. Either way the folder ends as exactly the old set or the new one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from socseq.outputs import JOURNAL, lock_output, recover

from .conftest import FaultRegion, bookkeeping, cli_command, copy_set, spawn, which_set

#: Kills the process just before the N-th rename of a publish (a staged product moved in, or a
#: previous one moved aside).
KILL_AT_RENAME = textwrap.dedent(
    """
    import os, signal, sys
    target = int(os.environ["KILL_AT_RENAME"])
    count = 0
    real_rename = os.rename

    def rename(src, dst):
        global count
        if "/stage/" in os.fspath(src) or "/old/" in os.fspath(dst):  # a publish move
            if count == target:
                os.kill(os.getpid(), signal.SIGKILL)
            count += 1
        real_rename(src, dst)

    os.rename = rename
    """
)

#: Stages a copy of a finished run folder and publishes it into another folder.
PUBLISHER = KILL_AT_RENAME + textwrap.dedent(
    """
    import shutil
    from pathlib import Path
    from socseq.outputs import RUN_PRODUCTS, output_transaction

    source, folder = Path(sys.argv[1]), Path(sys.argv[2])
    with output_transaction(folder, "run") as staging:
        for entry in source.iterdir():
            if entry.is_dir():
                shutil.copytree(entry, staging.stage / entry.name)
            else:
                shutil.copy2(entry, staging.stage / entry.name)
        staging.publish(replaces=RUN_PRODUCTS)
    """
)

#: Renames of one publish from A to B: run.json aside, for each of the 6 other products the old
#: one aside and the new one in, run.json in: 14. Point 14 lets the publish finish.
RENAMES = 14
PUBLISH_POINTS = range(RENAMES + 1)


def _next_start(folder: Path) -> None:
    """What any socseq command does first on a folder: take the lock and recover."""
    with lock_output(folder, "run"):
        recover(folder)


def _check_after_kill(folder: Path, region: FaultRegion) -> str:
    """Assert the guarantees after a kill; return the set the folder ends with."""
    if (folder / "run.json").exists():
        now = which_set(folder, region)
        assert now in ("A", "B"), now  # a marker always comes with its complete set
    else:
        assert (folder / JOURNAL).exists(), "no run.json and no journal: products lost"
    _next_start(folder)
    final = which_set(folder, region)
    assert final in ("A", "B"), final
    assert bookkeeping(folder) == [], bookkeeping(folder)
    return final


def _wall_clock_seeds() -> list[object]:
    fast = [0, 1, 2]
    slow = [pytest.param(seed, marks=pytest.mark.slow) for seed in range(3, 12)]
    return [*fast, *slow]


@pytest.mark.parametrize("seed", _wall_clock_seeds())
def test_kill_at_a_random_instant_of_a_run(
    fault_region: FaultRegion, tmp_path: Path, seed: int
) -> None:
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    # A subprocess run of this region takes about 8-20 s on a shared machine (imports,
    # cached numba kernels, a few seconds of work): instants cover it and its publish.
    instant = float(np.random.default_rng(seed).uniform(1.0, 14.0))
    proc = spawn("run", str(fault_region.config_b), "--out", str(folder), "-q", "--no-report")
    try:
        proc.wait(timeout=instant)
        finished = True
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        finished = False
    final = _check_after_kill(folder, fault_region)
    if finished:
        assert proc.returncode == 0 and final == "B", proc.stderr.read() if proc.stderr else ""


@pytest.mark.parametrize("point", PUBLISH_POINTS)
def test_kill_at_each_rename_of_a_publish(
    fault_region: FaultRegion, tmp_path: Path, point: int
) -> None:
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    done = subprocess.run(
        [sys.executable, "-c", PUBLISHER, str(fault_region.clean_b), str(folder)],
        env={**os.environ, "KILL_AT_RENAME": str(point)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, -signal.SIGKILL), done.stderr
    final = _check_after_kill(folder, fault_region)
    assert final == "B"  # every publish rename is after the commit: the new set wins
    assert (done.returncode == 0) == (point >= RENAMES)


def test_a_recovery_killed_midway_is_completed_by_the_next_one(
    fault_region: FaultRegion, tmp_path: Path
) -> None:
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    subprocess.run(
        [sys.executable, "-c", PUBLISHER, str(fault_region.clean_b), str(folder)],
        env={**os.environ, "KILL_AT_RENAME": "2"},
        timeout=120,
    )
    recovering = KILL_AT_RENAME + textwrap.dedent(
        """
        from socseq.outputs import lock_output, recover
        with lock_output(sys.argv[1], "run"):
            recover(sys.argv[1])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", recovering, str(folder)],
        env={**os.environ, "KILL_AT_RENAME": "1"},
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL
    assert _check_after_kill(folder, fault_region) == "B"


@pytest.mark.slow
@pytest.mark.parametrize("point", PUBLISH_POINTS)
def test_kill_at_each_rename_of_a_real_run(
    fault_region: FaultRegion, tmp_path: Path, point: int
) -> None:
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    script = KILL_AT_RENAME + "from socseq.cli import main\nmain()\n"
    args = ["run", str(fault_region.config_b), "--out", str(folder), "-q", "--no-report"]
    command = [sys.executable, "-c", script, *args]
    assert command[3:] == cli_command(*args)[3:]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        env={**os.environ, "KILL_AT_RENAME": str(point)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == (0 if point >= RENAMES else -signal.SIGKILL), done.stderr
    assert _check_after_kill(folder, fault_region) == "B", time.perf_counter() - started
