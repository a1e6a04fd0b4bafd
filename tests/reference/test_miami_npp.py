"""MIAMI NPP (Lieth 1975) against values worked by hand from the published equations.

Source of the equations: Lieth, H. (1975) Modeling the primary productivity of the world. In
Lieth, H. and Whittaker, R.H. (eds.) Primary Productivity of the Biosphere, Ecological Studies
14, Springer, pp. 237–263 (the "Miami model"), as quoted by the GSOCseq Technical Manual
(FAO 2020, eqs. 6.4–6.9):

    NPP_T = 3000 / (1 + exp(1.315 − 0.119 T))      T: annual mean air temperature [°C]
    NPP_P = 3000 · (1 − exp(−0.000664 P))          P: annual precipitation [mm]
    NPP   = min(NPP_T, NPP_P)                      [g dry matter m⁻² yr⁻¹]

No table of worked Miami values was found in the sources searched for this test (the
Lieth 1973/1975 papers, the GSOCseq manual and scripts, package documentation), so the
expected values below are worked by hand from the equations with 30-digit decimal arithmetic;
each comment shows the exponent, its exponential and the quotient. Two values need no
arithmetic at all and pin the constants: the temperature curve is at half its maximum where
1.315 − 0.119 T = 0, and the precipitation curve where 0.000664 P = ln 2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from socseq.pipeline.npp import miami_npp_g_dm_m2, npp_t_c_ha

#: Temperature-limited NPP, worked by hand: T [°C] → NPP_T [g DM m⁻² yr⁻¹].
TEMPERATURE_LIMITED = [
    # 1.315 − 0.119·(−10) = 2.505; e^2.505 = 12.243559;  3000 / 13.243559 = 226.5252
    (-10.0, 226.5252),
    # 1.315;                       e^1.315 = 3.724751;   3000 / 4.724751 = 634.9541
    (0.0, 634.9541),
    # 1.315 − 0.595 = 0.720;       e^0.720 = 2.054433;   3000 / 3.054433 = 982.1789
    (5.0, 982.1789),
    # 1.315 − 1.190 = 0.125;       e^0.125 = 1.133148;   3000 / 2.133148 = 1406.3719
    (10.0, 1406.3719),
    # 1.315 − 2.380 = −1.065;      e^−1.065 = 0.344728;  3000 / 1.344728 = 2230.9347
    (20.0, 2230.9347),
    # 1.315 − 3.570 = −2.255;      e^−2.255 = 0.104874;  3000 / 1.104874 = 2715.2429
    (30.0, 2715.2429),
]

#: Precipitation-limited NPP, worked by hand: P [mm/yr] → NPP_P [g DM m⁻² yr⁻¹].
PRECIPITATION_LIMITED = [
    # −0.000664·100 = −0.0664;   e^−0.0664 = 0.935756;  3000 · 0.064244 = 192.7305
    (100.0, 192.7305),
    # −0.332;                    e^−0.332 = 0.717487;   3000 · 0.282513 = 847.5380
    (500.0, 847.5380),
    # −0.664;                    e^−0.664 = 0.514788;   3000 · 0.485212 = 1455.6358
    (1000.0, 1455.6358),
    # −1.328;                    e^−1.328 = 0.265007;   3000 · 0.734993 = 2204.9798
    (2000.0, 2204.9798),
    # −1.992;                    e^−1.992 = 0.136422;   3000 · 0.863578 = 2590.7331
    (3000.0, 2590.7331),
]


@pytest.mark.parametrize(("tas_degC", "expected"), TEMPERATURE_LIMITED)
def test_temperature_limited_branch(tas_degC: float, expected: float) -> None:
    # 10 m of rain make the precipitation term 3000·(1 − e^−6.64) = 2996.1, above every
    # temperature value in the table, so the minimum is the temperature term.
    got = float(miami_npp_g_dm_m2(tas_degC, 10_000.0))
    assert got == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize(("pr_mm", "expected"), PRECIPITATION_LIMITED)
def test_precipitation_limited_branch(pr_mm: float, expected: float) -> None:
    # At 40 °C the temperature term is 3000 / (1 + e^(1.315 − 4.76)) = 2907.2, above every
    # precipitation value in the table.
    got = float(miami_npp_g_dm_m2(40.0, pr_mm))
    assert got == pytest.approx(expected, abs=5e-5)


def test_half_saturation_points_pin_the_constants() -> None:
    # 1.315 / 0.119 = 11.05042 °C makes the exponent 0: 3000 / (1 + 1) = 1500.
    assert float(miami_npp_g_dm_m2(1.315 / 0.119, 10_000.0)) == pytest.approx(1500.0, abs=1e-9)
    # ln 2 / 0.000664 = 1043.896 mm makes e^(−0.000664 P) = 1/2: 3000 · (1 − 1/2) = 1500.
    assert float(miami_npp_g_dm_m2(40.0, math.log(2) / 0.000664)) == pytest.approx(1500.0, abs=1e-9)


def test_the_smaller_term_limits_and_arrays_broadcast() -> None:
    # 10 °C and 1000 mm: NPP_T = 1406.3719 < NPP_P = 1455.6358 → temperature limits;
    # 20 °C and 1000 mm: NPP_T = 2230.9347 > NPP_P = 1455.6358 → precipitation limits.
    got = miami_npp_g_dm_m2(np.array([[10.0], [20.0]]), np.array([1000.0, 3000.0]))
    expected = np.array([[1406.3719, 1406.3719], [1455.6358, 2230.9347]])
    np.testing.assert_allclose(got, expected, atol=5e-5)


def test_carbon_conversion_of_the_manual_and_of_the_scripts() -> None:
    # 1455.6358 g DM/m² × 0.01 (g/m² → t/ha) = 14.556358 t DM/ha;
    # × 0.48 (manual eq. 6.9) = 6.987052 t C/ha; × 0.5 (FAO scripts) = 7.278179 t C/ha.
    assert float(npp_t_c_ha(1455.6358, 0.48)) == pytest.approx(6.987052, abs=5e-7)
    assert float(npp_t_c_ha(1455.6358, 0.5)) == pytest.approx(7.278179, abs=5e-7)
