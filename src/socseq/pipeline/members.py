"""What the members of an uncertainty run are: their settings and their draws.

``mode = "gsocseq"`` gives the two members of the GSOCseq minimum/maximum runs (Technical
Manual ch. 12, Table 12.1); ``mode = "montecarlo"`` draws ``members`` perturbations per cell with
the counter-based generator of :mod:`socseq.pipeline.draws`, keyed by (seed, stream, global cell
index, member), so a cell's draws do not depend on windows, batches or schedulers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from socseq.io.grid import GridSpec
from socseq.pipeline.config import RunConfig
from socseq.pipeline.draws import standard_normal
from socseq.pipeline.engine import EngineSettings, Members
from socseq.rothc.parameters import RothCParameters

__all__ = [
    "GSOCSEQ_FACTORS",
    "GSOCSEQ_SOC_RELATIVE",
    "GSOCSEQ_SSM_POINTS",
    "ROW_BUDGET",
    "Z95",
    "UncertaintySettings",
    "member_draws",
    "uncertainty_settings",
]

#: Rows (cells × members) per kernel batch; a running batch holds memory in proportion to it.
ROW_BUDGET = 200_000


#: Published factors (min member, max member) of the GSOCseq minimum / maximum runs
#: (manual Table 12.1).
GSOCSEQ_FACTORS: dict[str, tuple[float, float]] = {
    "temperature": (1.02, 0.98),
    "precipitation": (0.95, 1.05),
    "clay": (0.90, 1.10),
}

#: GSOCseq SOC bounds without an uncertainty layer: ± 20 % of the stock (Table 12.1).
GSOCSEQ_SOC_RELATIVE = 0.20

#: GSOCseq SSM input multipliers of the min / max runs: m − 0.15 and m + 0.15 (Table 12.1).
GSOCSEQ_SSM_POINTS = 0.15

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


def member_draws(
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

    Parameters
    ----------
    us : UncertaintySettings
    cells : numpy.ndarray
        ``(b,)`` global cell index row · width + column: the key of the cell's draws.
    soc, clay : numpy.ndarray
        ``(b,)`` SOC stock [t C/ha] and clay [%] of the deterministic run.
    layers : dict of str to numpy.ndarray
        ``(b,)`` SOC/clay uncertainty layers (``soc_sd``, ``soc_q05``, ``soc_q95``, ``clay_sd``).
    params : RothCParameters
        The run's rate constants.

    Returns
    -------
    Members
    """
    mult = np.array([s.input_multiplier for s in us.engine.scenarios])
    if us.mode == "gsocseq":
        return _gsocseq_members(us, soc, clay, layers, params, mult)
    return _montecarlo_members(us, cells, soc, clay, layers, params, mult)


def _gsocseq_members(
    us: UncertaintySettings,
    soc: np.ndarray,
    clay: np.ndarray,
    layers: dict[str, np.ndarray],
    params: RothCParameters,
    mult: np.ndarray,
) -> Members:
    """Draw the GSOCseq minimum and maximum members (manual Table 12.1)."""
    b = soc.size
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
    points = np.array([-GSOCSEQ_SSM_POINTS, GSOCSEQ_SSM_POINTS])
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


def _montecarlo_members(
    us: UncertaintySettings,
    cells: np.ndarray,
    soc: np.ndarray,
    clay: np.ndarray,
    layers: dict[str, np.ndarray],
    params: RothCParameters,
    mult: np.ndarray,
) -> Members:
    """Draw ``us.members`` Monte Carlo members of each cell from the declared distributions."""
    b, m = cells.size, us.members
    base_m = mult[us.baseline_index]
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
        relative = GSOCSEQ_SOC_RELATIVE if gsocseq else 0.1
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
