"""Monthly series from one file per month: ``"wc2.1_30s_prec_{month:02d}.tif"``.

WorldClim, CHELSA and most national climatologies ship one GeoTIFF per month instead of a
12-band stack or a NetCDF time axis. :func:`open_monthly_pattern` reads such a set as the
same ``(time, y, x)`` DataArray that :func:`socseq.io.raster.open_monthly` returns for a
stacked file, so nobody has to stack bands by hand. Each file is read with
:func:`socseq.io.raster.open_raster` (nodata → NaN, scale factors applied once, CRS checked),
and all files must share one grid.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from socseq.exceptions import ConfigError, GridMismatchError
from socseq.io.raster import RasterFileNotFoundError, load_block, open_raster

__all__ = ["NORMALS_YEAR", "MonthFile", "expand_pattern", "open_monthly_pattern"]

#: Nominal year of the time stamps of 12 monthly normals (a pattern without ``{year}``)
#: when no ``start`` is given; ``attrs["climatology"]`` marks such a series.
NORMALS_YEAR = 2000
_FIELDS = {"month", "year"}


@dataclass(frozen=True)
class MonthFile:
    """One file of a pattern: its month (first day) and path."""

    time: pd.Timestamp
    path: Path


def _fields(pattern: str, name: str) -> set[str]:
    """Placeholders of a format pattern; only ``{month}`` and ``{year}`` are allowed."""
    try:
        found = {f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None}
    except ValueError as exc:
        raise ConfigError(
            f"layer '{name}': pattern '{pattern}' is not a format string ({exc})"
        ) from exc
    unknown = found - _FIELDS
    if unknown or "month" not in found:
        raise ConfigError(
            f"layer '{name}': pattern '{pattern}' must contain {{month}} (e.g. "
            f"'prec_{{month:02d}}.tif') and may contain {{year}}; found "
            f"{', '.join(sorted(found)) or 'no placeholder'}"
        )
    return found


def _first_month(start: str, name: str) -> pd.Timestamp:
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", str(start).strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ConfigError(f"layer '{name}': start '{start}' is not a month; give 'YYYY-MM'")
    return pd.Timestamp(year=int(match.group(1)), month=int(match.group(2)), day=1)


def expand_pattern(
    pattern: str | os.PathLike[str],
    *,
    name: str,
    years: tuple[int, int] | None = None,
    start: str | None = None,
) -> list[MonthFile]:
    """List the files a per-month pattern names, in time order.

    Parameters
    ----------
    pattern : str or path-like
        Path with ``{month}`` (1–12, any format spec such as ``{month:02d}``) and optionally
        ``{year}``.
    name : str
        Layer name for messages.
    years : (int, int), optional
        First and last year (inclusive); required when the pattern has ``{year}``.
    start : str, optional
        ``"YYYY-MM"`` of the first of 12 months for a pattern without ``{year}`` (default
        January of :data:`NORMALS_YEAR`). The 12 files are then read from that month on,
        wrapping after December.

    Returns
    -------
    list of MonthFile
        Consecutive months.
    """
    text = os.fspath(pattern)
    fields = _fields(text, name)
    if "year" in fields:
        if years is None:
            raise ConfigError(
                f"layer '{name}': pattern '{text}' has {{year}}; give years = [first, last]"
            )
        first, last = years
        if last < first:
            raise ConfigError(f"layer '{name}': years [{first}, {last}] end before they start")
        times = pd.date_range(f"{first}-01-01", f"{last}-12-01", freq="MS")
    else:
        if years is not None:
            raise ConfigError(
                f"layer '{name}': pattern '{text}' has no {{year}}, so years do not apply; "
                "give start = 'YYYY-MM' for the 12 monthly normals instead"
            )
        first_month = _first_month(start, name) if start else pd.Timestamp(NORMALS_YEAR, 1, 1)
        times = pd.date_range(first_month, periods=12, freq="MS")
    return [MonthFile(t, Path(text.format(month=int(t.month), year=int(t.year)))) for t in times]


def _same_grid(reference: xr.DataArray, da: xr.DataArray) -> bool:
    if da.shape != reference.shape or da.rio.crs != reference.rio.crs:
        return False
    a, b = tuple(da.rio.transform())[:6], tuple(reference.rio.transform())[:6]
    return bool(np.allclose(a, b, rtol=0.0, atol=1e-9))


def _span(key: slice, n: int) -> int:
    """Length of an axis of ``n`` cells after slicing it by ``key``."""
    return len(range(*key.indices(n)))


class _MonthStack(BackendArray):
    """The months of a pattern as one lazy ``(time, y, x)`` float64 array.

    Each month is a file opened lazily (:func:`~socseq.io.raster.open_raster` with
    ``lazy=True``). Indexing composes lazily (xarray's ``LazilyIndexedArray``); loading
    reads only the indexed rows and columns of the indexed months, and applies each file's
    own conversions (nodata → NaN, scale) as :func:`~socseq.io.raster.load_block` does. So a
    window task reads its window of each month it needs, as for a stacked file.
    """

    def __init__(self, months: list[xr.DataArray]) -> None:
        self.months = months
        self.shape = (len(months), *months[0].shape)
        self.dtype = np.dtype(np.float64)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._read
        )

    def _read(self, key: tuple[int | slice, ...]) -> np.ndarray:
        tkey, ykey, xkey = key
        picked = self.months[tkey] if isinstance(tkey, slice) else [self.months[tkey]]
        blocks = [
            np.asarray(load_block(m.isel(y=ykey, x=xkey)).values, dtype=np.float64) for m in picked
        ]
        if not blocks:  # an empty slice of months
            rest = [
                _span(k, n)
                for k, n in zip((ykey, xkey), self.shape[1:], strict=True)
                if isinstance(k, slice)
            ]
            return np.empty((0, *rest))
        out = np.stack(blocks)
        return out if isinstance(tkey, slice) else out[0]


def open_monthly_pattern(
    pattern: str | os.PathLike[str],
    *,
    name: str,
    years: tuple[int, int] | None = None,
    start: str | None = None,
    variable: str | None = None,
    band: int | None = None,
    lazy: bool = False,
) -> xr.DataArray:
    """Open one file per month as a ``(time, y, x)`` monthly series.

    Parameters
    ----------
    pattern : str or path-like
        E.g. ``"wc2.1_30s_prec_{month:02d}.tif"`` (12 monthly normals) or
        ``"tas_{year}_{month:02d}.nc"`` (a series, with ``years``). See :func:`expand_pattern`.
    name : str
        Layer name for messages and the returned ``DataArray.name``.
    years, start
        See :func:`expand_pattern`.
    variable, band
        Passed to :func:`socseq.io.raster.open_raster` for every file; a multi-band file
        needs ``band``.
    lazy : bool, default False
        Read nothing yet: every file is opened lazily and a slice of the series (``.isel``)
        reads only that part of the files it covers, already converted (float64, NaN), so
        :func:`socseq.io.raster.load_block` applies nothing more. Without it the values are
        read at once.

    Returns
    -------
    xarray.DataArray
        Dims ``(time, y, x)`` with month-start time stamps (as
        :func:`socseq.io.raster.open_monthly`), float64 with NaN for nodata, the CRS of the
        files, ``attrs["source"]`` = the pattern, ``attrs["units"]`` from the first file when
        it has one, and ``attrs["climatology"] = 1`` for 12 normals (no ``{year}``).

    Raises
    ------
    ConfigError
        Bad pattern or years.
    RasterFileNotFoundError
        Files are missing (the message names the first and counts them).
    GridMismatchError
        A file's grid (shape, transform or CRS) differs from the first file's.
    """
    files = expand_pattern(pattern, name=name, years=years, start=start)
    missing = [f.path for f in files if not f.path.exists()]
    if missing:
        raise RasterFileNotFoundError(
            f"layer '{name}': {len(missing)} of the {len(files)} files of pattern "
            f"'{os.fspath(pattern)}' do not exist, the first is {missing[0]}; check the "
            "pattern and the folder"
        )
    months: list[xr.DataArray] = []
    for item in files:
        da = open_raster(item.path, name=name, variable=variable, band=band, lazy=True)
        if da.ndim != 2:
            raise GridMismatchError(
                f"layer '{name}' (file {item.path}): has {da.shape[0]} bands; a per-month "
                "pattern needs one band per file, so give band = N"
            )
        if months and not _same_grid(months[0], da):
            raise GridMismatchError(
                f"layer '{name}' (file {item.path}): its grid ({da.rio.crs}, {da.shape}, "
                f"{tuple(da.rio.transform())[:6]}) differs from {files[0].path}'s; every "
                "month must share one grid"
            )
        months.append(da)
    first = months[0]
    data = indexing.LazilyIndexedArray(_MonthStack(months))
    out = xr.DataArray(
        xr.Variable(("time", "y", "x"), data),
        coords={
            "time": pd.DatetimeIndex([f.time for f in files]),
            "y": first["y"].values,
            "x": first["x"].values,
        },
        name=name,
        attrs={k: v for k, v in first.attrs.items() if k in ("units", "long_name")},
    )
    out = out.rio.write_crs(first.rio.crs).rio.write_transform(first.rio.transform())
    out.attrs["source"] = os.fspath(pattern)
    if "year" not in _fields(os.fspath(pattern), name):
        out.attrs["climatology"] = 1
    return out if lazy else out.load()
