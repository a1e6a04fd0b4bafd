"""Deflated NetCDF-4 variables written with their chunks compressed on several threads.

HDF5 runs its filters (shuffle, deflate) inside the library, on the thread that writes, and
the library is serialised by a global lock: the largest product of a run, the yearly stock
cube, was compressed on one core while the others waited (about 9 s of a 10^6-cell run and
most of the 142 s products step at 10^7 cells, docs/benchmarks.md). Here each chunk is
filtered in Python into what HDF5's pipeline stores: the byte shuffle
(``H5Z_FILTER_SHUFFLE``: byte ``k`` of every element, for ``k`` = 0 … size − 1), then a
zlib stream (``H5Z_FILTER_DEFLATE`` stores zlib's ``compress2`` output), on the worker threads
of :func:`dask.array.store` (both steps release the GIL), and the finished chunks are stored
with h5py's direct chunk write. The
zlib streams are made by Intel's ISA-L (``isal``): on a 10^6-cell stock cube, shuffled, it
deflated 545 MB/s against zlib's 67 MB/s at level 1, to 0.713 of the size against 0.707.
Any inflate reads them, so the file carries the same filter pipeline as one HDF5 writes
itself and every NetCDF-4 reader decodes it unchanged (``tests/unit/test_io_deflate.py``
reads it through HDF5's filters and through netCDF-C).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr
from isal import isal_zlib

__all__ = ["append_deflated", "is_deflated"]

#: Aim for blocks of about this many bytes per compression task (a few map tiles of a
#: yearly cube at once, so that dask's per-task cost stays small against zlib's).
_BLOCK_BYTES = 32 * 2**20


def is_deflated(encoding: dict[str, Any] | None, var: xr.Variable) -> bool:
    """Whether ``var`` is written by :func:`append_deflated`: chunked, zlib, two dims or more."""
    if not encoding or var.ndim < 2 or var.dtype.kind not in "iuf":
        return False
    return bool(encoding.get("zlib")) and "chunksizes" in encoding


def append_deflated(
    path: Path, ds: xr.Dataset, encoding: dict[str, dict[str, Any]], names: list[str], threads: int
) -> None:
    """Add the variables ``names`` of ``ds`` to the NetCDF-4 file at ``path``.

    Parameters
    ----------
    path : pathlib.Path
        A NetCDF-4 file xarray has written with the rest of ``ds`` (its dimensions, the
        coordinate variables and the grid mapping).
    ds : xarray.Dataset
        The dataset, CF-prepared (its attributes are written as they are, encoded by xarray's
        CF encoder: ``_FillValue``, dtype).
    encoding : dict
        Per-variable encodings as xarray takes them: ``chunksizes``, ``zlib``, ``complevel``,
        ``shuffle``, ``_FillValue``, ``dtype``.
    names : list of str
        Variables to add, each accepted by :func:`is_deflated`.
    threads : int
        Threads that compute and compress the chunks (dask's threaded scheduler).
    """
    import h5netcdf
    import h5py

    encoded = {}
    for name in names:
        var = ds[name].variable.copy(deep=False)
        var.encoding = dict(encoding[name])
        encoded[name] = xr.conventions.encode_cf_variable(var, name=name)
    with h5netcdf.File(path, "a") as nc:
        for name, var in encoded.items():
            attrs = dict(var.attrs)
            fill = attrs.pop("_FillValue", None)
            for dim, size in zip(var.dims, var.shape, strict=True):
                if dim not in nc.dimensions:
                    nc.dimensions[dim] = size
            out = nc.create_variable(
                name,
                var.dims,
                var.dtype,
                fillvalue=fill,
                chunks=tuple(encoding[name]["chunksizes"]),
                compression="gzip",
                compression_opts=int(encoding[name].get("complevel", 4)),
                shuffle=bool(encoding[name].get("shuffle", False)),
            )
            for key, value in attrs.items():
                out.attrs[key] = value
    lock = threading.Lock()
    with h5py.File(path, "r+") as h5:
        sources = [
            _aligned(var, tuple(encoding[name]["chunksizes"])) for name, var in encoded.items()
        ]
        # Any object with __setitem__ is a target (dask's annotation names arrays only).
        targets: list[Any] = [
            _ChunkWriter(h5[name], encoding[name], var.dtype, lock) for name, var in encoded.items()
        ]
        dsa.store(sources, targets, lock=False, scheduler="threads", num_workers=max(1, threads))


class _ChunkWriter:
    """Where :func:`dask.array.store` puts the blocks of one variable: its HDF5 dataset.

    Each block arrives on a worker thread of dask's threaded scheduler, which cuts it into its
    HDF5 chunks, shuffles and deflates them there (:func:`_filtered`, in parallel) and stores
    them with the direct chunk write under a lock (HDF5 writes one at a time). dask computes
    the blocks from one graph, a few at a time, so memory holds about one block per thread.
    """

    def __init__(
        self, dataset: Any, encoding: dict[str, Any], dtype: np.dtype, lock: threading.Lock
    ) -> None:
        self.dataset, self.dtype, self.lock = dataset, dtype, lock
        self.chunks = tuple(int(c) for c in encoding["chunksizes"])
        # ISA-L has levels 0-3; its level 1 already matches zlib's level 1 in size.
        self.level = min(int(encoding.get("complevel", 4)), isal_zlib.ISAL_BEST_COMPRESSION)
        self.shuffle = bool(encoding.get("shuffle", False))

    def __setitem__(self, region: tuple[slice, ...], block: np.ndarray) -> None:
        corner = tuple(int(s.start or 0) for s in region)
        values = np.asarray(block, dtype=self.dtype)
        filtered = _filtered(values, corner, self.chunks, self.dtype, self.level, self.shuffle)
        with self.lock:
            for offset, data in filtered:
                self.dataset.id.write_direct_chunk(offset, data, filter_mask=0)


def _aligned(var: xr.Variable, chunks: tuple[int, ...]) -> dsa.Array:
    """``var`` as a dask array whose blocks hold whole HDF5 chunks (a multiple along each axis).

    A dask-backed variable keeps blocks near its own (zarr stores are read once); an
    in-memory one is cut into blocks of about :data:`_BLOCK_BYTES`, leading axes first.
    """
    if isinstance(var.data, dsa.Array):
        data = var.data
        target = tuple(
            c * max(1, block[0] // c) for c, block in zip(chunks, data.chunks, strict=True)
        )
        return data.rechunk(target)
    values = np.asarray(var.values)
    per_chunk = int(np.prod(chunks)) * values.dtype.itemsize
    spatial = max(1, _BLOCK_BYTES // per_chunk)
    side = max(1, int(spatial**0.5))
    target = (*chunks[:-2], chunks[-2] * side, chunks[-1] * side)
    return dsa.from_array(values, chunks=target)


def _filtered(
    values: np.ndarray,
    corner: tuple[int, ...],
    chunks: tuple[int, ...],
    dtype: np.dtype,
    level: int,
    shuffle: bool,
) -> list[tuple[tuple[int, ...], bytes]]:
    """Cut one block into its HDF5 chunks, each shuffled and deflated as HDF5 stores them."""
    out = []
    for start in _chunk_starts(values.shape, chunks):
        part = values[tuple(slice(s, s + c) for s, c in zip(start, chunks, strict=True))]
        if part.shape != chunks:
            # Edge chunks are stored whole; the cells past the variable's end are never read.
            whole = np.zeros(chunks, dtype)
            whole[tuple(slice(0, n) for n in part.shape)] = part
            part = whole
        raw = np.ascontiguousarray(part).view(np.uint8)
        if shuffle and dtype.itemsize > 1:
            raw = raw.reshape(-1, dtype.itemsize).T
        data = isal_zlib.compress(np.ascontiguousarray(raw).tobytes(), level)
        out.append((tuple(c + s for c, s in zip(corner, start, strict=True)), data))
    return out


def _chunk_starts(shape: tuple[int, ...], chunks: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    return itertools.product(*(range(0, n, c) for n, c in zip(shape, chunks, strict=True)))
