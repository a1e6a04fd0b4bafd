"""The study area of a run (``[domain]``): which cells of the grid are modelled at all.

A domain is a raster (cells with a valid, non-zero value are inside; read like any class
layer, :func:`socseq.pipeline.sources.read_block`, with mode or nearest resampling) or a
polygon file (a cell is inside when its centre is inside a polygon,
:func:`socseq.io.vector.polygon_cells`). Each window task reads the domain on its own cells;
the agricultural cells outside it are excluded with the reason "outside the domain", tested
before any other, so every area, summary, map and share covers the domain only.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from socseq.io.grid import GridSpec
from socseq.io.vector import Polygons, polygon_cells, read_polygons, require_overlap
from socseq.pipeline.sources import LayerSpec, read_block, source_path

__all__ = ["DOMAIN_KEY", "DomainSpec", "domain_cells", "polygon_domain"]

#: Configuration key of the domain, for messages.
DOMAIN_KEY = "domain"


@dataclass(frozen=True)
class DomainSpec:
    """Where the domain is and how to read it (picklable, for process workers).

    Attributes
    ----------
    path : str
        The raster or polygon file.
    raster : LayerSpec or None
        The raster domain's layer (categorical); None for polygons.
    layer : str or None
        Layer of a multi-layer polygon file.
    """

    path: str
    raster: LayerSpec | None = None
    layer: str | None = None


def polygon_domain(path: str | Path, layer: str | None, grid: GridSpec) -> DomainSpec:
    """Check a polygon domain on its file (readable, polygons, a CRS, over the grid).

    Raises
    ------
    ConfigError, InputFormatError, MissingCRSError, GridMismatchError
        One line naming the file and the fix.
    """
    polygons = read_polygons(path, layer=layer, crs=grid.crs, name=DOMAIN_KEY)
    require_overlap(polygons, grid, DOMAIN_KEY, path)
    return DomainSpec(path=source_path(path), layer=layer)


_POLYGONS = threading.local()


def _polygons(spec: DomainSpec, crs: object) -> Polygons:
    """Polygons of ``spec`` in ``crs``, read once per thread (each window reuses them)."""
    cache: dict[tuple[str, str | None, str], Polygons] = getattr(_POLYGONS, "cache", None) or {}
    _POLYGONS.cache = cache
    key = (spec.path, spec.layer, str(crs))
    if key not in cache:
        cache[key] = read_polygons(spec.path, layer=spec.layer, crs=crs, name=DOMAIN_KEY)
    return cache[key]


def domain_cells(spec: DomainSpec | None, grid: GridSpec, threads: int | None = None) -> np.ndarray:
    """Cells of ``grid`` (the run's grid or a window of it) inside the domain.

    Parameters
    ----------
    spec : DomainSpec or None
        The domain; None: every cell is inside.
    grid : GridSpec
    threads : int, optional
        GDAL warper threads for a raster domain.

    Returns
    -------
    numpy.ndarray
        ``(rows, cols)`` bool.
    """
    if spec is None:
        return np.ones(grid.shape, bool)
    if spec.raster is None:
        return polygon_cells(_polygons(spec, grid.crs), grid)
    block = read_block(spec.raster, grid, threads=threads)
    values = np.asarray(block.values)
    inside = np.isfinite(values) if values.dtype.kind == "f" else np.ones(values.shape, bool)
    nodata = block.rio.nodata
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        inside &= values != nodata
    with np.errstate(invalid="ignore"):
        return inside & (values != 0)
