"""Spin-up: exact periodic equilibrium, the Rothamsted iteration and Dechow et al. (2019)."""

from __future__ import annotations

import numpy as np
import pytest

from socseq.exceptions import InputValidationError
from socseq.rothc import MonthlyForcing, RothCParameters, RunOptions, Soil, falloon_iom, run
from socseq.rothc.equilibrium import equilibrium

MONTHS = np.arange(12)
CLIMATES = {
    # name: (temperature [degC], rain [mm], open-pan evaporation [mm], plant cover)
    "temperate": (
        8 + 7 * np.sin(2 * np.pi * (MONTHS - 3) / 12),
        np.full(12, 60.0),
        np.array([7, 17, 41, 70, 103, 117, 130, 107, 62, 30, 12, 6.0]),
        np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1]),
    ),
    "tropical monsoon": (
        24 + 5 * np.sin(2 * np.pi * (MONTHS - 3) / 12),
        np.array([20, 40, 60, 120, 250, 400, 380, 420, 250, 80, 30, 20.0]),
        np.full(12, 120.0),
        np.ones(12),
    ),
    "semi-arid": (
        18 + 9 * np.sin(2 * np.pi * (MONTHS - 3) / 12),
        np.array([30, 33, 30, 23, 19, 6, 2, 3, 10, 25, 40, 35.0]),
        np.array([141, 160, 228, 265, 320, 374, 416, 380, 300, 210, 150, 130.0]),
        np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1]),
    ),
    "frozen winters": (
        np.array([-15, -12, -6, 2, 9, 14, 16, 14, 8, 1, -7, -13.0]),
        np.full(12, 40.0),
        np.array([0, 0, 5, 30, 70, 100, 110, 80, 40, 10, 0, 0.0]),
        np.ones(12),
    ),
}
TIGHT = RothCParameters.rothamsted().replace(spinup_tolerance=1e-14)


def _case(name: str, **soil_kw: float) -> tuple[Soil, MonthlyForcing]:
    tmp, rain, evap, pc = CLIMATES[name]
    soil = Soil(
        clay_pct=soil_kw.get("clay", 25.0),
        depth_cm=soil_kw.get("depth", 23.0),
        iom_t_ha=soil_kw.get("iom", 3.0),
    )
    c_inp = np.zeros(12)
    c_inp[7] = 2.0
    return soil, MonthlyForcing(
        tmp_degC=tmp,
        rain_mm=rain,
        evap_mm=evap,
        plant_cover=pc,
        c_inp_t_ha=c_inp,
        fym_t_ha=np.where(MONTHS == 2, 0.5, 0.0),
    )


@pytest.mark.parametrize("climate", list(CLIMATES))
@pytest.mark.parametrize(("clay", "depth"), [(5.0, 15.0), (60.0, 30.0)])
def test_exact_equilibrium_equals_long_iterative_run(
    climate: str, clay: float, depth: float
) -> None:
    soil, forcing = _case(climate, clay=clay, depth=depth)
    options = RunOptions(radiocarbon=True)
    exact = equilibrium(soil, forcing, method="exact", options=options)
    iterated = equilibrium(soil, forcing, method="rothamsted", options=options, params=TIGHT)
    np.testing.assert_allclose(exact.state.pools, iterated.state.pools, rtol=1e-6)
    np.testing.assert_allclose(exact.soc, iterated.soc, rtol=1e-6)
    assert exact.state.smd == pytest.approx(iterated.state.smd, abs=1e-9)
    np.testing.assert_allclose(exact.total_age, iterated.total_age, rtol=1e-6)


def test_exact_equilibrium_is_a_fixed_point_of_the_year() -> None:
    soil, forcing = _case("tropical monsoon")
    exact = equilibrium(soil, forcing)
    year = run(soil, forcing, 12, state=exact.state, record="end")
    np.testing.assert_allclose(year.state.pools, exact.state.pools, rtol=1e-12)
    assert year.state.smd == pytest.approx(exact.state.smd)


@pytest.mark.parametrize("method", ["exact", "rothamsted", "dechow"])
def test_fitted_input_reproduces_target_soc(method: str) -> None:
    soil, forcing = _case("temperate")
    forcing = MonthlyForcing(
        **{**forcing.__dict__, "fym_t_ha": 0.0, "c_inp_t_ha": np.full(12, 1 / 12)}
    )
    target = np.array([12.0, 42.0, 95.0])
    eq = equilibrium(soil, forcing, target_soc=target, method=method)
    np.testing.assert_allclose(eq.soc, target, rtol=1e-9)
    np.testing.assert_allclose(eq.state.iom, falloon_iom(target), rtol=1e-14)
    assert np.all(eq.annual_input_t_ha > 0)


def test_fitted_input_with_manure_keeps_the_manure() -> None:
    soil, forcing = _case("semi-arid")
    target = np.array([30.0, 50.0])
    eq = equilibrium(soil, forcing, target_soc=target)
    np.testing.assert_allclose(eq.soc, target, rtol=1e-9)
    check = equilibrium(
        Soil(clay_pct=25.0, depth_cm=23.0, iom_t_ha=eq.state.iom),
        MonthlyForcing(
            **{
                **forcing.__dict__,
                "c_inp_t_ha": np.asarray(forcing.c_inp_t_ha)[None, :]
                / 2.0
                * eq.annual_input_t_ha[:, None],
            }
        ),
    )
    np.testing.assert_allclose(check.soc, target, rtol=1e-9)


@pytest.mark.parametrize("climate", ["temperate", "tropical monsoon", "semi-arid"])
def test_dechow_is_close_to_exact(climate: str) -> None:
    """Dechow's constant-rate solution: same order of input, different DPM (monthly pulses)."""
    soil, forcing = _case(climate)
    forcing = MonthlyForcing(
        **{**forcing.__dict__, "fym_t_ha": 0.0, "c_inp_t_ha": np.full(12, 1 / 12)}
    )
    exact = equilibrium(soil, forcing, target_soc=40.0)
    dechow = equilibrium(soil, forcing, target_soc=40.0, method="dechow")
    assert dechow.annual_input_t_ha[0] == pytest.approx(exact.annual_input_t_ha[0], rel=0.05)
    np.testing.assert_allclose(dechow.state.pools[0, 3], exact.state.pools[0, 3], rtol=0.02)


def test_frozen_all_year_has_no_equilibrium() -> None:
    soil = Soil(clay_pct=20.0, depth_cm=23.0)
    forcing = MonthlyForcing(
        tmp_degC=-20.0, rain_mm=10.0, evap_mm=0.0, plant_cover=1, c_inp_t_ha=0.1
    )
    with pytest.raises(InputValidationError, match="below -5 degC"):
        equilibrium(soil, forcing)


def test_spinup_forcing_must_be_12_months() -> None:
    soil = Soil(clay_pct=20.0, depth_cm=23.0)
    forcing = MonthlyForcing(
        tmp_degC=np.full(24, 10.0), rain_mm=10.0, evap_mm=0.0, plant_cover=1, c_inp_t_ha=0.1
    )
    with pytest.raises(InputValidationError, match="tmp"):
        equilibrium(soil, forcing)


def test_a_run_from_a_fitted_equilibrium_keeps_its_iom_and_stock():
    # Regression: run() used to replace the state's IOM by the soil's (default 0), so a run
    # continuing from a spin-up fitted to SOC = 40 started at 40 - IOM.
    soil = Soil(clay_pct=np.array([20.0, 35.0]), depth_cm=30.0)
    tmp = np.tile(np.linspace(12.0, 27.0, 12), (2, 1))
    shape = np.full(12, 1 / 12)
    forcing = MonthlyForcing(
        tmp_degC=tmp, rain_mm=120.0, evap_mm=90.0, plant_cover=1.0, c_inp_t_ha=shape, dpm_rpm=1.44
    )
    eq = equilibrium(
        soil, forcing, target_soc=np.array([40.0, 55.0]), options=RunOptions(evap_coefficient=1.0)
    )
    assert np.all(eq.state.iom > 3.0)
    steady = MonthlyForcing(
        tmp_degC=tmp,
        rain_mm=120.0,
        evap_mm=90.0,
        plant_cover=1.0,
        c_inp_t_ha=eq.annual_input_t_ha[:, None] * shape,
        dpm_rpm=1.44,
    )
    result = run(soil, steady, 120, state=eq.state, options=RunOptions(evap_coefficient=1.0))
    np.testing.assert_allclose(result.iom, eq.state.iom, rtol=0)
    np.testing.assert_allclose(result.soc, np.array([[40.0] * 10, [55.0] * 10]), rtol=1e-12)
