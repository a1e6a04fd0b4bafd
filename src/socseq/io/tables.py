"""Small CSV tables named in a configuration (class table, zone names), read with one-line errors.

A table that is missing, empty, not UTF-8, not CSV, lacks a column or holds text where a number
belongs is refused with a :class:`~socseq.exceptions.ConfigError` that names the configuration
key, the file and, for a bad value, its line and column, before any computation starts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from socseq.exceptions import ConfigError

__all__ = ["check_zone_codes", "read_csv_table", "read_zone_names"]


def read_csv_table(
    path: str | os.PathLike[str],
    *,
    what: str,
    columns: Sequence[str],
    numeric: Sequence[str] = (),
    integer: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a CSV table and check its columns and values.

    Parameters
    ----------
    path : path-like
        The CSV file.
    what : str
        The configuration key that names it (``"land_use.table"``), for messages.
    columns : sequence of str
        Columns that must be present.
    numeric : sequence of str
        Columns whose every value must be a number (converted to float).
    integer : sequence of str
        Columns whose every value must be a whole number (converted to int64).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ConfigError
        One line naming ``what``, the file and what is wrong (with line and column for a bad
        value; line 1 is the header).
    """
    path = Path(path)
    frame = _read_frame(path, what, columns)
    for column in [*numeric, *integer]:
        frame[column] = _checked_column(frame, column, column in integer, what, path)
    return frame


def _read_frame(path: Path, what: str, columns: Sequence[str]) -> pd.DataFrame:
    """Read the CSV and check it has the columns and at least one row."""
    if not path.exists():
        raise ConfigError(
            f"{what} {path}: does not exist; check the path (relative paths are relative to "
            "the configuration's folder)"
        )
    if path.is_dir():
        raise ConfigError(f"{what} {path}: is a folder; give a CSV file")
    expected = ",".join(columns)
    try:
        frame = pd.read_csv(path, encoding="utf-8", skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise ConfigError(
            f"{what} {path}: is empty; give a CSV with the header {expected}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path}: is not UTF-8 text; save it as UTF-8 CSV") from exc
    except (pd.errors.ParserError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{what} {path}: is not a readable CSV table ({reason})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing and len(frame.columns) == 1 and ";" in frame.columns[0]:
        raise ConfigError(
            f"{what} {path}: is separated by ';', not ','; save it as comma-separated CSV with "
            f"the header {expected}"
        )
    if missing:
        raise ConfigError(
            f"{what} {path}: lacks column(s) {', '.join(missing)}; the columns are {expected}"
        )
    if frame.empty:
        raise ConfigError(f"{what} {path}: has a header but no rows")
    return frame


def _checked_column(
    frame: pd.DataFrame, column: str, integer: bool, what: str, path: Path
) -> pd.Series:
    """Return the column as float (or int64); one line naming the first bad value if any."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy()
    kind = "a number"
    if integer:
        whole = np.isfinite(values.to_numpy(float)) & (values.to_numpy(float) % 1 == 0)
        bad = bad | ~whole
        kind = "a whole number"
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        found = "an empty field" if pd.isna(raw.iloc[row]) else f"'{raw.iloc[row]}'"
        raise ConfigError(
            f"{what} {path} line {row + 2}, column '{column}': expected {kind}, found {found}"
        )
    return values.astype(np.int64) if integer else values.astype(float)


def read_zone_names(path: str | os.PathLike[str]) -> dict[int, str]:
    """Read ``inputs.zone_names``: a CSV with the columns ``code`` (whole numbers) and ``name``.

    Raises
    ------
    ConfigError
        The file is missing, empty or malformed, a code is not a whole number or repeats, or a
        name is empty.
    """
    what = "inputs.zone_names"
    frame = read_csv_table(path, what=what, columns=("code", "name"), integer=("code",))
    codes = frame["code"]
    if codes.duplicated().any():
        repeated = sorted({int(c) for c in codes[codes.duplicated()]})
        raise ConfigError(
            f"{what} {path}: code(s) {', '.join(map(str, repeated))} repeat; give each zone once"
        )
    names = frame["name"]
    empty = names.isna() | (names.astype(str).str.strip() == "")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise ConfigError(f"{what} {path} line {row + 2}, column 'name': is empty; name the zone")
    return dict(zip(codes.astype(int).tolist(), names.astype(str).str.strip(), strict=True))


def check_zone_codes(
    codes: np.ndarray, names: dict[int, str], path: str | os.PathLike[str]
) -> None:
    """Refuse zone codes of the ``inputs.zones`` raster that ``inputs.zone_names`` lacks.

    Parameters
    ----------
    codes : numpy.ndarray
        Zone codes of the cells that will be summarised (no nodata).
    names : dict
        The zone names (:func:`read_zone_names`).
    path : path-like
        The zone-names CSV, for the message.

    Raises
    ------
    ConfigError
        One line naming the missing codes (with their cells, the most frequent first) and the
        CSV, so the gap shows in ``socseq validate``, not as bare numbers in ``summary.csv``.
    """
    values, counts = np.unique(np.asarray(codes, dtype=np.int64), return_counts=True)
    absent = [(int(v), int(c)) for v, c in zip(values, counts, strict=True) if int(v) not in names]
    if not absent:
        return
    absent.sort(key=lambda vc: -vc[1])
    listed = ", ".join(f"{v} ({c:,} cells)" for v, c in absent[:6])
    more = f" and {len(absent) - 6} more" if len(absent) > 6 else ""
    raise ConfigError(
        f"inputs.zone_names {path}: has no name for zone code(s) {listed}{more} of inputs.zones; "
        "add a row code,name for each"
    )
