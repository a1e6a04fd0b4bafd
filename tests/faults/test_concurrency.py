"""One writer per output folder: a second run is refused at once; a stale lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from socseq.outputs import LOCK_FILE

from .conftest import FaultRegion, bookkeeping, copy_set, invoke, spawn, which_set


def _wait_for_lock(folder: Path, proc: subprocess.Popen[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the first run ended early: {proc.communicate()[1]}")
        try:
            holder = json.loads((folder / LOCK_FILE).read_text())
            if holder.get("pid") == proc.pid:
                return holder
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError("the first run never took the lock")


@contextmanager
def _lock_held(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holds ``folder``'s lock, as a running ``socseq run`` does, until exit."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom socseq.outputs import lock_output\n"
            "with lock_output(sys.argv[1], 'run'):\n    print('locked', flush=True)\n"
            "    time.sleep(60)\n",
            str(folder),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_second_run_is_refused_at_once_and_the_first_completes(
    fault_region: FaultRegion, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    first = spawn("run", str(fault_region.config_b), "--out", str(folder), "-q", "--no-report")
    try:
        holder = _wait_for_lock(folder, first)
        started = time.perf_counter()
        code, err = invoke(
            ["run", str(fault_region.config_a), "--out", str(folder), "-q", "--no-report"], capsys
        )
        refused_in = time.perf_counter() - started
        assert first.poll() is None, "the first run must still be running for this test"
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1, err
        assert lines[0] == (
            f"error: output folder {folder} is in use by socseq run (PID {first.pid} on "
            f"{socket.gethostname()}, since {holder['started_utc']}); "
            "wait for it to finish or choose another output folder"
        )
        assert refused_in < 2.0
        _, stderr = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, stderr
    assert which_set(folder, fault_region) == "B"  # the refused run changed nothing
    assert bookkeeping(folder) == []


def test_the_validate_command_needs_no_lock(
    fault_region: FaultRegion, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    with _lock_held(folder):
        code, err = invoke(["validate", str(fault_region.config_b), "-q"], capsys)
        assert code == 0, err


def test_a_stale_lock_and_a_dead_runs_leftovers_are_taken_over(
    fault_region: FaultRegion, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    # A run killed while computing: its lock file and its private folder stay behind.
    script = textwrap.dedent(
        """
        import sys, time
        from socseq.outputs import output_transaction
        with output_transaction(sys.argv[1], "run") as staging:
            (staging.work / "inputs.zarr").mkdir()
            (staging.stage / "maps").mkdir()
            (staging.stage / "maps" / "half.tif").write_bytes(b"half a map")
            print("staged", flush=True)
            time.sleep(60)
        """
    )
    dead = subprocess.Popen(
        [sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert dead.stdout is not None and dead.stdout.readline().strip() == "staged"
    os.kill(dead.pid, signal.SIGKILL)
    dead.wait()
    assert json.loads((folder / LOCK_FILE).read_text())["pid"] == dead.pid
    assert any(name.startswith(".socseq-run-") for name in bookkeeping(folder))
    assert which_set(folder, fault_region) == "A"  # the kill changed no product

    code, err = invoke(
        ["run", str(fault_region.config_b), "--out", str(folder), "-q", "--no-report"], capsys
    )
    assert code == 0, err
    assert which_set(folder, fault_region) == "B"
    assert bookkeeping(folder) == []


def test_socseq_report_is_refused_while_a_run_holds_the_folder(
    fault_region: FaultRegion, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    with _lock_held(folder) as holder:
        code, err = invoke(["report", str(folder)], capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert f"is in use by socseq run (PID {holder.pid}" in err
    assert not (folder / "report.html").exists()
    assert which_set(folder, fault_region) == "A"
