"""The three GSOCseq phases on one spatial window: spin-up, warm-up, forward scenarios.

Each phase function reads its window from the staged inputs (``inputs.zarr``) and the
previous phase's results (``results.zarr``), runs the vectorised RothC engine on the window's
simulated cells, writes its results back, and returns small partial sums. Cells are
independent, so results do not depend on the windows, their order or the scheduler.

Method (GSOCseq Technical Manual ch. 5–6, with the numerical defects of the FAO scripts
fixed, see ``docs/pipeline.md``):

- **Spin-up**: 12 monthly means of the spin-up climate, the cell's class DPM/RPM and cover;
  the exact periodic equilibrium whose SOC equals the baseline map (IOM = 0.049·SOC^1.139),
  fitting the annual plant input Ceq in one linear step.
- **Warm-up**: year by year with the real monthly climate; the input of year w is
  C_w = Ceq · (NPP_w · f_w) / (NPP_spin · f_spin), with MIAMI NPP and the class NPP factor f.
  T0 is the state at the end of the warm-up.
- **Forward**: from the T0 state with the forward climate (mean of the warm-up years, or a
  future series); the BAU input is the mean warm-up input, each scenario scales it, may add
  farmyard manure and may change the cover.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from socseq.pipeline.inputs import NO_CLASS, SCRATCH_CODEC, Window
from socseq.pipeline.landuse import ClassTable
from socseq.rothc.equilibrium import equilibrium
from socseq.rothc.model import MonthlyForcing, RothCState, RunOptions, Soil, run
from socseq.rothc.parameters import RothCParameters

__all__ = [
    "EXCLUSION_REASONS",
    "NOT_AGRICULTURAL",
    "NO_LAND_USE",
    "SIMULATED",
    "PhaseSettings",
    "forward_window",
    "spinup_window",
    "warmup_window",
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


@dataclass(frozen=True)
class ScenarioSpec:
    """A forward scenario as the kernel needs it."""

    name: str
    input_multiplier: float
    fym_t_ha: float
    cover_factor: tuple[float, ...] | None


@dataclass(frozen=True)
class PhaseSettings:
    """Everything a window task needs besides the stores (picklable, for process workers)."""

    inputs: str
    results: str
    table: ClassTable
    simulate: tuple[int, ...]
    cropland: tuple[int, ...]
    paddy: str
    paddy_rate_factor: float
    max_soc: float | None
    max_sand: float | None
    max_ec: float | None
    evap_coefficient: float
    spinup_method: str
    monthly_shares: tuple[float, ...]
    constants: str
    depth_cm: float
    bare_threshold: float
    scenarios: tuple[ScenarioSpec, ...]
    n_warmup_years: int
    forward_years: int
    has_yearly_land_use: bool
    has_cover: bool

    @property
    def params(self) -> RothCParameters:
        """Model constants."""
        return (
            RothCParameters.rothamsted()
            if self.constants == "official"
            else RothCParameters.decimal()
        )

    @property
    def options_template(self) -> RunOptions:
        """Run options without the per-cell rate factor."""
        return RunOptions(evap_coefficient=self.evap_coefficient)


def _read(group: zarr.Group, name: str, window: Window, lead: bool = False) -> np.ndarray:
    ys, xs = window.slices
    arr = group[name]
    return np.asarray(arr[:, ys, xs] if lead else arr[ys, xs])


def _flat(values: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Select cells: ``(lead, y, x)`` → ``(n_cells, lead)``, ``(y, x)`` → ``(n_cells,)``."""
    if values.ndim == 2:
        return np.ascontiguousarray(values[cells], dtype=np.float64)
    return np.ascontiguousarray(values[:, cells].T, dtype=np.float64)


def _cover(
    settings: PhaseSettings,
    store: zarr.Group,
    window: Window,
    cells: np.ndarray,
    classes: np.ndarray,
) -> np.ndarray:
    """``(n, 12)`` monthly cover factor of the cells."""
    if settings.has_cover:
        return _flat(_read(store, "cover", window, lead=True), cells)
    return settings.table.cover[np.clip(classes, 0, 255)]


def _plant_cover(cover: np.ndarray, bare_threshold: float) -> np.ndarray:
    """Moisture-model flag: 1 covered, 0 bare (factor above the threshold), GSOCseq rule."""
    return (cover <= bare_threshold).astype(np.float64)


def _rate_factor(settings: PhaseSettings, classes: np.ndarray) -> np.ndarray:
    paddy = settings.table.paddy[np.clip(classes, 0, 255)]
    return np.where(paddy, settings.paddy_rate_factor, 1.0)


def _results(settings: PhaseSettings) -> zarr.Group:
    return zarr.open_group(settings.results, mode="r+")


def spinup_window(settings: PhaseSettings, window: Window) -> dict[str, Any]:
    """Classify the window's cells and spin the simulated ones up to the SOC baseline.

    Writes ``reason`` (0 simulated, 1–10 excluded, 254 not agricultural, 255 no land use),
    ``ceq`` (fitted annual input, t C/ha/yr) and the equilibrium state.

    Returns
    -------
    dict
        ``{"cells": n simulated}``.
    """
    inp = zarr.open_group(settings.inputs, mode="r")
    classes = _read(inp, "land_use", window).astype(np.int64)
    soc = _read(inp, "soc", window)
    clay = _read(inp, "clay", window)
    tmp = _read(inp, "spin_tas", window, lead=True)
    climate_ok = np.all(np.isfinite(tmp), axis=0)
    for name in ("spin_pr", "spin_pet"):
        climate_ok &= np.all(np.isfinite(_read(inp, name, window, lead=True)), axis=0)
    npp = _read(inp, "npp_spin", window)

    reason = np.full(window.shape, NOT_AGRICULTURAL, np.uint8)
    reason[classes == NO_CLASS] = NO_LAND_USE
    candidate = np.isin(classes, list({*settings.simulate, *settings.cropland}))
    paddy = settings.table.paddy[np.clip(classes, 0, 255)]
    tests = [
        (1, ~np.isin(classes, settings.simulate)),
        (2, paddy & (settings.paddy == "exclude")),
        (3, ~np.isfinite(soc)),
        (4, ~np.isfinite(clay)),
        (5, ~climate_ok),
    ]
    if settings.max_soc is not None:
        tests.append((6, soc > settings.max_soc))
    for code, name, limit in ((7, "sand", settings.max_sand), (8, "ec", settings.max_ec)):
        if limit is not None and name in inp:
            tests.append((code, _read(inp, name, window) > limit))
    tests.append((9, (soc <= 0) | (clay < 0) | (clay > 100) | ~(npp > 0)))
    tests.append((10, np.all(tmp < -5.0, axis=0)))
    undecided = candidate.copy()
    for code, failed in tests:
        hit = undecided & failed
        reason[hit] = code
        undecided &= ~hit
    reason[undecided] = SIMULATED
    cells = undecided

    out = _results(settings)
    ys, xs = window.slices
    out["reason"][ys, xs] = reason
    n = int(cells.sum())
    if n == 0:
        return {"cells": 0}
    cls = classes[cells]
    cover = _cover(settings, inp, window, cells, cls)
    forcing = MonthlyForcing(
        tmp_degC=_flat(tmp, cells),
        rain_mm=_flat(_read(inp, "spin_pr", window, True), cells),
        evap_mm=_flat(_read(inp, "spin_pet", window, True), cells),
        plant_cover=_plant_cover(cover, settings.bare_threshold),
        c_inp_t_ha=np.asarray(settings.monthly_shares),
        dpm_rpm=settings.table.dpm_rpm[cls][:, None],
        cover_factor=cover,
    )
    options = RunOptions(
        evap_coefficient=settings.evap_coefficient, rate_factor=_rate_factor(settings, cls)
    )
    eq = equilibrium(
        Soil(clay_pct=clay[cells], depth_cm=settings.depth_cm),
        forcing,
        target_soc=soc[cells],
        method=settings.spinup_method,  # type: ignore[arg-type]
        options=options,
        params=settings.params,
    )
    _write_state(out, "spin", window, cells, eq.state)
    _write_cells(out["ceq"], window, cells, eq.annual_input_t_ha)
    return {"cells": n}


def _write_cells(arr: Any, window: Window, cells: np.ndarray, values: np.ndarray) -> None:
    """Write per-cell values (``(n,)`` or ``(n, k)``) into a ``(y, x)``/``(k, y, x)`` array."""
    ys, xs = window.slices
    if values.ndim == 1:
        block = np.full(window.shape, np.nan)
        block[cells] = values
        arr[ys, xs] = block
    else:
        block = np.full((values.shape[1], *window.shape), np.nan)
        block[:, cells] = values.T
        arr[:, ys, xs] = block


def _write_state(
    out: zarr.Group, prefix: str, window: Window, cells: np.ndarray, state: RothCState
) -> None:
    _write_cells(out[f"{prefix}_pools"], window, cells, state.pools)
    _write_cells(out[f"{prefix}_iom"], window, cells, state.iom)
    _write_cells(out[f"{prefix}_smd"], window, cells, state.smd)


def _read_state(out: zarr.Group, prefix: str, window: Window, cells: np.ndarray) -> RothCState:
    pools = _flat(_read(out, f"{prefix}_pools", window, lead=True), cells)
    n = pools.shape[0]
    return RothCState(
        pools=pools,
        iom=_flat(_read(out, f"{prefix}_iom", window), cells),
        smd=_flat(_read(out, f"{prefix}_smd", window), cells),
        co2=np.zeros(n),
    )


def _simulated(out: zarr.Group, window: Window) -> np.ndarray:
    return _read(out, "reason", window) == SIMULATED


def warmup_window(settings: PhaseSettings, window: Window) -> dict[str, Any]:
    """Run the warm-up years from the equilibrium with NPP-scaled inputs; store the T0 state.

    Returns
    -------
    dict
        ``{"area_soc": (n_years,) Σ area·SOC at each December, "area": Σ area}``.
    """
    inp = zarr.open_group(settings.inputs, mode="r")
    out = _results(settings)
    cells = _simulated(out, window)
    n_years = settings.n_warmup_years
    if not cells.any():
        return {"area_soc": np.zeros(n_years), "area": 0.0}
    classes = _read(inp, "land_use", window).astype(np.int64)[cells]
    state = _read_state(out, "spin", window, cells)
    ceq = _flat(_read(out, "ceq", window), cells)
    npp_spin = _flat(_read(inp, "npp_spin", window), cells)
    npp_warm = _flat(_read(inp, "npp_warm", window, lead=True), cells)  # (n, years)
    f_spin = settings.table.npp_factor[classes]
    if settings.has_yearly_land_use:
        yearly = _flat(_read(inp, "land_use_yearly", window, lead=True), cells).astype(np.int64)
        yearly = np.where(
            (yearly == NO_CLASS) | np.isnan(settings.table.npp_factor[np.clip(yearly, 0, 255)]),
            classes[:, None],
            yearly,
        )
    else:
        yearly = np.repeat(classes[:, None], n_years, axis=1)
    f_year = settings.table.npp_factor[yearly]  # (n, years)
    with np.errstate(divide="ignore", invalid="ignore"):
        annual = ceq[:, None] * (npp_warm * f_year) / (npp_spin * f_spin)[:, None]
    annual = np.where(np.isfinite(annual), annual, ceq[:, None])
    shares = np.asarray(settings.monthly_shares)
    base_cover = _cover(settings, inp, window, cells, classes) if settings.has_cover else None
    options = RunOptions(
        evap_coefficient=settings.evap_coefficient, rate_factor=_rate_factor(settings, classes)
    )
    soil = Soil(clay_pct=_flat(_read(inp, "clay", window), cells), depth_cm=settings.depth_cm)
    ys, xs = window.slices
    soc_years = np.empty((state.n_cells, n_years))
    # Year by year (as GSOCseq), so memory holds 12 months of forcing whatever the warm-up
    # length; the state, moisture deficit included, carries over from year to year.
    for year in range(n_years):
        months = slice(12 * year, 12 * year + 12)
        cover = base_cover if base_cover is not None else settings.table.cover[yearly[:, year]]
        forcing = MonthlyForcing(
            tmp_degC=_flat(np.asarray(inp["warm_tas"][months, ys, xs]), cells),
            rain_mm=_flat(np.asarray(inp["warm_pr"][months, ys, xs]), cells),
            evap_mm=_flat(np.asarray(inp["warm_pet"][months, ys, xs]), cells),
            plant_cover=_plant_cover(cover, settings.bare_threshold),
            c_inp_t_ha=annual[:, year : year + 1] * shares[None, :],
            dpm_rpm=settings.table.dpm_rpm[yearly[:, year]][:, None],
            cover_factor=cover,
        )
        result = run(
            soil, forcing, 12, state=state, record="end", options=options, params=settings.params
        )
        state = result.state
        soc_years[:, year] = result.soc[:, 0]
    _write_state(out, "t0", window, cells, state)
    _write_cells(out["c_bau"], window, cells, annual.mean(axis=1))
    _write_cells(out["soc_warmup"], window, cells, soc_years)
    area = _flat(_read(inp, "area_ha", window), cells)
    return {"area_soc": (area[:, None] * soc_years).sum(axis=0), "area": float(area.sum())}


def forward_window(settings: PhaseSettings, window: Window) -> dict[str, Any]:
    """Run every scenario forward from T0 in one kernel call; store yearly stocks.

    Returns
    -------
    dict
        ``{"area_soc": (n_scenarios, forward_years + 1) Σ area·SOC (T0 first)}``.
    """
    inp = zarr.open_group(settings.inputs, mode="r")
    out = _results(settings)
    cells = _simulated(out, window)
    n_scen = len(settings.scenarios)
    years = settings.forward_years
    if not cells.any():
        return {"area_soc": np.zeros((n_scen, years + 1))}
    classes = _read(inp, "land_use", window).astype(np.int64)[cells]
    if settings.has_yearly_land_use:
        last = _flat(_read(inp, "land_use_yearly", window, lead=True)[-1:], cells)[:, 0]
        last = last.astype(np.int64)
        keep = (last != NO_CLASS) & np.isfinite(settings.table.npp_factor[np.clip(last, 0, 255)])
        classes = np.where(keep, last, classes)
    state = _read_state(out, "t0", window, cells)
    n = state.n_cells
    c_bau = _flat(_read(out, "c_bau", window), cells)
    base_cover = _cover(settings, inp, window, cells, classes)
    period = inp["fwd_tas"].shape[0]
    shares = np.asarray(settings.monthly_shares)

    # Scenarios side by side: cell i of scenario s is row s·n + i.
    def stack(arr: np.ndarray) -> np.ndarray:
        return np.concatenate([arr] * n_scen, axis=0)

    c_inp = np.concatenate(
        [s.input_multiplier * c_bau[:, None] * shares[None, :] for s in settings.scenarios]
    )
    fym = np.concatenate(
        [np.broadcast_to(s.fym_t_ha * shares[None, :], (n, 12)) for s in settings.scenarios]
    )
    cover = np.concatenate(
        [
            base_cover
            if s.cover_factor is None
            else np.broadcast_to(np.resize(np.asarray(s.cover_factor, float), 12), (n, 12))
            for s in settings.scenarios
        ]
    )
    dpm_rpm = stack(settings.table.dpm_rpm[classes][:, None])
    options = RunOptions(
        evap_coefficient=settings.evap_coefficient,
        rate_factor=stack(_rate_factor(settings, classes)),
    )
    soil = Soil(
        clay_pct=stack(_flat(_read(inp, "clay", window), cells)), depth_cm=settings.depth_cm
    )
    ys, xs = window.slices

    def forcing(months: slice) -> MonthlyForcing:
        tas, pr, pet = (
            stack(_flat(np.asarray(inp[f"fwd_{k}"][months, ys, xs]), cells))
            for k in ("tas", "pr", "pet")
        )
        return MonthlyForcing(
            tmp_degC=tas,
            rain_mm=pr,
            evap_mm=pet,
            plant_cover=_plant_cover(cover, settings.bare_threshold),
            c_inp_t_ha=c_inp,
            fym_t_ha=fym,
            dpm_rpm=dpm_rpm,
            cover_factor=cover,
        )

    big = RothCState(
        pools=stack(state.pools),
        iom=stack(state.iom),
        smd=stack(state.smd),
        co2=np.zeros(n * n_scen),
    )
    if period == 12:
        # One climatology cycled over the whole forward run: one kernel call.
        result = run(
            soil,
            forcing(slice(0, 12)),
            12 * years,
            state=big,
            record="year",
            options=options,
            params=settings.params,
        )
        stocks = result.soc
    else:
        # A future series: year by year, so memory holds 12 months of forcing.
        stocks = np.empty((n * n_scen, years))
        for year in range(years):
            result = run(
                soil,
                forcing(slice(12 * year, 12 * year + 12)),
                12,
                state=big,
                record="end",
                options=options,
                params=settings.params,
            )
            big = result.state
            stocks[:, year] = result.soc[:, 0]
    soc = stocks.reshape(n_scen, n, years)  # (S, n, years)
    t0 = state.soc
    block = np.full((n_scen, years + 1, *window.shape), np.nan)
    block[:, 0][:, cells] = t0[None, :]
    block[:, 1:][:, :, cells] = soc.transpose(0, 2, 1)
    out["soc"][:, :, ys, xs] = block
    area = _flat(_read(inp, "area_ha", window), cells)
    area_soc = np.concatenate(
        [np.full((n_scen, 1), (area * t0).sum()), (soc * area[None, :, None]).sum(axis=1)], axis=1
    )
    return {"area_soc": area_soc}


def create_results(path: Path, shape: tuple[int, int], chunk: int, settings_like: Any) -> None:
    """Create the empty ``results.zarr`` arrays the phases fill (internal)."""
    g = zarr.open_group(str(path), mode="w")
    c2 = (chunk, chunk)
    n_scen = len(settings_like.scenarios)
    years = settings_like.forward_years
    n_warm = settings_like.n_warmup_years

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
    for prefix in ("spin", "t0"):
        make(f"{prefix}_pools", (4,), "float64")
        make(f"{prefix}_iom", (), "float64")
        make(f"{prefix}_smd", (), "float64")
    make("ceq", (), "float64")
    make("c_bau", (), "float64")
    make("soc_warmup", (n_warm,), "float64")
    make("soc", (n_scen, years + 1), "float64")
