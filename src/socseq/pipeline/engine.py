"""The GSOCseq phases on rows of (cell × member × run): one engine for every kind of run.

A deterministic run is the one-member ensemble: :meth:`Members.identity` perturbs nothing
(temperature × 1 + 0, rain × 1, the cell's own SOC, clay and input), and the kernel then
computes exactly the numbers a run without members would, bit for bit. Monte Carlo and the
GSOCseq minimum/maximum runs (:mod:`socseq.pipeline.uncertainty`) only draw other members.

Method (GSOCseq Technical Manual ch. 5–6 with the numerical defects of the FAO scripts fixed,
``docs/pipeline.md``):

- **Spin-up**: 12 monthly means of the spin-up climate, the cell's class DPM/RPM and cover;
  the exact periodic equilibrium whose SOC equals the member's baseline (IOM = 0.049·SOC^1.139,
  Falloon et al. 1998), fitting the annual plant input Ceq in one linear step.
- **Warm-up**: month by month with the monthly climate of each year; the input of year w is
  C_w = Ceq · (NPP_w · f_w) / (NPP_spin · f_spin) with MIAMI NPP (Lieth 1975) and the class NPP
  factor f of the year's land use. T0 is the state at the end of the warm-up; the moisture
  deficit carries over from phase to phase. One kernel call runs as many whole years as
  :data:`WARMUP_BLOCK_ROW_MONTHS` allows (the same bits as one call per year).
- **Forward**: from T0 with the forward climate (mean of the warm-up years, or a future
  series). The BAU input is the mean warm-up input. RothC is affine in pools and inputs from a
  common state and the moisture deficit depends on neither, so a scenario that only scales the
  plant input by m is m·SOC(BAU input) + (1 − m)·SOC(no input), exactly up to rounding: two
  kernel runs serve every such scenario; scenarios with manure or another cover run on their own.

Rows are cell-major (row ``i·k + j`` is member ``j`` of cell ``i``); climate, cover and class
tables stay per cell (one forcing row serves the ``k`` members of its cell, which add their
temperature and rain perturbation as the kernel reads them), so only the carbon inputs exist
per member.
"""

# Long module: the three phases and the types they share (cells, members, trajectories) are one
# engine, kept together so that deterministic and ensemble runs cannot drift apart.

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from socseq.pipeline.balance import CarbonLedger
from socseq.pipeline.landuse import ClassTable
from socseq.pipeline.npp import miami_npp_g_dm_m2
from socseq.rothc.equilibrium import Equilibrium, equilibrium
from socseq.rothc.model import MonthlyForcing, RothCState, RunOptions, Soil, run
from socseq.rothc.parameters import RothCParameters

__all__ = [
    "CellInputs",
    "EngineSettings",
    "Members",
    "ScenarioSpec",
    "Trajectories",
    "simulate",
]

FloatArray = np.ndarray


@dataclass(frozen=True)
class ScenarioSpec:
    """A forward scenario as the engine needs it (from ``[[scenarios]]`` of the configuration).

    Attributes
    ----------
    name : str
    input_multiplier : float
        Plant input relative to the BAU input (mean warm-up input) [-].
    fym_t_ha : float
        Farmyard manure carbon added per year [t C/ha/yr], spread like the plant input.
    cover_factor : tuple of float or None
        12 monthly cover factors replacing the cell's cover, or None.
    """

    name: str
    input_multiplier: float
    fym_t_ha: float
    cover_factor: tuple[float, ...] | None

    @property
    def scales_input_only(self) -> bool:
        """Whether the scenario differs from the baseline only by its plant input."""
        return self.fym_t_ha == 0 and self.cover_factor is None


@dataclass(frozen=True)
class EngineSettings:
    """The model choices of a run (picklable, for process workers).

    Attributes
    ----------
    table : ClassTable
        DPM/RPM, NPP factor, paddy flag and monthly cover per land-use class.
    paddy_rate_factor : float
        Decomposition-rate factor of paddy cells [-].
    evap_coefficient : float
        1.0 for potential evapotranspiration, 0.75 for open-pan evaporation.
    spinup_method : str
        ``"exact"``, ``"dechow"`` or ``"rothamsted"``.
    monthly_shares : tuple of float
        How the annual plant input is spread over the 12 months [-].
    constants : str
        ``"official"`` (Fortran float32 literals) or ``"decimal"``.
    depth_cm : float
        Modelled soil depth [cm].
    bare_threshold : float
        Cover factor above which a month is bare for the moisture model [-].
    scenarios : tuple of ScenarioSpec
    n_warmup_years, forward_years : int
    """

    table: ClassTable
    paddy_rate_factor: float
    evap_coefficient: float
    spinup_method: str
    monthly_shares: tuple[float, ...]
    constants: str
    depth_cm: float
    bare_threshold: float
    scenarios: tuple[ScenarioSpec, ...]
    n_warmup_years: int
    forward_years: int

    @property
    def params(self) -> RothCParameters:
        """Model constants."""
        return (
            RothCParameters.rothamsted()
            if self.constants == "official"
            else RothCParameters.decimal()
        )


@dataclass
class CellInputs:
    """Everything the phases need of a batch of cells (arrays over the batch's ``b`` cells).

    Attributes
    ----------
    classes : numpy.ndarray
        ``(b,)`` land-use class of the spin-up (the land-use map) [FAO code].
    soc : numpy.ndarray
        ``(b,)`` baseline SOC stock [t C/ha].
    clay : numpy.ndarray
        ``(b,)`` clay content [%].
    spin : dict of str to numpy.ndarray
        ``tas`` [degC], ``pr`` [mm], ``pet`` [mm]: ``(b, 12)`` spin-up monthly means.
    npp_spin : numpy.ndarray
        ``(b,)`` mean annual MIAMI NPP of the spin-up years [g DM/m2/yr].
    warm : dict of str to numpy.ndarray
        ``(b, 12·years)`` warm-up monthly climate.
    npp_warm : numpy.ndarray
        ``(b, years)`` MIAMI NPP of each warm-up year [g DM/m2/yr].
    fwd : dict of str to numpy.ndarray
        ``(b, period)`` forward climate: 12 monthly means or a future series.
    cover : numpy.ndarray
        ``(b, 12)`` monthly cover factor of the spin-up [-].
    warm_cover : numpy.ndarray or None
        ``(b, 12)`` cover of every warm-up year (a cover raster or NDVI), or None for the cover
        of each year's class.
    fwd_cover : numpy.ndarray
        ``(b, 12)`` cover of the forward runs [-].
    yearly : numpy.ndarray
        ``(b, years)`` land-use class of each warm-up year.
    fwd_classes : numpy.ndarray
        ``(b,)`` land-use class of the forward runs (the last warm-up year's).
    grid_rc : numpy.ndarray or None
        ``(b, 2)`` grid row and column of each cell, to name it in a carbon-balance error
        (None: the cell's index in the batch is named instead).
    """

    classes: np.ndarray
    soc: FloatArray
    clay: FloatArray
    spin: dict[str, FloatArray]
    npp_spin: FloatArray
    warm: dict[str, FloatArray]
    npp_warm: FloatArray
    fwd: dict[str, FloatArray]
    cover: FloatArray
    warm_cover: FloatArray | None
    fwd_cover: FloatArray
    yearly: np.ndarray
    fwd_classes: np.ndarray
    grid_rc: np.ndarray | None = None

    @property
    def n_cells(self) -> int:
        """Cells of the batch."""
        return int(self.soc.size)

    def take(self, sel: slice | np.ndarray) -> CellInputs:
        """Return the inputs of the cells ``sel``."""

        def cut(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, dict):
                return {k: v[sel] for k, v in value.items()}
            return value[sel]

        return CellInputs(**{f.name: cut(getattr(self, f.name)) for f in fields(self)})


@dataclass
class Members:
    """Perturbations of ``k`` members per cell (arrays ``(b, k)``).

    Attributes
    ----------
    soc, clay : numpy.ndarray
        The members' baseline SOC [t C/ha] and clay [%].
    t_factor, t_offset, p_factor : numpy.ndarray
        Climate as the kernel reads it: ``T·t_factor + t_offset`` [degC], ``rain·p_factor``.
    input_factor : numpy.ndarray
        Multiplier of the BAU input (mean warm-up input) [-].
    multipliers : numpy.ndarray
        ``(S, b, k)`` plant input of each scenario relative to the member's BAU input.
    params : list of RothCParameters
        Model constants of each member.
    """

    soc: FloatArray
    clay: FloatArray
    t_factor: FloatArray
    t_offset: FloatArray
    p_factor: FloatArray
    input_factor: FloatArray
    multipliers: FloatArray
    params: list[RothCParameters]

    @classmethod
    def identity(cls, cells: CellInputs, settings: EngineSettings) -> Members:
        """One member per cell that perturbs nothing: the deterministic run."""
        b = cells.n_cells
        ones = np.ones((b, 1))
        mult = np.array([s.input_multiplier for s in settings.scenarios])
        return cls(
            soc=cells.soc[:, None].copy(),
            clay=cells.clay[:, None].copy(),
            t_factor=ones,
            t_offset=np.zeros((b, 1)),
            p_factor=ones,
            input_factor=ones,
            multipliers=np.broadcast_to(mult[:, None, None], (mult.size, b, 1)).copy(),
            params=[settings.params],
        )

    def parameter_groups(self) -> list[np.ndarray]:
        """Member indices that share their constants (one kernel call each)."""
        groups: dict[int, list[int]] = {}
        for j, p in enumerate(self.params):
            groups.setdefault(id(p), []).append(j)
        return [np.asarray(g) for g in groups.values()]


@dataclass
class Trajectories:
    """What the phases produce for ``b`` cells × ``k`` members.

    Attributes
    ----------
    ceq : numpy.ndarray
        ``(b, k)`` fitted equilibrium plant input [t C/ha/yr].
    c_bau : numpy.ndarray
        ``(b, k)`` BAU input, the mean warm-up input [t C/ha/yr].
    warmup : numpy.ndarray
        ``(b, k, n_warmup_years)`` SOC at the end of each warm-up year [t C/ha].
    t0 : numpy.ndarray
        ``(b, k)`` SOC at T0, the end of the warm-up [t C/ha].
    forward : numpy.ndarray
        ``(S, b, k, forward_years)`` SOC at the end of each forward year, or ``(S, b, k, 1)``
        at the end of the last (``forward_record="end"``) [t C/ha].
    balance : dict of str to float
        Worst relative residual of the carbon balance per phase (``"spin-up"``, ``"warm-up"``,
        ``"forward"``; :mod:`socseq.pipeline.balance`); empty when the check was off.
    """

    ceq: FloatArray
    c_bau: FloatArray
    warmup: FloatArray
    t0: FloatArray
    forward: FloatArray
    balance: dict[str, float] = field(default_factory=dict)


def rate_factor(settings: EngineSettings, classes: np.ndarray) -> FloatArray:
    """Decomposition-rate factor per cell: the paddy factor on paddy classes, else 1."""
    paddy = settings.table.paddy[np.clip(classes, 0, 255)]
    return np.where(paddy, settings.paddy_rate_factor, 1.0)


def plant_cover(cover: FloatArray, bare_threshold: float) -> FloatArray:
    """Moisture-model flag: 1 covered, 0 bare (factor above the threshold), GSOCseq rule."""
    return (cover <= bare_threshold).astype(np.float64)


class _Clock:
    """Adds the seconds since the last lap to a named entry of ``timings`` (if given)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now


def _npp_ratio(perturbed: FloatArray, npp: FloatArray) -> FloatArray:
    """Perturbed over unperturbed NPP (1 exactly without perturbation, or where undefined)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = perturbed / npp
    return np.where(np.isfinite(ratio), ratio, 1.0)


def simulate(
    settings: EngineSettings,
    cells: CellInputs,
    members: Members,
    which: np.ndarray | None = None,
    timings: dict[str, float] | None = None,
    forward_record: Literal["year", "end"] = "year",
) -> Trajectories:
    """Spin-up, warm-up and forward scenarios of ``cells`` × the members ``which``.

    Parameters
    ----------
    settings : EngineSettings
    cells : CellInputs
        The batch's cells.
    members : Members
        Perturbations ``(b, K)``.
    which : numpy.ndarray, optional
        Indices of the members to run (they must share their constants); default all.
    timings : dict, optional
        Seconds spent in ``"spin-up"``, ``"warm-up"`` and ``"forward"`` are added to it.
    forward_record : {"year", "end"}
        Keep the forward stocks of every year, or of the last only (uncertainty members, whose
        products use the final stocks: a fifth of an ensemble's time went to the yearly
        records of the stacked forward runs and their combination).

    Returns
    -------
    Trajectories
        Arrays over ``(b, k)`` with ``k = len(which)``; ``forward`` has one year per record.
    """
    which = np.arange(members.soc.shape[1]) if which is None else np.asarray(which)
    clock = _Clock(timings)
    params = members.params[int(which[0])]
    b, k = cells.n_cells, which.size
    ts = settings
    shares = np.asarray(ts.monthly_shares)

    def rows(values: np.ndarray) -> np.ndarray:
        """Per-cell values → rows (cell-major: row i·k + j)."""
        return np.repeat(values, k, axis=0)

    def per_member(values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values[:, which]).reshape(-1)

    t_fac = members.t_factor[:, which]
    t_off = members.t_offset[:, which]
    p_fac = members.p_factor[:, which]

    unperturbed = bool(np.all(t_fac == 1.0) and np.all(t_off == 0.0) and np.all(p_fac == 1.0))

    def member_npp(tas: np.ndarray, pr: np.ndarray) -> np.ndarray:
        """Member over cell MIAMI NPP of the cells' 12 months ``(b, 12)`` → rows.

        A member's annual mean temperature is its cell's times its factor plus its offset,
        its rain the cell's total times its factor. Unperturbed members (the deterministic
        run) have the ratio 1 exactly, which :func:`_npp_ratio` would compute at length.
        """
        if unperturbed:
            return np.ones(b * k)
        t_mean = tas.mean(axis=-1)[:, None]
        p_total = pr.sum(axis=-1)[:, None]
        member = miami_npp_g_dm_m2(t_mean * t_fac + t_off, p_total * p_fac)
        return _npp_ratio(member.reshape(-1), rows(miami_npp_g_dm_m2(t_mean, p_total)[:, 0]))

    rate = rows(rate_factor(ts, cells.classes))

    def options(copies: int = 1) -> RunOptions:
        def rep(values: np.ndarray) -> np.ndarray:
            return np.tile(values, copies)

        return RunOptions(
            evap_coefficient=ts.evap_coefficient,
            rate_factor=rep(rate),
            temperature_scale=rep(per_member(members.t_factor)),
            temperature_offset_degC=rep(per_member(members.t_offset)),
            rain_scale=rep(per_member(members.p_factor)),
        )

    soil = Soil(clay_pct=per_member(members.clay), depth_cm=ts.depth_cm)
    member_options = options()

    # Spin-up: equilibrium with the member's climate, clay and SOC (IOM from its own SOC).
    forcing = MonthlyForcing(
        tmp_degC=cells.spin["tas"],
        rain_mm=cells.spin["pr"],
        evap_mm=cells.spin["pet"],
        plant_cover=plant_cover(cells.cover, ts.bare_threshold),
        c_inp_t_ha=shares,
        dpm_rpm=ts.table.dpm_rpm[cells.classes][:, None],
        cover_factor=cells.cover,
    )
    eq = equilibrium(
        soil,
        forcing,
        target_soc=per_member(members.soc),
        method=ts.spinup_method,  # type: ignore[arg-type]
        options=member_options,
        params=params,
    )
    state = eq.state
    ceq = eq.annual_input_t_ha
    ledger = CarbonLedger.for_rows(
        per_member(members.clay), params, _locator(cells, members, which)
    )
    _check_spinup(ledger, ts, soil, forcing, eq, member_options, params)
    clock.lap("spin-up")

    # Warm-up: NPP of the member's climate, normalised by its own spin-up NPP.
    n_years = ts.n_warmup_years
    npp_spin = rows(cells.npp_spin) * member_npp(cells.spin["tas"], cells.spin["pr"])
    f_spin = rows(ts.table.npp_factor[cells.classes])
    f_year = ts.table.npp_factor[rows(cells.yearly)]
    annual = np.empty((b * k, n_years))
    for year in range(n_years):
        months = slice(12 * year, 12 * year + 12)
        year_tas, year_pr = cells.warm["tas"][:, months], cells.warm["pr"][:, months]
        npp_year = rows(cells.npp_warm[:, year]) * member_npp(year_tas, year_pr)
        with np.errstate(divide="ignore", invalid="ignore"):
            year_input = ceq * (npp_year * f_year[:, year]) / (npp_spin * f_spin)
        annual[:, year] = np.where(np.isfinite(year_input), year_input, ceq)
    warm_soc = np.empty((b * k, n_years))
    warm_co2 = np.empty((b * k, n_years))
    for first, last in _year_blocks(n_years, b * k):
        result = run(
            soil,
            _warmup_forcing(ts, cells, annual, first, last),
            12 * (last - first),
            state=state,
            record="year",
            options=member_options,
            params=params,
        )
        state = result.state
        warm_soc[:, first:last] = result.soc
        warm_co2[:, first:last] = result.co2
    ledger.check(
        "warm-up",
        eq.state.soc,
        warm_soc,
        np.cumsum(annual * shares.sum(), axis=1),
        warm_co2 - eq.state.co2[:, None],
        [f"year {y + 1} of {n_years}" for y in range(n_years)],
    )
    t0 = state.soc
    c_bau = annual.mean(axis=1) * per_member(members.input_factor)
    clock.lap("warm-up")

    forward, forward_co2 = _forward(
        ts, cells, members, which, state, c_bau, options, params, forward_record
    )
    _check_forward(ledger, ts, members.multipliers[:, :, which], t0, c_bau, forward, forward_co2)
    clock.lap("forward")
    return Trajectories(
        ceq=ceq.reshape(b, k),
        c_bau=c_bau.reshape(b, k),
        warmup=warm_soc.reshape(b, k, n_years),
        t0=t0.reshape(b, k),
        forward=forward.reshape(len(ts.scenarios), b, k, -1),
        balance=ledger.worst,
    )


#: Rows × months of forcing one warm-up kernel call may hold per variable (8 MB of float64):
#: small batches run several years per call, which spares the per-call set-up, while a
#: window's forcing copies stay bounded whatever the warm-up length or the ensemble size.
WARMUP_BLOCK_ROW_MONTHS = 2**20


def _year_blocks(n_years: int, n_rows: int) -> list[tuple[int, int]]:
    """Consecutive ``(first, last)`` warm-up years (last excluded) run by one kernel call."""
    per_call = max(1, min(n_years, WARMUP_BLOCK_ROW_MONTHS // (12 * max(n_rows, 1))))
    return [(y, min(y + per_call, n_years)) for y in range(0, n_years, per_call)]


def _warmup_forcing(
    ts: EngineSettings, cells: CellInputs, annual: FloatArray, first: int, last: int
) -> MonthlyForcing:
    """Return the forcing of warm-up years ``first`` to ``last`` (excluded), month by month.

    Climate rows serve their cell's members (grouped rows); the carbon input is per row:
    each year's input spread over the months by the monthly shares. The class of each year
    sets its DPM/RPM ratio and, without a cover raster or NDVI, its cover.
    """
    months = slice(12 * first, 12 * last)
    years = cells.yearly[:, first:last]
    shares = np.asarray(ts.monthly_shares)
    cover = (
        cells.warm_cover
        if cells.warm_cover is not None
        else ts.table.cover[years].reshape(years.shape[0], -1)
    )
    return MonthlyForcing(
        tmp_degC=cells.warm["tas"][:, months],
        rain_mm=cells.warm["pr"][:, months],
        evap_mm=cells.warm["pet"][:, months],
        plant_cover=plant_cover(cover, ts.bare_threshold),
        c_inp_t_ha=(annual[:, first:last, None] * shares[None, None, :]).reshape(
            annual.shape[0], -1
        ),
        dpm_rpm=np.repeat(ts.table.dpm_rpm[years], 12, axis=1),
        cover_factor=cover,
    )


def _locator(cells: CellInputs, members: Members, which: np.ndarray) -> Callable[[int], str]:
    """Row (``i·k + j``) → its grid cell and, in an ensemble, its member (for error messages)."""
    k = which.size
    ensemble = members.soc.shape[1] > 1

    def locate(row: int) -> str:
        i, j = divmod(row, k)
        where = (
            f"cell {i} of the batch"
            if cells.grid_rc is None
            else f"grid row {cells.grid_rc[i, 0]}, col {cells.grid_rc[i, 1]}"
        )
        return f"{where}, member {which[j]}" if ensemble else where

    return locate


def _check_spinup(
    ledger: CarbonLedger,
    ts: EngineSettings,
    soil: Soil,
    forcing: MonthlyForcing,
    eq: Equilibrium,
    options: RunOptions,
    params: RothCParameters,
) -> None:
    """Run one year from the exact periodic equilibrium and check its carbon balance.

    The year must close its balance like any other (the kernel's CO2 accounting), and, the
    state being periodic, release as CO2 exactly the carbon it receives (the equilibrium
    solve). The Rothamsted iteration stops at a yearly change below 1e-6 t C/ha and the Dechow
    solution is the equilibrium of annual-mean rates, so neither is periodic to 1e-9; their
    state is the start of the warm-up, whose balance is checked from it at every year end.
    """
    if not ledger.enabled or ts.spinup_method != "exact":
        return
    shares = np.asarray(ts.monthly_shares)
    # The equilibrium is fitted per unit of the pattern's total (equilibrium_response).
    c_inp = eq.annual_input_t_ha[:, None] * (shares / shares.sum())[None, :]
    year = run(
        soil,
        replace(forcing, c_inp_t_ha=c_inp),
        12,
        state=eq.state,
        record="end",
        options=options,
        params=params,
    )
    start, inputs = eq.state.soc, c_inp.sum(axis=1)
    co2 = year.co2[:, 0] - eq.state.co2
    ledger.check("spin-up (a year from the exact equilibrium)", start, year.soc, inputs, co2)
    ledger.check(
        "spin-up (the exact equilibrium: a year's CO2 = its input)", start, start, inputs, co2
    )


def _check_forward(
    ledger: CarbonLedger,
    ts: EngineSettings,
    multipliers: FloatArray,
    t0: FloatArray,
    c_bau: FloatArray,
    forward: FloatArray,
    co2: FloatArray,
) -> None:
    """Check every reported forward trajectory, combined ones included, from T0.

    The inputs of scenario ``i`` follow from its definition (``m · C_BAU`` and its manure),
    not from the runs that computed it, so a wrong combination of runs fails the check.
    """
    if not ledger.enabled:
        return
    years = ts.forward_years
    recorded = np.arange(years - forward.shape[-1] + 1, years + 1)  # every year, or the last
    per_year = recorded[None, :]
    total_share = float(np.sum(ts.monthly_shares))
    labels = [f"year {y} of {years}" for y in recorded]
    for i, s in enumerate(ts.scenarios):
        annual = multipliers[i].reshape(-1) * c_bau * total_share
        annual = annual + s.fym_t_ha * total_share * ledger.fym_share
        ledger.check(
            f"forward scenario '{s.name}'",
            t0,
            forward[i],
            annual[:, None] * per_year,
            co2[i],
            labels,
        )


def _forward(
    ts: EngineSettings,
    cells: CellInputs,
    members: Members,
    which: np.ndarray,
    state: RothCState,
    c_bau: FloatArray,
    options: Callable[[int], RunOptions],
    params: RothCParameters,
    record: Literal["year", "end"] = "year",
) -> tuple[FloatArray, FloatArray]:
    """``(S, rows, records)`` SOC and CO2 released since T0 at the end of each year (or the last).

    Kernel runs are stacked run-major: run 0 at the BAU input, run 1 without plant input, then
    one run per scenario with manure or its own cover; the per-cell forcing is stacked as often.
    """
    b, k = cells.n_cells, which.size
    n_rows = b * k
    shares = np.asarray(ts.monthly_shares)
    mult = members.multipliers[:, :, which].reshape(len(ts.scenarios), -1)  # (S, rows)
    runs: list[tuple[np.ndarray, float, tuple[float, ...] | None]] = [
        (np.ones(n_rows), 0.0, None),
        (np.zeros(n_rows), 0.0, None),
    ]
    explicit: dict[int, int] = {}
    for i, s in enumerate(ts.scenarios):
        if not s.scales_input_only:
            explicit[i] = len(runs)
            runs.append((mult[i], s.fym_t_ha, s.cover_factor))
    n_run = len(runs)

    def stack(arr: np.ndarray) -> np.ndarray:
        return np.concatenate([arr] * n_run, axis=0)

    c_inp = np.concatenate([(m * c_bau)[:, None] * shares[None, :] for m, _, _ in runs])
    fym = np.concatenate([np.broadcast_to(f * shares[None, :], (b, 12)) for _, f, _ in runs])
    fcover = np.concatenate(
        [
            cells.fwd_cover
            if cf is None
            else np.broadcast_to(np.resize(np.asarray(cf, float), 12), (b, 12))
            for _, _, cf in runs
        ]
    )
    per_member_clay = np.ascontiguousarray(members.clay[:, which]).reshape(-1)
    soil = Soil(clay_pct=stack(per_member_clay), depth_cm=ts.depth_cm)
    dpm_rpm = stack(ts.table.dpm_rpm[cells.fwd_classes][:, None])
    big = RothCState(
        pools=stack(state.pools),
        iom=stack(state.iom),
        smd=stack(state.smd),
        co2=np.zeros(n_rows * n_run),
    )
    run_options = options(n_run)

    def forcing(months: slice) -> MonthlyForcing:
        return MonthlyForcing(
            tmp_degC=stack(cells.fwd["tas"][:, months]),
            rain_mm=stack(cells.fwd["pr"][:, months]),
            evap_mm=stack(cells.fwd["pet"][:, months]),
            plant_cover=plant_cover(fcover, ts.bare_threshold),
            c_inp_t_ha=c_inp,
            fym_t_ha=fym,
            dpm_rpm=dpm_rpm,
            cover_factor=fcover,
        )

    years = ts.forward_years
    if cells.fwd["tas"].shape[1] == 12:
        # One climatology cycled over the whole forward run: one kernel call.
        whole = run(
            soil,
            forcing(slice(0, 12)),
            12 * years,
            state=big,
            record=record,
            options=run_options,
            params=params,
        )
        stocks, released = whole.soc, whole.co2
    else:
        # A future series: year by year, so memory holds 12 months of forcing.
        kept = range(years) if record == "year" else range(years - 1, years)
        stocks = np.empty((n_rows * n_run, len(kept)))
        released = np.empty((n_rows * n_run, len(kept)))
        for year in range(years):
            result = run(
                soil,
                forcing(slice(12 * year, 12 * year + 12)),
                12,
                state=big,
                record="end",
                options=run_options,
                params=params,
            )
            big = result.state
            if year in kept:
                stocks[:, year - kept[0]] = result.soc[:, 0]
                released[:, year - kept[0]] = result.co2[:, 0]
    stocks = stocks.reshape(n_run, n_rows, -1)
    released = released.reshape(n_run, n_rows, -1)
    out = np.empty((len(ts.scenarios), *stocks.shape[1:]))
    out_co2 = np.empty_like(out)
    for i in range(len(ts.scenarios)):
        if i in explicit:
            out[i] = stocks[explicit[i]]
            out_co2[i] = released[explicit[i]]
        else:
            # CO2 is linear in the input like the pools: the released carbon of the reported
            # trajectory is the same combination of the two runs' CO2.
            m = mult[i][:, None]
            out[i] = m * stocks[0] + (1.0 - m) * stocks[1]
            out_co2[i] = m * released[0] + (1.0 - m) * released[1]
    return out, out_co2
