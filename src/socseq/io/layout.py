"""How a NetCDF-4/HDF5 or Zarr variable is stored: its chunks, and whether they are compressed.

A layer opened lazily (:func:`socseq.io.raster.open_raster` with ``lazy=True``) reads only the
part of the file a slice selects, but HDF5 and Zarr decompress whole chunks: a slice of 60 × 60
cells inside a 256 × 256 chunk decodes the whole chunk. :func:`chunk_layout` gives the chunk
shape along the dims the opened layer calls ``time``, ``y`` and ``x``, and the file's
coordinates, so that a caller can count what its reads decompress
(:mod:`socseq.pipeline.rechunk`). It uses the opener of :mod:`socseq.io.raster`, so the file
is understood exactly as the reader understands it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from socseq.io.raster import (
    _SPATIAL_NAMES,
    _detect_format,
    _month_index,
    _open_dataset,
    _select_variable,
)

__all__ = ["ChunkLayout", "chunk_layout"]

#: h5netcdf's encoding flags of the HDF5 compression filters.
_HDF5_CODECS = ("zlib", "szip", "bzip2", "blosc", "zstd")


@dataclass(frozen=True, eq=False)
class ChunkLayout:
    """The chunks of a 3-D variable of a NetCDF-4/HDF5 file or a Zarr store.

    Attributes
    ----------
    chunks : (int, int, int)
        Chunk length along time, y and x (the opened layer's names of the file's dims).
    y, x : numpy.ndarray
        The y and x coordinates in the file's order and dtype: chunk ``k`` along y holds the
        file's positions ``k·chunks[1]`` to ``(k + 1)·chunks[1] - 1``.
    time_sorted : bool
        The file's time steps are in increasing order (or it has no dates), so a position
        along the opened layer's time axis is the position in the file.
    compression : str
        The codecs, e.g. ``"zlib"``; empty when the chunks are stored uncompressed.
    """

    chunks: tuple[int, int, int]
    y: np.ndarray
    x: np.ndarray
    time_sorted: bool
    compression: str


def _compression(encoding: dict[str, Any]) -> str:
    """Names of the compression codecs in an xarray encoding (h5netcdf or zarr)."""
    names = [key for key in _HDF5_CODECS if encoding.get(key)]
    if encoding.get("compression") and not names:
        names.append(str(encoding["compression"]))
    codecs = encoding.get("compressors") or ()
    if encoding.get("compressor") is not None:
        codecs = (*codecs, encoding["compressor"])
    names += [type(codec).__name__ for codec in codecs]
    return ", ".join(names)


def _axes(dims: tuple[Any, ...]) -> dict[str, str] | None:
    """Return the file's dim of ``time``, ``y`` and ``x``; None unless the dims are those."""
    out: dict[str, str] = {}
    for dim in dims:
        low = str(dim).lower()
        axis = next((a for a, names in _SPATIAL_NAMES.items() if low in names), "time")
        if axis in out:
            return None
        out[axis] = str(dim)
    return out if len(out) == 3 else None


def chunk_layout(
    path: str | os.PathLike[str], *, name: str, variable: str | None = None
) -> ChunkLayout | None:
    """Return how a 3-D variable of a NetCDF-4/HDF5 file or Zarr store is chunked.

    Parameters
    ----------
    path : path-like
        The file or store.
    name : str
        Layer name for messages.
    variable : str, optional
        The variable, as :func:`~socseq.io.raster.open_raster` takes it.

    Returns
    -------
    ChunkLayout or None
        None when the layer is not a chunked 3-D variable of a NetCDF-4/HDF5 file or a Zarr
        store (GeoTIFF, NetCDF-3, contiguous HDF5, no coordinates along y or x).
    """
    path = Path(path)
    fmt = _detect_format(path)
    if fmt == "gdal" or path.suffix.lower() == ".gz":
        return None
    ds = _open_dataset(path, fmt, name, None, decode=False, lazy=True)
    try:
        da = _select_variable(ds, variable, name, path)
        preferred = da.encoding.get("preferred_chunks")
        axes = _axes(da.dims)
        if not preferred or axes is None or da.encoding.get("contiguous"):
            return None
        if axes["y"] not in ds.coords or axes["x"] not in ds.coords:
            return None
        sizes = [int(preferred.get(axes[a], da.sizes[axes[a]])) for a in ("time", "y", "x")]
        time = ds[axes["time"]] if axes["time"] in ds.coords else None
        time_sorted = True
        if time is not None and (np.issubdtype(time.dtype, np.datetime64) or time.dtype == object):
            time_sorted = bool(np.all(np.diff(_month_index(time)) > 0))
        return ChunkLayout(
            chunks=(sizes[0], sizes[1], sizes[2]),
            y=np.asarray(ds[axes["y"]].values),
            x=np.asarray(ds[axes["x"]].values),
            time_sorted=time_sorted,
            compression=_compression(da.encoding),
        )
    finally:
        ds.close()
