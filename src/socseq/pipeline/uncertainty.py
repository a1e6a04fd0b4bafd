"""Uncertainty runs: the GSOCseq minimum/maximum runs, or a Monte Carlo ensemble per cell.

Both modes run every member through spin-up, warm-up and the forward scenarios with the same
engine calls as the deterministic run (:mod:`socseq.pipeline.phases`), cells × members stacked
as the rows of one vectorised kernel call, window by window on the run's
:class:`~socseq.pipeline.execute.Executor`. Inside a window the cells are processed in batches
of at most ``ROW_BUDGET // members`` cells, so memory follows the window (chunk size) and the
batch, never the domain; per-cell statistics and per-member zone sums leave the batch.

``mode = "gsocseq"`` (GSOCseq Technical Manual ch. 12, Table 12.1): two members, *min* and
*max*, with temperature × 1.02 / 0.98, precipitation × 0.95 / 1.05, clay × 0.9 / 1.1, SOC
× 0.8 / 1.2 (or the SOC uncertainty layer's bounds) and each SSM input multiplier ∓ 0.15
points (Cin_min × (m − 0.15), Cin_max × (m + 0.15)). Defects of the FAO scripts are fixed, not
copied (``docs/uncertainty.md``): each member's IOM follows its own SOC (Falloon), its NPP is
normalised by its own spin-up NPP, and the analytical spin-up varies climate as well.

``mode = "montecarlo"``: ``members`` draws per cell from the declared distributions
(:class:`~socseq.pipeline.config.UncertaintyConfig`) with the counter-based generator of
:mod:`socseq.pipeline.draws`, so results do not depend on windows, batches or schedulers.

The forward run is affine in the plant input from a common state (RothC is linear in pools
and inputs, and the moisture deficit does not depend on either), so scenarios that differ from
the baseline only by their input multiplier are not run: with SOC(1) the run at the member's
BAU input and SOC(0) the run without plant input, SOC(m) = m·SOC(1) + (1 − m)·SOC(0) exactly
(up to rounding). Two forward runs per member serve any number of such scenarios and any input
uncertainty.
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
from socseq.pipeline.inputs import NO_CLASS, SCRATCH_CODEC, StagedInputs, Window
from socseq.pipeline.npp import miami_npp_g_dm_m2
from socseq.pipeline.phases import (
    SIMULATED,
    PhaseSettings,
    _cover,
    _flat,
    _plant_cover,
    _rate_factor,
    _read,
)
from socseq.pipeline.rates import absolute_rate, reaches_four_per_1000, relative_rate
from socseq.progress import Progress
from socseq.rothc.equilibrium import equilibrium
from socseq.rothc.model import MonthlyForcing, RothCState, RunOptions, Soil, run
from socseq.rothc.parameters import RothCParameters

__all__ = [
    "GSOCSEQ_FACTORS",
    "ROW_BUDGET",
    "STATISTICS",
    "UncertaintyRun",
    "UncertaintySettings",
    "run_uncertainty",
    "uncertainty_window",
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
    phase : PhaseSettings
        The deterministic run's settings (stores, class table, scenarios, model options).
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

    phase: PhaseSettings
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
        return len(self.phase.scenarios)


# --------------------------------------------------------------------------------------------
# Member draws


@dataclass
class _Draws:
    """Per-cell, per-member perturbations of one batch (arrays ``(b, M)``)."""

    soc: np.ndarray
    clay: np.ndarray
    t_factor: np.ndarray
    t_offset: np.ndarray
    p_factor: np.ndarray
    input_factor: np.ndarray
    multipliers: np.ndarray  # (S, b, M) scenario input multiplier vs. the member's BAU
    params: list[RothCParameters]  # per member


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
) -> _Draws:
    """Member perturbations of a batch of cells (global indices ``cells``)."""
    b, m = cells.size, us.members
    mult = np.array([s.input_multiplier for s in us.phase.scenarios])
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
        multipliers = np.broadcast_to(
            (mult[:, None] + shift)[:, None, :] / base_m, (mult.size, b, 2)
        )
        return _Draws(
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
    multipliers = (1.0 + (mult[:, None, None] / base_m - 1.0) * g[None]).clip(min=0.0)
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
    return _Draws(
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
# The phases for cells × members


@dataclass
class _Cells:
    """Per-cell data of a batch (arrays over the batch's cells)."""

    classes: np.ndarray
    soc: np.ndarray
    clay: np.ndarray
    spin: dict[str, np.ndarray]  # (b, 12)
    npp_spin: np.ndarray
    npp_warm: np.ndarray  # (b, years)
    warm: dict[str, np.ndarray]  # (b, 12·years) float32
    fwd: dict[str, np.ndarray]  # (b, period)
    cover: np.ndarray  # (b, 12) spin-up / warm-up cover
    fwd_cover: np.ndarray
    yearly: np.ndarray  # (b, years) classes of the warm-up years
    fwd_classes: np.ndarray
    layers: dict[str, np.ndarray]


def _npp_ratio(npp_perturbed: np.ndarray, npp: np.ndarray) -> np.ndarray:
    """Perturbed over unperturbed NPP (1 exactly without perturbation, or where undefined)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = npp_perturbed / npp
    return np.where(np.isfinite(ratio), ratio, 1.0)


def _simulate(
    ps: PhaseSettings, c: _Cells, d: _Draws, members: np.ndarray, params: RothCParameters
) -> tuple[np.ndarray, np.ndarray]:
    """Spin-up, warm-up and forward of the batch's cells × ``members``.

    The kernel rows are cell-major (row ``i·k + j`` is member ``j`` of cell ``i``). Climate,
    cover and class tables stay per cell: each of their rows serves the ``k`` members of its
    cell, which add their temperature and rain perturbation as the kernel reads them
    (:class:`~socseq.rothc.RunOptions`), so only the carbon inputs exist per member.

    Returns
    -------
    t0 : numpy.ndarray
        ``(b, k)`` SOC at T0 [t C/ha].
    final : numpy.ndarray
        ``(S, b, k)`` SOC after the forward years per scenario [t C/ha].
    """
    b, k = c.soc.size, members.size

    def rows(values: np.ndarray) -> np.ndarray:
        """Per-cell values → rows (cell-major: row i·k + j)."""
        return np.repeat(values, k, axis=0)

    def per_member(values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values[:, members]).reshape(-1)

    t_fac, t_off, p_fac = d.t_factor[:, members], d.t_offset[:, members], d.p_factor[:, members]

    def member_npp(tas: np.ndarray, pr: np.ndarray) -> np.ndarray:
        """Member over cell MIAMI NPP of the cells' 12 months ``(b, 12)`` → rows.

        A member's annual mean temperature is its cell's times its factor plus its offset, its
        rain the cell's total times its factor.
        """
        t_mean = tas.astype(np.float64).mean(axis=-1)[:, None]
        p_total = pr.astype(np.float64).sum(axis=-1)[:, None]
        member = miami_npp_g_dm_m2(t_mean * t_fac + t_off, p_total * p_fac)
        return _npp_ratio(member.reshape(-1), rows(miami_npp_g_dm_m2(t_mean, p_total)[:, 0]))

    rate = rows(_rate_factor(ps, c.classes))

    def options(copies: int = 1) -> RunOptions:
        def rep(values: np.ndarray) -> np.ndarray:
            return np.tile(values, copies)

        return RunOptions(
            evap_coefficient=ps.evap_coefficient,
            rate_factor=rep(rate),
            temperature_scale=rep(per_member(d.t_factor)),
            temperature_offset_degC=rep(per_member(d.t_offset)),
            rain_scale=rep(per_member(d.p_factor)),
        )

    shares = np.asarray(ps.monthly_shares)
    soil = Soil(clay_pct=per_member(d.clay), depth_cm=ps.depth_cm)
    member_options = options()  # spin-up and warm-up

    # Spin-up: equilibrium with the member's climate, clay and SOC (IOM from its own SOC).
    forcing = MonthlyForcing(
        tmp_degC=c.spin["tas"],
        rain_mm=c.spin["pr"],
        evap_mm=c.spin["pet"],
        plant_cover=_plant_cover(c.cover, ps.bare_threshold),
        c_inp_t_ha=shares,
        dpm_rpm=ps.table.dpm_rpm[c.classes][:, None],
        cover_factor=c.cover,
    )
    eq = equilibrium(
        soil,
        forcing,
        target_soc=per_member(d.soc),
        method=ps.spinup_method,
        options=member_options,  # type: ignore[arg-type]
        params=params,
    )
    state = eq.state
    ceq = eq.annual_input_t_ha

    # Warm-up: NPP of the member's climate, normalised by its own spin-up NPP.
    n_years = ps.n_warmup_years
    npp_spin = rows(c.npp_spin) * member_npp(c.spin["tas"], c.spin["pr"])
    f_spin = rows(ps.table.npp_factor[c.classes])
    f_year = ps.table.npp_factor[rows(c.yearly)]
    npp_warm = rows(c.npp_warm).copy()
    annual = np.empty((b * k, n_years))
    for year in range(n_years):
        months = slice(12 * year, 12 * year + 12)
        year_tas, year_pr = c.warm["tas"][:, months], c.warm["pr"][:, months]
        npp_warm[:, year] *= member_npp(year_tas, year_pr)
        with np.errstate(divide="ignore", invalid="ignore"):
            year_input = ceq * (npp_warm[:, year] * f_year[:, year]) / (npp_spin * f_spin)
        annual[:, year] = np.where(np.isfinite(year_input), year_input, ceq)
        ycover = c.cover if ps.has_cover else ps.table.cover[c.yearly[:, year]]
        forcing = MonthlyForcing(
            tmp_degC=year_tas,
            rain_mm=year_pr,
            evap_mm=c.warm["pet"][:, months],
            plant_cover=_plant_cover(ycover, ps.bare_threshold),
            c_inp_t_ha=annual[:, year : year + 1] * shares[None, :],
            dpm_rpm=ps.table.dpm_rpm[c.yearly[:, year]][:, None],
            cover_factor=ycover,
        )
        state = run(
            soil, forcing, 12, state=state, record="end", options=member_options, params=params
        ).state
    t0 = state.soc
    c_bau = annual.mean(axis=1) * per_member(d.input_factor)

    # Forward: the BAU input and no plant input (linear scenarios), plus explicit scenarios.
    # The runs are stacked run-major, so the per-cell forcing is stacked as often.
    mult = d.multipliers[:, :, members].reshape(len(ps.scenarios), -1)  # (S, rows)
    plain = [s.fym_t_ha == 0 and s.cover_factor is None for s in ps.scenarios]
    runs: list[tuple[np.ndarray, float, Any]] = [
        (np.ones(b * k), 0.0, None),
        (np.zeros(b * k), 0.0, None),
    ]
    explicit = {}
    for i, s in enumerate(ps.scenarios):
        if not plain[i]:
            explicit[i] = len(runs)
            runs.append((mult[i], s.fym_t_ha, s.cover_factor))
    n_run = len(runs)

    def stack(arr: np.ndarray) -> np.ndarray:
        return np.concatenate([arr] * n_run, axis=0)

    c_inp = np.concatenate([(m * c_bau)[:, None] * shares[None, :] for m, _, _ in runs])
    fym = np.concatenate([np.broadcast_to(f * shares[None, :], (b, 12)) for _, f, _ in runs])
    fcover = np.concatenate(
        [
            c.fwd_cover
            if cf is None
            else np.broadcast_to(np.resize(np.asarray(cf, float), 12), (b, 12))
            for _, _, cf in runs
        ]
    )
    f_soil = Soil(clay_pct=stack(per_member(d.clay)), depth_cm=ps.depth_cm)
    dpm_rpm = stack(ps.table.dpm_rpm[c.fwd_classes][:, None])
    big = RothCState(
        pools=stack(state.pools),
        iom=stack(state.iom),
        smd=stack(state.smd),
        co2=np.zeros(b * k * n_run),
    )
    period = c.fwd["tas"].shape[1]
    f_options = options(n_run)

    def fwd_forcing(months: slice) -> MonthlyForcing:
        return MonthlyForcing(
            tmp_degC=stack(c.fwd["tas"][:, months]),
            rain_mm=stack(c.fwd["pr"][:, months]),
            evap_mm=stack(c.fwd["pet"][:, months]),
            plant_cover=_plant_cover(fcover, ps.bare_threshold),
            c_inp_t_ha=c_inp,
            fym_t_ha=fym,
            dpm_rpm=dpm_rpm,
            cover_factor=fcover,
        )

    years = ps.forward_years
    if period == 12:
        end = run(
            f_soil,
            fwd_forcing(slice(0, 12)),
            12 * years,
            state=big,
            record="end",
            options=f_options,
            params=params,
        ).soc[:, 0]
    else:
        for year in range(years):
            big = run(
                f_soil,
                fwd_forcing(slice(12 * year, 12 * year + 12)),
                12,
                state=big,
                record="end",
                options=f_options,
                params=params,
            ).state
        end = big.soc
    end = end.reshape(n_run, b * k)
    one, zero = end[0], end[1]
    final = np.empty((len(ps.scenarios), b * k))
    for i in range(len(ps.scenarios)):
        final[i] = end[explicit[i]] if i in explicit else mult[i] * one + (1.0 - mult[i]) * zero
    return t0.reshape(b, k), final.reshape(len(ps.scenarios), b, k)


# --------------------------------------------------------------------------------------------
# Window task


def _read_cells(us: UncertaintySettings, window: Window, cells: np.ndarray) -> _Cells:
    ps = us.phase
    inp = zarr.open_group(ps.inputs, mode="r")
    unc = zarr.open_group(us.store, mode="r")
    classes = _read(inp, "land_use", window).astype(np.int64)[cells]
    n_years = ps.n_warmup_years
    if ps.has_yearly_land_use:
        yearly = _flat(_read(inp, "land_use_yearly", window, lead=True), cells).astype(np.int64)
        yearly = np.where(
            (yearly == NO_CLASS) | np.isnan(ps.table.npp_factor[np.clip(yearly, 0, 255)]),
            classes[:, None],
            yearly,
        )
        raw_last = _flat(_read(inp, "land_use_yearly", window, lead=True)[-1:], cells)[:, 0]
        raw_last = raw_last.astype(np.int64)
        keep = (raw_last != NO_CLASS) & np.isfinite(ps.table.npp_factor[np.clip(raw_last, 0, 255)])
        fwd_classes = np.where(keep, raw_last, classes)
    else:
        yearly = np.repeat(classes[:, None], n_years, axis=1)
        fwd_classes = classes
    ys, xs = window.slices

    def series(name: str) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(inp[name][:, ys, xs])[:, cells].T)

    layers = {
        name: _flat(_read(unc, name, window), cells)
        for name in ("soc_sd", "soc_q05", "soc_q95", "clay_sd")
        if name in unc
    }
    return _Cells(
        classes=classes,
        soc=_flat(_read(inp, "soc", window), cells),
        clay=_flat(_read(inp, "clay", window), cells),
        spin={
            k: _flat(_read(inp, f"spin_{k}", window, lead=True), cells)
            for k in ("tas", "pr", "pet")
        },
        npp_spin=_flat(_read(inp, "npp_spin", window), cells),
        npp_warm=_flat(_read(inp, "npp_warm", window, lead=True), cells),
        warm={k: series(f"warm_{k}") for k in ("tas", "pr", "pet")},
        fwd={k: series(f"fwd_{k}") for k in ("tas", "pr", "pet")},
        cover=_cover(ps, inp, window, cells, classes),
        fwd_cover=_cover(ps, inp, window, cells, fwd_classes),
        yearly=yearly,
        fwd_classes=fwd_classes,
        layers=layers,
    )


def _take(c: _Cells, sel: slice) -> _Cells:
    def cut(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v[sel] for k, v in value.items()}
        return value[sel]

    return _Cells(**{name: cut(getattr(c, name)) for name in c.__dataclass_fields__})


def _quantiles(values: np.ndarray) -> np.ndarray:
    """``(..., M)`` → ``(4, ...)`` mean, median, 5 % and 95 % over members."""
    q = np.quantile(values, [0.5, 0.05, 0.95], axis=-1)
    return np.concatenate([values.mean(axis=-1)[None], q])


def window_members(
    us: UncertaintySettings, window: Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray, _Cells | None]:
    """Run every member of a window's simulated cells, batch by batch.

    Returns
    -------
    cells : numpy.ndarray
        ``(rows, cols)`` bool, the simulated cells of the window.
    t0 : numpy.ndarray
        ``(n, M)`` SOC at T0 of each cell and member [t C/ha].
    final : numpy.ndarray
        ``(S, n, M)`` SOC after the forward years [t C/ha].
    data : _Cells or None
        The cells' inputs (None without simulated cells).
    """
    ps = us.phase
    main = zarr.open_group(ps.results, mode="r")
    cells = _read(main, "reason", window) == SIMULATED
    n = int(cells.sum())
    S, M = us.n_scenarios, us.members
    t0_all = np.empty((n, M))
    final_all = np.empty((S, n, M))
    if n == 0:
        return cells, t0_all, final_all, None
    gidx = (
        np.arange(window.y0, window.y1)[:, None] * us.width
        + np.arange(window.x0, window.x1)[None, :]
    )[cells]
    data = _read_cells(us, window, cells)
    params = ps.params
    batch = max(1, us.row_budget // M)
    for start in range(0, n, batch):
        sel = slice(start, min(n, start + batch))
        part = _take(data, sel)
        draws = _draws(us, gidx[sel], part.soc, part.clay, part.layers, params)
        groups: dict[int, list[int]] = {}
        for j, p in enumerate(draws.params):
            groups.setdefault(id(p), []).append(j)
        for members in groups.values():
            idx = np.asarray(members)
            t0, final = _simulate(ps, part, draws, idx, draws.params[idx[0]])
            t0_all[sel][:, idx] = t0
            final_all[:, sel][:, :, idx] = final
    return cells, t0_all, final_all, data


def uncertainty_window(us: UncertaintySettings, window: Window) -> dict[str, Any]:
    """Run the members of one window's simulated cells; store per-cell results.

    Writes per-cell statistics (Monte Carlo) or the min/max stocks (gsocseq) into
    ``us.store`` and returns per-member zone sums.

    Returns
    -------
    dict
        ``{"zones": {zone: {"area", "crop_area", "t0" (M+1,), "final" (S, M+1),
        "reach" (S, M+1)}}, "cells", "rss_kb", "seconds"}``; the last member column is the
        deterministic run. Areas in ha, sums in ha·t C/ha.
    """
    started = time.perf_counter()
    ps = us.phase
    inp = zarr.open_group(ps.inputs, mode="r")
    main = zarr.open_group(ps.results, mode="r")
    out = zarr.open_group(us.store, mode="r+")
    ys, xs = window.slices
    cells, t0_all, final_all, data = window_members(us, window)
    n = int(cells.sum())
    result: dict[str, Any] = {"zones": {}, "cells": n}
    if n == 0:
        result.update(rss_kb=_rss_kb(), seconds=time.perf_counter() - started)
        return result
    main_soc = np.asarray(main["soc"][:, :, ys, xs])
    central_t0 = main_soc[0, 0][cells]
    central_final = main_soc[:, ps.forward_years][:, cells]  # (S, n)
    years = ps.forward_years
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
        block[..., cells] = values
        out[name][..., ys, xs] = block

    # Per-member zone sums (the deterministic run as the last column).
    area = _flat(_read(inp, "area_ha", window), cells)
    assert data is not None
    crop = np.isin(data.classes, ps.cropland)
    zones = _read(inp, "zones", window)[cells] if "zones" in inp else np.full(n, -1, np.int32)
    t0_ext = np.concatenate([t0_all, central_t0[:, None]], axis=1)  # (n, M+1)
    fin_ext = np.concatenate([final_all, central_final[:, :, None]], axis=2)
    reach_ext = reaches_four_per_1000(absolute_rate(fin_ext, t0_ext[None], years), t0_ext[None])
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
        Combined per-member zone sums (see :func:`uncertainty_window`).
    info : dict
        What ran, how long and with how much memory (for ``run.json`` and the progress).
    """

    settings: UncertaintySettings
    zone_sums: dict[int, dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)

    def write(
        self,
        config: RunConfig,
        grid: GridSpec,
        inputs: zarr.Group,
        results: zarr.Group,
        stage: Path,
    ) -> list[str]:
        """Write the products into ``stage/uncertainty``; return their relative paths."""
        from socseq.pipeline.uncertainty_products import write_uncertainty_products

        return write_uncertainty_products(self, config, grid, inputs, results, stage)


def _stage_layers(
    config: RunConfig, grid: GridSpec, staged: StagedInputs, store: Path, prediction: Any
) -> tuple[str, bool]:
    """Write the SOC/clay uncertainty layers the members need into ``store``."""
    from socseq.pipeline.inputs import _physical

    unc = config.uncertainty
    assert unc is not None
    g = zarr.open_group(str(store), mode="w")
    chunk = (staged.chunk, staged.chunk)

    def put(name: str, values: np.ndarray) -> None:
        g.create_array(
            name,
            shape=grid.shape,
            chunks=chunk,
            dtype="float64",
            fill_value=np.nan,
            compressors=SCRATCH_CODEC,
        )[:] = values

    source = unc.soc.source
    if source == "auto":
        source = "dsm_quantiles" if config.dsm is not None else "relative"
    kind = "relative"
    if source in ("dsm_sd", "dsm_quantiles"):
        if prediction is None:
            raise ValueError("uncertainty.soc: the DSM prediction is not available")
        if source == "dsm_sd":
            put("soc_sd", np.asarray(prediction["soc_sd_t_ha"].values, np.float64))
            kind = "sd"
        else:
            put("soc_q05", np.asarray(prediction["soc_q05_t_ha"].values, np.float64))
            put("soc_q95", np.asarray(prediction["soc_q95_t_ha"].values, np.float64))
            kind = "quantiles"
    elif source == "sd_layer":
        assert unc.soc.sd is not None
        put("soc_sd", _physical(unc.soc.sd, "uncertainty.soc.sd", "soc_t_ha", grid))
        kind = "sd"
    elif source == "quantile_layers":
        assert unc.soc.q05 is not None and unc.soc.q95 is not None
        put("soc_q05", _physical(unc.soc.q05, "uncertainty.soc.q05", "soc_t_ha", grid))
        put("soc_q95", _physical(unc.soc.q95, "uncertainty.soc.q95", "soc_t_ha", grid))
        kind = "quantiles"
    has_clay_sd = unc.mode == "montecarlo" and unc.clay.sd is not None
    if has_clay_sd:
        assert unc.clay.sd is not None
        put("clay_sd", _physical(unc.clay.sd, "uncertainty.clay.sd", "clay_pct", grid))
    return kind, has_clay_sd


def uncertainty_settings(
    config: RunConfig,
    phase: PhaseSettings,
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
        phase=phase,
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


def _combine(parts: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
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


def run_uncertainty(
    config: RunConfig,
    grid: GridSpec,
    staged: StagedInputs,
    phase: PhaseSettings,
    tiles: list[Window],
    executor: Any,
    work: Path,
    prediction: Any = None,
    progress: Progress | None = None,
) -> UncertaintyRun:
    """Run the uncertainty members over every window with the run's executor.

    Parameters
    ----------
    config : RunConfig
        Configuration with an ``[uncertainty]`` section.
    grid : GridSpec
        Template grid.
    staged : StagedInputs
        The staged inputs.
    phase : PhaseSettings
        The deterministic run's settings; its results store must hold the forward stocks.
    tiles : list of Window
        The run's windows.
    executor : Executor
        Where the window tasks run.
    work : pathlib.Path
        Scratch folder (``uncertainty.zarr`` is created in it).
    prediction : xarray.Dataset, optional
        The ``[dsm]`` prediction (SD and quantiles of the SOC baseline).
    progress : callable, optional
        ``progress("uncertainty", done, total)``; a last line reports members, rows per
        batch, time and peak memory.

    Returns
    -------
    UncertaintyRun
    """
    started = time.perf_counter()
    store = work / "uncertainty.zarr"
    soc_kind, has_clay_sd = _stage_layers(config, grid, staged, store, prediction)
    us = uncertainty_settings(config, phase, grid, store, soc_kind, has_clay_sd)
    create_store(store, grid.shape, staged.chunk, us)
    report = None if progress is None else (lambda d, t: progress("uncertainty", d, t))
    parts = executor.map(uncertainty_window, us, tiles, report)
    seconds = time.perf_counter() - started
    cells = int(sum(p["cells"] for p in parts))
    rss = max([p["rss_kb"] for p in parts] + [_rss_kb()])
    batch_cells = max(1, us.row_budget // us.members)
    info = {
        "mode": us.mode,
        "members": us.members,
        "seed": us.seed if us.mode == "montecarlo" else None,
        "soc_source": soc_kind,
        "cells": cells,
        "member_runs": cells * us.members,
        "rows_per_batch": batch_cells * us.members,
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(rss / 1024, 1),
        "scheduler": executor.description,
    }
    if progress is not None:
        progress(
            f"uncertainty: {us.members} members × {cells:,} cells in {seconds:.0f} s, "
            f"batches of {batch_cells * us.members:,} rows, peak RSS {rss / 1024:,.0f} MB",
            1,
            1,
        )
    return UncertaintyRun(settings=us, zone_sums=_combine(parts), info=info)
