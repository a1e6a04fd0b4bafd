"""Uncertainty runs: the GSOCseq minimum/maximum runs, or a Monte Carlo ensemble per cell.

This module holds only what is uncertainty: the members' draws, the statistics over members
and the per-member zone sums. The members run through the one phase engine
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
from socseq.pipeline.config import RunConfig
from socseq.pipeline.draws import standard_normal
from socseq.pipeline.engine import CellInputs, EngineSettings, Members, Trajectories, simulate
from socseq.pipeline.inputs import SCRATCH_CODEC, InputPlan, Window, uncertainty_soc_kind
from socseq.pipeline.rates import absolute_rate, reaches_four_per_1000, relative_rate
from socseq.rothc.parameters import RothCParameters

__all__ = [
    "GSOCSEQ_FACTORS",
    "ROW_BUDGET",
    "STATISTICS",
    "UncertaintyRun",
    "UncertaintySettings",
    "combine_window_parts",
    "finish_uncertainty",
    "members_window",
    "prepare_uncertainty",
]

#: Rows (cells × members) per kernel batch; a running batch holds memory in proportion to it.
ROW_BUDGET = 200_000

#: Statistics over members, in the order of the ``statistic`` axis.
STATISTICS = ("mean", "median", "q05", "q95")

#: Published factors of the GSOCseq minimum / maximum runs (manual Table 12.1).
GSOCSEQ_FACTORS = {
    "temperature": (1.02, 0.98),
    "precipitation": (0.95, 1.05),
    "clay": (0.90, 1.10),
    "soc_relative": 0.20,
    "ssm_points": 0.15,
}

#: z of the 95 % quantile of the standard normal (q05/q95 bounds and fits).
Z95 = 1.6448536269514722


@dataclass(frozen=True)
class UncertaintySettings:
    """What an uncertainty window task needs (picklable, for process workers).

    Attributes
    ----------
    engine : EngineSettings
        The run's model choices and scenarios.
    cropland : tuple of int
        Classes counted as cropland in the 4-per-1000 shares.
    store : str
        ``uncertainty.zarr``: SOC/clay uncertainty layers in, per-cell results out.
    mode : str
        ``"gsocseq"`` or ``"montecarlo"``.
    members : int
        Members (2 in mode gsocseq: min, max).
    seed : int
        Key of the counter-based generator.
    width : int
        Grid width [cells], for the global cell index row · width + column.
    soc_source : str
        ``"relative"``, ``"sd"`` or ``"quantiles"`` (layers ``soc_sd``/``soc_q05``/``soc_q95``).
    soc_relative : float
        Relative SD (Monte Carlo) or bound half-width (gsocseq) with ``soc_source = "relative"``.
    soc_distribution : str
        ``"lognormal"`` or ``"normal"``.
    clay_relative_sd : float
        Relative SD of clay (ignored where the ``clay_sd`` layer is given) [-].
    has_clay_sd : bool
        Whether the store holds a clay SD layer [%].
    temperature_sd_degC, precipitation_sd, climate_shared : float, float, bool
        Temperature offset SD [°C], precipitation log-SD [-], one draw per member for all cells.
    input_sd, increase_sd, inputs_shared : float, float, bool
        BAU input log-SD, relative SD of the scenario increase, one draw per member.
    baseline_index : int
        Index of the reference scenario of the relative rates.
    parameter_sd : tuple of (str, float)
        Log-SD of the rate constants varied (one draw per member).
    row_budget : int
        Rows per kernel batch.
    """

    engine: EngineSettings
    cropland: tuple[int, ...]
    store: str
    mode: str
    members: int
    seed: int
    width: int
    soc_source: str
    soc_relative: float
    soc_distribution: str
    clay_relative_sd: float
    has_clay_sd: bool
    temperature_sd_degC: float  # noqa: N815
    precipitation_sd: float
    climate_shared: bool
    input_sd: float
    increase_sd: float
    inputs_shared: bool
    baseline_index: int = 0
    parameter_sd: tuple[tuple[str, float], ...] = ()
    row_budget: int = ROW_BUDGET

    @property
    def n_scenarios(self) -> int:
        """Forward scenarios."""
        return len(self.engine.scenarios)


# --------------------------------------------------------------------------------------------
# Member draws


def _normal(us: UncertaintySettings, stream: str, cells: np.ndarray, shared: bool) -> np.ndarray:
    members = np.arange(us.members)
    if shared:
        return np.broadcast_to(
            standard_normal(us.seed, stream, None, members)[None, :], (cells.size, us.members)
        )
    return standard_normal(us.seed, stream, cells[:, None], members[None, :])


def _soc_draw(
    us: UncertaintySettings, soc: np.ndarray, layers: dict[str, np.ndarray], z: np.ndarray
) -> np.ndarray:
    """SOC members [t C/ha] from the baseline and its uncertainty (Monte Carlo)."""
    base = soc[:, None]
    if us.soc_source == "quantiles":
        q05, q95 = layers["soc_q05"][:, None], layers["soc_q95"][:, None]
        ok = np.isfinite(q05) & np.isfinite(q95) & (q05 > 0) & (q95 >= q05)
        with np.errstate(invalid="ignore", divide="ignore"):
            if us.soc_distribution == "lognormal":
                value = np.sqrt(q05 * q95) * np.exp(np.log(q95 / q05) / (2 * Z95) * z)
            else:
                value = 0.5 * (q05 + q95) + (q95 - q05) / (2 * Z95) * z
        value = np.where(ok, value, base)
    else:
        sd = (
            us.soc_relative * base
            if us.soc_source == "relative"
            else np.nan_to_num(layers["soc_sd"])[:, None]
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            if us.soc_distribution == "lognormal":
                sigma2 = np.log1p((sd / base) ** 2)
                value = base * np.exp(np.sqrt(sigma2) * z - 0.5 * sigma2)
            else:
                value = base + sd * z
        # Zero spread reproduces the baseline bit for bit.
        value = np.where(sd > 0, value, base)
    return np.maximum(value, 0.01 * base)


def _draws(
    us: UncertaintySettings,
    cells: np.ndarray,
    soc: np.ndarray,
    clay: np.ndarray,
    layers: dict[str, np.ndarray],
    params: RothCParameters,
) -> Members:
    """Member perturbations of a batch of cells (global indices ``cells``).

    Scenario multipliers are relative to the member's BAU input, as the deterministic run's
    are relative to the BAU input: with zero spread a member is the deterministic cell.
    """
    b, m = cells.size, us.members
    mult = np.array([s.input_multiplier for s in us.engine.scenarios])
    base_m = mult[us.baseline_index]
    if us.mode == "gsocseq":
        f = GSOCSEQ_FACTORS
        row = np.ones((b, 1))
        if us.soc_source == "quantiles":
            lo, hi = layers["soc_q05"], layers["soc_q95"]
            ok = np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
            lo, hi = np.where(ok, lo, soc), np.where(ok, hi, soc)
        elif us.soc_source == "sd":
            sd = np.nan_to_num(layers["soc_sd"])
            lo, hi = soc - Z95 * sd, soc + Z95 * sd
        else:
            lo, hi = soc * (1 - us.soc_relative), soc * (1 + us.soc_relative)
        soc_m = np.maximum(np.stack([lo, hi], axis=1), 0.01 * soc[:, None])
        clay_m = np.clip(clay[:, None] * np.array(f["clay"])[None, :], 0, 100)
        points = np.array([-f["ssm_points"], f["ssm_points"]])
        ssm = np.arange(mult.size) != us.baseline_index
        shift = np.where(ssm, 1.0, 0.0)[:, None] * points[None, :]  # (S, 2)
        multipliers = np.broadcast_to((mult[:, None] + shift)[:, None, :], (mult.size, b, 2))
        return Members(
            soc=soc_m,
            clay=clay_m,
            t_factor=row * np.array(f["temperature"]),
            t_offset=np.zeros((b, 2)),
            p_factor=row * np.array(f["precipitation"]),
            input_factor=np.ones((b, 2)),
            multipliers=multipliers,
            params=[params, params],
        )
    soc_m = _soc_draw(us, soc, layers, _normal(us, "soc", cells, False))
    sd_clay = (
        np.nan_to_num(layers["clay_sd"])[:, None]
        if us.has_clay_sd
        else us.clay_relative_sd * clay[:, None]
    )
    clay_m = np.clip(clay[:, None] + sd_clay * _normal(us, "clay", cells, False), 0.0, 100.0)
    t_off = us.temperature_sd_degC * _normal(us, "temperature", cells, us.climate_shared)
    p_fac = np.exp(us.precipitation_sd * _normal(us, "precipitation", cells, us.climate_shared))
    u = np.exp(us.input_sd * _normal(us, "input", cells, us.inputs_shared))
    g = 1.0 + us.increase_sd * _normal(us, "increase", cells, us.inputs_shared)
    multipliers = (base_m * (1.0 + (mult[:, None, None] / base_m - 1.0) * g[None])).clip(min=0.0)
    member_params = [params] * m
    if us.parameter_sd:
        members = np.arange(m)
        factors = {
            name: np.exp(sd * standard_normal(us.seed, name, None, members))
            for name, sd in us.parameter_sd
        }
        member_params = [
            params.replace(
                **{name: getattr(params, name) * float(fac[j]) for name, fac in factors.items()}
            )
            for j in range(m)
        ]
    return Members(
        soc=soc_m,
        clay=clay_m,
        t_factor=np.ones((b, m)),
        t_offset=np.array(t_off),
        p_factor=np.array(p_fac),
        input_factor=np.array(u),
        multipliers=np.array(multipliers),
        params=member_params,
    )


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
        members = _draws(us, global_index[sel], part.soc, part.clay, part_layers, params)
        for idx in members.parameter_groups():
            result = simulate(us.engine, part, members, idx)
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
        out[name][..., ys, xs] = block

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


def uncertainty_settings(
    config: RunConfig,
    engine: EngineSettings,
    grid: GridSpec,
    store: Path,
    soc_kind: str,
    has_clay_sd: bool,
) -> UncertaintySettings:
    """Collect the window tasks' settings from the configuration."""
    unc = config.uncertainty
    assert unc is not None
    gsocseq = unc.mode == "gsocseq"
    relative = unc.soc.relative
    if relative is None:
        relative = GSOCSEQ_FACTORS["soc_relative"] if gsocseq else 0.1
    return UncertaintySettings(
        engine=engine,
        cropland=config.land_use.cropland,
        store=str(store),
        mode=unc.mode,
        members=2 if gsocseq else unc.members,
        seed=unc.seed,
        width=grid.width,
        soc_source=soc_kind,
        soc_relative=relative,
        soc_distribution=unc.soc.distribution,
        clay_relative_sd=unc.clay.relative_sd,
        has_clay_sd=has_clay_sd,
        temperature_sd_degC=unc.climate.temperature_sd_degC,
        precipitation_sd=unc.climate.precipitation_relative_sd,
        climate_shared=unc.climate.shared_over_space,
        input_sd=unc.inputs.relative_sd,
        increase_sd=unc.inputs.increase_relative_sd,
        inputs_shared=unc.inputs.shared_over_space,
        baseline_index=next(i for i, s in enumerate(config.scenarios) if s.is_baseline),
        parameter_sd=() if gsocseq else tuple(sorted(unc.parameters.active.items())),
    )


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
