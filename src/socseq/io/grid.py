"""The template grid, alignment of layers onto it, coastal filling and true cell areas.

Every input layer is brought onto one :class:`GridSpec` (by default the master SOC grid) before
any model runs, so downstream code may assume identical ``y``/``x`` coordinates. The resampling
rule depends on the kind of variable: continuous fields are interpolated (bilinear) or
aggregated (average, chosen automatically when the source is much finer than the grid); class
maps take the majority class (mode) or the nearest cell, never an interpolated code.
"""

# Long module: the template grid, alignment with its resampling rules, coastal filling and true
# cell areas: the one home of grid geometry.

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.transform import array_bounds
from rasterio.warp import reproject, transform_bounds

from socseq.exceptions import GridMismatchError, InputValidationError, MissingCRSError

__all__ = [
    "GridSpec",
    "align_to_template",
    "cell_area_ha",
    "choose_resampling",
    "clip_to_grid",
    "describe_source",
    "fill_from_nearest",
    "resample_to",
]

#: Mean Earth radius (IUGG, metres), used for great-circle distances on geographic grids.
EARTH_RADIUS_M = 6_371_008.8

#: Resampling methods allowed per kind of variable; the first is the default.
RESAMPLING_BY_KIND: dict[str, tuple[str, ...]] = {
    "continuous": ("bilinear", "average"),
    "categorical": ("mode", "nearest"),
}

#: A continuous source finer than the grid by more than this factor is averaged, not
#: interpolated: bilinear interpolation would read only the 4 source cells nearest to each
#: target centre and ignore the rest of the target cell.
AVERAGE_WHEN_FINER_BY = 2.0


def describe_source(da: xr.DataArray, name: str | None = None) -> str:
    """Return ``"layer 'NAME' (file PATH)"`` for error messages.

    The name defaults to ``da.name`` and the file to ``da.attrs["source"]`` (set by
    :func:`socseq.io.raster.open_raster`).
    """
    label = name if name is not None else (da.name if da.name is not None else "unnamed")
    source = da.attrs.get("source")
    return f"layer '{label}' (file {source})" if source else f"layer '{label}'"


def _centre_coords(da: xr.DataArray) -> tuple[float, float, float, float, float, float] | None:
    """First and last x and y cell centres and the resolution they imply, as rioxarray's.

    Returns ``(x0, x1, y0, y1, res_x, res_y)`` with ``res = (last - first) / (n - 1)``; None
    when a spatial coordinate is missing or an axis has one cell, which rioxarray answers
    from the stored transform.
    """
    coords = da.coords
    if "x" not in coords or "y" not in coords or coords["x"].ndim != 1 or coords["y"].ndim != 1:
        return None
    x, y = coords["x"].values, coords["y"].values
    if x.size < 2 or y.size < 2:
        return None
    x0, x1, y0, y1 = float(x[0]), float(x[-1]), float(y[0]), float(y[-1])
    return x0, x1, y0, y1, (x1 - x0) / (x.size - 1), (y1 - y0) / (y.size - 1)


def coord_transform(da: xr.DataArray) -> Affine:
    """Return the transform that ``da``'s cell-centre coordinates imply.

    Bit for bit ``da.rio.transform(recalc=True)``, with rioxarray's formulas (origin half a
    cell before the first centre), read from the coordinate arrays at once: rioxarray indexes
    each coordinate through xarray for every figure, which took a tenth of a small run.
    Coordinates without spacing go to rioxarray, and so do rotated rasters, which rioxarray
    opens with 2-D ``xc``/``yc`` coordinates only (it returns their stored transform).
    """
    centres = _centre_coords(da)
    if centres is None:
        return da.rio.transform(recalc=True)
    x0, _, y0, _, res_x, res_y = centres
    return Affine.translation(x0 - res_x / 2.0, y0 - res_y / 2.0) * Affine.scale(res_x, res_y)


def coord_bounds(da: xr.DataArray) -> tuple[float, float, float, float]:
    """Return the outer edges (left, bottom, right, top) of ``da``'s cells, from its coordinates.

    Bit for bit ``da.rio.bounds(recalc=True)`` (see :func:`coord_transform`).
    """
    centres = _centre_coords(da)
    if centres is None:
        return da.rio.bounds(recalc=True)
    x0, x1, y0, y1, res_x, res_y = centres
    first_x, last_x = x0 - res_x / 2.0, x1 + res_x / 2.0
    first_y, last_y = y0 - res_y / 2.0, y1 + res_y / 2.0
    left, right = (first_x, last_x) if res_x >= 0 else (last_x, first_x)
    top, bottom = (first_y, last_y) if res_y < 0 else (last_y, first_y)
    return left, bottom, right, top


def _transform_of(da: xr.DataArray) -> Affine:
    """Return the transform stored with ``da`` if it matches its coordinates, else derive it.

    The stored GeoTransform is exact (coordinates derived from it carry rounding), but it goes
    stale when an array is sliced or flipped, so it is trusted only when both agree.
    """
    derived = coord_transform(da)
    stored = da.rio.transform()
    tol = 1e-6 * min(abs(derived.a), abs(derived.e))
    same = all(
        abs(p - q) <= tol for p, q in zip(tuple(derived)[:6], tuple(stored)[:6], strict=True)
    )
    return stored if same else derived


@dataclass(frozen=True)
class GridSpec:
    """A north-up raster grid: CRS, affine transform and size.

    Parameters
    ----------
    crs : pyproj.CRS or str
        Coordinate reference system; any string pyproj understands (``"EPSG:4326"``, WKT).
    transform : affine.Affine
        Maps (column, row) of cell corners to (x, y) in CRS units; must be north-up
        (no rotation, ``e < 0``).
    width, height : int
        Number of columns and rows.
    """

    crs: CRS
    transform: Affine
    width: int
    height: int

    def __post_init__(self) -> None:
        # Frozen dataclass: normalise the CRS once so equality and hashing compare CRS objects.
        object.__setattr__(self, "crs", CRS.from_user_input(self.crs))
        t = self.transform
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
            raise GridMismatchError(
                f"grid transform {tuple(t)[:6]} is rotated or not north-up; "
                "warp the template raster to a north-up grid (gdalwarp) first"
            )
        if self.width <= 0 or self.height <= 0:
            raise GridMismatchError(
                f"grid size {self.width}×{self.height} cells is empty; give a positive size"
            )

    def __repr__(self) -> str:
        # pyproj's own repr spans many lines; logs and error messages need one.
        crs = self.crs.to_string()
        t = self.transform
        return (
            f"GridSpec(crs={crs!r}, transform=Affine({t.a!r}, {t.b!r}, {t.c!r}, {t.d!r}, "
            f"{t.e!r}, {t.f!r}), width={self.width}, height={self.height})"
        )

    @classmethod
    def from_raster(cls, da: xr.DataArray) -> GridSpec:
        """Take the grid of a raster that has a CRS (e.g. the master SOC map)."""
        crs = da.rio.crs
        if crs is None:
            raise MissingCRSError(
                f"{describe_source(da)}: has no CRS, so it cannot define the template grid; "
                "write one into the file (gdal_edit.py -a_srs EPSG:XXXX FILE)"
            )
        return cls(
            crs=CRS.from_user_input(crs),
            transform=_transform_of(da),
            width=int(da.rio.width),
            height=int(da.rio.height),
        )

    @classmethod
    def from_bounds(
        cls,
        crs: CRS | str | int,
        resolution: float | tuple[float, float],
        bounds: tuple[float, float, float, float],
    ) -> GridSpec:
        """Build a grid covering ``bounds`` with cells of ``resolution``.

        Parameters
        ----------
        crs : pyproj.CRS, str or int
            Coordinate reference system.
        resolution : float or (float, float)
            Cell size (x, y) in CRS units (degrees or metres), e.g. ``1 / 120`` for 30″.
        bounds : (left, bottom, right, top)
            Extent in CRS units; the grid starts at (left, top) and extends right and down by
            whole cells until it covers the extent.
        """
        if isinstance(resolution, tuple | list):
            xres, yres = float(resolution[0]), float(resolution[1])
        else:
            xres = yres = float(resolution)
        left, bottom, right, top = bounds
        if xres <= 0 or yres <= 0 or right <= left or top <= bottom:
            raise GridMismatchError(
                f"grid resolution {resolution} and bounds {bounds} do not define any cell; "
                "give a positive resolution and bounds as (left, bottom, right, top)"
            )
        # The tolerance keeps an extent that is a whole number of cells (up to rounding of
        # e.g. 1/120 degree) from gaining a spurious extra column or row.
        width = math.ceil((right - left) / xres - 1e-6)
        height = math.ceil((top - bottom) / yres - 1e-6)
        return cls(
            CRS.from_user_input(crs), Affine(xres, 0.0, left, 0.0, -yres, top), width, height
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in cells."""
        return (self.height, self.width)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of the outer cell edges, in CRS units."""
        west, south, east, north = array_bounds(self.height, self.width, self.transform)
        return (west, south, east, north)

    @property
    def res(self) -> tuple[float, float]:
        """Cell size (x, y) in CRS units, both positive."""
        return (self.transform.a, -self.transform.e)

    @property
    def is_geographic(self) -> bool:
        """True when the CRS is in degrees of latitude/longitude."""
        return bool(self.crs.is_geographic)

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the (y, x) cell-centre coordinates, y decreasing, in CRS units."""
        t = self.transform
        x = t.c + t.a * (np.arange(self.width) + 0.5)
        y = t.f + t.e * (np.arange(self.height) + 0.5)
        return y, x

    def window(self, y0: int, y1: int, x0: int, x1: int) -> GridSpec:
        """Return the grid of rows ``y0:y1`` and columns ``x0:x1`` (clipped to the grid).

        The transform is the grid's, moved by whole cells, so the window's cells are the
        grid's cells and ``window(...)`` of a window is a window of the grid.
        """
        y0, y1 = max(0, y0), min(self.height, y1)
        x0, x1 = max(0, x0), min(self.width, x1)
        t = self.transform
        return GridSpec(
            self.crs, Affine(t.a, 0.0, t.c + x0 * t.a, 0.0, t.e, t.f + y0 * t.e), x1 - x0, y1 - y0
        )

    def template(self, dtype: Any = float, *, name: str | None = None) -> xr.DataArray:
        """Return a DataArray on the grid: NaN for float dtypes, 0 otherwise, CRS written."""
        y, x = self.coords()
        fill = np.nan if np.issubdtype(np.dtype(dtype), np.floating) else 0
        da = xr.DataArray(
            np.full(self.shape, fill, dtype=dtype),
            dims=("y", "x"),
            coords={"y": y, "x": x},
            name=name,
        )
        return da.rio.write_crs(self.crs).rio.write_transform(self.transform)


def _grid_bounds_in(crs: Any, grid: GridSpec) -> tuple[float, float, float, float]:
    """Return the grid's extent in another CRS.

    Working in the source CRS (rather than moving a possibly global source extent into a
    national projected CRS, where far-away corners do not transform) keeps this robust.
    """
    return transform_bounds(grid.crs, crs, *grid.bounds, densify_pts=21)


def _source_res_in_grid_units(
    da: xr.DataArray, grid: GridSpec, grid_in_src: tuple[float, float, float, float]
) -> tuple[float, float]:
    """Approximate source cell size (x, y) in the grid's CRS units, over the grid's extent."""
    t = coord_transform(da)
    sx, sy = abs(t.a), abs(t.e)
    left, bottom, right, top = grid_in_src
    gl, gb, gr, gt = grid.bounds
    return (sx * (gr - gl) / (right - left), sy * (gt - gb) / (top - bottom))


def _overlap_fraction(da: xr.DataArray, grid_in_src: tuple[float, float, float, float]) -> float:
    """Share of the grid's extent (measured in the source CRS) that the source covers."""
    sl, sb, sr, st = coord_bounds(da)
    left, bottom, right, top = grid_in_src
    dx = max(0.0, min(sr, right) - max(sl, left))
    dy = max(0.0, min(st, top) - max(sb, bottom))
    return (dx * dy) / ((right - left) * (top - bottom))


def clip_to_grid(da: xr.DataArray, grid: GridSpec) -> xr.DataArray | None:
    """Select the source cells over ``grid`` plus a margin (lazily), or None without overlap.

    The margin of 3 source cells covers the bilinear neighbours and partly covered edge cells,
    so :func:`resample_to` of the selection equals :func:`resample_to` of the whole layer.
    """
    if da.rio.crs is None:
        raise MissingCRSError(
            f"{describe_source(da)}: has no CRS, so it cannot be aligned to the grid; "
            "write one into the file (gdal_edit.py -a_srs EPSG:XXXX FILE)"
        )
    grid_in_src = _grid_bounds_in(CRS.from_user_input(da.rio.crs), grid)
    if _overlap_fraction(da, grid_in_src) <= 0:
        return None
    return _clip_to(da, grid_in_src)


def _clip_to(da: xr.DataArray, grid_in_src: tuple[float, float, float, float]) -> xr.DataArray:
    """Keep the source cells over the grid plus a margin, so a global file is not warped whole.

    The margin of 3 source cells covers the bilinear neighbours and partly covered edge cells.
    """
    t = coord_transform(da)
    sx, sy = abs(t.a), abs(t.e)
    left, bottom, right, top = grid_in_src
    x, y = da["x"].values, da["y"].values
    cols = np.flatnonzero((x >= left - 3 * sx) & (x <= right + 3 * sx))
    rows = np.flatnonzero((y >= bottom - 3 * sy) & (y <= top + 3 * sy))
    if len(cols) == 0 or len(rows) == 0 or (len(cols), len(rows)) == (len(x), len(y)):
        return da
    # At least two cells along each axis, so the selection keeps a resolution.
    cols = np.arange(max(0, min(cols[0], len(x) - 2)), min(len(x), max(cols[-1], 1) + 1))
    rows = np.arange(max(0, min(rows[0], len(y) - 2)), min(len(y), max(rows[-1], 1) + 1))
    if len(cols) < 2 or len(rows) < 2:
        return da
    clipped = da.isel(x=slice(cols[0], cols[-1] + 1), y=slice(rows[0], rows[-1] + 1))
    return clipped.rio.write_transform(coord_transform(clipped))


def choose_resampling(
    da: xr.DataArray,
    grid: GridSpec,
    *,
    kind: Literal["continuous", "categorical"],
    resampling: str | None = None,
    name: str,
) -> str:
    """Return the resampling method of a layer on a grid (see :func:`align_to_template`).

    Decided once for the whole grid: a run that resamples window by window passes the method
    to :func:`resample_to`, so every window uses the same rule.
    """
    if da.rio.crs is None:
        raise MissingCRSError(
            f"{describe_source(da, name)}: has no CRS, so it cannot be aligned to the grid; "
            "write one into the file (gdal_edit.py -a_srs EPSG:XXXX FILE)"
        )
    grid_in_src = _grid_bounds_in(CRS.from_user_input(da.rio.crs), grid)
    if kind not in RESAMPLING_BY_KIND:
        raise InputValidationError(
            f"{describe_source(da, name)}: kind '{kind}' is unknown; "
            f"use one of {', '.join(RESAMPLING_BY_KIND)}"
        )
    allowed = RESAMPLING_BY_KIND[kind]
    if resampling is not None:
        if resampling not in allowed:
            raise InputValidationError(
                f"{describe_source(da, name)}: resampling '{resampling}' is not allowed for "
                f"{kind} layers; use one of {', '.join(allowed)}"
            )
        return resampling
    if kind == "continuous":
        sx, sy = _source_res_in_grid_units(da, grid, grid_in_src)
        gx, gy = grid.res
        if math.sqrt((gx / sx) * (gy / sy)) > AVERAGE_WHEN_FINER_BY:
            return "average"
    return allowed[0]


def _on_grid(da: xr.DataArray, grid: GridSpec) -> bool:
    """Tell whether ``da`` already has the grid's CRS, shape and transform (to 1e-9 cells)."""
    if CRS.from_user_input(da.rio.crs) != grid.crs or da.rio.shape != grid.shape:
        return False
    t = coord_transform(da)
    tol = 1e-9 * min(grid.res)
    return all(
        abs(p - q) <= tol for p, q in zip(tuple(t)[:6], tuple(grid.transform)[:6], strict=True)
    )


def align_to_template(
    da: xr.DataArray,
    grid: GridSpec,
    *,
    kind: Literal["continuous", "categorical"],
    resampling: str | None = None,
    name: str,
    num_threads: int | None = None,
) -> xr.DataArray:
    """Reproject and resample a layer onto the template grid.

    Parameters
    ----------
    da : xarray.DataArray
        Dims ``(y, x)`` or ``(time|band|month, y, x)`` with a CRS; NaN marks no data.
    grid : GridSpec
        The template grid.
    kind : {"continuous", "categorical"}
        Continuous fields (SOC, clay, climate, NDVI) or class codes (land use).
    resampling : str, optional
        ``"bilinear"`` or ``"average"`` for continuous layers, ``"mode"`` or ``"nearest"``
        for categorical ones. By default continuous layers use bilinear, or average when the
        source cells are more than 2× finer than the grid cells; categorical layers use mode
        (the majority class, as the GSOCseq manual recommends).
    name : str
        Layer name used in error messages.
    num_threads : int, optional
        GDAL warper threads (default: every core).

    Returns
    -------
    xarray.DataArray
        Same leading dims, ``(y, x)`` exactly the grid's cell centres, NaN outside the source
        and where the source had no data. The method used is recorded in
        ``attrs["resampling"]``. Integer class rasters keep their dtype and nodata value.

    Raises
    ------
    MissingCRSError
        The layer has no CRS.
    GridMismatchError
        The layer does not overlap the grid at all.
    InputValidationError
        Unknown ``kind`` or a resampling method not allowed for it.

    Notes
    -----
    rasterio's warp computes the result in memory: a dask-backed input is loaded.
    """
    method = choose_resampling(da, grid, kind=kind, resampling=resampling, name=name)
    if _on_grid(da, grid):
        y, x = grid.coords()
        return da.assign_coords(y=y, x=x).assign_attrs(resampling="none (already on grid)")
    src_crs = CRS.from_user_input(da.rio.crs)
    grid_in_src = _grid_bounds_in(src_crs, grid)
    if _overlap_fraction(da, grid_in_src) <= 0:
        raise GridMismatchError(
            f"{describe_source(da, name)}: covers 0 % of the template grid (layer bounds "
            f"{tuple(round(v, 4) for v in coord_bounds(da))} vs grid bounds "
            f"{tuple(round(v, 4) for v in grid_in_src)} in the layer's CRS "
            f"{src_crs.to_string()}); check the layer's CRS and that it covers the study region"
        )
    return resample_to(da, grid, method=method, kind=kind, num_threads=num_threads)


#: Bands from which a bilinear warp computes the source coordinates once and interpolates every
#: band itself (below, one GDAL warp of the bands costs no more).
_FAST_BANDS = 3

#: GDAL's largest error of its approximate coordinate transformer [source pixels]. Near zero,
#: GDAL transforms every pixel exactly; its default (0.125) interpolates along scan lines, so
#: a cell's value would depend on the extent warped (up to ~0.02 pixel seen at 30 km).
_EXACT = 1e-9


def _source_grid(da: xr.DataArray) -> GridSpec:
    return GridSpec(
        CRS.from_user_input(da.rio.crs),
        coord_transform(da),
        int(da.sizes["x"]),
        int(da.sizes["y"]),
    )


@functools.lru_cache(maxsize=32)
def _transformer(dst_wkt: str, src_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(dst_wkt), CRS.from_wkt(src_wkt), always_xy=True)


def _source_coords(src: GridSpec, grid: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """Fractional source column and row (integers at pixel centres) of every grid cell centre.

    Exact (PROJ) transformation of each centre, as GDAL's exact transformer computes it (they
    agree to 1e-12 pixels), so the result does not depend on the extent of ``grid``.
    """
    y, x = grid.coords()
    xx, yy = np.meshgrid(x, y)
    if src.crs != grid.crs:
        xx, yy = _transformer(grid.crs.to_wkt(), src.crs.to_wkt()).transform(xx, yy)
    t = ~src.transform
    cols = t.a * xx + t.b * yy + t.c - 0.5
    rows = t.d * xx + t.e * yy + t.f - 0.5
    return cols, rows


def _warp(
    values: np.ndarray,
    src: GridSpec,
    grid: GridSpec,
    method: str,
    threads: int | None,
    nodata: float = np.nan,
    tiles: list[tuple[int, int, int, int]] | None = None,
) -> np.ndarray:
    """GDAL warp of ``values`` ``(n, sy, sx)`` from ``src`` onto ``grid``, keeping the dtype.

    Between CRSs, GDAL's coordinate transformer is made exact (:data:`_EXACT`), so warping a
    window gives the window of the whole grid's warp. ``tiles`` (rows and columns
    ``(y0, y1, x0, x1)``) limits the work to those parts of the grid; the rest is ``nodata``.
    """
    values = np.ascontiguousarray(values)
    out = np.full((values.shape[0], grid.height, grid.width), nodata, values.dtype)
    parts = tiles if tiles is not None else [(0, grid.height, 0, grid.width)]
    num_threads = threads or os.cpu_count() or 1
    if src.crs == grid.crs:
        for y0, y1, x0, x1 in parts:
            part = grid.window(y0, y1, x0, x1)
            block = np.full((values.shape[0], part.height, part.width), nodata, values.dtype)
            reproject(
                values,
                block,
                src_transform=src.transform,
                src_crs=src.crs,
                dst_transform=part.transform,
                dst_crs=part.crs,
                resampling=Resampling[method],
                src_nodata=nodata,
                dst_nodata=nodata,
                num_threads=num_threads,
            )
            out[:, y0:y1, x0:x1] = block
        return out
    from rasterio.io import MemoryFile
    from rasterio.vrt import WarpedVRT
    from rasterio.windows import Window

    with MemoryFile() as memory:
        with memory.open(
            driver="GTiff",
            width=src.width,
            height=src.height,
            count=values.shape[0],
            dtype=values.dtype,
            crs=src.crs,
            transform=src.transform,
            nodata=nodata,
        ) as dataset:
            dataset.write(values)
        with (
            memory.open() as dataset,
            WarpedVRT(
                dataset,
                crs=grid.crs,
                transform=grid.transform,
                width=grid.width,
                height=grid.height,
                resampling=Resampling[method],
                tolerance=_EXACT,
                src_nodata=nodata,
                nodata=nodata,
                warp_extras={"NUM_THREADS": num_threads},
            ) as vrt,
        ):
            for y0, y1, x0, x1 in parts:
                out[:, y0:y1, x0:x1] = vrt.read(window=Window(x0, y0, x1 - x0, y1 - y0))
    return out


#: Side of the tiles in which cells next to missing source values are warped by GDAL [cells].
_TILE = 32


def _tiles_of(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Return the ``_TILE``-cell tiles of a grid that hold a True cell of ``mask``."""
    h, w = mask.shape
    return [
        (y0, min(y0 + _TILE, h), x0, min(x0 + _TILE, w))
        for y0 in range(0, h, _TILE)
        for x0 in range(0, w, _TILE)
        if mask[y0 : y0 + _TILE, x0 : x0 + _TILE].any()
    ]


def _bilinear_many(da: xr.DataArray, grid: GridSpec, threads: int | None) -> np.ndarray:
    """Bilinear warp of many bands: exact coordinates once, GDAL's formula for every band.

    Each grid cell's fractional source pixel is computed once (:func:`_source_coords`); the
    bands are interpolated there by :func:`socseq.io._interp.bilinear_bands` wherever the
    four neighbours are inside the block and valid. Cells next to missing values or the edge,
    where GDAL reweighs the neighbours it has, are warped by GDAL itself. The result equals a
    GDAL warp with exact coordinates to rounding (``tests/unit/test_io_grid.py``), at a
    fraction of the cost for long series.
    """
    from socseq.io._interp import bilinear_bands

    values = np.asarray(da.values)
    lead_shape = values.shape[:-2]
    bands = values.reshape(-1, *values.shape[-2:])
    # Cell-major, in float64: one copy of the (small) source block, so that the kernel reads
    # and writes each cell's bands as one run (see bilinear_bands).
    by_pixel = np.empty((*bands.shape[1:], bands.shape[0]))
    by_pixel[...] = np.moveaxis(bands, 0, -1)
    src = _source_grid(da)
    fx, fy = _source_coords(src, grid)
    # Not filled with NaN first (a pass over every band): the kernel writes every cell it does
    # not leave to GDAL, NaN outside the block included.
    by_cell = np.empty((grid.height * grid.width, bands.shape[0]))
    done = bilinear_bands(by_pixel, fx.ravel(), fy.ravel(), by_cell)
    # The usual (bands, y, x) axes, as a view of the cell-major array: a cell's series stays
    # contiguous for the window tasks that pick cells next.
    out = by_cell.T.reshape(-1, *grid.shape)
    if not done.all():
        dirty = ~done.reshape(grid.shape)
        band_major = np.asarray(bands, dtype=np.float64)
        warped = _warp(band_major, src, grid, "bilinear", threads, tiles=_tiles_of(dirty))
        out[:, dirty] = warped[:, dirty]
    return out.reshape(*lead_shape, *grid.shape)


def _lattice_offset(da: xr.DataArray, grid: GridSpec) -> tuple[int, int] | None:
    """Rows and columns of the grid's corner in ``da`` when both share one lattice, else None.

    Same CRS, same cell size and a whole-cell offset (to 1e-9 cells): the grid's cells are
    then cells of ``da`` and aligning is a slice, no resampling.
    """
    if CRS.from_user_input(da.rio.crs) != grid.crs:
        return None
    t = coord_transform(da)
    g = grid.transform
    if abs(t.a - g.a) > 1e-9 * g.a or abs(t.e - g.e) > 1e-9 * abs(g.e) or t.b or t.d:
        return None
    col, row = (g.c - t.c) / t.a, (g.f - t.f) / t.e
    if abs(col - round(col)) > 1e-9 or abs(row - round(row)) > 1e-9:
        return None
    return round(row), round(col)


def resample_to(
    da: xr.DataArray,
    grid: GridSpec,
    *,
    method: str,
    kind: Literal["continuous", "categorical"],
    num_threads: int | None = None,
) -> xr.DataArray:
    """Put ``da`` onto ``grid`` with ``method``: a slice on a shared lattice, else a warp.

    Unlike :func:`align_to_template` this neither chooses the method nor requires overlap:
    cells the source does not reach are NaN (no data for integer class layers). It reads only
    the source cells over the grid plus a margin, so aligning a window of a large grid reads
    the window's part of each source.

    Parameters
    ----------
    da : xarray.DataArray
        ``(y, x)`` or ``(lead, y, x)`` with a CRS, lazily backed or in memory.
    grid : GridSpec
        Target grid (the template grid or a window of it).
    method : str
        ``"bilinear"``, ``"average"``, ``"mode"`` or ``"nearest"``.
    kind : {"continuous", "categorical"}
        Continuous layers are resampled in float64, whatever the file stores.
    num_threads : int, optional
        GDAL warper threads (default: every core; window tasks pass their thread budget).

    Returns
    -------
    xarray.DataArray
        Leading dims kept, ``(y, x)`` exactly the grid's cell centres, ``attrs["resampling"]``.
    """
    y, x = grid.coords()
    lead = [d for d in da.dims if d not in ("y", "x")]
    lead_shape = tuple(da.sizes[d] for d in lead)
    integer_classes = (
        kind == "categorical" and np.issubdtype(da.dtype, np.integer) and da.rio.nodata is not None
    )

    def framed(values: np.ndarray, how: str) -> xr.DataArray:
        out = xr.DataArray(
            values,
            dims=(*lead, "y", "x"),
            coords={**{d: da[d].values for d in lead if d in da.coords}, "y": y, "x": x},
            name=da.name,
            attrs={**da.attrs, "resampling": how},
        )
        # In place: the array is new, and rioxarray's writers copy it otherwise.
        out.rio.write_crs(grid.crs, inplace=True)
        out.rio.write_transform(grid.transform, inplace=True)
        out.rio.write_nodata(da.rio.nodata if integer_classes else np.nan, inplace=True)
        return out

    offset = _lattice_offset(da, grid)
    if offset is not None:
        row, col = offset
        r0, r1 = max(0, -row), min(grid.height, da.sizes["y"] - row)
        c0, c1 = max(0, -col), min(grid.width, da.sizes["x"] - col)
        dtype = da.dtype if integer_classes else np.dtype(np.float64)
        fill = da.rio.nodata if integer_classes else np.nan
        values = np.full((*lead_shape, grid.height, grid.width), fill, dtype)
        if r1 > r0 and c1 > c0:
            part = da.isel(y=slice(row + r0, row + r1), x=slice(col + c0, col + c1))
            values[..., r0:r1, c0:c1] = np.asarray(part.values)
        return framed(values, "none (same lattice)")

    grid_in_src = _grid_bounds_in(CRS.from_user_input(da.rio.crs), grid)
    if _overlap_fraction(da, grid_in_src) <= 0:
        dtype = da.dtype if integer_classes else np.dtype(np.float64)
        fill = da.rio.nodata if integer_classes else np.nan
        return framed(np.full((*lead_shape, grid.height, grid.width), fill, dtype), method)
    da = _clip_to(da, grid_in_src)
    if method == "bilinear" and kind == "continuous" and int(np.prod(lead_shape)) >= _FAST_BANDS:
        return framed(_bilinear_many(da, grid, num_threads), method)

    # Class codes keep their integer dtype and nodata value; other layers are float64 with NaN.
    values = np.asarray(da.values)
    if not integer_classes:
        values = values.astype(np.float64)
    warped = _warp(
        values.reshape(-1, da.sizes["y"], da.sizes["x"]),
        _source_grid(da),
        grid,
        method,
        num_threads,
        nodata=da.rio.nodata if integer_classes else np.nan,
    )
    out = framed(warped.reshape(*lead_shape, *grid.shape), method)
    # Force exactly the grid's coordinates so every aligned layer compares equal on (y, x).
    out = out.assign_coords(y=y, x=x)
    out.attrs.update({k: v for k, v in da.attrs.items() if k not in out.attrs})
    out.attrs["resampling"] = method
    return out


def _require_metres(crs: CRS, what: str) -> None:
    """Raise unless a projected CRS measures in metres."""
    unit = crs.axis_info[0].unit_name if crs.axis_info else "unknown"
    if unit not in ("metre", "meter"):
        raise GridMismatchError(
            f"{what}: the grid CRS {crs.to_string()} has units '{unit}', not metres; "
            "use a metre-based projected CRS or a geographic (degree) CRS for the template grid"
        )


def _cell_centres_xyz(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Return cartesian (x, y, z) in metres of (lat, lon) points on the mean-radius sphere."""
    lat = np.deg2rad(y)
    lon = np.deg2rad(x)
    clat = np.cos(lat)
    return EARTH_RADIUS_M * np.column_stack([clat * np.cos(lon), clat * np.sin(lon), np.sin(lat)])


def fill_from_nearest(
    da: xr.DataArray,
    *,
    max_distance_m: float,
    mask: xr.DataArray | np.ndarray | None = None,
    name: str | None = None,
) -> xr.DataArray:
    """Fill no-data cells from the nearest valid cell within a distance.

    Coarse climate grids (CRU 0.5°, TerraClimate 4 km) have no value over many coastal land
    cells of a 1 km grid; this copies the value of the nearest cell that has data.

    Parameters
    ----------
    da : xarray.DataArray
        Dims ``(y, x)`` or ``(time|month|band, y, x)`` with a CRS. A cell is a *source* when it
        has a value in every slice; the same nearest source is used for all slices.
    max_distance_m : float
        Largest centre-to-centre distance to fill across, in metres. Distances are planar in a
        projected CRS and great-circle (mean Earth radius) in a geographic CRS, so a degree of
        longitude shrinks with the cosine of the cell latitude.
    mask : xarray.DataArray or numpy.ndarray of bool, optional
        Fill only where True (e.g. land cells of the model); shape ``(y, x)``. Default: every
        no-data cell.
    name : str, optional
        Layer name used in error messages (default ``da.name``).

    Returns
    -------
    xarray.DataArray
        A copy with filled cells; ``attrs["filled_cells"]`` counts the cells filled. Cells
        farther than ``max_distance_m`` from any source stay NaN.
    """
    what = describe_source(da, name)
    if da.rio.crs is None:
        raise MissingCRSError(
            f"{what}: has no CRS, so distances cannot be measured; write one into the file"
        )
    if max_distance_m < 0:
        raise InputValidationError(
            f"{what}: max_distance_m = {max_distance_m} is negative; give ≥ 0"
        )
    lead = [d for d in da.dims if d not in ("y", "x")]
    # Integer layers have no NaN to fill; they are treated as float so NaN can mark gaps.
    data = np.asarray(da.transpose(*lead, "y", "x").values, dtype="float64")
    ny, nx = data.shape[-2:]
    flat = data.reshape(-1, ny * nx)
    missing = np.isnan(flat)
    source = ~missing.any(axis=0)
    target = missing.any(axis=0)
    if mask is not None:
        target &= np.asarray(mask, dtype=bool).reshape(ny * nx)
    if not source.any():
        raise InputValidationError(
            f"{what}: has no cell with data to fill from; check the layer covers the region"
        )
    out = da.copy(deep=False)
    if not target.any():
        out.attrs["filled_cells"] = 0
        return out

    crs = CRS.from_user_input(da.rio.crs)
    yy, xx = np.meshgrid(da["y"].values, da["x"].values, indexing="ij")
    yy, xx = yy.ravel(), xx.ravel()
    if crs.is_geographic:
        points = _cell_centres_xyz(yy, xx)
        # Chord length matching the great-circle limit: the KD-tree measures straight lines.
        limit = 2 * EARTH_RADIUS_M * math.sin(min(max_distance_m / EARTH_RADIUS_M, math.pi) / 2)
    else:
        _require_metres(crs, what)
        points = np.column_stack([xx, yy])
        limit = max_distance_m
    src_idx = np.flatnonzero(source)
    tgt_idx = np.flatnonzero(target)
    nearest, found = _nearest_source(
        points[src_idx], points[tgt_idx], yy[src_idx], xx[src_idx], limit
    )
    tgt_idx, from_idx = tgt_idx[found], src_idx[nearest[found]]
    filled = flat.copy()
    # Keep the cell's own values where it has them; replace only its missing slices.
    take = missing[:, tgt_idx]
    filled[:, tgt_idx] = np.where(take, flat[:, from_idx], flat[:, tgt_idx])
    out_dims = (*lead, "y", "x")
    out = out.transpose(*out_dims).copy(data=filled.reshape(data.shape))
    out = out.transpose(*da.dims)
    out.attrs["filled_cells"] = int(found.sum())
    return out


#: Sources searched per target to break ties of equal distance (a regular grid has at most
#: 8 cells at one distance from a point at a cell centre, e.g. the (±1, ±2) lattice points).
_TIE_CANDIDATES = 16


def _nearest_source(
    sources: np.ndarray,
    targets: np.ndarray,
    src_y: np.ndarray,
    src_x: np.ndarray,
    limit: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest source of each target within ``limit``, and whether one exists.

    Among sources at the same distance (to 1e-9 relative) the northernmost, then westernmost
    wins. The choice therefore depends only on the cells' coordinates, not on their order or on
    which part of the grid an array holds, so a window with a margin of ``limit`` fills its
    cells exactly as the whole grid does.
    """
    # Imported here: scipy.spatial (with scipy.linalg) is a tenth of a second that every
    # command reading rasters would pay, and only coastal filling uses it.
    from scipy.spatial import cKDTree

    k = min(_TIE_CANDIDATES, len(sources))
    dist, idx = cKDTree(sources).query(targets, k=k, distance_upper_bound=limit * (1 + 1e-9))
    dist, idx = dist.reshape(len(targets), k), idx.reshape(len(targets), k)
    found = np.isfinite(dist[:, 0])
    tied = np.isfinite(dist) & (dist <= dist[:, :1] * (1 + 1e-9))
    safe = np.where(tied, idx, 0)
    # Rank the tied candidates: larger y first, then smaller x.
    key_y = np.where(tied, src_y[safe], -np.inf)
    north = tied & (key_y >= key_y.max(axis=1, keepdims=True))
    key_x = np.where(north, src_x[safe], np.inf)
    pick = np.argmin(key_x, axis=1)
    return idx[np.arange(len(targets)), pick], found


def _authalic_q(phi: np.ndarray, e: float) -> np.ndarray:
    """Return the authalic-latitude function q(φ) for eccentricity e (Snyder 1987, eq. 3-12)."""
    s = np.sin(phi)
    return s / (1 - e**2 * s**2) + np.log((1 + e * s) / (1 - e * s)) / (2 * e)


def cell_area_ha(grid: GridSpec) -> xr.DataArray:
    """Return the true area of every grid cell, in hectares.

    Parameters
    ----------
    grid : GridSpec
        Projected (metre units) or geographic grid.

    Returns
    -------
    xarray.DataArray
        Dims ``(y, x)`` on the grid, units ``ha``. Projected grids: the constant |a·e| (map
        area; the projection's scale error is not corrected). Geographic grids: the exact
        area of each cell on the CRS ellipsoid (WGS84 for EPSG:4326), which depends on the
        row latitude only: A = Δλ·b²/2·(q(φ₂) − q(φ₁)) with q the authalic-latitude function.
    """
    y, x = grid.coords()
    if grid.is_geographic:
        ellipsoid = grid.crs.ellipsoid
        if ellipsoid is None:
            raise GridMismatchError(
                f"grid CRS {grid.crs.to_string()} is geographic but names no ellipsoid, so cell "
                "areas cannot be computed; give a CRS with a datum (e.g. EPSG:4326)"
            )
        a = ellipsoid.semi_major_metre
        b = ellipsoid.semi_minor_metre
        e = math.sqrt(1 - (b / a) ** 2)
        half = grid.res[1] / 2
        phi_top = np.deg2rad(np.clip(y + half, -90, 90))
        phi_bottom = np.deg2rad(np.clip(y - half, -90, 90))
        q_diff = _authalic_q(phi_top, e) - _authalic_q(phi_bottom, e)
        row_m2 = np.deg2rad(grid.res[0]) * b**2 / 2 * q_diff
        area = np.repeat((row_m2 / 1e4)[:, None], grid.width, axis=1)
    else:
        _require_metres(grid.crs, "cell_area_ha")
        cell_m2 = abs(grid.transform.a * grid.transform.e)
        area = np.full(grid.shape, cell_m2 / 1e4)
    da = xr.DataArray(
        area,
        dims=("y", "x"),
        coords={"y": y, "x": x},
        name="cell_area_ha",
        attrs={"units": "ha", "long_name": "true cell area"},
    )
    return da.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
