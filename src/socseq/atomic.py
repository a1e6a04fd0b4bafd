"""Atomic output: write under a temporary name, then rename over the final path.

A run that fails or is interrupted half-way must never leave a truncated map or table under the
final name, because a later run (or a user) would take it for a finished product. Every writer
of socseq therefore writes to a temporary path in the *same directory* (so the rename
stays on one file system and is atomic for files) and renames it with :func:`os.replace` only
when the writer returned without error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["atomic_path", "write_csv_atomic", "write_json_atomic", "write_text_atomic"]


def _remove(path: Path) -> None:
    """Delete a file or a directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _sibling(final: Path, tag: str) -> Path:
    """Return a hidden, unique path beside ``final`` that keeps its suffix.

    The suffix is kept because GDAL and Zarr choose behaviour from the file extension.
    """
    return final.with_name(f".{final.stem}.{tag}-{uuid.uuid4().hex[:8]}{final.suffix}")


@contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; move it over ``final`` only on success.

    Parameters
    ----------
    final : path-like
        Where the finished file or directory (e.g. a Zarr store) must end up. Missing parent
        directories are created.

    Yields
    ------
    pathlib.Path
        A path that does not exist yet, in the same directory as ``final``, with the same
        suffix. The body of the ``with`` block must create it (as a file or a directory).

    Notes
    -----
    Files are replaced atomically with :func:`os.replace`. A directory cannot be renamed over a
    non-empty directory, so an existing directory at ``final`` is first moved aside, the new one
    renamed into place, and the old one deleted (restored if the rename fails). On any exception
    in the body the temporary path is removed and the exception propagates.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(final, "tmp")
    try:
        yield tmp
        if tmp.is_dir() and final.is_dir():
            old = _sibling(final, "old")
            os.replace(final, old)
            try:
                os.replace(tmp, final)
            except BaseException:
                os.replace(old, final)
                raise
            _remove(old)
        else:
            if final.exists() and final.is_dir() != tmp.is_dir():
                # os.replace cannot put a file over a directory or the reverse.
                _remove(final)
            os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise


def write_text_atomic(text: str, path: str | os.PathLike[str], *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically and return the final path.

    The data are flushed to disk (``fsync``) before the rename so a crash cannot leave an empty
    file under the final name.
    """
    final = Path(path)
    with atomic_path(final) as tmp:
        with open(tmp, "w", encoding=encoding, newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    return final


def write_csv_atomic(
    df: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = False, **to_csv: Any
) -> Path:
    """Write a table as CSV atomically and return the final path.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; columns should carry their units in their names (``SOC_t_C_ha``).
    path : path-like
        Destination file.
    index : bool, default False
        Whether to write the row index (off by default: our tables keep keys in columns).
    **to_csv
        Passed to :meth:`pandas.DataFrame.to_csv` (e.g. ``float_format``).
    """
    return write_text_atomic(df.to_csv(index=index, **to_csv), path)


def _json_default(obj: Any) -> Any:
    """Turn numpy scalars/arrays, paths and timestamps into JSON values."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, dt.date):
        return obj.isoformat()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def write_json_atomic(obj: Any, path: str | os.PathLike[str], *, indent: int = 2) -> Path:
    """Write ``obj`` as JSON atomically and return the final path.

    numpy scalars and arrays, paths and timestamps are converted, so provenance records and
    summary statistics can be written without manual casting.
    """
    text = json.dumps(obj, indent=indent, default=_json_default, ensure_ascii=False) + "\n"
    return write_text_atomic(text, path)
