"""Climate series rewritten once per run when the windows would decompress them many times over.

Each window task reads its part of every climate source (:mod:`socseq.pipeline.sources`): the
cells under the window, its coastal-fill margin and the resampling margin, for the months of
each phase. NetCDF-4/HDF5 and Zarr keep a variable in chunks that are decompressed whole, so
when a chunk spans many windows each of them decompresses all of it. Climate products are
typically chunked one month by 256 × 256 cells (or a whole map per month): at 10⁷ cells the
benchmark's 5 km climate (634 × 634 cells) is read by 169 windows that each use about 68 × 68
cells of it, and each decompressed whole 256 × 256 chunks of the 480 months (0.73 s of a 2.5 s
read).

Then the run rewrites the source once, before the windows, into its private scratch
(``work/sources/``, beside ``results.zarr``): a Zarr store of the *decoded* values of the part
of the source the windows read, on the source's own grid and at its resolution (never a 1 km
cube), in tiles of about half a window's footprint by all the months a task writes,
LZ4-compressed (:mod:`socseq.pipeline.rechunk_store`). The windows open it with the file's
reader (:func:`~socseq.io.raster.open_monthly`): it holds the values the reader decoded (scale
factor, offset, fill and missing values applied, in the dtype decoding gave), north-up, with the
month-start dates, the coordinates, the CRS (a grid mapping) and the variable's attributes, so
each window loads the same numbers bit for bit and converts them from its layer's declared
units as before. Each window's footprint on the store is checked to be the same source cells as
on the file before the rewrite, and the store's coordinates, CRS, transform and dtype after it;
a store that fails is not used.

**The rule** (:func:`survey`). For one source, let ``D_w`` be the values window ``w`` would
decompress: every chunk its footprint touches (the cells
:func:`~socseq.io.grid.clip_to_grid` selects over
:func:`~socseq.pipeline.sources.fill_extent`: the window, the fill margin and the 3-cell
resampling margin), whole, over the time chunks of each month range a phase reads; and ``U``
the values of every chunk any window touches, each decompressed once. The *decode
amplification* ``A = Σ D_w / U`` is how many times over the windows decompress the chunks they
need. The source is rewritten when all of these hold:

- it is a chunked, compressed 3-D float variable of a NetCDF-4/HDF5 file or a Zarr store (a
  GeoTIFF, a per-month pattern, NetCDF-3 or an uncompressed HDF5 file is read as it is);
- the run has more than one window;
- ``A ≥`` :data:`MIN_AMPLIFICATION` (3);
- ``Σ D_w − U ≥`` :data:`MIN_REDUNDANT_VALUES` (2²⁴ ≈ 1.7·10⁷ values decompressed more than
  once, about 0.35 s of zlib decoding), so that small runs do not pay the rewrite's fixed cost.

Why 3: measured on one core here (float32, zlib level 4 with shuffle, as the benchmark writes
it), h5py decodes about 21 ns per value, the rewrite encodes and writes LZ4 tiles at about
8 ns per value, and a window reads the rewritten tiles at 2–3 ns per value, two to four times
what it uses (whole tiles, all the months of the store per read). The file's way costs
``A·U·21`` ns, the rewrite's ``U·(21 + 8) + 3·U·2.5`` ns: break-even at ``A ≈ 1.7``; at 3 the
rewrite saves at least 40 % of the decoding. The benchmark's sources have ``A`` = 16 (10⁶
cells: one 202 × 202 chunk per month, 16 windows) and 36 (10⁷ cells); chunks of a quarter of
a window's footprint or less give ``A`` ≈ 1.5–3, and such a source is read as it is.

Windows without agricultural cells read no climate, but the rule counts them (their cells are
not known before the windows run), as it counts a window's whole margin although an inland
window resamples only its own cells.

The rewrite runs as tasks of the run's executor (threads, or the dask.distributed workers),
one per column of whole source chunks within the store, split along time when a column would
exceed :data:`~socseq.pipeline.rechunk_store.TASK_BYTES` or the run has more cores than columns:
no chunk is decompressed by two tasks and no tile written by two. Its time is part of the
``inputs`` phase of ``run.json``. Each store is written under a temporary name in the run's
private scratch and renamed only when every task has written its part, so a failed or killed
rewrite leaves no store under the final name (the next start deletes the dead run's folder); a
store is never reused by another run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr

from socseq.atomic import atomic_path
from socseq.io.grid import clip_to_grid
from socseq.io.layout import chunk_layout
from socseq.io.raster import READ_ERRORS, read_failure
from socseq.outputs import require_free_space
from socseq.pipeline.execute import Executor
from socseq.pipeline.plan import ClimatePlan, InputPlan, Window
from socseq.pipeline.rechunk_store import (
    STORE_VARIABLE,
    TASK_BYTES,
    Clip,
    Footprint,
    SourceChunks,
    StoreLayout,
    check_store,
    create_store,
    decoded_values,
    same_clips,
    source_chunks,
    store_layout,
    store_part,
    store_spec,
)
from socseq.pipeline.sources import LayerSpec, fill_extent, open_layer
from socseq.progress import Progress

__all__ = [
    "MIN_AMPLIFICATION",
    "MIN_REDUNDANT_VALUES",
    "TASK_BYTES",
    "SourceSurvey",
    "StoreLayout",
    "rechunk_for_windows",
    "rechunk_sources",
    "survey",
]

#: Rewrite a source when the windows would decompress its chunks at least this many times over.
MIN_AMPLIFICATION = 3.0
#: ... and would decompress at least this many values more than once.
MIN_REDUNDANT_VALUES = 2**24
#: Private switch for tests and benchmarks: None applies the rule; True rewrites every source
#: the rule could rewrite (a chunked, compressed NetCDF-4/HDF5 or Zarr float series), whatever
#: its amplification and the number of windows; False rewrites none.
_FORCE: bool | None = None

#: A source: the file, its variable and the first month of a series without dates.
SourceKey = tuple[str, str | None, str | None]


@dataclass(frozen=True)
class SourceSurvey:
    """What the windows of a run would decompress of one climate source, and the decision.

    Attributes
    ----------
    spec : LayerSpec
        The first layer that reads the source (its name is the one reported).
    reads : tuple of (int, int)
        Month ranges the phases read (positions along the time axis).
    decoded : int
        Values the windows would decompress reading the file (``Σ D_w``; 0 when not counted).
    once : int
        Values of the chunks they touch, each decompressed once (``U``).
    rewrite : bool
        Whether the run rewrites the source.
    reason : str
        Why it is not rewritten (empty when it is).
    layout : StoreLayout or None
        The store, when rewritten.
    """

    spec: LayerSpec
    reads: tuple[tuple[int, int], ...]
    decoded: int = 0
    once: int = 0
    rewrite: bool = False
    reason: str = ""
    layout: StoreLayout | None = None

    @property
    def amplification(self) -> float:
        """``Σ D_w / U``: how many times over the windows decompress the chunks they need."""
        return self.decoded / self.once if self.once else 0.0

    def info(self) -> dict[str, Any]:
        """Return what ``run.json`` records of the source."""
        out: dict[str, Any] = {"rewritten": self.rewrite}
        if self.once:
            out["decode_amplification"] = round(self.amplification, 2)
        if self.reason:
            out["reason"] = self.reason
        return out


# --------------------------------------------------------------------------------------------
# The rule


def _key(spec: LayerSpec) -> SourceKey:
    return (spec.path, spec.variable, spec.start)


def _climate_plans(plan: InputPlan) -> list[ClimatePlan]:
    return [cp for cp in (plan.spin, plan.warm, plan.forward) if cp is not None]


def _sources(plan: InputPlan) -> dict[SourceKey, SourceSurvey]:
    """Every climate source of the plan, with the month ranges the window tasks read of it.

    Each phase reads ``first … first + months`` of each of its layers
    (:mod:`socseq.pipeline.inputs`); a source serving several phases (a series for the
    spin-up and the warm-up) is one source, read once per range.
    """
    found: dict[SourceKey, tuple[LayerSpec, list[tuple[int, int]]]] = {}
    for cp in _climate_plans(plan):
        for short, spec in cp.layers.items():
            if spec.pattern or not spec.monthly:
                continue
            _, reads = found.setdefault(_key(spec), (spec, []))
            read = (cp.first[short], cp.first[short] + cp.months)
            if read not in reads:
                reads.append(read)
    return {k: SourceSurvey(spec, tuple(reads)) for k, (spec, reads) in found.items()}


def _stand_in(da: xr.DataArray) -> xr.DataArray:
    """Return a 2-D array without values on ``da``'s cells, with its CRS and transform.

    :func:`~socseq.io.grid.clip_to_grid` looks only at the coordinates and the CRS, so it
    selects the same cells from this as from the lazily opened series, at half the cost.
    """
    shape = (da.sizes["y"], da.sizes["x"])
    out = xr.DataArray(
        np.broadcast_to(np.float32(0), shape),
        dims=("y", "x"),
        coords={"y": da["y"].values, "x": da["x"].values},
    )
    return out.rio.write_crs(da.rio.crs).rio.write_transform(da.rio.transform())


def _clips(
    da: xr.DataArray, plan: InputPlan, tiles: Sequence[Window], cache: dict[Any, list[Clip]]
) -> list[Clip]:
    """Return what each window loads of ``da`` (once per source grid, kept in ``cache``)."""
    grid_key = (da.rio.crs.to_wkt(), tuple(da.rio.transform()))
    key = (*grid_key, da["y"].values.tobytes(), da["x"].values.tobytes())
    if key not in cache:
        grid = _stand_in(da)
        clips: list[Clip] = []
        for tile in tiles:
            c = clip_to_grid(grid, fill_extent(plan.grid, tile.bounds, plan.fill_distance_m))
            clips.append(None if c is None else (c["y"].values, c["x"].values, c.rio.transform()))
        cache[key] = clips
    return cache[key]


def _footprints(da: xr.DataArray, clips: Sequence[Clip]) -> list[Footprint | None]:
    """Rows and columns of ``da`` each window loads (None: the source does not reach it)."""
    rows = {v: i for i, v in enumerate(da["y"].values.tolist())}
    cols = {v: i for i, v in enumerate(da["x"].values.tolist())}
    out: list[Footprint | None] = []
    for clip in clips:
        if clip is None:
            out.append(None)
            continue
        y, x = clip[0].tolist(), clip[1].tolist()
        out.append((rows[y[0]], rows[y[-1]] + 1, cols[x[0]], cols[x[-1]] + 1))
    return out


def _eligible(spec: LayerSpec, da: xr.DataArray) -> tuple[SourceChunks | None, str]:
    """Return the source's chunks when it can be rewritten; else None and why not."""
    layout = chunk_layout(spec.path, name=spec.name, variable=spec.variable)
    if layout is None or not layout.compression:
        return None, "not a chunked, compressed NetCDF-4/HDF5 or Zarr variable"
    if not np.issubdtype(da.dtype, np.floating):
        return None, f"decoded values are {da.dtype}, not floats"
    if da.encoding.get("socseq_pending") != [("float64", None)]:
        return None, "values need conversions after reading"
    if not layout.time_sorted:
        return None, "time steps out of order in the file"
    chunks = source_chunks(da, layout)
    if chunks is None:
        return None, "coordinates do not match the file's"
    return chunks, ""


def survey(
    plan: InputPlan, tiles: Sequence[Window], slots: int = 1, force: bool | None = None
) -> list[SourceSurvey]:
    """Decide, for every climate series of the plan, whether the run rewrites it.

    Parameters
    ----------
    plan : InputPlan
        The run's input plan.
    tiles : sequence of Window
        The run's windows.
    slots : int
        Tasks the executor runs at once (a column is split along time to give each a task).
    force : bool, optional
        Overrides the rule (default: the module's private ``_FORCE``); see :data:`_FORCE`.

    Returns
    -------
    list of SourceSurvey
        One per source, in the order of the phases' layers.
    """
    force = _FORCE if force is None else force
    out = []
    cache: dict[Any, list[Clip]] = {}
    for item in _sources(plan).values():
        if force is False:
            out.append(dataclasses.replace(item, reason="rewriting is switched off"))
        elif len(tiles) < 2 and force is None:
            out.append(dataclasses.replace(item, reason="one window"))
        else:
            out.append(_survey_source(item, plan, tiles, slots, force, cache))
    return out


def _survey_source(
    item: SourceSurvey,
    plan: InputPlan,
    tiles: Sequence[Window],
    slots: int,
    force: bool | None,
    cache: dict[Any, list[Clip]],
) -> SourceSurvey:
    da = open_layer(item.spec)
    chunks, reason = _eligible(item.spec, da)
    if chunks is None:
        return dataclasses.replace(item, reason=reason)
    clips = _clips(da, plan, tiles, cache)
    footprints = _footprints(da, clips)
    decoded, once = decoded_values(chunks, footprints, item.reads)
    item = dataclasses.replace(item, decoded=decoded, once=once)
    if force is None and item.amplification < MIN_AMPLIFICATION:
        return dataclasses.replace(item, reason=f"decode amplification below {MIN_AMPLIFICATION:g}")
    if force is None and decoded - once < MIN_REDUNDANT_VALUES:
        return dataclasses.replace(item, reason="too few values decompressed more than once")
    layout = store_layout(footprints, item.reads, chunks, da.dtype.itemsize, slots)
    if not same_clips(clips, _clips(store_part(da, layout), plan, tiles, cache)):
        return dataclasses.replace(item, reason="windows would not read the same cells")
    return dataclasses.replace(item, rewrite=True, layout=layout)


# --------------------------------------------------------------------------------------------
# The rewrite


@dataclass(frozen=True)
class _Job:
    """One source being rewritten (picklable, for process workers)."""

    spec: LayerSpec
    store: str
    origin: tuple[int, int, int]


def _write_block(jobs: tuple[_Job, ...], item: tuple[int, tuple[slice, slice, slice]]) -> int:
    """Decode one block of a source and write it into its store; return the values written."""
    index, (ts, ys, xs) = item
    job = jobs[index]
    t, y, x = job.origin
    da = open_layer(job.spec)
    part = da.isel(
        time=slice(ts.start + t, ts.stop + t),
        y=slice(ys.start + y, ys.stop + y),
        x=slice(xs.start + x, xs.stop + x),
    )
    try:
        values = np.asarray(part.values)
    except READ_ERRORS as exc:  # a truncated or corrupt file: one line naming layer and file
        raise read_failure(job.spec.name, job.spec.path, exc) from exc
    array = zarr.open_array(job.store, path=STORE_VARIABLE, mode="r+")
    array[ts, ys, xs] = values
    return int(values.size)


def _replaced(plan: InputPlan, stores: dict[SourceKey, tuple[Path, int]]) -> InputPlan:
    """Return the plan whose climate layers read the rewritten stores (months shifted)."""

    def replace(cp: ClimatePlan) -> ClimatePlan:
        layers, first = dict(cp.layers), dict(cp.first)
        for short, spec in cp.layers.items():
            hit = stores.get(_key(spec)) if spec.monthly and not spec.pattern else None
            if hit is not None:
                layers[short] = store_spec(spec, hit[0])
                first[short] -= hit[1]
        return dataclasses.replace(cp, layers=layers, first=first)

    return dataclasses.replace(
        plan,
        spin=replace(plan.spin),
        warm=replace(plan.warm),
        forward=None if plan.forward is None else replace(plan.forward),
    )


def rechunk_sources(
    plan: InputPlan,
    surveys: Sequence[SourceSurvey],
    folder: Path,
    executor: Executor,
    progress: Progress | None = None,
) -> tuple[InputPlan, dict[str, dict[str, Any]]]:
    """Rewrite the sources :func:`survey` chose into ``folder``; return the plan that reads them.

    Parameters
    ----------
    plan : InputPlan
        The run's input plan.
    surveys : sequence of SourceSurvey
        :func:`survey`'s decisions.
    folder : pathlib.Path
        The run's scratch folder for the stores (``work/sources``).
    executor : Executor
        Runs the rewrite tasks (within the run's thread budget).
    progress : callable, optional
        ``progress("rechunk", done, total)``.

    Returns
    -------
    plan : InputPlan
        The plan whose climate layers read the stores.
    info : dict
        Per source (its first layer's name): rewritten or not, the decode amplification and
        why not, for ``run.json``.

    Raises
    ------
    InputValidationError
        A source cannot be read (truncated or corrupt), naming the layer and the file.
    """
    info = {s.spec.name: s.info() for s in surveys}
    chosen = [s for s in surveys if s.rewrite and s.layout is not None]
    if not chosen:
        return plan, info
    stores: dict[SourceKey, tuple[Path, int]] = {}
    with ExitStack() as stack:
        jobs, parts, items = [], [], []
        for i, s in enumerate(chosen):
            assert s.layout is not None
            final = folder / f"{i:02d}-{Path(s.spec.path).stem}.zarr"
            tmp = stack.enter_context(atomic_path(final))
            part = store_part(open_layer(s.spec), s.layout)
            create_store(tmp, part, s.layout.tile)
            jobs.append(_Job(s.spec, str(tmp), s.layout.origin))
            parts.append((final, part))
            items += [(i, block) for block in s.layout.blocks]
        executor.threads_per_task(len(items))
        report = None if progress is None else (lambda d, t: progress("rechunk", d, t))
        if report is not None:
            report(0, len(items))
        written = executor.map(_write_block, tuple(jobs), items, report)
        for i, s in enumerate(chosen):
            assert s.layout is not None
            done = sum(n for (j, _), n in zip(items, written, strict=True) if j == i)
            if done != math.prod(s.layout.shape):
                raise RuntimeError(f"rewrite of {s.spec.name}: {done} values written")
    # Every store is complete and in place: check what the windows will read.
    for i, s in enumerate(chosen):
        assert s.layout is not None
        final, part = parts[i]
        reason = check_store(store_spec(s.spec, final), part)
        if reason:
            info[s.spec.name] = {**info[s.spec.name], "rewritten": False, "reason": reason}
        else:
            stores[_key(s.spec)] = (final, s.layout.origin[0])
    return _replaced(plan, stores), info


def rechunk_for_windows(
    plan: InputPlan,
    tiles: Sequence[Window],
    work: Path,
    executor: Executor,
    progress: Progress | None,
    needs: dict[str, int],
) -> tuple[InputPlan, dict[str, dict[str, Any]]]:
    """Survey the climate series and rewrite those the rule picks: a run's step before its windows.

    Parameters
    ----------
    plan : InputPlan
        The run's input plan.
    tiles : sequence of Window
        The run's windows.
    work : pathlib.Path
        The run's scratch folder (``OUTPUT/.socseq-run-<id>/work``); the stores go to
        ``work/sources``.
    executor : Executor
        The run's executor.
    progress : callable, optional
        ``progress("rechunk", done, total)``.
    needs : dict
        The run's disk needs (bytes by part); the stores are added as ``"sources"`` and the free
        space of the output folder is checked again before they are written.

    Returns
    -------
    plan : InputPlan
        The plan the windows read.
    info : dict
        What ``run.json`` records of each series (:meth:`SourceSurvey.info`).

    Raises
    ------
    DiskFullError
        The output folder's file system cannot hold the stores besides the run's other needs.
    InputValidationError
        A source cannot be read (truncated or corrupt), naming the layer and the file.
    """
    surveys = survey(plan, tiles, slots=executor.threads)
    layouts = [s.layout for s in surveys if s.rewrite and s.layout is not None]
    if layouts:
        # At most 8 bytes a value, uncompressed.
        needs["sources"] = sum(8 * math.prod(layout.shape) for layout in layouts)
        require_free_space(work.parent.parent, sum(needs.values()), "scratch and products")
    return rechunk_sources(plan, surveys, work / "sources", executor, progress)
