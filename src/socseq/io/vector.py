"""Polygons on a grid: read a polygon file once, then mark the cells whose centre is inside.

A run's ``[domain]`` may be a GeoPackage, Shapefile, GeoJSON or FlatGeobuf of polygons (read by
geopandas through pyogrio: the optional ``vector`` extra). :func:`read_polygons` reads and
checks it and reprojects it to the grid's CRS; :func:`polygon_cells` burns it onto any window
of the grid with GDAL's rasteriser (``all_touched=False``: a cell is inside exactly when its
centre is), so windows give the same cells as the whole grid, whatever their size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS

from socseq.exceptions import ConfigError, GridMismatchError, InputFormatError, MissingCRSError
from socseq.io.grid import GridSpec

__all__ = ["Polygons", "polygon_cells", "read_polygons", "require_overlap"]

#: The polygons of a file in the grid's CRS: a geopandas GeoSeries (typed loosely so that
#: this module imports without geopandas).
Polygons = Any


def read_polygons(path: str | Path, *, layer: str | None, crs: Any, name: str) -> Polygons:
    """Read the polygons of a vector file, reprojected to ``crs``.

    Parameters
    ----------
    path : path-like
        GeoPackage, Shapefile, GeoJSON or FlatGeobuf.
    layer : str or None
        Layer of a multi-layer file (GeoPackage).
    crs : CRS-like
        The grid's CRS.
    name : str
        Configuration key, for messages (``"domain"``).

    Returns
    -------
    geopandas.GeoSeries
        The non-empty polygons in ``crs``.

    Raises
    ------
    ConfigError
        geopandas is not installed.
    InputFormatError
        The file cannot be read, or holds no polygon.
    MissingCRSError
        The file has no CRS.
    """
    where = f"{name} (file {path})"
    try:
        import geopandas as gpd  # only polygon domains need it: the optional "vector" extra
    except ImportError as exc:
        raise ConfigError(
            f"{where}: reading polygons needs geopandas; install it with pip install "
            "'socseq[vector]', or give the domain as a raster"
        ) from exc
    try:
        frame = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises its own DataSourceError/DataLayerError types
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFormatError(
            f"{where}: cannot be read as a vector file ({first}); check the path and, for a "
            "GeoPackage with several layers, set layer"
        ) from exc
    if frame.crs is None:
        raise MissingCRSError(
            f"{where}: has no CRS, so its polygons cannot be placed on the grid; write one "
            "(ogr2ogr -a_srs EPSG:XXXX OUT IN)"
        )
    geoms = frame.geometry
    geoms = geoms[geoms.notna() & ~geoms.is_empty]
    kinds = set(geoms.geom_type.unique())
    if not geoms.size or not kinds <= {"Polygon", "MultiPolygon"}:
        seen = ", ".join(sorted(kinds)) or "no geometry"
        raise InputFormatError(
            f"{where}: holds {seen}; a domain is polygons (buffer lines or points first)"
        )
    return geoms.to_crs(CRS.from_user_input(crs)).reset_index(drop=True)


def polygon_cells(polygons: Polygons, grid: GridSpec) -> np.ndarray:
    """Cells of ``grid`` whose centre lies inside one of ``polygons`` (same CRS).

    Returns
    -------
    numpy.ndarray
        ``(rows, cols)`` bool.
    """
    from rasterio import features

    left, bottom, right, top = grid.bounds
    near = polygons.cx[left:right, bottom:top]  # the polygons whose extent meets the window
    if near.empty:
        return np.zeros(grid.shape, bool)
    burnt = features.rasterize(
        ((geom, 1) for geom in near),
        out_shape=grid.shape,
        transform=grid.transform,
        fill=0,
        all_touched=False,
        dtype="uint8",
    )
    return np.asarray(burnt, bool)


def require_overlap(polygons: Polygons, grid: GridSpec, name: str, path: str | Path) -> None:
    """Raise unless the polygons' extent overlaps the grid's."""
    left, bottom, right, top = polygons.total_bounds
    g_left, g_bottom, g_right, g_top = grid.bounds
    if right <= g_left or left >= g_right or top <= g_bottom or bottom >= g_top:
        raise GridMismatchError(
            f"{name} (file {path}): its polygons ({left:.7g}, {bottom:.7g}, {right:.7g}, "
            f"{top:.7g} in the grid's CRS) do not overlap the grid ({g_left:.7g}, {g_bottom:.7g}, "
            f"{g_right:.7g}, {g_top:.7g}); check the file and its CRS"
        )
