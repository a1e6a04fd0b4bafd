"""A full disk at each kind of write: one line naming the path and the space, old set intact.

``ENOSPC`` is injected in this process at the N-th write of one kind: the real writer runs
into its temporary file and then fails as a full disk makes it fail (``OSError`` with
``errno.ENOSPC``; for NetCDF the text h5py gives, without a ``filename``). The free-space
checks before the big writes are exercised by shrinking what :func:`shutil.disk_usage`
reports.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import zarr.storage._local as zarr_local

import socseq.atomic
import socseq.io.raster
import socseq.report.html
from socseq.outputs import _space

from .conftest import FaultRegion, bookkeeping, copy_set, invoke, which_set


def _failing_atomic_path(
    real: Callable[[Any], Any],
    matches: Callable[[Path], bool],
    nth: int,
    error: Callable[[Path], Exception],
) -> Callable[[Any], Any]:
    """An ``atomic_path`` whose N-th matching write fails after the writer has written."""
    seen = {"n": 0}

    @contextmanager
    def wrapper(final: Any) -> Iterator[Path]:
        with real(final) as tmp:
            yield tmp
            if matches(Path(final)):
                seen["n"] += 1
                if seen["n"] == nth:
                    raise error(tmp)

    return wrapper


def _enospc(tmp: Path) -> Exception:
    return OSError(errno.ENOSPC, "No space left on device", str(tmp))


def _h5py_enospc(tmp: Path) -> Exception:
    # What h5py raises when HDF5's write fails: errno set, no filename attribute, two lines.
    return OSError(
        errno.ENOSPC,
        "Can't close file (file write failed: time = Tue Dec  1 20:35:55 2026\n, filename = "
        f"'{tmp}', file descriptor = 5, errno = 28, error message = 'No space left on device')",
    )


def _check(code: int, err: str, folder: Path, region: FaultRegion, needle: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: no space left on device writing "), lines[0]
    assert needle in lines[0] and "needed" in lines[0] and "free in" in lines[0], lines[0]
    assert which_set(folder, region) == "A"
    assert bookkeeping(folder) == []


WRITES = {
    # kind: (module whose atomic_path is patched, which finals count, N, error, path shown)
    "geotiff": (socseq.io.raster, lambda p: p.suffix == ".tif", 3, _enospc, ".tif"),
    "netcdf": (socseq.io.raster, lambda p: p.suffix == ".nc", 1, _h5py_enospc, ".nc"),
    "csv": (socseq.atomic, lambda p: p.suffix == ".csv", 2, _enospc, ".csv"),
    "json": (socseq.atomic, lambda p: p.name == "run.json", 1, _enospc, "run.json"),
}


@pytest.mark.parametrize("kind", list(WRITES))
def test_disk_full_at_a_product_write(
    fault_region: FaultRegion,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    module, matches, nth, error, needle = WRITES[kind]
    monkeypatch.setattr(
        module, "atomic_path", _failing_atomic_path(module.atomic_path, matches, nth, error)
    )
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    code, err = invoke(
        ["run", str(fault_region.config_b), "--out", str(folder), "-q", "--no-report"], capsys
    )
    _check(code, err, folder, fault_region, needle)


def test_disk_full_in_the_zarr_scratch(
    fault_region: FaultRegion,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real_put = zarr_local._put
    seen = {"n": 0}

    def put(path: Path, value: Any, exclusive: bool = False) -> int:
        seen["n"] += 1
        if seen["n"] == 10:  # a chunk of the scratch stores (DSM maps, window results)
            raise OSError(errno.ENOSPC, "No space left on device")  # write(2) names no file
        return real_put(path, value, exclusive=exclusive)

    monkeypatch.setattr(zarr_local, "_put", put)
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    code, err = invoke(
        ["run", str(fault_region.config_b), "--out", str(folder), "-q", "--no-report"], capsys
    )
    assert seen["n"] >= 10
    _check(code, err, folder, fault_region, str(folder))


@pytest.mark.parametrize("target", ["figures", "report.html"])
def test_disk_full_while_the_report_is_written(
    fault_region: FaultRegion,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    target: str,
) -> None:
    # Drawing the report's figures takes ~20 s; its writing is what is tested here.
    monkeypatch.setattr(
        socseq.report.html,
        "render_report",
        lambda run: (f"<html>{run.manifest['config_digest']}</html>", []),
    )
    if target == "figures":
        patched = _failing_atomic_path(
            socseq.report.html.atomic_path, lambda p: p.name == "figures", 1, _enospc
        )
        monkeypatch.setattr(socseq.report.html, "atomic_path", patched)
    else:
        patched = _failing_atomic_path(
            socseq.atomic.atomic_path, lambda p: p.name == "report.html", 1, _enospc
        )
        monkeypatch.setattr(socseq.atomic, "atomic_path", patched)
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    code, err = invoke(["run", str(fault_region.config_b), "--out", str(folder), "-q"], capsys)
    _check(code, err, folder, fault_region, target)


@pytest.mark.parametrize(
    ("calls_with_room", "what"), [(0, "scratch and products"), (1, "products")]
)
def test_too_little_free_space_is_refused_before_the_big_writes(
    fault_region: FaultRegion,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    calls_with_room: int,
    what: str,
) -> None:
    real = shutil.disk_usage
    calls = {"n": 0}

    def disk_usage(path: Any) -> Any:
        usage = real(path)
        calls["n"] += 1
        if calls["n"] > calls_with_room:
            return usage._replace(free=10_000)
        return usage

    monkeypatch.setattr(_space.shutil, "disk_usage", disk_usage)
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    code, err = invoke(
        ["run", str(fault_region.config_b), "--out", str(folder), "-q", "--no-report"], capsys
    )
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(
        f"error: output folder {folder}: not enough free space for the {what}"
    )
    assert "needed, 9.8 KB free" in lines[0]
    assert which_set(folder, fault_region) == "A"
    assert bookkeeping(folder) == []
