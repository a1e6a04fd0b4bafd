"""The window task: classify a window's cells, run the phase engine on them, write the results.

A run is a list of these tasks, one per spatial window (:class:`~socseq.pipeline.inputs.Window`).
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

import numpy as np
import zarr

from socseq.pipeline.engine import CellInputs, EngineSettings, Members, simulate
from socseq.pipeline.inputs import NO_CLASS, SCRATCH_CODEC, Window
from socseq.pipeline.uncertainty import UncertaintySettings, members_window

__all__ = [
    "EXCLUSION_REASONS",
    "NOT_AGRICULTURAL",
    "NO_LAND_USE",
    "SIMULATED",
    "PhaseSettings",
    "create_results",
    "window_task",
]

SIMULATED = 0
#: Exclusion reasons of candidate cells (agricultural classes), in the order they are tested;
#: the first that applies is recorded.
EXCLUSION_REASONS = {
    1: "land-use class not simulated",
    2: "paddy (excluded by configuration)",
    3: "no SOC baseline",
    4: "no clay",
    5: "no climate",
    6: "SOC above the mask limit",
    7: "sand above the mask limit",
    8: "EC above the mask limit",
    9: "implausible value (SOC ≤ 0, clay outside 0–100 %, zero NPP)",
    10: "no decomposition (every spin-up month below −5 °C)",
}
#: Cells outside the agricultural classes, and cells without land-use data.
NOT_AGRICULTURAL = 254
NO_LAND_USE = 255

#: Stages of a window task, in order; their task-seconds are reported per run.
STAGES = ("inputs", "spin-up", "warm-up", "forward", "uncertainty")


@dataclass(frozen=True)
class PhaseSettings:
    """Everything a window task needs besides the stores (picklable, for process workers)."""

    inputs: str
    results: str
    engine: EngineSettings
    simulate: tuple[int, ...]
    cropland: tuple[int, ...]
    paddy: str
    max_soc: float | None
    max_sand: float | None
    max_ec: float | None
    has_yearly_land_use: bool
    has_cover: bool
    uncertainty: UncertaintySettings | None = None


def _read(group: zarr.Group, name: str, window: Window, lead: bool = False) -> np.ndarray:
    ys, xs = window.slices
    arr = group[name]
    return np.asarray(arr[:, ys, xs] if lead else arr[ys, xs])


def _flat(values: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Select cells: ``(lead, y, x)`` → ``(n_cells, lead)``, ``(y, x)`` → ``(n_cells,)``."""
    if values.ndim == 2:
        return np.ascontiguousarray(values[cells], dtype=np.float64)
    return np.ascontiguousarray(values[:, cells].T, dtype=np.float64)


def _usable_class(settings: PhaseSettings, codes: np.ndarray) -> np.ndarray:
    """Whether a yearly land-use code has a class in the table (else the map's class is kept)."""
    table = settings.engine.table
    return (codes != NO_CLASS) & np.isfinite(table.npp_factor[np.clip(codes, 0, 255)])


def classify(settings: PhaseSettings, layers: dict[str, np.ndarray]) -> np.ndarray:
    """Reason of every cell of a window: 0 simulated, 1–10 excluded, 254/255 not candidates.

    ``layers`` holds the window's ``land_use`` (class codes), ``soc``, ``clay``, ``npp_spin``,
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
    """A window's inputs: per-cell layers and the simulated cells' phase inputs."""

    reason: np.ndarray
    cells: np.ndarray
    data: CellInputs | None
    area: np.ndarray
    zones: np.ndarray
    uncertainty_layers: dict[str, np.ndarray]


def read_window(settings: PhaseSettings, window: Window) -> WindowInputs:
    """Read a window from the staged inputs, classify its cells and gather the simulated ones."""
    inp = zarr.open_group(settings.inputs, mode="r")
    layers = {name: _read(inp, name, window) for name in ("soc", "clay", "npp_spin")}
    layers["land_use"] = _read(inp, "land_use", window).astype(np.int64)
    for name in ("sand", "ec"):
        if name in inp:
            layers[name] = _read(inp, name, window)
    series = {
        f"{phase}_{k}": _read(inp, f"{phase}_{k}", window, lead=True)
        for phase in ("spin", "warm", "fwd")
        for k in ("tas", "pr", "pet")
    }
    layers["climate_ok"] = np.all([np.isfinite(v).all(axis=0) for v in series.values()], axis=0)
    layers["cold"] = np.all(series["spin_tas"] < -5.0, axis=0)
    reason = classify(settings, layers)
    cells = reason == SIMULATED
    area = _flat(_read(inp, "area_ha", window), cells)
    zones = _read(inp, "zones", window)[cells] if "zones" in inp else np.full(area.size, -1)
    unc_layers: dict[str, np.ndarray] = {}
    if settings.uncertainty is not None:
        unc = zarr.open_group(settings.uncertainty.store, mode="r")
        unc_layers = {
            name: _flat(_read(unc, name, window), cells)
            for name in ("soc_sd", "soc_q05", "soc_q95", "clay_sd")
            if name in unc
        }
    if not cells.any():
        return WindowInputs(reason, cells, None, area, zones, unc_layers)

    table = settings.engine.table
    classes = layers["land_use"][cells]
    n_years = settings.engine.n_warmup_years
    if settings.has_yearly_land_use:
        raw = _flat(_read(inp, "land_use_yearly", window, lead=True), cells).astype(np.int64)
        yearly = np.where(_usable_class(settings, raw), raw, classes[:, None])
        last = raw[:, -1]
        fwd_classes = np.where(_usable_class(settings, last), last, classes)
    else:
        yearly = np.repeat(classes[:, None], n_years, axis=1)
        fwd_classes = classes
    if settings.has_cover:
        cover = _flat(_read(inp, "cover", window, lead=True), cells)
        warm_cover, fwd_cover = cover, cover
    else:
        cover, warm_cover, fwd_cover = table.cover[classes], None, table.cover[fwd_classes]
    data = CellInputs(
        classes=classes,
        soc=_flat(layers["soc"], cells),
        clay=_flat(layers["clay"], cells),
        spin={k: _flat(series[f"spin_{k}"], cells) for k in ("tas", "pr", "pet")},
        npp_spin=_flat(layers["npp_spin"], cells),
        warm={k: _flat(series[f"warm_{k}"], cells) for k in ("tas", "pr", "pet")},
        npp_warm=_flat(_read(inp, "npp_warm", window, lead=True), cells),
        fwd={k: _flat(series[f"fwd_{k}"], cells) for k in ("tas", "pr", "pet")},
        cover=cover,
        warm_cover=warm_cover,
        fwd_cover=fwd_cover,
        yearly=yearly,
        fwd_classes=fwd_classes,
    )
    return WindowInputs(reason, cells, data, area, zones, unc_layers)


def _put(out: zarr.Group, name: str, window: Window, cells: np.ndarray, values: Any) -> None:
    """Write per-cell values ``(n,)`` or ``(n, *lead)`` into ``(y, x)``/``(*lead, y, x)``."""
    ys, xs = window.slices
    values = np.asarray(values)
    block = np.full((*values.shape[1:], *window.shape), np.nan)
    block[..., cells] = np.moveaxis(values, 0, -1)
    out[name][..., ys, xs] = block


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
    inputs = read_window(settings, window)
    seconds["inputs"] = time.perf_counter() - started
    out = zarr.open_group(settings.results, mode="r+")
    ys, xs = window.slices
    out["reason"][ys, xs] = inputs.reason
    n_scen, years = len(ts.scenarios), ts.forward_years
    summary: dict[str, Any] = {
        "cells": 0,
        "warm_area_soc": np.zeros(ts.n_warmup_years),
        "area": 0.0,
        "forward_area_soc": np.zeros((n_scen, years + 1)),
        "seconds": seconds,
        "members": None,
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
    area = inputs.area
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
            inputs.zones,
        )
        seconds["uncertainty"] = time.perf_counter() - started
    return summary


def create_results(path: Path, shape: tuple[int, int], chunk: int, engine: EngineSettings) -> None:
    """Create the empty ``results.zarr`` arrays the window tasks fill (internal)."""
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
    make("ceq", (), "float64")
    make("c_bau", (), "float64")
    make("soc_warmup", (n_warm,), "float64")
    make("soc", (n_scen, years + 1), "float64")
