"""Spin-up: RothC pools in equilibrium with a repeated 12-month climate and input.

Three methods, all vectorised over cells:

``"exact"`` (default)
    RothC is affine in its pools and inputs. The moisture deficit does not depend on the pools,
    so its periodic 12-month cycle is found first; the year is then the affine map
    ``x -> Phi x + beta`` of the four active pools and the periodic state at the end of month 12
    is ``(I - Phi)^-1 beta``, solved per cell in closed form. Because ``beta`` is linear in the
    annual plant input C, the input that reproduces a target SOC (with IOM from Falloon et al.
    1998) follows in one linear step. Radiocarbon activities obey the same kind of map, which
    gives the equilibrium ages.
``"rothamsted"``
    The official iteration (``Shell.for``): repeat the 12 months until the yearly change of
    DPM+RPM+BIO+HUM is below 1e-6 t C/ha. Needed to reproduce the official outputs (it stops
    before exact convergence) and as an independent check of ``"exact"``.
``"dechow"``
    The analytical solution of Dechow et al. (2019) used by GSOCseq: the steady state of the
    continuous-time RothC ODE with the *annual mean* rate modifier and a constant input.

``"exact"`` and ``"rothamsted"`` agree to the iteration's tolerance. ``"dechow"`` differs by
construction: it replaces the monthly pulses of input and the month-to-month variation of the
rate modifier by their annual means, and the exponential monthly decay by a continuous one.
The slow pools (HUM, BIO) barely notice, because they integrate over years; DPM and RPM do,
because most of DPM decays within the month it is added. See ``docs/equilibrium.md`` for the
size of the difference on typical climates.

References
----------
Dechow, R. et al. (2019). Evaluation of the RothC model as a prognostic tool for the prediction of
SOC trends in response to management practices on arable land. Geoderma 337, 463-478.
FAO (2020). GSOCseq technical manual, section 5.4.1.2 (analytical spin-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from socseq.exceptions import ConvergenceError, InputValidationError
from socseq.rothc import _kernel
from socseq.rothc._launch import kernel_launch
from socseq.rothc.model import (
    MonthlyForcing,
    PreparedCells,
    RothCState,
    RunOptions,
    Soil,
    infer_n_cells,
    per_cell_rows,
    prepare,
)
from socseq.rothc.modifiers import falloon_iom
from socseq.rothc.parameters import DEFAULT_PARAMETERS, RothCParameters

FloatArray = NDArray[np.float64]
Method = Literal["exact", "rothamsted", "dechow"]

#: Years of the deficit cycle searched before giving up (the cycle repeats after a few years
#: whenever the deficit reaches field capacity or its lower limit once a year).
MAX_MOISTURE_CYCLES = 100_000


@dataclass
class Equilibrium:
    """Result of a spin-up.

    Attributes
    ----------
    state : RothCState
        Pools, IOM, deficit (end of month 12), CO2 = 0 and, with radiocarbon, ages.
    annual_input_t_ha : numpy.ndarray
        ``(n_cells,)`` annual plant carbon input of the equilibrium [t C/ha/yr] (fitted when a
        target SOC was given).
    rate_modifiers : numpy.ndarray or None
        ``(n_cells, 12)`` monthly RateM of the periodic cycle (exact and dechow methods).
    spinup_months : numpy.ndarray or None
        ``(n_cells,)`` months the Rothamsted iteration ran.
    total_age : numpy.ndarray or None
        ``(n_cells,)`` radiocarbon age of the whole soil [yr].
    """

    state: RothCState
    annual_input_t_ha: FloatArray
    rate_modifiers: FloatArray | None = None
    spinup_months: NDArray[np.int64] | None = None
    total_age: FloatArray | None = None

    @property
    def soc(self) -> FloatArray:
        """Total SOC at equilibrium [t C/ha]."""
        return self.state.soc


def periodic_rate_modifiers(
    prepared: PreparedCells, smd_start: ArrayLike = 0.0
) -> tuple[FloatArray, FloatArray]:
    """Monthly RateM of the periodic moisture cycle and the deficit at the end of month 12.

    Parameters
    ----------
    prepared : PreparedCells
        Kernel-ready inputs (see :func:`socseq.rothc.model.prepare`).
    smd_start : array_like
        Deficit the search starts from [mm] (0 = field capacity, as the official program).

    Returns
    -------
    rate : numpy.ndarray
        ``(n_cells, 12)`` RateM [-].
    smd_end : numpy.ndarray
        ``(n_cells,)`` deficit at the end of month 12 [mm].
    """
    n = prepared.n_cells
    rate = np.empty((n, 12))
    smd_end = np.empty(n)
    start = np.atleast_1d(np.asarray(smd_start, dtype=np.float64))
    with kernel_launch():
        _kernel.periodic_cycle(
            prepared.water,
            prepared.cell_consts,
            prepared.forcing,
            prepared.use_cover_factor,
            start,
            MAX_MOISTURE_CYCLES,
            rate,
            smd_end,
            prepared.consts,
        )
    if np.any(np.isneginf(smd_end)):
        cell = int(np.flatnonzero(np.isneginf(smd_end))[0])
        raise ConvergenceError(
            f"cell {cell}: the 12-month moisture deficit cycle did not repeat within "
            f"{MAX_MOISTURE_CYCLES} years; check rain and evaporation of the spin-up climate"
        )
    return rate, smd_end


def _check_decomposes(rate: FloatArray) -> None:
    frozen = ~np.any(rate > 0.0, axis=1)
    if np.any(frozen):
        cell = int(np.flatnonzero(frozen)[0])
        raise InputValidationError(
            f"cell {cell}: the rate modifier is 0 in all 12 spin-up months (every month below "
            "-5 degC), so no equilibrium exists; exclude the cell or check the temperature units"
        )


def _fit_scale(
    target_soc: ArrayLike | None,
    iom: FloatArray,
    unit_total: FloatArray,
    fym_total: FloatArray,
    default_annual: FloatArray,
    params: RothCParameters,
) -> tuple[FloatArray, FloatArray]:
    """Annual plant input and IOM: given as is, or fitted so that SOC = target in one step."""
    if target_soc is None:
        return default_annual, iom
    target = np.broadcast_to(np.asarray(target_soc, dtype=np.float64), iom.shape).copy()
    if np.any(~np.isfinite(target)) or np.any(target <= 0.0):
        raise InputValidationError("target_soc: every cell needs a finite SOC > 0 t C/ha")
    iom_fit = falloon_iom(target, params)
    active_target = target - iom_fit
    with np.errstate(divide="ignore", invalid="ignore"):
        annual = (active_target - fym_total) / unit_total
    if np.any(~np.isfinite(annual)):
        cell = int(np.flatnonzero(~np.isfinite(annual))[0])
        raise InputValidationError(
            f"cell {cell}: the plant input pattern is zero in all 12 months, so the input cannot "
            "be fitted to the target SOC; give a monthly input pattern (e.g. 1/12 each month)"
        )
    if np.any(annual < 0.0):
        cell = int(np.flatnonzero(annual < 0.0)[0])
        raise InputValidationError(
            f"cell {cell}: the manure input alone keeps more carbon ({fym_total[cell]:.3f} t C/ha)"
            f" than the target SOC minus IOM ({active_target[cell]:.3f}); lower the manure input"
        )
    return annual, iom_fit


def equilibrium(
    soil: Soil,
    forcing: MonthlyForcing,
    *,
    target_soc: ArrayLike | None = None,
    method: Method = "exact",
    options: RunOptions | None = None,
    params: RothCParameters = DEFAULT_PARAMETERS,
    max_years: int = 1_000_000,
) -> Equilibrium:
    """Spin RothC up to equilibrium with a repeated 12-month climate and input pattern.

    Parameters
    ----------
    soil : Soil
        Soil properties; its IOM is replaced by Falloon's IOM when ``target_soc`` is given.
    forcing : MonthlyForcing
        The 12 spin-up months (every field's period must divide 12). Without ``target_soc``
        the plant input is used as given; with it, only its monthly pattern matters.
    target_soc : array_like, optional
        SOC the equilibrium must reproduce [t C/ha]; the annual plant input is fitted.
    method : {"exact", "rothamsted", "dechow"}
        Solver (see the module docstring).
    options : RunOptions, optional
        Evaporation coefficient, rate factor, radiocarbon (exact and rothamsted).
    params : RothCParameters
        Model constants.
    max_years : int
        Safety limit of the Rothamsted iteration.

    Returns
    -------
    Equilibrium
        The equilibrium state and the (fitted) annual input.
    """
    options = options or RunOptions()
    n_cells = infer_n_cells(soil, forcing, target_soc, *options.per_cell_values())
    prepared = prepare(soil, forcing, options, params, n_cells)
    for name, arr in zip(
        ("tmp", "rain", "evap", "plant_cover", "cover_factor", "c_inp", "fym", "dpm_rpm", "modern"),
        prepared.forcing,
        strict=True,
    ):
        if 12 % arr.shape[1]:
            raise InputValidationError(
                f"forcing '{name}': spin-up needs 12 months (or a period dividing 12), got "
                f"{arr.shape[1]}"
            )
    if method == "exact":
        return _exact(prepared, target_soc, options, params)
    if method == "rothamsted":
        return _rothamsted(soil, forcing, prepared, target_soc, options, params, max_years)
    if method == "dechow":
        return _dechow(prepared, target_soc, params)
    raise ValueError(f"method must be 'exact', 'rothamsted' or 'dechow', got {method!r}")


def _annual_plant_input(prepared: PreparedCells) -> FloatArray:
    c_inp = prepared.forcing[_kernel.F_CINP]
    annual = np.tile(c_inp, (1, 12 // c_inp.shape[1])).sum(axis=1)
    return per_cell_rows(annual, prepared.n_cells)


def _exact(
    prepared: PreparedCells,
    target_soc: ArrayLike | None,
    options: RunOptions,
    params: RothCParameters,
) -> Equilibrium:
    n = prepared.n_cells
    rate, smd_end = periodic_rate_modifiers(prepared)
    _check_decomposes(rate)
    unit = np.empty((n, 4))
    fym = np.empty((n, 4))
    act_unit = np.empty((n, 4) if options.radiocarbon else (0, 4))
    act_fym = np.empty((n, 4) if options.radiocarbon else (0, 4))
    with kernel_launch():
        _kernel.equilibrium_response(
            rate,
            prepared.fractions,
            prepared.forcing,
            options.radiocarbon,
            unit,
            fym,
            act_unit,
            act_fym,
            prepared.consts,
        )
    annual, iom = _fit_scale(
        target_soc,
        prepared.iom,
        unit.sum(axis=1),
        fym.sum(axis=1),
        _annual_plant_input(prepared),
        params,
    )
    pools = annual[:, None] * unit + fym
    state = RothCState(pools=pools, iom=iom.copy(), smd=smd_end, co2=np.zeros(n))
    total_age = None
    if options.radiocarbon:
        activity = annual[:, None] * act_unit + act_fym
        with np.errstate(divide="ignore", invalid="ignore"):
            ages = np.where(pools > 0.0, np.log(pools / activity) / params.conr, 0.0)
        state.ages = ages
        iom_activity = iom * np.exp(-params.conr * params.iom_age)
        total_age = np.log(state.soc / (activity.sum(axis=1) + iom_activity)) / params.conr
    return Equilibrium(
        state=state, annual_input_t_ha=annual, rate_modifiers=rate, total_age=total_age
    )


def _rothamsted(
    soil: Soil,
    forcing: MonthlyForcing,
    prepared: PreparedCells,
    target_soc: ArrayLike | None,
    options: RunOptions,
    params: RothCParameters,
    max_years: int,
) -> Equilibrium:
    n = prepared.n_cells
    if target_soc is not None:
        # Linear in the input: spin up once with the pattern scaled to 1 t C/ha/yr and once with
        # the manure alone, then combine (GSOCseq eq. 5.1 without its 500-year truncation).
        annual_given = _annual_plant_input(prepared)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(annual_given > 0.0, 1.0 / annual_given, 0.0)
        c_inp = prepared.forcing[_kernel.F_CINP]
        unit_input = per_cell_rows(c_inp, n) * scale[:, None]
        parts = [
            prepared.forcing[: _kernel.F_CINP]
            + (np.ascontiguousarray(unit_input),)
            + (np.zeros((1, 1)),)
            + prepared.forcing[_kernel.F_FYM + 1 :],
            prepared.forcing[: _kernel.F_CINP]
            + (np.zeros((1, 1)),)
            + prepared.forcing[_kernel.F_FYM :],
        ]
        unit_state, _, _ = _iterate(prepared, parts[0], options, max_years)
        fym_state, _, _ = _iterate(prepared, parts[1], options, max_years)
        annual, iom = _fit_scale(
            target_soc,
            prepared.iom,
            unit_state.pools.sum(axis=1),
            fym_state.pools.sum(axis=1),
            annual_given,
            params,
        )
        pools = annual[:, None] * unit_state.pools + fym_state.pools
        state = RothCState(pools=pools, iom=iom.copy(), smd=unit_state.smd, co2=np.zeros(n))
        return Equilibrium(state=state, annual_input_t_ha=annual)
    state, months, total_age = _iterate(prepared, prepared.forcing, options, max_years)
    return Equilibrium(
        state=state,
        annual_input_t_ha=_annual_plant_input(prepared),
        spinup_months=months,
        total_age=total_age,
    )


def _iterate(
    prepared: PreparedCells, forcing: tuple[FloatArray, ...], options: RunOptions, max_years: int
) -> tuple[RothCState, NDArray[np.int64], FloatArray | None]:
    n = prepared.n_cells
    state = RothCState.empty(n, prepared.iom, options.radiocarbon)
    packed = state.packed()
    ages = state.ages if state.ages is not None else np.empty((0, 4))
    months = np.empty(n, dtype=np.int64)
    total_age = np.zeros(n)
    with kernel_launch():
        _kernel.spinup_iterative(
            packed,
            ages,
            prepared.iom,
            prepared.fractions,
            prepared.water,
            prepared.cell_consts,
            forcing,
            prepared.use_cover_factor,
            max_years,
            total_age,
            months,
            prepared.consts,
        )
    if np.any(months < 0):
        cell = int(np.flatnonzero(months < 0)[0])
        raise ConvergenceError(
            f"cell {cell}: the Rothamsted spin-up did not meet its stopping rule within "
            f"{max_years} years (no decomposition in the spin-up climate?)"
        )
    state.unpack(packed)
    state.co2[:] = 0.0
    if options.radiocarbon:
        state.ages = ages
    return state, months, total_age if options.radiocarbon else None


def dechow_pool_fractions(
    mean_rate: ArrayLike,
    clay_pct: ArrayLike,
    dpm_rpm: ArrayLike,
    params: RothCParameters = DEFAULT_PARAMETERS,
) -> tuple[FloatArray, FloatArray]:
    """Analytical steady state of RothC with a constant rate modifier (Dechow et al. 2019).

    GSOCseq manual eqs. 5.3-5.12: with the annual mean rate modifier xi, the steady state of
    ``dC/dt = A xi C + gamma I`` gives active C per unit annual input ``Delta`` and the pool
    shares ``f``.

    Parameters
    ----------
    mean_rate : array_like
        Annual mean of the monthly RateM [-].
    clay_pct : array_like
        Clay [%].
    dpm_rpm : array_like
        DPM/RPM ratio of the (plant) input [-].
    params : RothCParameters
        Model constants.

    Returns
    -------
    delta : numpy.ndarray
        Active pool carbon per unit annual input [t C/ha per t C/ha/yr] (eq. 5.11).
    fractions : numpy.ndarray
        ``(..., 4)`` shares of DPM, RPM, BIO, HUM in the active carbon [-].
    """
    xi = np.asarray(mean_rate, dtype=np.float64)
    clay = np.asarray(clay_pct, dtype=np.float64)
    ratio = np.asarray(dpm_rpm, dtype=np.float64)
    x = params.co2_a * (params.co2_b + params.co2_c * np.exp(-params.co2_d * clay))
    cue = 1.0 / (1.0 + x)
    a1, a2 = params.bio_fraction * cue, params.hum_fraction * cue
    k_dpm, k_rpm, k_bio, k_hum = params.k_dpm, params.k_rpm, params.k_bio, params.k_hum
    a11 = k_bio * xi * (a1 - 1.0)
    a12 = a1 * k_hum * xi
    a21 = a2 * k_bio * xi
    a22 = k_hum * xi * (a2 - 1.0)
    det = a11 * a22 - a12 * a21
    c0 = (a2 * a12 - a1 * a22) / det
    u_bio_in = c0
    u_hum_in = (-c0 * a11 - a1) / a12
    u_dpm_dpm = 1.0 / (k_dpm * xi)
    u_rpm_rpm = 1.0 / (k_rpm * xi)
    g_dpm, g_rpm = ratio / (ratio + 1.0), 1.0 / (ratio + 1.0)
    u_dpm = u_dpm_dpm + u_bio_in + u_hum_in
    u_rpm = u_rpm_rpm + u_bio_in + u_hum_in
    delta = g_dpm * u_dpm + g_rpm * u_rpm
    fractions = np.stack(
        [
            g_dpm * u_dpm_dpm,
            g_rpm * u_rpm_rpm,
            (g_dpm + g_rpm) * u_bio_in,
            (g_dpm + g_rpm) * u_hum_in,
        ],
        axis=-1,
    )
    return delta, fractions / delta[..., None]


def _dechow(
    prepared: PreparedCells, target_soc: ArrayLike | None, params: RothCParameters
) -> Equilibrium:
    n = prepared.n_cells
    rate, smd_end = periodic_rate_modifiers(prepared)
    _check_decomposes(rate)
    ratio_arr = prepared.forcing[_kernel.F_RATIO]
    c_inp = prepared.forcing[_kernel.F_CINP]
    weights = per_cell_rows(np.tile(c_inp, (1, 12 // c_inp.shape[1])), n)
    ratios = per_cell_rows(np.tile(ratio_arr, (1, 12 // ratio_arr.shape[1])), n)
    total = weights.sum(axis=1)
    # The input-weighted DPM share, expressed back as one ratio for the analytical formula.
    with np.errstate(divide="ignore", invalid="ignore"):
        dpm_share = np.where(
            total > 0.0,
            (weights * ratios / (ratios + 1.0)).sum(axis=1) / total,
            ratios[:, 0] / (ratios[:, 0] + 1.0),
        )
    ratio = dpm_share / (1.0 - dpm_share)
    delta, fractions = dechow_pool_fractions(rate.mean(axis=1), prepared.clay, ratio, params)
    fym_total = np.zeros(n)
    if np.any(prepared.forcing[_kernel.F_FYM] != 0.0):
        raise InputValidationError(
            "method 'dechow': the analytical solution has no manure term;"
            " use method 'exact' with farmyard manure"
        )
    annual, iom = _fit_scale(
        target_soc, prepared.iom, delta, fym_total, np.broadcast_to(total, (n,)).copy(), params
    )
    pools = (annual * delta)[:, None] * fractions
    state = RothCState(pools=pools, iom=iom.copy(), smd=smd_end, co2=np.zeros(n))
    return Equilibrium(state=state, annual_input_t_ha=annual, rate_modifiers=rate)
