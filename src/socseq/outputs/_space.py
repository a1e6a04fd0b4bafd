"""Free-space checks before the big writes, and one line for a full disk."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from socseq.exceptions import DiskFullError
from socseq.outputs._common import _DISK_FULL, _DISK_FULL_TEXT, _HDF5_FILE, RUN_PREFIX


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KB"`` (powers of 1024, one decimal)."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def require_free_space(folder: str | os.PathLike[str], need: int, what: str) -> None:
    """Raise :class:`DiskFullError` unless ``folder``'s file system has ``need`` bytes free.

    Parameters
    ----------
    folder : path-like
        A folder on the file system that will receive the data.
    need : int
        Bytes about to be written.
    what : str
        What they are, for the message (``"scratch and products"``).
    """
    free = shutil.disk_usage(folder).free
    if free < need:
        raise DiskFullError(
            f"output folder {folder}: not enough free space for the {what}: about "
            f"{format_bytes(need)} needed, {format_bytes(free)} free; free some space or choose "
            "another output folder (--out)"
        )


def _disk_full_cause(exc: BaseException | None) -> BaseException | None:
    """Return the exception in ``exc``'s chain that reports a full disk, if any."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
            return exc
        if _DISK_FULL_TEXT.search(str(exc)):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


#: Set when libhdf5 failed on a full disk: its library may crash when the process tears down.
_hdf5_failed = False


def _from_hdf5(exc: BaseException | None) -> bool:
    """Whether an exception chain passed through h5py or h5netcdf."""
    while exc is not None:
        tb = exc.__traceback__
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if "h5py" in name or "h5netcdf" in name:
                return True
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__
    return False


def exit_after_hdf5_failure(status: int) -> None:
    """Leave at once (``os._exit``) when libhdf5 failed on a full disk; return otherwise.

    After such a failure libhdf5 can crash while Python shuts down (segmentation fault when it
    closes the broken file), which would turn the one-line error and exit status into a crash.
    The command line calls this after printing its message; nothing is left to flush then.
    """
    if _hdf5_failed:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


_TEMPORARY = re.compile(r"^\.(.+)\.(?:tmp|old)-[0-9a-f]{8}(.*)$")


def _shown_path(path: str) -> str:
    """Return the path a user recognises: a staged product where it will be published."""
    parts = Path(path).parts
    for i, part in enumerate(parts):
        if part.startswith(RUN_PREFIX) and i + 1 < len(parts):
            base, area, rest = Path(*parts[:i]), parts[i + 1], parts[i + 2 :]
            if area == "work":  # scratch: name the store, not the chunk
                return str(Path(*parts[: i + 2 + min(1, len(rest))]))
            if area == "stage" and rest:
                *head, name = rest
                match = _TEMPORARY.match(name)
                return str(base.joinpath(*head, "".join(match.groups()) if match else name))
    return path


def _disk_full_path(exc: BaseException, folder: Path) -> str:
    filename = getattr(exc, "filename", None)
    if filename:
        return _shown_path(os.fspath(filename))
    match = _HDF5_FILE.search(str(exc))
    return _shown_path(match.group(1)) if match else str(folder)


def _disk_full_error(cause: BaseException, folder: Path, needed: int | None) -> DiskFullError:
    """One line: the file being written, the space needed and the space left."""
    try:
        free = format_bytes(shutil.disk_usage(folder).free) if folder.exists() else "?"
    except OSError:
        free = "?"
    amount = f"about {format_bytes(needed)} needed, " if needed else ""
    return DiskFullError(
        f"no space left on device writing {_disk_full_path(cause, folder)}: {amount}{free} "
        f"free in {folder}; free some space or choose another output folder (--out)"
    )


@contextlib.contextmanager
def disk_full_guard(
    folder: str | os.PathLike[str], need: Callable[[], int] | int | None = None
) -> Iterator[None]:
    """Turn a full disk anywhere in the block into one :class:`DiskFullError` line.

    Recognises ``OSError`` with ``ENOSPC``/``EDQUOT`` anywhere in the exception chain and the
    messages GDAL and HDF5 give for it. While the block runs, the reports that h5py prints
    when it closes a file whose write failed (through :data:`sys.unraisablehook` and
    :data:`sys.excepthook`) are dropped when they are the same full disk, so the user sees one
    line. libhdf5 itself can still crash the process after such a failure (seen with
    h5netcdf); :func:`require_free_space` before the big writes is what prevents it.

    Parameters
    ----------
    folder : path-like
        The output folder (named when the failing path is unknown; its free space is shown).
    need : int or callable, optional
        Bytes the run needs (or a function returning them once known), shown in the message.
    """
    folder = Path(folder)
    previous_hook, previous_excepthook = sys.unraisablehook, sys.excepthook

    def quiet_hook(unraisable: Any) -> None:
        if _disk_full_cause(unraisable.exc_value) is None:
            previous_hook(unraisable)

    def quiet_excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        # h5py's deallocators print their failures through PyErr_Print, i.e. sys.excepthook.
        if _disk_full_cause(value) is None:
            previous_excepthook(kind, value, tb)

    sys.unraisablehook, sys.excepthook = quiet_hook, quiet_excepthook
    failed = False
    try:
        yield
    except DiskFullError:
        failed = True
        raise
    except Exception as exc:
        cause = _disk_full_cause(exc)
        if cause is None:
            raise
        failed = True
        if _from_hdf5(exc):
            global _hdf5_failed
            _hdf5_failed = True
        raise _disk_full_error(cause, folder, need() if callable(need) else need) from exc
    finally:
        if not failed:  # after a full disk, h5py may still report it while closing files
            sys.unraisablehook, sys.excepthook = previous_hook, previous_excepthook
