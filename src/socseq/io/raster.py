"""Read and write rasters: GeoTIFF/COG, NetCDF and Zarr, with one set of conventions.

Whatever the format, :func:`open_raster` returns a DataArray with dims ``(y, x)`` or
``(band|time, y, x)``, north-up (y decreasing), float64 with NaN for no data, scale factors
applied exactly once, a CRS, and ``attrs["source"]`` naming the file. Errors are one line that
names the layer and the file, what was wrong and how to fix it.

Writers are atomic (see :mod:`socseq.atomic`): a failed write leaves nothing under the
final name.
"""

# Long module: readers and writers of the same formats (GeoTIFF/COG, NetCDF, Zarr) with one set of
# conventions; the writers are being reworked (engineer outputs), after which the split is due.

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import rasterio.shutil
import rioxarray
import xarray as xr
from pyproj import CRS
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError

from socseq.atomic import atomic_path
from socseq.exceptions import (
    ConfigError,
    GridMismatchError,
    InputFormatError,
    InputValidationError,
    MissingCRSError,
    RasterFileNotFoundError,
    SocseqError,
)
from socseq.io.grid import coord_transform

__all__ = [
    "READ_ERRORS",
    "load_block",
    "open_monthly",
    "open_raster",
    "read_failure",
    "root_cause",
    "write_geotiff",
    "write_netcdf",
    "write_zarr",
]

_NETCDF_SUFFIXES = {".nc", ".nc4", ".netcdf", ".cdf", ".h5", ".hdf5", ".he5"}
_SPATIAL_NAMES = {"y": ("y", "lat", "latitude"), "x": ("x", "lon", "long", "longitude")}
#: Attributes that describe the stored encoding; once decoded they must not travel with the
#: values, or a later step could apply a scale factor a second time.
_ENCODING_ATTRS = ("scale_factor", "add_offset", "_FillValue", "missing_value", "_Unsigned")


#: What reading a lazily opened file can raise when the file is truncated or corrupt: GDAL's
#: errors through rasterio (``RasterioIOError "Read failed"`` over the ``CPLE_*`` cause), and
#: HDF5's through h5py (``OSError "Can't synchronously read data"``).
READ_ERRORS: tuple[type[BaseException], ...] = (RasterioError, CPLE_BaseError, OSError)


def _what(name: str, path: Path) -> str:
    return f"layer '{name}' (file {path})"


def root_cause(exc: BaseException) -> str:
    """Return the first line of the innermost error of a chain (GDAL's words, not "Read failed")."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    for error in reversed(seen):
        text = str(error).strip()
        if text:
            return text.splitlines()[0]
    return type(exc).__name__


def read_failure(name: str, path: str | os.PathLike[str], exc: BaseException) -> SocseqError:
    """Return the one-line error for a layer whose values cannot be read: layer, file, cause, fix.

    A socseq error (raised by a nested read, e.g. one month of a pattern) is returned as it is.
    """
    if isinstance(exc, SocseqError):
        return exc
    return InputValidationError(
        f"{_what(name, Path(path))}: reading its values failed ({root_cause(exc)}); the file "
        "is truncated or corrupt: copy, download or export it again"
    )


def _detect_format(path: Path) -> str:
    """Return "zarr", "netcdf" or "gdal" from the path (directories are Zarr stores)."""
    suffixes = [s.lower() for s in path.suffixes]
    if path.is_dir() or (suffixes and suffixes[-1] == ".zarr"):
        return "zarr"
    if suffixes and (suffixes[-1] in _NETCDF_SUFFIXES or suffixes[-2:] == [".nc", ".gz"]):
        return "netcdf"
    return "gdal"


def _open_dataset(
    path: Path, fmt: str, name: str, chunks: Any, decode: bool, lazy: bool = False
) -> xr.Dataset:
    """Open a NetCDF or Zarr file with xarray, trying NetCDF-4 (HDF5) then NetCDF-3.

    ``lazy``: no cache, so slicing reads only the selected part of the file.
    """
    kwargs: dict[str, Any] = {"chunks": chunks, "mask_and_scale": decode, "decode_coords": "all"}
    if lazy:
        kwargs["cache"] = False
    if fmt == "zarr":
        engines = ["zarr"]
    elif path.suffix.lower() == ".gz":
        engines = ["scipy"]  # the scipy engine reads gzipped NetCDF-3 directly
    else:
        engines = ["h5netcdf", "scipy"]
    errors = []
    for engine in engines:
        try:
            return xr.open_dataset(path, engine=engine, **kwargs)
        except Exception as exc:  # each engine fails with its own exception type
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            errors.append(f"{engine}: {first_line}")
    if path.suffix.lower() == ".gz":
        hint = "gunzip it first"
    else:
        hint = "check it is a NetCDF-4/NetCDF-3 file or a Zarr store"
    raise InputFormatError(f"{_what(name, path)}: cannot be read ({'; '.join(errors)}); {hint}")


def _select_variable(ds: xr.Dataset, variable: str | None, name: str, path: Path) -> xr.DataArray:
    """Pick the data variable: the one given, or the only gridded one in the file."""
    gridded = [str(v) for v, arr in ds.data_vars.items() if arr.ndim >= 2]
    if variable is not None:
        if variable not in ds.data_vars:
            raise InputValidationError(
                f"{_what(name, path)}: has no variable '{variable}' (available: "
                f"{', '.join(map(str, ds.data_vars)) or 'none'}); set variable to one of them"
            )
        return ds[variable]
    if len(gridded) != 1:
        raise InputValidationError(
            f"{_what(name, path)}: holds {len(gridded)} gridded variables "
            f"({', '.join(gridded) or 'none'}); set variable to the one to read"
        )
    return ds[gridded[0]]


def _crs_from_dataset(ds: xr.Dataset, da: xr.DataArray) -> CRS | None:
    """Find a CRS in a CF grid-mapping variable even when the data variable does not link it."""
    if da.rio.crs is not None:
        return CRS.from_user_input(da.rio.crs)
    for var in [*ds.coords.values(), *ds.data_vars.values()]:
        for key in ("crs_wkt", "spatial_ref"):
            if isinstance(var.attrs.get(key), str):
                return CRS.from_wkt(var.attrs[key])
        if "grid_mapping_name" in var.attrs:
            return CRS.from_cf(var.attrs)
    return None


def _as_unsigned(da: xr.DataArray, pending: list[tuple[str, Any]]) -> xr.DataArray:
    """Apply the NetCDF ``_Unsigned = "true"`` convention to undecoded class codes.

    The attributes change here; the values' view is queued in ``pending`` (see
    :func:`_apply_pending`).
    """
    if str(da.attrs.get("_Unsigned", "")).lower() != "true" or da.dtype.kind != "i":
        return da
    unsigned = np.dtype(f"u{da.dtype.itemsize}")
    pending.append(("view", unsigned.str))
    out = da.copy()
    for key in ("_FillValue", "missing_value"):
        if key in out.attrs:
            out.attrs[key] = np.array(out.attrs[key], dtype=da.dtype).view(unsigned).item()
    return out


def _apply_pending(da: xr.DataArray, pending: list[tuple[str, Any]]) -> xr.DataArray:
    """Apply the value conversions an opener queued, in order (lazily on dask arrays).

    ``("view", dtype)`` reinterprets the stored integers (``_Unsigned``), ``("mask", value)``
    turns a float nodata value into NaN, ``("float64", None)`` casts to float64 with NaN as
    nodata. Index operations (flips, band selection) commute with these, so a lazily opened
    layer may be sliced first and converted after loading (:func:`load_block`).
    """
    for op, arg in pending:
        if op == "view":
            data = da.data if da.chunks else da.values
            da = da.copy(data=data.view(np.dtype(arg)))
        elif op == "mask":
            da = da.where(da != arg)
        elif op == "float64":
            da = da.astype("float64")
            da.rio.write_nodata(np.nan, encoded=False, inplace=True)
    return da


def load_block(da: xr.DataArray) -> xr.DataArray:
    """Read a (sliced) layer opened with ``lazy=True`` and apply its pending conversions.

    Returns the same values :func:`open_raster` without ``lazy`` gives for that block.

    Raises
    ------
    InputValidationError
        The file cannot be read (truncated or corrupt): one line naming the layer, the file
        and GDAL's or HDF5's reason.
    """
    pending = da.encoding.get("socseq_pending", [])
    try:
        loaded = da.load()
    except READ_ERRORS as exc:
        raise read_failure(str(da.name), da.attrs.get("source", "?"), exc) from exc
    out = _apply_pending(loaded, pending)
    out.encoding.pop("socseq_pending", None)
    return out


def _open_with_xarray(
    path: Path,
    fmt: str,
    name: str,
    variable: str | None,
    chunks: Any,
    categorical: bool,
    pending: list[tuple[str, Any]],
    lazy: bool,
) -> xr.DataArray:
    # Class codes are not scaled: read them undecoded to keep the integer dtype.
    ds = _open_dataset(path, fmt, name, chunks, decode=not categorical, lazy=lazy)
    da = _select_variable(ds, variable, name, path)
    crs = _crs_from_dataset(ds, da)
    # Drop the grid-mapping variable and other non-index coordinates; the CRS is re-attached.
    da = da.reset_coords(drop=True)
    if categorical:
        da = _as_unsigned(da, pending)
        nodata = da.attrs.get("_FillValue", da.attrs.get("missing_value"))
        if np.issubdtype(da.dtype, np.floating) and nodata is not None:
            pending.append(("mask", nodata))
            nodata = np.nan
        da.attrs = {k: v for k, v in da.attrs.items() if k not in _ENCODING_ATTRS}
        if nodata is not None:
            da = da.rio.write_nodata(nodata, encoded=False)
    if crs is not None:
        da = da.rio.write_crs(crs)
    return da


def _open_with_gdal(
    path: Path,
    name: str,
    variable: str | None,
    chunks: Any,
    categorical: bool,
    pending: list[tuple[str, Any]],
    lazy: bool,
) -> xr.DataArray:
    try:
        if categorical:
            da = rioxarray.open_rasterio(
                path, masked=False, mask_and_scale=False, chunks=chunks, cache=not lazy
            )
        else:
            da = rioxarray.open_rasterio(path, mask_and_scale=True, chunks=chunks, cache=not lazy)
    except (RasterioError, OSError) as exc:
        raise InputFormatError(
            f"{_what(name, path)}: cannot be read as a raster ({str(exc).splitlines()[0]}); "
            "check it is a GeoTIFF/COG/VRT or NetCDF (.nc) or Zarr (.zarr) file"
        ) from exc
    if isinstance(da, list | xr.Dataset):
        raise InputFormatError(
            f"{_what(name, path)}: holds several subdatasets; open it as NetCDF (.nc suffix) "
            "or convert the wanted subdataset to GeoTIFF (gdal_translate)"
        )
    if variable is not None:
        descriptions = da.attrs.get("long_name")
        descriptions = [descriptions] if isinstance(descriptions, str) else list(descriptions or [])
        if variable not in descriptions:
            raise InputValidationError(
                f"{_what(name, path)}: has no band described '{variable}' (band descriptions: "
                f"{', '.join(map(str, descriptions)) or 'none'}); set band = N instead"
            )
        da = da.isel(band=[descriptions.index(variable)])
    nodata = da.rio.nodata if categorical else None
    if nodata is not None and np.issubdtype(da.dtype, np.floating):
        pending.append(("mask", nodata))
        nodata = np.nan
    # rioxarray leaves band descriptions in long_name; they describe bands, not the layer.
    da.attrs = {k: v for k, v in da.attrs.items() if k not in (*_ENCODING_ATTRS, "long_name")}
    if nodata is not None:
        da = da.rio.write_nodata(nodata, encoded=False)
    if da.sizes["band"] == 1:
        da = da.squeeze("band", drop=True)
    return da


def _rename_spatial(da: xr.DataArray, name: str, path: Path) -> tuple[xr.DataArray, bool]:
    """Rename lat/lon style dims to y/x; also tell whether they were lat/lon named."""
    renames: dict[str, str] = {}
    lonlat_named = False
    for dim in da.dims:
        low = str(dim).lower()
        for target, aliases in _SPATIAL_NAMES.items():
            if low in aliases:
                renames[str(dim)] = target
                lonlat_named |= low != target
    da = da.rename(renames) if any(k != v for k, v in renames.items()) else da
    if "y" not in da.dims or "x" not in da.dims:
        raise InputFormatError(
            f"{_what(name, path)}: has dims ({', '.join(map(str, da.dims))}) and no y/x or "
            "lat/lon pair; give a gridded variable with spatial dims"
        )
    extra = [d for d in da.dims if d not in ("y", "x")]
    if len(extra) > 1:
        raise InputFormatError(
            f"{_what(name, path)}: has dims ({', '.join(map(str, da.dims))}); socseq reads "
            "2-D or 3-D layers: extract one level of the extra dims first (e.g. cdo sellevel)"
        )
    return da.transpose(*extra, "y", "x"), lonlat_named


def _looks_lonlat(da: xr.DataArray, lonlat_named: bool) -> bool:
    """Tell whether lat/lon-named (or degree-unit) coordinates lie in degree ranges."""
    degree_units = str(da["y"].attrs.get("units", "")).startswith("degree")
    if not (lonlat_named or degree_units) or da.sizes["y"] == 0 or da.sizes["x"] == 0:
        return False
    y, x = da["y"].values, da["x"].values
    return bool(np.all(np.abs(y) <= 90) and np.all((x >= -180) & (x <= 360)))


def _check_degrees(da: xr.DataArray, name: str, path: Path) -> None:
    """Refuse a geographic CRS whose coordinates are not degrees (the file's CRS is wrong).

    GDAL would otherwise fail only when the layer is warped, with PROJ's "Invalid latitude".
    A cell of margin keeps grids whose centres sit half a cell beyond ±90°/±180° readable.
    """
    crs = CRS.from_user_input(da.rio.crs)
    if not crs.is_geographic or da.sizes["y"] == 0 or da.sizes["x"] == 0:
        return
    y, x = da["y"].values.astype(float), da["x"].values.astype(float)
    margin = max(np.ptp(y) / max(len(y) - 1, 1), np.ptp(x) / max(len(x) - 1, 1), 1e-9)
    if np.all(np.abs(y) <= 90 + margin) and np.all((x >= -180 - margin) & (x <= 360 + margin)):
        return
    raise GridMismatchError(
        f"{_what(name, path)}: its CRS {crs.to_string()} is geographic but its coordinates "
        f"(x {x.min():.6g}…{x.max():.6g}, y {y.min():.6g}…{y.max():.6g}) are not degrees; the "
        "CRS written in the file is wrong: write the right one (gdal_edit.py -a_srs EPSG:XXXX "
        "FILE)"
    )


def _north_up(da: xr.DataArray) -> xr.DataArray:
    """Order y decreasing and x increasing, and shift 0–360° longitudes to −180–180°."""
    crs = da.rio.crs
    if crs is not None and CRS.from_user_input(crs).is_geographic and float(da["x"].max()) > 180:
        da = da.assign_coords(x=((da["x"] + 180) % 360) - 180).sortby("x")
    if da.sizes["y"] > 1 and float(da["y"][0]) < float(da["y"][-1]):
        da = da.isel(y=slice(None, None, -1))
    if da.sizes["x"] > 1 and float(da["x"][0]) > float(da["x"][-1]):
        da = da.isel(x=slice(None, None, -1))
    # A GeoTransform stored by the reader describes the file's order, not the flipped one.
    return da.rio.write_transform(coord_transform(da))


def _select_band(da: xr.DataArray, band: int, name: str, path: Path) -> xr.DataArray:
    """Select a 1-based band (GDAL convention) along the leading dim."""
    if da.ndim == 2:
        count, dim = 1, None
    else:
        dim = da.dims[0]
        count = da.sizes[dim]
    if not 1 <= band <= count:
        raise InputValidationError(
            f"{_what(name, path)}: band {band} requested but the file has {count} band(s); "
            f"set band between 1 and {count}"
        )
    return da if dim is None else da.isel({dim: band - 1}, drop=True)


def open_raster(
    path: str | os.PathLike[str],
    *,
    name: str,
    variable: str | None = None,
    band: int | None = None,
    chunks: Any = None,
    categorical: bool = False,
    lazy: bool = False,
) -> xr.DataArray:
    """Open one raster layer from GeoTIFF/COG/VRT, NetCDF or Zarr.

    Parameters
    ----------
    path : path-like
        File; the format follows the suffix: ``.nc``/``.nc4``/``.h5`` (and ``.nc.gz`` for
        NetCDF-3) are read with xarray (h5netcdf, then scipy for NetCDF-3), ``.zarr`` or a
        directory as Zarr, anything else with GDAL through rioxarray.
    name : str
        Layer name for error messages and the returned ``DataArray.name``.
    variable : str, optional
        NetCDF/Zarr variable, or a GeoTIFF band description. Needed when the file holds more
        than one gridded variable.
    band : int, optional
        1-based index along the leading dim (band or time) to read a single 2-D slice.
    chunks : optional
        Dask chunks passed to the reader (e.g. ``{"y": 1024, "x": 1024}``), or ``"native"``
        for the file's own blocks (NetCDF/Zarr chunks, GeoTIFF tiles); ``None`` gives a
        numpy-backed array (read whole when first used).
    categorical : bool, default False
        Class codes (land use): no scaling, the stored integer dtype and its nodata value
        (``.rio.nodata``) are kept instead of float64 with NaN.
    lazy : bool, default False
        Read nothing yet: the array stays backed by the file, so a slice of it
        (``.isel``) reads only that part; :func:`load_block` reads a slice and applies the
        conversions (float64, nodata as NaN) the eager open applies to the whole layer.

    Returns
    -------
    xarray.DataArray
        Dims ``(y, x)`` or ``(band|time|…, y, x)``; y decreasing, x increasing (0–360°
        longitudes shifted to −180–180°); float64 with NaN for nodata/_FillValue (CF
        ``scale_factor``/``add_offset`` applied once and removed from ``attrs``); CRS written;
        ``attrs["source"]`` = the path; the file's ``units``/``long_name`` attributes kept.

    Raises
    ------
    RasterFileNotFoundError
        The file does not exist.
    InputFormatError
        The file cannot be read or has no spatial dims.
    InputValidationError
        ``variable`` is missing or ambiguous, or ``band`` is out of range.
    MissingCRSError
        No CRS in the file, and its coordinates are not lat/lon in degree ranges.
    """
    path = Path(path)
    if not path.exists():
        raise RasterFileNotFoundError(
            f"{_what(name, path)}: does not exist; check the path in the configuration"
        )
    fmt = _detect_format(path)
    if isinstance(chunks, str) and chunks == "native":
        # The file's own blocks: the cheapest way to read a slab of a large file.
        chunks = True if fmt == "gdal" else {}
    pending: list[tuple[str, Any]] = []
    if fmt == "gdal":
        da = _open_with_gdal(path, name, variable, chunks, categorical, pending, lazy)
    else:
        da = _open_with_xarray(path, fmt, name, variable, chunks, categorical, pending, lazy)
    da, lonlat_named = _rename_spatial(da, name, path)
    if da.rio.crs is None:
        if not _looks_lonlat(da, lonlat_named):
            raise MissingCRSError(
                f"{_what(name, path)}: has no CRS and its coordinates are not lat/lon degrees; "
                "write the CRS into the file (gdal_edit.py -a_srs EPSG:XXXX FILE) or a CF "
                "grid_mapping"
            )
        da = da.rio.write_crs("EPSG:4326")
    _check_degrees(da, name, path)
    da = _north_up(da)
    if band is not None:
        da = _select_band(da, band, name, path)
    if not categorical:
        pending.append(("float64", None))
    if lazy:
        da.encoding["socseq_pending"] = pending
    else:
        da = _apply_pending(da, pending)
    da.name = name
    da.attrs["source"] = str(path)
    return da


def _month_index(times: xr.DataArray) -> np.ndarray:
    """Months since year 0 for datetime64 or cftime coordinates."""
    return times.dt.year.values.astype(np.int64) * 12 + times.dt.month.values.astype(np.int64) - 1


def _month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _parse_start(start: str, name: str, path: Path) -> pd.Timestamp:
    """Parse 'YYYY-MM' (or 'YYYY-MM-DD') strictly: dateutil would accept 'January' as a date."""
    match = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-\d{1,2})?", str(start).strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ConfigError(
            f"{_what(name, path)}: start '{start}' is not a month; give the first month as "
            "'YYYY-MM'"
        )
    return pd.Timestamp(year=int(match.group(1)), month=int(match.group(2)), day=1)


def open_monthly(
    path: str | os.PathLike[str],
    *,
    name: str,
    variable: str | None = None,
    chunks: Any = None,
    start: str | None = None,
    full_years: bool = False,
    lazy: bool = False,
) -> xr.DataArray:
    """Open a monthly series as ``(time, y, x)`` with month-start time stamps.

    Parameters
    ----------
    path, name, variable, chunks, lazy
        As for :func:`open_raster`.
    start : str, optional
        First month (``"2001-01"``) for files without a time axis: multi-band GeoTIFFs (whose
        band count must be a multiple of 12) or NetCDF with a plain month/band axis. When the
        file has a time axis, ``start`` must match its first month if given.
    full_years : bool, default False
        Require whole years (a multiple of 12 months); the phases that cycle over years
        need it.

    Returns
    -------
    xarray.DataArray
        Dims ``(time, y, x)``; ``time`` holds the first day of each month (whatever day the
        file stamped, e.g. mid-month for CRU), consecutive with no gaps.

    Raises
    ------
    InputValidationError
        No time axis and no ``start``; band count not a multiple of 12; missing, repeated or
        unsorted months; not whole years when ``full_years``.
    ConfigError
        ``start`` is not a date or disagrees with the file's time axis.
    """
    path = Path(path)
    da = open_raster(path, name=name, variable=variable, chunks=chunks, lazy=lazy)
    what = _what(name, path)
    if da.ndim != 3:
        raise InputValidationError(
            f"{what}: has a single band and no time axis; a monthly layer needs a time axis "
            "or 12·n bands"
        )
    lead = da.dims[0]
    n = da.sizes[lead]
    coord = da[lead] if lead in da.coords else None
    if coord is not None and (np.issubdtype(coord.dtype, np.datetime64) or coord.dtype == object):
        months = _month_index(coord)
        order = np.argsort(months, kind="stable")
        if not np.array_equal(order, np.arange(n)):
            da, months = da.isel({lead: order}), months[order]
        steps = np.diff(months)
        if np.any(steps == 0):
            first = _month_label(int(months[1:][steps == 0][0]))
            raise InputValidationError(
                f"{what}: has several time steps in month {first} (daily data?); give one "
                "value per month (monthly means or sums)"
            )
        if np.any(steps > 1):
            gap = int(np.flatnonzero(steps > 1)[0])
            missing = int((months[-1] - months[0] + 1) - n)
            raise InputValidationError(
                f"{what}: time axis misses {missing} month(s), the first is "
                f"{_month_label(int(months[gap]) + 1)}; give a complete monthly series"
            )
        first_month = pd.Timestamp(year=int(months[0] // 12), month=int(months[0] % 12 + 1), day=1)
        if start is not None and _parse_start(start, name, path) != first_month:
            raise ConfigError(
                f"{what}: start '{start}' disagrees with the file's first month "
                f"{first_month:%Y-%m}; drop start or correct it"
            )
    else:
        if start is None:
            raise InputValidationError(
                f"{what}: has {n} steps along '{lead}' but no dates; give start = 'YYYY-MM' "
                "(the month of the first step)"
            )
        if lead == "band" and n % 12:
            raise InputValidationError(
                f"{what}: has {n} bands, not a multiple of 12 months; give whole years of "
                "monthly bands"
            )
        first_month = _parse_start(start, name, path)
    if full_years and n % 12:
        raise InputValidationError(
            f"{what}: has {n} months, not whole years; give a multiple of 12 months"
        )
    times = pd.date_range(first_month, periods=n, freq="MS")
    da = da.rename({lead: "time"}) if lead != "time" else da
    return da.assign_coords(time=times)


def _require_crs(da: xr.DataArray | xr.Dataset, path: Path) -> CRS:
    crs = da.rio.crs
    if crs is None:
        raise MissingCRSError(
            f"output {path}: the data have no CRS; write one with .rio.write_crs before saving"
        )
    return CRS.from_user_input(crs)


def _clean_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes safe to write: scalars and strings, without decoded-encoding leftovers."""
    return {
        k: v
        for k, v in attrs.items()
        if k not in _ENCODING_ATTRS and isinstance(v, str | int | float | np.number)
    }


#: Tile size of the GeoTIFFs [pixels]; overviews are made down to one tile.
COG_BLOCKSIZE = 256


def write_geotiff(
    da: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    nodata: float = -999.0,
    cog: bool = True,
    tags: dict[str, Any] | None = None,
    dtype: str | None = None,
    resampling: str | None = None,
    threads: int = 1,
) -> Path:
    """Write a ``(y, x)`` or ``(band|time, y, x)`` raster to GeoTIFF, atomically.

    Parameters
    ----------
    da : xarray.DataArray
        Data with a CRS; NaN is written as ``nodata``. ``attrs["units"]`` becomes the band
        unit and, for a single band, ``attrs["long_name"]`` the band description (what GIS
        tools show); scalar ``attrs`` are also written as dataset tags.
    path : path-like
        Destination ``.tif``.
    nodata : float, default -999.0
        Value stored for NaN cells (the GSOCseq products use -999).
    cog : bool, default True
        Cloud-optimised GeoTIFF (GDAL's COG driver): 256-pixel tiles, DEFLATE, and internal
        overviews halving the size until the smallest fits in one tile. When False, or when
        GDAL lacks the COG driver, a tiled DEFLATE-compressed GeoTIFF without overviews.
    tags : dict, optional
        Extra GeoTIFF metadata (provenance: version, config hash, date).
    dtype : str, optional
        Stored dtype (e.g. ``"float32"`` to halve the size); default the data's dtype.
    resampling : str, optional
        Overview resampling (GDAL name); default ``"average"`` for floating-point data (no-data
        cells are left out of the averages) and ``"nearest"`` for integer codes and flags.
    threads : int, default 1
        Threads that compress the COG's tiles (GDAL's ``NUM_THREADS``).

    Returns
    -------
    pathlib.Path
        The final path.
    """
    path = Path(path)
    crs = _require_crs(da, path)
    out_dtype = np.dtype(dtype or da.dtype)
    _check_geotiff_layout(da, path, out_dtype, nodata)
    values = np.asarray(da.values)
    if np.issubdtype(values.dtype, np.floating):
        values = np.where(np.isnan(values), nodata, values)
    values = values.astype(out_dtype).reshape((-1, *values.shape[-2:]))
    count, height, width = values.shape
    attrs = _clean_attrs(da.attrs)
    units = str(attrs.get("units", "")) or None
    description = str(attrs["long_name"]) if count == 1 and "long_name" in attrs else None
    if resampling is None:
        resampling = "average" if np.issubdtype(out_dtype, np.floating) else "nearest"
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": out_dtype.name,
        "crs": crs,
        "transform": coord_transform(da),
        "nodata": nodata,
        "tiled": True,
        "blockxsize": COG_BLOCKSIZE,
        "blockysize": COG_BLOCKSIZE,
        "compress": "DEFLATE",
        "num_threads": max(1, threads),
    }
    with rasterio.Env() as env:
        has_cog = "COG" in env.drivers()
    with atomic_path(path) as tmp:
        # The COG driver only copies a finished dataset: write a plain tiled GeoTIFF beside
        # the target, with every band attribute set, then copy it into the COG layout.
        # The plain file lives for a moment: left uncompressed, only the COG is deflated.
        plain = tmp.with_name(tmp.stem + ".plain.tif") if cog and has_cog else tmp
        if plain != tmp:
            profile.pop("compress")
        try:
            _write_plain(plain, profile, values, {**attrs, **(tags or {})}, units, description)
            if plain != tmp:
                rasterio.shutil.copy(
                    plain,
                    tmp,
                    driver="COG",
                    COMPRESS="DEFLATE",
                    BLOCKSIZE=COG_BLOCKSIZE,
                    OVERVIEWS="AUTO",
                    OVERVIEW_RESAMPLING=resampling.upper(),
                    NUM_THREADS=max(1, threads),
                )
        finally:
            if plain != tmp:
                plain.unlink(missing_ok=True)
    return path


def _check_geotiff_layout(da: xr.DataArray, path: Path, out_dtype: np.dtype, nodata: float) -> None:
    """Refuse a nodata value the dtype cannot hold, and dims a GeoTIFF cannot store."""
    if np.issubdtype(out_dtype, np.integer):
        info = np.iinfo(out_dtype)
        if not info.min <= nodata <= info.max:
            raise InputValidationError(
                f"output {path}: nodata {nodata} does not fit dtype {out_dtype}; give a nodata "
                f"between {info.min} and {info.max}"
            )
    if da.ndim not in (2, 3) or da.dims[-2:] != ("y", "x"):
        raise InputValidationError(
            f"output {path}: a GeoTIFF holds (y, x) or (band, y, x) data, got dims "
            f"({', '.join(map(str, da.dims))}); transpose or select first"
        )


def _write_plain(
    path: Path,
    profile: dict[str, Any],
    values: np.ndarray,
    tags: dict[str, Any],
    units: str | None,
    description: str | None,
) -> None:
    """Write a tiled GeoTIFF with its tags, band units and band descriptions."""
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values)
        dst.update_tags(AREA_OR_POINT="Area", **tags)
        for band in range(1, values.shape[0] + 1):
            if units is not None:
                dst.set_band_unit(band, units)
            if description is not None:
                dst.set_band_description(band, description)


def _axis_attrs(crs: CRS) -> dict[str, dict[str, str]]:
    """CF attributes of the x and y coordinate variables of a grid in ``crs``."""
    if crs.is_geographic:
        return {
            "x": {"standard_name": "longitude", "long_name": "longitude of the cell centre",
                  "units": "degrees_east", "axis": "X"},
            "y": {"standard_name": "latitude", "long_name": "latitude of the cell centre",
                  "units": "degrees_north", "axis": "Y"},
        }  # fmt: skip
    unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
    unit = {"metre": "m", "meter": "m", "US survey foot": "US_survey_foot"}.get(unit, unit)
    return {
        "x": {"standard_name": "projection_x_coordinate", "units": unit, "axis": "X",
              "long_name": f"x coordinate of the cell centre ({crs.name})"},
        "y": {"standard_name": "projection_y_coordinate", "units": unit, "axis": "Y",
              "long_name": f"y coordinate of the cell centre ({crs.name})"},
    }  # fmt: skip


def _prepare_dataset(data: xr.Dataset | xr.DataArray, path: Path) -> xr.Dataset:
    """Dataset laid out by the CF conventions, with fresh encodings.

    - every gridded variable links a CF grid-mapping variable ``spatial_ref`` (``crs_wkt``);
    - x and y carry units, ``axis`` and standard names of the CRS;
    - non-index coordinates (labels such as ``scenario_name``, a scalar ``depth``) become
      auxiliary coordinate variables named in the ``coordinates`` attribute of the variables
      whose dimensions they share (scalar ones only where a variable's ``coordinates``
      attribute asks for them); the grid mapping is never listed there;
    - ``Conventions`` is set to :data:`socseq.io.metadata.CF_CONVENTIONS` unless given.
    """
    from socseq.io.metadata import CF_CONVENTIONS

    # Copy so that resetting encodings below never touches the caller's objects.
    ds = data.to_dataset(name=data.name or "data") if isinstance(data, xr.DataArray) else data
    ds = ds.copy()
    for var in ds.variables.values():
        # Encodings read from another file (chunk sizes, compressors, packing) may not fit the
        # new file or the converted values; the writer chooses fresh ones.
        var.encoding = {k: v for k, v in var.encoding.items() if k in ("units", "calendar")}
        var.attrs = {
            k: v for k, v in var.attrs.items() if k not in (*_ENCODING_ATTRS, "grid_mapping")
        }
    if any({"y", "x"} <= set(v.dims) for v in ds.data_vars.values()):
        ds = _with_grid_mapping(ds, path)
    _name_label_coordinates(ds)
    ds = ds.reset_coords([k for k in ds.coords if k not in ds.dims])
    ds.attrs.setdefault("Conventions", CF_CONVENTIONS)
    return ds


def _with_grid_mapping(ds: xr.Dataset, path: Path) -> xr.Dataset:
    """Link every gridded variable to a CF grid mapping ``spatial_ref``; label the axes."""
    crs = next(
        (a.rio.crs for a in ds.data_vars.values() if {"y", "x"} <= set(a.dims) and a.rio.crs),
        ds.rio.crs,
    )
    if crs is None:
        _require_crs(ds, path)
    # Links every data variable to a spatial_ref variable holding crs_wkt (CF grid mapping).
    # The link is moved from encoding to attrs because an explicit `encoding` argument to
    # the writers replaces a variable's encoding and would drop it.
    ds = ds.rio.write_crs(crs)
    for var in ds.data_vars.values():
        link = var.encoding.pop("grid_mapping", None)
        if link is not None and {"y", "x"} <= set(var.dims):
            var.attrs["grid_mapping"] = link
    if "spatial_ref" in ds.variables:
        ds["spatial_ref"].attrs.setdefault("long_name", "coordinate reference system")
    for axis, attrs in _axis_attrs(CRS.from_user_input(crs)).items():
        if axis in ds.coords:
            ds[axis].attrs = {**attrs, **ds[axis].attrs}
    return ds


def _name_label_coordinates(ds: xr.Dataset) -> None:
    """Name non-index coordinates in the ``coordinates`` attribute of the variables they label."""
    labels = [
        str(k) for k in ds.coords if k not in ds.dims and k != "spatial_ref" and ds[k].ndim >= 1
    ]
    for name, var in ds.data_vars.items():
        wanted = str(var.attrs.get("coordinates", "")).split()
        wanted += [k for k in labels if set(ds[k].dims) <= set(var.dims) and k not in wanted]
        if wanted and name != "spatial_ref":
            var.attrs["coordinates"] = " ".join(wanted)


def _no_fill(ds: xr.Dataset) -> list[str]:
    """Variables that must not carry a ``_FillValue``: coordinates, labels, bounds, CRS."""
    referenced = set()
    for var in ds.variables.values():
        referenced.update(str(var.attrs.get("coordinates", "")).split())
        if "bounds" in var.attrs:
            referenced.add(str(var.attrs["bounds"]))
    return [str(k) for k in ds.variables if k in ds.dims or k in referenced or k == "spatial_ref"]


def write_netcdf(
    ds: xr.Dataset | xr.DataArray,
    path: str | os.PathLike[str],
    *,
    encoding: dict[str, dict[str, Any]] | None = None,
    complevel: int = 4,
    threads: int | None = None,
) -> Path:
    """Write a Dataset (or DataArray) to NetCDF-4 with CF metadata, atomically.

    The layout follows the CF conventions (see :func:`_prepare_dataset`): a grid mapping
    ``spatial_ref`` with the CRS (``crs_wkt``), CF coordinate attributes, labels and scalar
    coordinates as auxiliary coordinate variables, no ``_FillValue`` on coordinates, bounds or
    the grid mapping; ``units``/``long_name`` attributes are kept; numeric variables are
    zlib-compressed. ``encoding`` entries override the defaults per variable (e.g. the
    ``_FillValue`` of an integer flag).

    The gridded variables are compressed chunk by chunk on ``threads`` threads (default:
    every core) and stored with HDF5's direct chunk write (:mod:`socseq.io._deflate`); the
    file is the one HDF5's own filters would give, only written sooner.
    """
    from socseq.io._deflate import append_deflated, is_deflated

    path = Path(path)
    ds = _prepare_dataset(ds, path)
    enc: dict[str, dict[str, Any]] = {
        str(name): {"zlib": True, "complevel": complevel, "shuffle": True, **_nc_chunks(var)}
        for name, var in ds.data_vars.items()
        if var.ndim >= 1 and var.dtype.kind in "iuf"
    }
    for name in _no_fill(ds):
        enc.setdefault(name, {})["_FillValue"] = None
    for name, extra in (encoding or {}).items():
        enc.setdefault(name, {}).update(extra)
    gridded = [str(k) for k, v in ds.data_vars.items() if is_deflated(enc.get(str(k)), v.variable)]
    with atomic_path(path) as tmp:
        rest = {k: v for k, v in enc.items() if k not in gridded}
        ds.drop_vars(gridded).to_netcdf(tmp, engine="h5netcdf", encoding=rest)
        if gridded:
            append_deflated(tmp, ds, enc, gridded, threads or os.cpu_count() or 1)
    return path


def _nc_chunks(var: xr.DataArray) -> dict[str, tuple[int, ...]]:
    """HDF5 chunks of a map variable: one map tile (``COG_BLOCKSIZE`` cells square) per chunk.

    h5py otherwise guesses chunks of 63–125 cells. Measured on three variables of a 10^6-cell
    cube (760 MB raw, zlib level 1): guessed chunks 17.3 s, 364 MB; these tiles 14.1 s; these
    tiles with the shuffle filter 8.0 s, 317 MB.
    """
    if var.ndim < 2 or var.dims[-2:] != ("y", "x"):
        return {}
    lead = (1,) * (var.ndim - 2)
    return {"chunksizes": (*lead, *(min(n, COG_BLOCKSIZE) for n in var.shape[-2:]))}


def write_zarr(ds: xr.Dataset | xr.DataArray, path: str | os.PathLike[str]) -> Path:
    """Write a Dataset (or DataArray) to a Zarr store directory, atomically.

    The CRS is stored as a CF grid mapping as in :func:`write_netcdf`; dask-chunked data are
    written chunk by chunk with the existing chunks. The store uses Zarr format 2 with
    consolidated metadata, which GDAL, R and older zarr readers understand.
    """
    path = Path(path)
    ds = _prepare_dataset(ds, path)
    with atomic_path(path) as tmp:
        ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
    return path
