"""Tier 1: hand-checkable modifiers and one-month updates (values from rothc-model.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from socseq.rothc import (
    DEFAULT_PARAMETERS,
    MonthlyForcing,
    RothCParameters,
    RothCState,
    Soil,
    co2_partition,
    falloon_iom,
    moisture_modifier,
    run,
    soil_water_limits,
    temperature_modifier,
)


@pytest.mark.parametrize(
    ("tmp", "expected"),
    [
        (0.0, 0.143872),
        (3.99, 0.405041),
        (10.0, 1.099040),
        (20.0, 2.821493),
        (29.0, 4.594269),
        (-5.0, 0.016188),
        (-5.01, 0.0),
    ],
)
def test_temperature_modifier_matches_published_values(tmp: float, expected: float) -> None:
    assert float(temperature_modifier(tmp)) == pytest.approx(expected, abs=5e-7)


@pytest.mark.parametrize(("clay", "x"), [(5.0, 4.893177), (23.4, 3.514183), (60.0, 3.113417)])
def test_co2_partition_ratio(clay: float, x: float) -> None:
    f_co2, f_bio, f_hum = co2_partition(clay)
    assert float(f_co2 / (f_bio + f_hum)) == pytest.approx(x, abs=5e-7)
    assert float(f_co2 + f_bio + f_hum) == pytest.approx(1.0, abs=1e-7)


def test_standard_soil_water_limits_official_soil() -> None:
    limits = soil_water_limits(23.4, 23.0)
    assert float(limits.smd_wilt) == pytest.approx(-44.9444, abs=5e-5)
    assert float(limits.smd_1bar) == pytest.approx(-19.9553, abs=5e-5)
    assert float(limits.smd_bare) == pytest.approx(0.556 * -44.9444, abs=1e-4)


def test_van_genuchten_limits_official_soil() -> None:
    limits = soil_water_limits(
        23.4,
        23.0,
        opt_rmmoist=2,
        silt_pct=58.6,
        bulk_density_g_cm3=1.27,
        organic_carbon_pct=0.94,
        min_rm_moist=0.2,
    )
    assert float(limits.smd_1bar) == pytest.approx(-37.6423, abs=5e-5)
    assert float(limits.smd_wilt) == pytest.approx(-61.3368, abs=5e-5)
    assert float(limits.smd_max) == pytest.approx(-80.0490, abs=5e-5)
    assert float(limits.smd_bare) == pytest.approx(-42.4168, abs=5e-5)
    opt3 = soil_water_limits(
        23.4,
        23.0,
        opt_rmmoist=3,
        silt_pct=58.6,
        bulk_density_g_cm3=1.27,
        organic_carbon_pct=0.94,
        min_rm_moist=0.2,
        opt_smdbare=2,
    )
    assert float(opt3.smd_max) == float(opt3.smd_wilt) == float(opt3.smd_bare)


def test_moisture_modifier_piecewise() -> None:
    limits = soil_water_limits(23.4, 23.0)
    wilt, one_bar = float(limits.smd_wilt), float(limits.smd_1bar)
    assert float(moisture_modifier(0.0, limits)) == 1.0
    assert float(moisture_modifier(wilt, limits)) == pytest.approx(0.2, abs=1e-8)
    midway = 0.5 * (wilt + one_bar)
    assert float(moisture_modifier(midway, limits)) == pytest.approx(0.6, abs=1e-7)


def test_fortran_literals_are_single_precision() -> None:
    official, decimal = RothCParameters.rothamsted(), RothCParameters.decimal()
    assert official.k_rpm == float(np.float32(0.3)) != decimal.k_rpm
    assert official.tstep == pytest.approx(0.0833333358, abs=1e-10)
    assert official.conr == pytest.approx(1.2448764755e-4, rel=1e-10)
    assert official.vg_bare_ratio == pytest.approx(0.79850000143, abs=1e-11)


def test_falloon_iom() -> None:
    assert float(falloon_iom(50.0)) == pytest.approx(0.049 * 50.0**1.139)


def test_one_month_update_by_hand() -> None:
    """One covered month from a known state, computed here with the equations written out."""
    p = DEFAULT_PARAMETERS
    clay, depth = 23.4, 23.0
    soil = Soil(clay_pct=clay, depth_cm=depth, iom_t_ha=3.0)
    start = RothCState(
        pools=np.array([[0.2, 5.0, 0.9, 30.0]]),
        iom=np.array([3.0]),
        smd=np.array([-10.0]),
        co2=np.array([0.0]),
    )
    forcing = MonthlyForcing(
        tmp_degC=15.0,
        rain_mm=20.0,
        evap_mm=60.0,
        plant_cover=1,
        c_inp_t_ha=0.5,
        fym_t_ha=0.2,
        dpm_rpm=1.44,
    )
    result = run(soil, forcing, 1, state=start, record="end", diagnostics=True)

    rm_tmp = p.tmp_a / (math.exp(p.tmp_b / (15.0 + p.tmp_c)) + 1.0)
    smd = max(float(soil_water_limits(clay, depth).smd_max), min(0.0, -10.0 + 20.0 - 0.75 * 60))
    limits = soil_water_limits(clay, depth)
    wilt, one_bar = float(limits.smd_wilt), float(limits.smd_1bar)
    rm_moist = 1.0 if smd > one_bar else 0.2 + 0.8 * (wilt - smd) / (wilt - one_bar)
    rate = rm_tmp * rm_moist * p.cover_factor
    x = 1.67 * (1.85 + 1.60 * math.exp(-0.0786 * clay))
    pools = [0.2, 5.0, 0.9, 30.0]
    kept = [v * math.exp(-rate * k / 12) for v, k in zip(pools, (10, 0.3, 0.66, 0.02), strict=True)]
    decomposed = sum(pools) - sum(kept)
    expected_dpm = kept[0] + 1.44 / 2.44 * 0.5 + 0.49 * 0.2
    expected_rpm = kept[1] + 1 / 2.44 * 0.5 + 0.49 * 0.2
    expected_bio = kept[2] + decomposed * 0.46 / (x + 1)
    expected_hum = kept[3] + decomposed * 0.54 / (x + 1) + 0.02 * 0.2
    assert result.diagnostics is not None
    assert result.diagnostics["smd_mm"][0, 0] == pytest.approx(-35.0)
    assert result.diagnostics["rm_tmp"][0, 0] == pytest.approx(rm_tmp, rel=1e-12)
    assert result.diagnostics["rm_moist"][0, 0] == pytest.approx(rm_moist, rel=1e-6)
    # Decimal constants in the hand computation vs float32 literals in the model: 1e-6.
    np.testing.assert_allclose(
        result.pools[0, 0], [expected_dpm, expected_rpm, expected_bio, expected_hum], rtol=2e-6
    )
    assert result.co2[0, 0] == pytest.approx(decomposed * x / (x + 1), rel=2e-6)


def test_bare_soil_cannot_dry_below_its_limit_but_rewets() -> None:
    soil = Soil(clay_pct=23.4, depth_cm=23.0)
    limits = soil_water_limits(23.4, 23.0)
    dry = RothCState.empty(1)
    dry.smd[:] = float(limits.smd_wilt)  # dried under a crop, below the bare limit
    no_rain = MonthlyForcing(tmp_degC=10, rain_mm=0, evap_mm=100, plant_cover=0, c_inp_t_ha=0)
    out = run(soil, no_rain, 1, state=dry, record="end", diagnostics=True)
    assert out.diagnostics["smd_mm"][0, 0] == pytest.approx(float(limits.smd_wilt))
    wet = MonthlyForcing(tmp_degC=10, rain_mm=30, evap_mm=0, plant_cover=0, c_inp_t_ha=0)
    out = run(soil, wet, 1, state=dry, record="end", diagnostics=True)
    assert out.diagnostics["smd_mm"][0, 0] == pytest.approx(float(limits.smd_wilt) + 30)
