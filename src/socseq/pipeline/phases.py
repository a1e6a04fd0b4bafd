"""The window task: classify a window's cells, run the phase engine on them, write the results.

A run is a list of these tasks, one per spatial window (:class:`~socseq.pipeline.plan.Window`).
Each reads its window's inputs, records why each agricultural cell is or is not simulated,
runs spin-up, warm-up and the forward scenarios of the simulated cells with
:func:`socseq.pipeline.engine.simulate` (the deterministic run is its one-member ensemble),
then the uncertainty members if the run has any, and writes everything into ``results.zarr``.
Cells are independent, so results do not depend on the windows, their order or the scheduler.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
import zarr

from socseq._heap import collect_cycles
from socseq.io.stores import stored_array
from socseq.pipeline.engine import CellInputs, EngineSettings, Members, simulate
from socseq.pipeline.exclusions import (
    NO_LAND_USE,
    NOT_AGRICULTURAL,
    OUTSIDE_DOMAIN,
    SIMULATED,
)
from socseq.pipeline.inputs import SCRATCH_CODEC, read_window
from socseq.pipeline.landuse import NO_CLASS
from socseq.pipeline.members import UncertaintySettings
from socseq.pipeline.plan import InputPlan, Window
from socseq.pipeline.uncertainty import members_window

__all__ = [
    "PhaseSettings",
    "create_results",
    "window_task",
]

#: Stages of a window task, in order; their task-seconds are reported per run.
STAGES = ("inputs", "spin-up", "warm-up", "forward", "uncertainty")


@dataclass(frozen=True)
class PhaseSettings:
    """Everything a window task needs besides the stores (picklable, for process workers).

    Attributes
    ----------
    plan : InputPlan
        Where and how to read each input layer.
    results : str
        The ``results.zarr`` store the tasks write.
    engine : EngineSettings
        Model choices and scenarios.
    simulate, cropland : tuple of int
        Classes to simulate; classes counted as cropland.
    paddy : str
        ``"exclude"`` or ``"simulate"``.
    max_soc, max_sand, max_ec : float or None
        Soil masks [t C/ha, %, dS/m].
    threads : int
        Threads each task may use (numba kernel, GDAL warper), so that tasks × threads stay
        within the cores the run was given.
    uncertainty : UncertaintySettings or None
        The members to run besides the deterministic cells.
    """

    plan: InputPlan
    results: str
    engine: EngineSettings
    simulate: tuple[int, ...]
    cropland: tuple[int, ...]
    paddy: str
    max_soc: float | None
    max_sand: float | None
    max_ec: float | None
    threads: int = 1
    uncertainty: UncertaintySettings | None = None


def _usable_class(settings: PhaseSettings, codes: np.ndarray) -> np.ndarray:
    """Whether a yearly land-use code has a class in the table (else the map's class is kept)."""
    table = settings.engine.table
    return (codes != NO_CLASS) & np.isfinite(table.npp_factor[np.clip(codes, 0, 255)])


def classify(settings: PhaseSettings, layers: dict[str, np.ndarray]) -> np.ndarray:
    """Reason of every cell of a window: 0 simulated, 1–11 excluded, 254/255 not candidates.

    ``layers`` holds the window's ``land_use`` (class codes), ``domain`` (inside the
    ``[domain]``; all cells when absent), ``soc``, ``clay``, ``npp_spin``,
    ``climate_ok`` (every month of every phase has climate), ``cold`` (every spin-up month
    below −5 °C) and, where configured, ``sand`` and ``ec``.
    """
    classes = layers["land_use"]
    soc, clay = layers["soc"], layers["clay"]
    reason = np.full(classes.shape, NOT_AGRICULTURAL, np.uint8)
    reason[classes == NO_CLASS] = NO_LAND_USE
    candidate = np.isin(classes, list({*settings.simulate, *settings.cropland}))
    paddy = settings.engine.table.paddy[np.clip(classes, 0, 255)]
    tests = [
        (OUTSIDE_DOMAIN, ~np.asarray(layers.get("domain", True), bool)),
        (1, ~np.isin(classes, settings.simulate)),
        (2, paddy & (settings.paddy == "exclude")),
        (3, ~np.isfinite(soc)),
        (4, ~np.isfinite(clay)),
        (5, ~layers["climate_ok"]),
    ]
    if settings.max_soc is not None:
        tests.append((6, soc > settings.max_soc))
    for code, name, limit in ((7, "sand", settings.max_sand), (8, "ec", settings.max_ec)):
        if limit is not None and name in layers:
            tests.append((code, layers[name] > limit))
    tests.append((9, (soc <= 0) | (clay < 0) | (clay > 100) | ~(layers["npp_spin"] > 0)))
    tests.append((10, layers["cold"]))
    undecided = candidate.copy()
    with np.errstate(invalid="ignore"):
        for code, failed in tests:
            hit = undecided & failed
            reason[hit] = code
            undecided &= ~hit
    reason[undecided] = SIMULATED
    return reason


@dataclass
class WindowInputs:
    """A window's cells: why each is or is not simulated, and the simulated cells' inputs."""

    reason: np.ndarray
    cells: np.ndarray
    data: CellInputs | None
    layers: dict[str, np.ndarray]
    uncertainty_layers: dict[str, np.ndarray]
    filled: dict[str, int]


def window_inputs(settings: PhaseSettings, window: Window) -> WindowInputs:
    """Read a window's inputs, classify its cells and gather the simulated cells' inputs."""
    data = read_window(settings.plan, window, settings.threads)
    layers = data.layers
    reason = classify(settings, layers)
    cells = reason == SIMULATED
    if not cells.any():
        return WindowInputs(reason, cells, None, layers, {}, data.filled)
    sub = cells[data.candidate]  # the simulated cells among the candidates, in the same order
    table = settings.engine.table
    classes = layers["land_use"][cells]
    n_years = settings.engine.n_warmup_years
    if data.yearly is not None:
        raw = data.yearly[sub]
        yearly = np.where(_usable_class(settings, raw), raw, classes[:, None])
        last = raw[:, -1]
        fwd_classes = np.where(_usable_class(settings, last), last, classes)
    else:
        yearly = np.repeat(classes[:, None], n_years, axis=1)
        fwd_classes = classes
    if data.cover is not None:
        cover = data.cover[sub]
        warm_cover, fwd_cover = cover, cover
    else:
        cover, warm_cover, fwd_cover = table.cover[classes], None, table.cover[fwd_classes]
    # Copy the climate rows only when some candidate cells are not simulated.
    climate = data.climate if sub.all() else {k: v[sub] for k, v in data.climate.items()}
    cell_inputs = CellInputs(
        classes=classes,
        soc=np.ascontiguousarray(layers["soc"][cells], dtype=np.float64),
        clay=np.ascontiguousarray(layers["clay"][cells], dtype=np.float64),
        spin={k: climate[f"spin_{k}"] for k in ("tas", "pr", "pet")},
        npp_spin=np.ascontiguousarray(layers["npp_spin"][cells], dtype=np.float64),
        warm={k: climate[f"warm_{k}"] for k in ("tas", "pr", "pet")},
        npp_warm=climate["npp_warm"],
        fwd={k: climate[f"fwd_{k}"] for k in ("tas", "pr", "pet")},
        cover=cover,
        warm_cover=warm_cover,
        fwd_cover=fwd_cover,
        yearly=yearly,
        fwd_classes=fwd_classes,
        # Grid row and column of each simulated cell (row-major, like the selections above),
        # so that a carbon-balance error names the cell on the grid.
        grid_rc=np.argwhere(cells) + np.array([window.y0, window.x0]),
    )
    unc = {k: v[sub] for k, v in data.uncertainty.items()}
    return WindowInputs(reason, cells, cell_inputs, layers, unc, data.filled)


def _put(out: zarr.Group, name: str, window: Window, cells: np.ndarray, values: Any) -> None:
    """Write per-cell values ``(n,)`` or ``(n, *lead)`` into ``(y, x)``/``(*lead, y, x)``."""
    ys, xs = window.slices
    values = np.asarray(values)
    block = np.full((*values.shape[1:], *window.shape), np.nan)
    block[..., cells] = np.moveaxis(values, 0, -1)
    stored_array(out, name)[..., ys, xs] = block


def window_task(settings: PhaseSettings, window: Window) -> dict[str, Any]:
    """Classify, simulate and write one window; return its partial sums and stage times.

    Returns
    -------
    dict
        ``{"cells": n simulated, "warm_area_soc": (n_warmup_years,) Σ area·SOC at each
        December of the warm-up, "area": Σ area [ha], "forward_area_soc": (S, forward_years
        + 1) Σ area·SOC (T0 first), "seconds": {stage: s}, "members": the uncertainty
        members' zone sums or None}``.
    """
    ts = settings.engine
    seconds = dict.fromkeys(STAGES, 0.0)
    started = time.perf_counter()
    numba.set_num_threads(min(settings.threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    inputs = window_inputs(settings, window)
    collect_cycles()  # the read blocks of the window, held by xarray cycles (socseq._heap)
    seconds["inputs"] = time.perf_counter() - started
    out = zarr.open_group(settings.results, mode="r+")
    ys, xs = window.slices
    stored_array(out, "reason")[ys, xs] = inputs.reason
    layers = inputs.layers
    stored_array(out, "area_ha")[ys, xs] = layers["area_ha"]
    stored_array(out, "land_use")[ys, xs] = layers["land_use"]
    stored_array(out, "npp_spin")[ys, xs] = layers["npp_spin"]
    if "zones" in out:
        stored_array(out, "zones")[ys, xs] = layers["zones"]
    n_scen, years = len(ts.scenarios), ts.forward_years
    summary: dict[str, Any] = {
        "cells": 0,
        "warm_area_soc": np.zeros(ts.n_warmup_years),
        "area": 0.0,
        "forward_area_soc": np.zeros((n_scen, years + 1)),
        "seconds": seconds,
        "members": None,
        "filled": inputs.filled,
        "threads": numba.get_num_threads(),
    }
    data, cells = inputs.data, inputs.cells
    if data is None:
        return summary
    det = simulate(ts, data, Members.identity(data, ts), timings=seconds)
    _put(out, "ceq", window, cells, det.ceq[:, 0])
    _put(out, "c_bau", window, cells, det.c_bau[:, 0])
    _put(out, "soc_warmup", window, cells, det.warmup[:, 0])
    soc = np.concatenate(
        [np.repeat(det.t0[None, :, 0, None], n_scen, axis=0), det.forward[:, :, 0, :]], axis=2
    )  # (S, n, years + 1)
    _put(out, "soc", window, cells, np.moveaxis(soc, 1, 0))
    area = layers["area_ha"][cells]
    summary.update(
        cells=int(cells.sum()),
        warm_area_soc=(area[:, None] * det.warmup[:, 0]).sum(axis=0),
        area=float(area.sum()),
        forward_area_soc=(soc * area[None, :, None]).sum(axis=1),
    )
    if settings.uncertainty is not None:
        started = time.perf_counter()
        summary["members"] = members_window(
            settings.uncertainty,
            window,
            cells,
            data,
            inputs.uncertainty_layers,
            det,
            area,
            layers["zones"][cells],
        )
        seconds["uncertainty"] = time.perf_counter() - started
    return summary


def create_results(
    path: Path, shape: tuple[int, int], chunk: int, engine: EngineSettings, zones: bool
) -> None:
    """Create the empty ``results.zarr`` arrays the window tasks fill (internal).

    Besides the phases' results it holds what the products need of the inputs: cell areas,
    land-use classes, zones and the spin-up NPP.
    """
    g = zarr.open_group(str(path), mode="w")
    c2 = (chunk, chunk)
    n_scen = len(engine.scenarios)
    years = engine.forward_years
    n_warm = engine.n_warmup_years

    def make(name: str, lead: tuple[int, ...], dtype: str, fill: Any = np.nan) -> None:
        g.create_array(
            name,
            shape=(*lead, *shape),
            chunks=(*lead, *c2),
            dtype=dtype,
            fill_value=fill,
            compressors=SCRATCH_CODEC,
        )

    make("reason", (), "uint8", NO_LAND_USE)
    make("area_ha", (), "float64")
    make("land_use", (), "int16", NO_CLASS)
    make("npp_spin", (), "float64")
    if zones:
        make("zones", (), "int32", -1)
    make("ceq", (), "float64")
    make("c_bau", (), "float64")
    make("soc_warmup", (n_warm,), "float64")
    make("soc", (n_scen, years + 1), "float64")
