"""The run's input layers as window tasks read them: declared once, read window by window.

A :class:`LayerSpec` holds what a task needs to read its part of one source: the file, the
variable or band, the declared units, and the resampling method decided once for the whole
grid. :func:`read_block` opens the file lazily (once per worker thread), reads only the source
cells over the window plus a margin, and applies the same conversions as reading the whole
layer. Nothing here checks plausibility: :mod:`socseq.pipeline.validate` checks every layer
before a run starts, so a window with few or no valid cells is simply a window, not an error.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from socseq.exceptions import GridMismatchError
from socseq.io.grid import GridSpec, clip_to_grid, fill_from_nearest, resample_to
from socseq.io.raster import (
    READ_ERRORS,
    load_block,
    open_monthly,
    open_raster,
    read_failure,
    root_cause,
)
from socseq.io.series import open_monthly_pattern
from socseq.io.units import convert_units

__all__ = [
    "BlockReader",
    "LayerSpec",
    "fill_extent",
    "halo_cells",
    "open_layer",
    "open_spec",
    "read_block",
    "read_filled",
]

Kind = Literal["continuous", "categorical"]


@dataclass(frozen=True)
class LayerSpec:
    """One input layer of a run (picklable, for process workers).

    Attributes
    ----------
    name : str
        Configuration key, for messages (``"inputs.clay"``, ``"climate.series.temperature"``).
    path : str
        The file.
    variable : str or None
        NetCDF/Zarr variable or GeoTIFF band description.
    band : int or None
        1-based band of a single-band layer.
    units : str or None
        Declared units; None for class layers and shares.
    quantity : str or None
        Canonical variable of :mod:`socseq.io.units` (``"clay_pct"``), or None.
    kind : {"continuous", "categorical"}
    method : str
        Resampling onto the grid, decided for the whole grid.
    monthly : bool
        A monthly series (opened with :func:`~socseq.io.raster.open_monthly`).
    start : str or None
        First month of a series without a time axis.
    pattern : bool
        ``path`` is a per-month pattern (``"P{month:02d}.tif"``), opened with
        :func:`~socseq.io.series.open_monthly_pattern`: each month's file lazily, so a window
        reads only its block of the months it needs.
    years : (int, int) or None
        First and last year of a pattern with ``{year}``.
    """

    name: str
    path: str
    variable: str | None
    band: int | None
    units: str | None
    quantity: str | None
    kind: Kind
    method: str
    monthly: bool = False
    start: str | None = None
    pattern: bool = False
    years: tuple[int, int] | None = None


def open_spec(spec: LayerSpec) -> xr.DataArray:
    """Open the layer of ``spec`` lazily (nothing is read until a block is loaded)."""
    if spec.pattern:
        return open_monthly_pattern(
            spec.path,
            name=spec.name,
            years=spec.years,
            start=spec.start,
            variable=spec.variable,
            band=spec.band,
            lazy=True,
        )
    if spec.monthly:
        return open_monthly(
            spec.path, name=spec.name, variable=spec.variable, start=spec.start, lazy=True
        )
    return open_raster(
        spec.path,
        name=spec.name,
        variable=spec.variable,
        band=spec.band,
        categorical=spec.kind == "categorical",
        lazy=True,
    )


_OPEN = threading.local()


def _file_identity(path: str) -> tuple[int, int, int] | None:
    """Inode, size and modification time of ``path`` (None for patterns and missing files)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def open_layer(spec: LayerSpec) -> xr.DataArray:
    """Open a layer lazily; the opened file is kept for the thread's next reads.

    The opened array does not depend on the resampling method, so planning (which opens a
    layer to choose it) and the reads after share one open. A file replaced or rewritten
    since (another inode, size or modification time) is opened again.

    Raises
    ------
    InputValidationError
        The file cannot be read (truncated or corrupt), naming the layer and the file.
    """
    cache: dict[LayerSpec, tuple[Any, xr.DataArray]] = getattr(_OPEN, "layers", None) or {}
    _OPEN.layers = cache
    key, identity = replace(spec, method=""), _file_identity(spec.path)
    if key not in cache or cache[key][0] != identity:
        try:
            cache[key] = (identity, open_spec(spec))
        except READ_ERRORS as exc:
            raise read_failure(spec.name, spec.path, exc) from exc
    return cache[key][1]


@dataclass(frozen=True)
class BlockReader:
    """Reads months of one layer onto grids: the source part once, placed on any grid within it.

    ``reader(grid)`` is :meth:`load` then :meth:`place`; :func:`read_filled` loads the source
    over a window and its margin once, then places it on the window alone or with the margin.

    Attributes
    ----------
    spec : LayerSpec
    months : slice, optional
        Months of a series to read (positions along its time axis).
    reduce : callable, optional
        ``reduce(block) -> block`` applied on the source grid after the unit conversion and
        before resampling (e.g. monthly means): bilinear and average resampling are linear, so
        reducing first gives the resampled reduction to rounding at a fraction of the cost.
    threads : int, optional
        GDAL warper threads.
    """

    spec: LayerSpec
    months: slice | None = None
    reduce: Any = None
    threads: int | None = None

    def __call__(self, grid: GridSpec) -> xr.DataArray:
        """Read the layer onto ``grid``: :meth:`load` it, then :meth:`place` it."""
        return self.place(self.load(grid), grid)

    def _opened(self) -> xr.DataArray:
        da = open_layer(self.spec)
        return da if self.months is None else da.isel(time=self.months)

    def load(self, grid: GridSpec) -> xr.DataArray | None:
        """Source cells over ``grid`` plus the resampling margin, converted and reduced.

        Returns None when the source does not reach ``grid``.

        Raises
        ------
        InputValidationError
            The file cannot be read (truncated or corrupt): one line naming the layer, the
            file, GDAL's or HDF5's reason and the fix.
        """
        spec = self.spec
        clipped = clip_to_grid(self._opened(), grid)
        if clipped is None:
            return None
        block = load_block(clipped)  # a truncated or corrupt file: one line naming layer and file
        if spec.quantity is not None and spec.units is not None:
            block = convert_units(block, variable=spec.quantity, units=spec.units, name=spec.name)
        return block if self.reduce is None else self.reduce(block)

    def place(self, block: xr.DataArray | None, grid: GridSpec) -> xr.DataArray:
        """Put a :meth:`load`-ed block onto ``grid`` (which its load covered).

        Returns
        -------
        xarray.DataArray
            ``(y, x)`` or ``(lead, y, x)`` on ``grid``; float64 with NaN, or the class codes
            with their nodata value.

        Raises
        ------
        GridMismatchError
            The block cannot be warped onto the grid (a CRS GDAL cannot project there).
        """
        if block is None:
            # The source does not reach the grid: a one-cell NaN block of the same lead axes
            # goes through the same reduction, then covers the grid.
            return _nothing(self._opened(), grid, self.reduce, self.spec.kind)
        spec = self.spec
        try:
            return resample_to(
                block, grid, method=spec.method, kind=spec.kind, num_threads=self.threads
            )
        except READ_ERRORS as exc:
            raise GridMismatchError(
                f"layer '{spec.name}' (file {spec.path}): cannot be warped onto the run's grid "
                f"({root_cause(exc)}); check the CRS written in the file (gdalinfo FILE)"
            ) from exc


def read_block(
    spec: LayerSpec,
    grid: GridSpec,
    *,
    months: slice | None = None,
    reduce: Any = None,
    threads: int | None = None,
) -> xr.DataArray:
    """Read ``spec`` onto ``grid`` (a window of the run's grid), in canonical units.

    The arguments are those of :class:`BlockReader`, whose :meth:`~BlockReader.place` tells
    what is returned and raised.
    """
    return BlockReader(spec, months, reduce, threads)(grid)


def _nothing(da: xr.DataArray, grid: GridSpec, reduce: Any, kind: Kind) -> xr.DataArray:
    """No data on ``grid``: NaN (or nodata class codes) with ``da``'s reduced lead axes."""
    lead = [d for d in da.dims if d not in ("y", "x")]
    if kind == "categorical" and np.issubdtype(da.dtype, np.integer):
        fill: Any = da.rio.nodata if da.rio.nodata is not None else 0
        dtype = da.dtype
    else:
        fill, dtype = np.nan, np.dtype(np.float64)
    tiny = xr.DataArray(
        np.full((*(da.sizes[d] for d in lead), 1, 1), fill, dtype),
        dims=(*lead, "y", "x"),
        coords={d: da[d].values for d in lead if d in da.coords},
    )
    if reduce is not None:
        tiny = reduce(tiny)
    lead_shape = tiny.shape[:-2]
    y, x = grid.coords()
    out = xr.DataArray(
        np.broadcast_to(tiny.values, (*lead_shape, grid.height, grid.width)).copy(),
        dims=tiny.dims,
        coords={**{d: tiny[d].values for d in tiny.dims[:-2] if d in tiny.coords}, "y": y, "x": x},
    )
    out.rio.write_crs(grid.crs, inplace=True)
    out.rio.write_transform(grid.transform, inplace=True)
    if kind == "categorical" and dtype != np.float64:
        out.rio.write_nodata(fill, inplace=True)
    return out


def halo_cells(grid: GridSpec, distance_m: float) -> tuple[int, int]:
    """Rows and columns around a window that hold every cell within ``distance_m`` of it.

    Geographic grids measure a column at the window's highest latitude (the shortest), so
    the margin holds at every row.
    """
    if distance_m <= 0:
        return 0, 0
    if not grid.is_geographic:
        return (math.ceil(distance_m / grid.res[1]) + 1, math.ceil(distance_m / grid.res[0]) + 1)
    metres_per_degree = 111_320.0
    _, bottom, _, top = grid.bounds
    lat = min(89.0, max(abs(bottom), abs(top)) + distance_m / metres_per_degree)
    rows = math.ceil(distance_m / (grid.res[1] * metres_per_degree)) + 1
    cols = math.ceil(distance_m / (grid.res[0] * metres_per_degree * math.cos(math.radians(lat))))
    return rows, cols + 1


def fill_extent(grid: GridSpec, window: tuple[int, int, int, int], distance_m: float) -> GridSpec:
    """Return the part of ``grid`` a window's climate is loaded on: window and fill margin.

    :func:`read_filled` loads the source over this grid (the window plus :func:`halo_cells`
    rows and columns, clipped to the grid); :mod:`socseq.pipeline.rechunk` counts what the
    windows read from it.
    """
    y0, y1, x0, x1 = window
    hy, hx = halo_cells(grid.window(y0, y1, x0, x1), distance_m)
    return grid.window(y0 - hy, y1 + hy, x0 - hx, x1 + hx)


def read_filled(
    reader: BlockReader,
    grid: GridSpec,
    window: tuple[int, int, int, int],
    target: np.ndarray,
    distance_m: float,
    name: str,
    group: int | None = None,
) -> tuple[np.ndarray, int]:
    """Read a window's values, filling target cells without data from the nearest valid cell.

    Parameters
    ----------
    reader : BlockReader
        The layer and months to read.
    grid : GridSpec
        The run's grid.
    window : (y0, y1, x0, x1)
        The window's rows and columns.
    target : numpy.ndarray
        ``(rows, cols)`` bool, the window's cells that need values (candidate cells).
    distance_m : float
        Largest fill distance (0: no filling).
    name : str
        Layer name for messages.
    group : int, optional
        Fill the leading axis in groups of this many slices (12: each year on its own, as
        a cell counts as a source only where it has every month of the group).

    Returns
    -------
    values : numpy.ndarray
        ``(lead..., rows, cols)`` float64.
    filled : int
        Target cells filled (the most of any group).

    Notes
    -----
    With filling on, the values are read on the window plus a margin of :func:`halo_cells`:
    every source cell within the fill distance of the window is then in view, and the
    nearest-cell rule (ties broken by position) picks exactly the cell a whole-grid fill picks.
    The source is loaded once for the window and its margin. When that part of the source has
    no missing value (inland windows), it is placed on the window alone, and on the margin
    too only if some target cell still lacks a value (a window beyond the source's edge): the
    margin is then not resampled for nothing (31 % of the cells placed per 256-cell window at
    the default fill distance). A warp of a window is the window of the whole grid's warp
    (:func:`~socseq.io.grid.resample_to`), so both ways give the same values.
    """
    y0, y1, x0, x1 = window
    own = grid.window(y0, y1, x0, x1)
    hy, hx = halo_cells(own, distance_m)
    wide = fill_extent(grid, window, distance_m)
    oy, ox = y0 - max(0, y0 - hy), x0 - max(0, x0 - hx)
    crop = (slice(oy, oy + target.shape[0]), slice(ox, ox + target.shape[1]))
    block = reader.load(wide)
    if distance_m > 0 and block is not None and not np.isnan(block.values).any():
        values = np.asarray(reader.place(block, own).values, dtype=np.float64)
        # Cells first, then the targets: a boolean pick of every month would copy the block.
        missing = np.asarray(np.isnan(values).any(axis=tuple(range(values.ndim - 2))))
        if not missing[target].any():
            return values, 0
    values = np.asarray(reader.place(block, wide).values, dtype=np.float64)
    filled = 0
    if distance_m > 0:
        lead = values.shape[:-2]
        flat = values.reshape(-1, *values.shape[-2:])
        step = group or flat.shape[0]
        mask = np.zeros(wide.shape, bool)
        mask[crop] = target
        for g0 in range(0, flat.shape[0], step):
            part = flat[g0 : g0 + step]
            missing = np.isnan(part[(slice(None), *crop)]).any(axis=0) & target
            if not missing.any():
                continue
            y, x = wide.coords()
            part_da = xr.DataArray(part, dims=("band", "y", "x"), coords={"y": y, "x": x})
            part_da.rio.write_crs(wide.crs, inplace=True)
            part_da.rio.write_transform(wide.transform, inplace=True)
            result = fill_from_nearest(part_da, max_distance_m=distance_m, mask=mask, name=name)
            flat[g0 : g0 + step] = result.values
            after = np.isnan(flat[(slice(g0, g0 + step), *crop)]).any(axis=0) & target
            filled = max(filled, int((missing & ~after).sum()))
        values = flat.reshape(*lead, *values.shape[-2:])
    return values[(..., *crop)], filled


def source_path(path: str | Path) -> str:
    """Absolute path as a string (specs travel to process workers)."""
    return str(Path(path).resolve())
