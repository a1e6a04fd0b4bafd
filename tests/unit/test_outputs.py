"""socseq.outputs: the output-folder lock, staging, the publish journal and disk-full errors."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from socseq import outputs
from socseq.outputs import (
    JOURNAL,
    LOCK_FILE,
    DiskFullError,
    OutputBusyError,
    PublishError,
    _lock,
    disk_full_guard,
    lock_output,
    output_transaction,
    recover,
    require_free_space,
)
from socseq.outputs import _publish as publish_module

HOLD = textwrap.dedent(
    """
    import sys, time
    from socseq.outputs import lock_output
    with lock_output(sys.argv[1], "run"):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold(folder: Path, seconds: float = 60) -> subprocess.Popen[str]:
    """Start a process that holds ``folder``'s lock; return once it holds it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _tree(folder: Path) -> dict[str, bytes]:
    """Every product file (names not starting with a dot) and its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def _stage_set(stage: Path, tag: str, *, extra: bool = False) -> None:
    (stage / "maps").mkdir()
    (stage / "maps" / "a.tif").write_text(f"map a {tag}")
    (stage / "maps" / f"only_{tag}.tif").write_text(tag)
    (stage / "summary.csv").write_text(f"summary {tag}")
    if extra:
        (stage / "uncertainty").mkdir()
        (stage / "uncertainty" / "u.nc").write_text(tag)
    products = ["maps/a.tif", f"maps/only_{tag}.tif", "summary.csv"]
    (stage / "run.json").write_text(json.dumps({"tag": tag, "products": products}))


def _publish(folder: Path, tag: str, *, extra: bool = False) -> None:
    with output_transaction(folder, "run") as staging:
        _stage_set(staging.stage, tag, extra=extra)
        staging.publish(replaces=outputs.RUN_PRODUCTS)


# -- lock -------------------------------------------------------------------------------------


def test_a_second_writer_is_refused_with_the_folder_pid_and_host(tmp_path: Path) -> None:
    proc = _hold(tmp_path / "out")
    try:
        with pytest.raises(OutputBusyError) as info, lock_output(tmp_path / "out", "run"):
            pass
        message = str(info.value)
        assert "\n" not in message
        assert str(tmp_path / "out") in message
        assert f"PID {proc.pid} on {socket.gethostname()}" in message
    finally:
        proc.kill()
        proc.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    proc = _hold(folder)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (folder / LOCK_FILE).exists()  # kill -9 left the file behind
    with lock_output(folder, "run") as lock:
        assert lock is not None and lock.stale is not None and lock.stale.pid == proc.pid
        holder = json.loads((folder / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid()
    assert not (folder / LOCK_FILE).exists()


def test_the_lock_is_reentrant_within_a_thread_only(tmp_path: Path) -> None:
    refused: list[BaseException] = []

    def other_thread() -> None:
        try:
            with lock_output(tmp_path, "run"):
                pass
        except OutputBusyError as exc:
            refused.append(exc)

    with lock_output(tmp_path, "demo"), lock_output(tmp_path, "run"):
        assert (tmp_path / LOCK_FILE).exists()
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(refused) == 1 and f"PID {os.getpid()}" in str(refused[0])
    assert not (tmp_path / LOCK_FILE).exists()


@pytest.mark.parametrize(
    ("holder", "busy"),
    [
        ({"pid": 2**22 + 12345, "host": socket.gethostname()}, False),  # dead PID, this host
        ({"pid": os.getppid(), "host": socket.gethostname()}, True),  # a live process
        ({"pid": 1, "host": "another-host.example"}, True),  # cannot be checked: assumed alive
    ],
)
def test_without_flock_a_pid_file_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, holder: dict, busy: bool
) -> None:
    monkeypatch.setattr(_lock, "fcntl", None)
    (tmp_path / LOCK_FILE).write_text(
        json.dumps({**holder, "command": "run", "started_utc": "2026-01-01T00:00:00+00:00"})
    )
    if busy:
        with pytest.raises(OutputBusyError, match=f"PID {holder['pid']} on {holder['host']}"):
            with lock_output(tmp_path, "run"):
                pass
    else:
        with lock_output(tmp_path, "run") as lock:
            assert lock is not None and lock.stale is not None
        assert not (tmp_path / LOCK_FILE).exists()


def test_flock_unavailable_falls_back_to_the_pid_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(_lock.fcntl, "flock", no_locks)
    with lock_output(tmp_path, "run"):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
        with pytest.raises(OutputBusyError):
            outputs.OutputLock(tmp_path, "run")._acquire()


# -- staging and publishing -------------------------------------------------------------------


def test_publish_replaces_the_whole_set_and_leaves_no_bookkeeping(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    _publish(folder, "old", extra=True)
    _publish(folder, "new")
    assert _tree(folder) == {
        "maps/a.tif": b"map a new",
        "maps/only_new.tif": b"new",
        "summary.csv": b"summary new",
        "run.json": (folder / "run.json").read_bytes(),
    }
    assert json.loads((folder / "run.json").read_text())["tag"] == "new"
    assert sorted(p.name for p in folder.iterdir()) == ["maps", "run.json", "summary.csv"]


def test_a_failure_before_publish_leaves_the_old_set_byte_identical(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    _publish(folder, "old")
    before = _tree(folder)
    with pytest.raises(RuntimeError), output_transaction(folder, "run") as staging:
        _stage_set(staging.stage, "new")
        raise RuntimeError("boom")
    assert _tree(folder) == before
    assert sorted(p.name for p in folder.iterdir()) == ["maps", "run.json", "summary.csv"]


def test_a_failed_first_run_leaves_no_folder(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), output_transaction(tmp_path / "new", "run"):
        raise RuntimeError("boom")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("crash_at", range(8))
def test_a_publish_interrupted_at_any_rename_is_completed_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: int
) -> None:
    """Every rename of the publish can be the last one: recovery ends at the new set."""
    folder = tmp_path / "out"
    _publish(folder, "old", extra=True)
    expected_dir = tmp_path / "expected"
    _publish(expected_dir, "new")
    calls = {"n": 0}
    real_rename = os.rename

    def dying_rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if calls["n"] == crash_at:
            raise KeyboardInterrupt  # stands for the kill; nothing after it runs in this frame
        calls["n"] += 1
        real_rename(src, dst)

    monkeypatch.setattr(publish_module.os, "rename", dying_rename)
    completed = False
    try:
        with output_transaction(folder, "run") as staging:
            _stage_set(staging.stage, "new")
            _lock._live_roots.discard(os.path.realpath(staging.root))
            staging.close = lambda **_: None  # type: ignore[method-assign]  # a kill cleans nothing
            staging.publish(replaces=outputs.RUN_PRODUCTS)
            completed = True
    except (KeyboardInterrupt, PublishError):
        pass
    monkeypatch.setattr(publish_module.os, "rename", real_rename)
    if not completed:
        assert (folder / JOURNAL).exists()  # committed: the journal says what to finish
        assert not (folder / "run.json").exists() or calls["n"] == 0
    with lock_output(folder, "run"):
        recover(folder)
    assert _tree(folder) == _tree(expected_dir)
    assert sorted(p.name for p in folder.iterdir()) == ["maps", "run.json", "summary.csv"]


def test_product_named_entries_without_run_json_are_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "mine.tif").write_text("user data")
    with pytest.raises(PublishError, match="no run.json"), output_transaction(tmp_path, "run"):
        pass
    assert (tmp_path / "maps" / "mine.tif").read_text() == "user data"


def test_keep_work_leaves_the_scratch_beside_the_products(tmp_path: Path) -> None:
    with output_transaction(tmp_path, "run", keep_work=True) as staging:
        (staging.work / "results.zarr").write_text("x")
        _stage_set(staging.stage, "a")
        staging.publish()
    assert (tmp_path / outputs.KEPT_WORK / "results.zarr").read_text() == "x"
    _publish(tmp_path, "b")  # without keep_work the old scratch goes with the old set
    assert not (tmp_path / outputs.KEPT_WORK).exists()


def test_dsm_folders_replace_namesakes_only(tmp_path: Path) -> None:
    (tmp_path / "cv.csv").write_text("cv")
    with output_transaction(tmp_path, "dsm train", marker=None) as staging:
        (staging.stage / "model.joblib").write_text("m")
        staging.publish()
    assert _tree(tmp_path) == {"cv.csv": b"cv", "model.joblib": b"m"}


# -- disk space -------------------------------------------------------------------------------


def test_require_free_space_names_the_folder_and_the_amounts(tmp_path: Path) -> None:
    with pytest.raises(DiskFullError) as info:
        require_free_space(tmp_path, 2**60, "products")
    message = str(info.value)
    assert str(tmp_path) in message and "TB needed" in message and "free" in message


@pytest.mark.parametrize(
    ("error", "path"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/x/maps/a.tif"), "/x/maps/a.tif"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), None),
        (
            OSError(
                28,
                "Can't close file (file write failed: time = Tue\n, filename = '/x/.c.nc', "
                "file descriptor = 5, errno = 28, error message = 'No space left on device')",
            ),
            "/x/.c.nc",
        ),
        (RuntimeError("TIFFAppendToStrip: Write error: No space left on device"), None),
    ],
)
def test_a_full_disk_becomes_one_line(tmp_path: Path, error: Exception, path: str | None) -> None:
    with pytest.raises(DiskFullError) as info, disk_full_guard(tmp_path, need=3 * 1024**2):
        raise error
    message = str(info.value)
    assert "\n" not in message
    assert (path or str(tmp_path)) in message
    assert "about 3.0 MB needed" in message


def test_other_errors_pass_the_guard_unchanged(tmp_path: Path) -> None:
    hook = sys.unraisablehook
    with pytest.raises(ValueError, match="other"), disk_full_guard(tmp_path):
        raise ValueError("other")
    assert sys.unraisablehook is hook


def test_recover_removes_what_dead_runs_left(tmp_path: Path) -> None:
    _publish(tmp_path, "old")
    dead = tmp_path / ".socseq-run-20260101T000000-1-abcdef"
    (dead / "work").mkdir(parents=True)
    (tmp_path / ".socseq-partial").mkdir()
    with lock_output(tmp_path, "run"):
        done = recover(tmp_path)
    assert sorted(done) == ["removed .socseq-partial", f"removed {dead.name}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maps", "run.json", "summary.csv"]


def test_the_lock_is_held_for_seconds_not_polled(tmp_path: Path) -> None:
    """A refused second writer answers at once (no waiting for the holder)."""
    proc = _hold(tmp_path, 30)
    try:
        started = time.perf_counter()
        with pytest.raises(OutputBusyError), lock_output(tmp_path, "run"):
            pass
        assert time.perf_counter() - started < 1.0
    finally:
        proc.kill()
        proc.wait()
