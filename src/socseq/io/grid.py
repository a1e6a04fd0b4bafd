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

import math
import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.transform import array_bounds
from rasterio.warp import transform_bounds
from scipy.spatial import cKDTree

from socseq.exceptions import GridMismatchError, InputValidationError, MissingCRSError

__all__ = [
    "GridSpec",
    "align_to_template",
    "cell_area_ha",
    "describe_source",
    "fill_from_nearest",
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


def _transform_of(da: xr.DataArray) -> Affine:
    """Return the transform stored with ``da`` if it matches its coordinates, else derive it.

    The stored GeoTransform is exact (coordinates derived from it carry rounding), but it goes
    stale when an array is sliced or flipped, so it is trusted only when both agree.
    """
    derived = da.rio.transform(recalc=True)
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
    sx, sy = (abs(r) for r in da.rio.resolution(recalc=True))
    left, bottom, right, top = grid_in_src
    gl, gb, gr, gt = grid.bounds
    return (sx * (gr - gl) / (right - left), sy * (gt - gb) / (top - bottom))


def _overlap_fraction(da: xr.DataArray, grid_in_src: tuple[float, float, float, float]) -> float:
    """Share of the grid's extent (measured in the source CRS) that the source covers."""
    sl, sb, sr, st = da.rio.bounds(recalc=True)
    left, bottom, right, top = grid_in_src
    dx = max(0.0, min(sr, right) - max(sl, left))
    dy = max(0.0, min(st, top) - max(sb, bottom))
    return (dx * dy) / ((right - left) * (top - bottom))


def _clip_to(da: xr.DataArray, grid_in_src: tuple[float, float, float, float]) -> xr.DataArray:
    """Keep the source cells over the grid plus a margin, so a global file is not warped whole.

    The margin of 3 source cells covers the bilinear neighbours and partly covered edge cells.
    """
    sx, sy = (abs(r) for r in da.rio.resolution(recalc=True))
    left, bottom, right, top = grid_in_src
    x, y = da["x"].values, da["y"].values
    cols = np.flatnonzero((x >= left - 3 * sx) & (x <= right + 3 * sx))
    rows = np.flatnonzero((y >= bottom - 3 * sy) & (y <= top + 3 * sy))
    if len(cols) < 2 or len(rows) < 2 or (len(cols), len(rows)) == (len(x), len(y)):
        return da
    clipped = da.isel(x=slice(cols[0], cols[-1] + 1), y=slice(rows[0], rows[-1] + 1))
    return clipped.rio.write_transform(clipped.rio.transform(recalc=True))


def _choose_resampling(
    da: xr.DataArray,
    grid: GridSpec,
    grid_in_src: tuple[float, float, float, float],
    kind: str,
    resampling: str | None,
    name: str,
) -> str:
    """Apply the resampling rule for the kind of variable (see module docstring)."""
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
    t = da.rio.transform(recalc=True)
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
    if da.rio.crs is None:
        raise MissingCRSError(
            f"{describe_source(da, name)}: has no CRS, so it cannot be aligned to the grid; "
            "write one into the file (gdal_edit.py -a_srs EPSG:XXXX FILE)"
        )
    src_crs = CRS.from_user_input(da.rio.crs)
    grid_in_src = _grid_bounds_in(src_crs, grid)
    method = _choose_resampling(da, grid, grid_in_src, kind, resampling, name)
    if _on_grid(da, grid):
        y, x = grid.coords()
        return da.assign_coords(y=y, x=x).assign_attrs(resampling="none (already on grid)")

    if _overlap_fraction(da, grid_in_src) <= 0:
        raise GridMismatchError(
            f"{describe_source(da, name)}: covers 0 % of the template grid (layer bounds "
            f"{tuple(round(v, 4) for v in da.rio.bounds(recalc=True))} vs grid bounds "
            f"{tuple(round(v, 4) for v in grid_in_src)} in the layer's CRS "
            f"{src_crs.to_string()}); check the layer's CRS and that it covers the study region"
        )
    da = _clip_to(da, grid_in_src)

    if np.issubdtype(da.dtype, np.integer) and da.rio.nodata is not None:
        nodata: float = da.rio.nodata
    else:
        # Float layers (and integer ones without a nodata value) mark no data with NaN.
        da = da.astype("float64") if np.issubdtype(da.dtype, np.integer) else da
        da = da.rio.write_nodata(np.nan)
        nodata = np.nan
    out = da.rio.reproject(
        grid.crs,
        transform=grid.transform,
        shape=grid.shape,
        resampling=Resampling[method],
        nodata=nodata,
        # GDAL's warper splits the work over threads; results do not depend on the count.
        num_threads=os.cpu_count() or 1,
    )
    # Force exactly the grid's coordinates so every aligned layer compares equal on (y, x).
    y, x = grid.coords()
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
    out = da.copy(deep=True)
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
    dist, nearest = cKDTree(points[src_idx]).query(
        points[tgt_idx], distance_upper_bound=limit * (1 + 1e-9)
    )
    found = np.isfinite(dist)
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
