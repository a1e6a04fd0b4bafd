"""Uncertainty runs: the GSOCseq minimum/maximum runs, or a Monte Carlo ensemble per cell.

This module holds the statistics over members, the per-member zone sums and the
orchestration; what each member is (its settings and draws) lives in
:mod:`socseq.pipeline.members`. The members run through the one phase engine
(:func:`socseq.pipeline.engine.simulate`) that runs the deterministic cells, cells × members
stacked as the rows of one vectorised kernel call, inside the same window task
(:mod:`socseq.pipeline.phases`), so every option of a run (yearly land use, cover rasters,
NDVI, paddy, future climate, spin-up climatology) applies to the members as to the
deterministic run. Inside a window the cells are processed in batches of at most
``ROW_BUDGET // members`` cells, so memory follows the window (chunk size) and the batch,
never the domain.

``mode = "gsocseq"`` (GSOCseq Technical Manual ch. 12, Table 12.1): two members, *min* and
*max*, with temperature × 1.02 / 0.98, precipitation × 0.95 / 1.05, clay × 0.9 / 1.1, SOC
× 0.8 / 1.2 (or the SOC uncertainty layer's bounds) and each SSM input multiplier ∓ 0.15
points (Cin_min × (m − 0.15), Cin_max × (m + 0.15)). Defects of the FAO scripts are fixed, not
copied (``docs/uncertainty.md``): each member's IOM follows its own SOC (Falloon), its NPP is
normalised by its own spin-up NPP, and the analytical spin-up varies climate as well.

``mode = "montecarlo"``: ``members`` draws per cell from the declared distributions
(:class:`~socseq.pipeline.config.UncertaintyConfig`) with the counter-based generator of
:mod:`socseq.pipeline.draws`, so results do not depend on windows, batches or schedulers.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from socseq.io.grid import GridSpec
from socseq.io.stores import stored_array
from socseq.pipeline.config import RunConfig
from socseq.pipeline.engine import CellInputs, EngineSettings, Trajectories, simulate
from socseq.pipeline.inputs import SCRATCH_CODEC
from socseq.pipeline.members import (
    UncertaintySettings,
    member_draws,
    uncertainty_settings,
)
from socseq.pipeline.plan import InputPlan, Window, uncertainty_soc_kind
from socseq.pipeline.rates import absolute_rate, reaches_four_per_1000, relative_rate

__all__ = [
    "STATISTICS",
    "UncertaintyRun",
    "combine_window_parts",
    "finish_uncertainty",
    "members_window",
    "prepare_uncertainty",
]

#: Statistics over members, in the order of the ``statistic`` axis.
STATISTICS = ("mean", "median", "q05", "q95")

# --------------------------------------------------------------------------------------------
# Members of a window's cells


def _quantiles(values: np.ndarray) -> np.ndarray:
    """``(..., M)`` → ``(4, ...)`` mean, median, 5 % and 95 % over members."""
    q = np.quantile(values, [0.5, 0.05, 0.95], axis=-1)
    return np.concatenate([values.mean(axis=-1)[None], q])


def run_members(
    us: UncertaintySettings,
    cells: CellInputs,
    global_index: np.ndarray,
    layers: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Run every member of ``cells`` through the phase engine, batch by batch.

    Parameters
    ----------
    us : UncertaintySettings
    cells : CellInputs
        The simulated cells of a window.
    global_index : numpy.ndarray
        ``(n,)`` row · width + column of each cell: the key of its draws.
    layers : dict of str to numpy.ndarray
        ``(n,)`` SOC/clay uncertainty layers of the cells (``soc_sd``, ``soc_q05``, ...).

    Returns
    -------
    t0 : numpy.ndarray
        ``(n, M)`` SOC at T0 of each cell and member [t C/ha].
    final : numpy.ndarray
        ``(S, n, M)`` SOC after the forward years [t C/ha].
    """
    n, S, M = cells.n_cells, us.n_scenarios, us.members
    t0_all = np.empty((n, M))
    final_all = np.empty((S, n, M))
    params = us.engine.params
    batch = max(1, us.row_budget // M)
    for start in range(0, n, batch):
        sel = slice(start, min(n, start + batch))
        part = cells.take(sel)
        part_layers = {k: v[sel] for k, v in layers.items()}
        members = member_draws(us, global_index[sel], part.soc, part.clay, part_layers, params)
        for idx in members.parameter_groups():
            result = simulate(us.engine, part, members, idx, forward_record="end")
            t0_all[sel][:, idx] = result.t0
            final_all[:, sel][:, :, idx] = result.forward[..., -1]
    return t0_all, final_all


def members_window(
    us: UncertaintySettings,
    window: Window,
    mask: np.ndarray,
    cells: CellInputs,
    layers: dict[str, np.ndarray],
    deterministic: Trajectories,
    area: np.ndarray,
    zones: np.ndarray,
) -> dict[str, Any]:
    """Run the members of one window's simulated cells; store per-cell results.

    Writes per-cell statistics (Monte Carlo) or the min/max stocks (gsocseq) into
    ``us.store`` and returns per-member zone sums.

    Parameters
    ----------
    us : UncertaintySettings
    window : Window
    mask : numpy.ndarray
        ``(rows, cols)`` the window's simulated cells.
    cells : CellInputs
        Their inputs (in the order of ``mask``'s True cells).
    layers : dict of str to numpy.ndarray
        Their SOC/clay uncertainty layers.
    deterministic : Trajectories
        The deterministic run of the same cells (the last column of the zone sums).
    area : numpy.ndarray
        ``(n,)`` cell areas [ha].
    zones : numpy.ndarray
        ``(n,)`` zone codes (−1 without zones).

    Returns
    -------
    dict
        ``{"zones": {zone: {"area", "crop_area", "t0" (M+1,), "final" (S, M+1),
        "reach" (S, M+1)}}, "cells", "rss_kb", "seconds"}``; the last member column is the
        deterministic run. Areas in ha, sums in ha·t C/ha.
    """
    started = time.perf_counter()
    out = zarr.open_group(us.store, mode="r+")
    ys, xs = window.slices
    n = cells.n_cells
    global_index = (
        np.arange(window.y0, window.y1)[:, None] * us.width
        + np.arange(window.x0, window.x1)[None, :]
    )[mask]
    t0_all, final_all = run_members(us, cells, global_index, layers)
    years = us.engine.forward_years
    if us.mode == "montecarlo":
        asr = absolute_rate(final_all, t0_all[None], years)
        rsr = relative_rate(final_all, final_all[us.baseline_index][None], years)
        reach = reaches_four_per_1000(asr, t0_all[None])
        blocks = {
            "t0_stats": _quantiles(t0_all),
            "final_stats": _quantiles(final_all),
            "asr_stats": _quantiles(asr),
            "rsr_stats": _quantiles(rsr),
            "p_4p1000": reach.mean(axis=-1),
        }
    else:
        blocks = {
            "minmax_t0": np.moveaxis(t0_all, -1, 0),
            "minmax_final": np.moveaxis(final_all, -1, 0),
        }
    for name, values in blocks.items():
        block = np.full((*values.shape[:-1], *window.shape), np.nan)
        block[..., mask] = values
        stored_array(out, name)[..., ys, xs] = block

    # Per-member zone sums (the deterministic run as the last column).
    crop = np.isin(cells.classes, us.cropland)
    t0_ext = np.concatenate([t0_all, deterministic.t0], axis=1)  # (n, M+1)
    fin_ext = np.concatenate([final_all, deterministic.forward[:, :, :, -1]], axis=2)
    reach_ext = reaches_four_per_1000(absolute_rate(fin_ext, t0_ext[None], years), t0_ext[None])
    result: dict[str, Any] = {"zones": {}, "cells": n}
    for z in np.unique(zones):
        inz = zones == z
        a = area[inz]
        ca = np.where(crop[inz], a, 0.0)
        result["zones"][int(z)] = {
            "area": float(a.sum()),
            "crop_area": float(ca.sum()),
            "t0": a @ t0_ext[inz],
            "final": np.einsum("c,scm->sm", a, fin_ext[:, inz]),
            "reach": np.einsum("c,scm->sm", ca, reach_ext[:, inz].astype(np.float64)),
        }
    result.update(rss_kb=_rss_kb(), seconds=time.perf_counter() - started)
    return result


def _rss_kb() -> int:
    """Peak resident memory of this process [kB] (Linux ``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak // 1024 if sys.platform == "darwin" else peak)


# --------------------------------------------------------------------------------------------
# Orchestration


@dataclass
class UncertaintyRun:
    """Outcome of the uncertainty tasks, ready to write its products.

    Attributes
    ----------
    settings : UncertaintySettings
    zone_sums : dict
        Combined per-member zone sums (see :func:`members_window`).
    info : dict
        What ran, how long and with how much memory (for ``run.json`` and the progress).
    """

    settings: UncertaintySettings
    zone_sums: dict[int, dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)


def create_store(path: Path, shape: tuple[int, int], chunk: int, us: UncertaintySettings) -> None:
    """Create the per-cell result arrays of the mode (internal)."""
    g = zarr.open_group(str(path), mode="a")
    S = us.n_scenarios
    arrays = (
        {
            "t0_stats": (4,),
            "final_stats": (4, S),
            "asr_stats": (4, S),
            "rsr_stats": (4, S),
            "p_4p1000": (S,),
        }
        if us.mode == "montecarlo"
        else {"minmax_t0": (2,), "minmax_final": (2, S)}
    )
    for name, lead in arrays.items():
        g.create_array(
            name,
            shape=(*lead, *shape),
            chunks=(*lead, chunk, chunk),
            dtype="float64",
            fill_value=np.nan,
            compressors=SCRATCH_CODEC,
        )


def combine_window_parts(parts: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Add up the per-window zone sums of :func:`members_window`."""
    zones: dict[int, dict[str, Any]] = {}
    for part in parts:
        for z, sums in part["zones"].items():
            if z not in zones:
                zones[z] = {
                    k: (np.array(v, dtype=np.float64) if not isinstance(v, float) else v)
                    for k, v in sums.items()
                }
            else:
                for k, v in sums.items():
                    zones[z][k] = zones[z][k] + v
    return zones


def prepare_uncertainty(
    config: RunConfig,
    grid: GridSpec,
    plan: InputPlan,
    engine: EngineSettings,
    work: Path,
    chunk: int,
) -> UncertaintySettings:
    """Create the members' per-cell result store and their settings.

    Parameters
    ----------
    config : RunConfig
        Configuration with an ``[uncertainty]`` section.
    grid : GridSpec
        Template grid.
    plan : InputPlan
        The run's inputs (they name the SOC/clay uncertainty layers the windows read).
    engine : EngineSettings
        The run's model choices.
    work : pathlib.Path
        Scratch folder (``uncertainty.zarr`` is created in it).
    chunk : int
        Window size [cells].
    """
    store = work / "uncertainty.zarr"
    us = uncertainty_settings(
        config, engine, grid, store, uncertainty_soc_kind(plan), "clay_sd" in plan.uncertainty
    )
    create_store(store, grid.shape, chunk, us)
    return us


def finish_uncertainty(
    us: UncertaintySettings, parts: list[dict[str, Any]], seconds: float, scheduler: str
) -> UncertaintyRun:
    """Collect the window tasks' member results: zone sums and what ran, for run.json."""
    cells = int(sum(p["cells"] for p in parts))
    rss = max([p["rss_kb"] for p in parts] + [_rss_kb()])
    batch_cells = max(1, us.row_budget // us.members)
    info = {
        "mode": us.mode,
        "members": us.members,
        "seed": us.seed if us.mode == "montecarlo" else None,
        "soc_source": us.soc_source,
        "cells": cells,
        "member_runs": cells * us.members,
        "rows_per_batch": batch_cells * us.members,
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(rss / 1024, 1),
        "scheduler": scheduler,
    }
    return UncertaintyRun(settings=us, zone_sums=combine_window_parts(parts), info=info)
