"""The chunks of a climate series, and the store it is rewritten into: layout, metadata, checks.

:mod:`socseq.pipeline.rechunk` decides which climate series a run rewrites into scratch; this
module sees a file's chunks from the opened layer (:func:`source_chunks`), counts what the
windows decompress (:func:`decoded_values`), lays each store over the part of the source the
windows read (:func:`store_layout`), writes its metadata (:func:`create_store`), and checks
what the reader sees of it (:func:`same_clips` before the rewrite, :func:`check_store` after).
The store holds the values
the reader decoded, on the source's grid: a Zarr (format 2) group with the variable
:data:`STORE_VARIABLE` ``(time, y, x)`` north-up, the month-start dates, the coordinates with
their attributes, the CRS as a CF grid mapping and the variable's attributes, so that
:func:`~socseq.io.raster.open_monthly` opens it as it opens the file.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array
import numpy as np
import xarray as xr
from numcodecs import Blosc

from socseq.io.grid import coord_transform
from socseq.io.layout import ChunkLayout
from socseq.pipeline.sources import LayerSpec, open_spec

__all__ = [
    "STORE_CODEC",
    "STORE_VARIABLE",
    "TASK_BYTES",
    "Clip",
    "Footprint",
    "SourceChunks",
    "StoreLayout",
    "check_store",
    "create_store",
    "decoded_values",
    "same_clips",
    "source_chunks",
    "store_layout",
    "store_part",
    "store_spec",
]

#: Largest slab of decoded values one rewrite task holds.
TASK_BYTES = 256 * 2**20
#: The variable of a rewritten store.
STORE_VARIABLE = "values"
#: LZ4 with byte shuffle, as the other scratch stores (``SCRATCH_CODEC``), for Zarr format 2.
STORE_CODEC = Blosc(cname="lz4", clevel=1, shuffle=Blosc.SHUFFLE)

#: Rows and columns of the opened layer that a window loads: (y0, y1, x0, x1).
Footprint = tuple[int, int, int, int]
#: What a window loads of a source: the y and x coordinates and the transform of the cells
#: :func:`~socseq.io.grid.clip_to_grid` selects (None: the source does not reach the window).
Clip = tuple[np.ndarray, np.ndarray, Any] | None


@dataclass(frozen=True, eq=False)
class SourceChunks:
    """A source's chunks seen from the opened layer (north-up, longitudes shifted).

    Attributes
    ----------
    time : int
        Chunk length along time (positions along time are the file's).
    sizes_t : numpy.ndarray
        Length of each chunk along time.
    ids_y, ids_x : numpy.ndarray
        The file's chunk of each row and column of the opened layer.
    sizes_y, sizes_x : numpy.ndarray
        Length of each of the file's chunks along y and x.
    """

    time: int
    sizes_t: np.ndarray
    ids_y: np.ndarray
    sizes_y: np.ndarray
    ids_x: np.ndarray
    sizes_x: np.ndarray


def _file_positions(opened: np.ndarray, stored: np.ndarray) -> np.ndarray | None:
    """Return the file's position of each coordinate of the opened layer (None: they differ).

    The opened layer is the file's cells flipped north-up, and 0–360° longitudes shifted to
    −180–180° and sorted (:func:`socseq.io.raster.open_raster`).
    """
    for values in (stored, (stored + 180) % 360 - 180):
        index = {v: i for i, v in enumerate(values.tolist())}
        positions = [index.get(v) for v in opened.tolist()]
        if len(index) == len(values) and None not in positions:
            return np.asarray(positions, dtype=np.int64)
    return None


def _chunk_sizes(n: int, chunk: int) -> np.ndarray:
    """Length of each chunk along an axis of ``n`` positions."""
    return np.minimum(chunk, n - chunk * np.arange(math.ceil(n / chunk)))


def source_chunks(da: xr.DataArray, layout: ChunkLayout) -> SourceChunks | None:
    """Return the file's chunks seen from the opened layer (None: coordinates do not match)."""
    pos_y = _file_positions(np.asarray(da["y"].values), layout.y)
    pos_x = _file_positions(np.asarray(da["x"].values), layout.x)
    if pos_y is None or pos_x is None:
        return None
    ct, cy, cx = layout.chunks
    return SourceChunks(
        time=ct,
        sizes_t=_chunk_sizes(da.sizes["time"], ct),
        ids_y=pos_y // cy,
        sizes_y=_chunk_sizes(len(layout.y), cy),
        ids_x=pos_x // cx,
        sizes_x=_chunk_sizes(len(layout.x), cx),
    )


def _months(chunks: SourceChunks, reads: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """Return the time steps one window's reads decompress, and all reads once."""
    per_read = [np.unique(np.arange(a, b) // chunks.time) for a, b in reads]
    each = sum(int(chunks.sizes_t[k].sum()) for k in per_read)
    return each, int(chunks.sizes_t[np.unique(np.concatenate(per_read))].sum())


def decoded_values(
    chunks: SourceChunks, footprints: Sequence[Footprint | None], reads: Sequence[tuple[int, int]]
) -> tuple[int, int]:
    """Return ``Σ D_w`` and ``U``: values the windows decompress, and every chunk once."""
    each, once = _months(chunks, reads)
    touched = np.zeros((len(chunks.sizes_y), len(chunks.sizes_x)), bool)
    cells = 0
    for fp in footprints:
        if fp is None:
            continue
        ky = np.unique(chunks.ids_y[fp[0] : fp[1]])
        kx = np.unique(chunks.ids_x[fp[2] : fp[3]])
        cells += int(chunks.sizes_y[ky].sum()) * int(chunks.sizes_x[kx].sum())
        touched[np.ix_(ky, kx)] = True
    area = np.outer(chunks.sizes_y, chunks.sizes_x)
    return cells * each, int(area[touched].sum()) * once


@dataclass(frozen=True)
class StoreLayout:
    """Where a rewritten store sits in the opened layer, how it is tiled and written.

    Attributes
    ----------
    origin : (int, int, int)
        Time step, row and column of the opened layer at the store's first cell.
    shape : (int, int, int)
        Time steps, rows and columns the store holds.
    tile : (int, int, int)
        Zarr chunk of the store.
    blocks : tuple of (slice, slice, slice)
        The part each task writes, in store positions: whole tiles of whole source chunks.
    """

    origin: tuple[int, int, int]
    shape: tuple[int, int, int]
    tile: tuple[int, int, int]
    blocks: tuple[tuple[slice, slice, slice], ...]


def _tile_length(chunk: int, target: int) -> tuple[int, bool]:
    """Return a tile length near ``target``: a divisor of ``chunk`` within a factor 2, if any.

    Returns the length and whether it divides the chunk (tiles then align with the chunks).
    """
    divisors = [d for d in range(max(1, target // 2), min(chunk, 2 * target) + 1) if chunk % d == 0]
    if divisors:
        return min(divisors, key=lambda d: abs(math.log(d / target))), True
    return target, False


def _axis(ids: np.ndarray, lo: int, hi: int, target: int, chunk: int) -> tuple[int, int, list[int]]:
    """Store origin, tile length and task cuts along one axis of the opened layer.

    ``[lo, hi)`` are the positions the windows read and ``ids`` the source chunk of each
    position. Tasks are cut only at chunk boundaries that fall on tile boundaries, so each task
    writes whole tiles and decompresses chunks no other task touches.
    """
    target = max(1, min(target, hi - lo))
    inner = [i for i in range(lo + 1, hi) if ids[i] != ids[i - 1]]
    if not inner:
        return lo, target, [lo, hi]
    tile, _ = _tile_length(chunk, target)
    origin = lo - (lo - inner[0]) % tile
    if origin < 0:
        origin = lo
    cuts = [origin, *(b for b in inner if (b - origin) % tile == 0), hi]
    return origin, tile, cuts


def store_layout(
    footprints: Sequence[Footprint | None],
    reads: Sequence[tuple[int, int]],
    chunks: SourceChunks,
    itemsize: int,
    slots: int,
) -> StoreLayout:
    """Lay a store over what the windows read: tiles of half a footprint, tasks by chunks.

    Parameters
    ----------
    footprints : sequence of (y0, y1, x0, x1) or None
        The rows and columns of the opened layer each window loads.
    reads : sequence of (int, int)
        The month ranges the phases read.
    chunks : SourceChunks
        The source's chunks seen from the opened layer.
    itemsize : int
        Bytes per decoded value.
    slots : int
        Tasks the executor runs at once: a column of chunks is split along time so that each
        has a task.

    Returns
    -------
    StoreLayout
        The store covers every footprint and month range; its tiles are about half the
        median footprint (a divisor of the source chunk within a factor 2 when there is one,
        so that tasks can be cut at chunk boundaries) by all the months a task writes.
    """
    fps = [f for f in footprints if f is not None]
    rows = (min(f[0] for f in fps), max(f[1] for f in fps))
    cols = (min(f[2] for f in fps), max(f[3] for f in fps))
    t0, t1 = min(a for a, _ in reads), max(b for _, b in reads)
    if chunks.time > 1:
        t0 -= t0 % chunks.time  # the store starts with a chunk: tasks split time at chunk ends
    half_y = int(np.median([f[1] - f[0] for f in fps])) // 2
    half_x = int(np.median([f[3] - f[2] for f in fps])) // 2
    chunk_y = int(chunks.sizes_y.max())
    chunk_x = int(chunks.sizes_x.max())
    oy, ty, cuts_y = _axis(chunks.ids_y, *rows, half_y, chunk_y)
    ox, tx, cuts_x = _axis(chunks.ids_x, *cols, half_x, chunk_x)
    n_time = t1 - t0
    spans_y = [(a - oy, b - oy) for a, b in zip(cuts_y[:-1], cuts_y[1:], strict=True)]
    spans_x = [(a - ox, b - ox) for a, b in zip(cuts_x[:-1], cuts_x[1:], strict=True)]
    largest = max(b - a for a, b in spans_y) * max(b - a for a, b in spans_x)
    groups = max(
        math.ceil(largest * n_time * itemsize / TASK_BYTES),
        math.ceil(slots / (len(spans_y) * len(spans_x))),
        1,
    )
    length = math.ceil(n_time / groups)
    if 1 < chunks.time < n_time:
        length = math.ceil(length / chunks.time) * chunks.time
    length = min(length, n_time)
    blocks = tuple(
        (slice(t, min(t + length, n_time)), slice(*sy), slice(*sx))
        for t in range(0, n_time, length)
        for sy in spans_y
        for sx in spans_x
    )
    return StoreLayout(
        origin=(t0, oy, ox),
        shape=(n_time, rows[1] - oy, cols[1] - ox),
        tile=(length, ty, tx),
        blocks=blocks,
    )


def store_part(da: xr.DataArray, layout: StoreLayout) -> xr.DataArray:
    """Return the part of the opened layer the store holds, as the reader will see it."""
    t, y, x = layout.origin
    nt, ny, nx = layout.shape
    part = da.isel(time=slice(t, t + nt), y=slice(y, y + ny), x=slice(x, x + nx))
    # The reader recomputes the transform from the coordinates (socseq.io.raster._north_up).
    return part.rio.write_transform(coord_transform(part))


def same_clips(a: Sequence[Clip], b: Sequence[Clip]) -> bool:
    """Tell whether every window selects the same source cells in ``a`` as in ``b``."""
    for one, other in zip(a, b, strict=True):
        if one is None or other is None:
            if (one is None) != (other is None):
                return False
            continue
        same = (
            np.array_equal(one[0], other[0])
            and np.array_equal(one[1], other[1])
            and one[2] == other[2]
        )
        if not same:
            return False
    return True


def create_store(path: Path, part: xr.DataArray, tile: tuple[int, int, int]) -> None:
    """Write the store's metadata and coordinates; the tasks write its values."""
    attrs = {k: v for k, v in part.attrs.items() if k != "source"}
    attrs["grid_mapping"] = "spatial_ref"
    empty = xr.DataArray(
        dask.array.empty(part.shape, chunks=tile, dtype=part.dtype),
        dims=("time", "y", "x"),
        coords={
            "time": part["time"].values,
            "y": ("y", part["y"].values, dict(part["y"].attrs)),
            "x": ("x", part["x"].values, dict(part["x"].attrs)),
        },
        attrs=attrs,
    ).rio.write_crs(part.rio.crs)
    encoding = {
        STORE_VARIABLE: {"chunks": tile, "compressors": (STORE_CODEC,), "_FillValue": np.nan}
    }
    empty.to_dataset(name=STORE_VARIABLE).to_zarr(
        path, mode="w-", zarr_format=2, consolidated=True, compute=False, encoding=encoding
    )


def store_spec(spec: LayerSpec, path: Path) -> LayerSpec:
    """Return the layer read from its rewritten store (same name, units and resampling)."""
    return dataclasses.replace(spec, path=str(path), variable=STORE_VARIABLE, start=None)


def check_store(spec: LayerSpec, part: xr.DataArray) -> str:
    """Return why the reopened store does not hold ``part`` as the reader sees it ("" if it does).

    Compares what the windows use besides the values: time, y and x coordinates, dtype, the
    CRS (as WKT, which the warper is given) and the transform.
    """
    store = open_spec(spec)
    for name in ("time", "y", "x"):
        if not np.array_equal(store[name].values, part[name].values):
            return f"the store's {name} differs from the file's"
    if store.dtype != part.dtype:
        return "the store's dtype differs from the file's"
    if store.rio.crs is None or store.rio.crs.to_wkt() != part.rio.crs.to_wkt():
        return "the store's CRS differs from the file's"
    if store.rio.transform() != part.rio.transform():
        return "the store's transform differs from the file's"
    return ""
