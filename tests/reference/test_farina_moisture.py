"""The Farina et al. (2013) moisture options (opt_RMmoist 2 and 3) against hand-computed tables.

Reference: Farina, R. et al. (2013) Modification of the RothC model for simulations of soil
organic C dynamics in dryland regions. Geoderma 200–201, 18–30, as implemented by the official
RothC 2.0.0 and written out in ``docs/rothc-model.md`` §3.2 (the equations, and the example of
the official soil: clay 23.4 %, silt 58.6 %, BD 1.27 g/cm³, OC 0.94 %, 23 cm →
X1 = −37.6423, X2 = −61.3368, X3 = −80.0490 mm, bare limit −42.4168 mm).

Three independent checks:

1. the official soil's deficits, as printed (4 decimals);
2. a table of four more soils, computed by :func:`van_genuchten_deficits` below, a transcription
   of the Wösten et al. (1999) pedotransfer functions and the van Genuchten curve written for
   this test from the equations of §3.2(a) (plain double constants, no socseq code);
3. month-by-month deficits and moisture modifiers under plant cover and bare soil, worked by
   hand from §3.2(d)–(e) with the official soil's printed deficits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from socseq.rothc import MonthlyForcing, RothCParameters, Soil, run, soil_water_limits

DECIMAL = RothCParameters.decimal()
OFFICIAL = {"clay": 23.4, "silt": 58.6, "bd": 1.27, "oc": 0.94, "depth": 23.0}
X1, X2, X3, BARE = -37.6423, -61.3368, -80.0490, -42.4168  # rothc-model.md §3.2(a)-(b)


def van_genuchten_deficits(
    clay: float, silt: float, bd: float, oc: float, depth: float
) -> tuple[float, float, float]:
    """Deficits at 1, 15 and 1000 bar [mm] for a topsoil layer (rothc-model.md §3.2a).

    Wösten et al. (1999) topsoil (t = 1) pedotransfer functions with OM = 1.72 OC; van Genuchten
    θ(h) = θr + (θs − θr) / (1 + (α h)^n)^m, m = 1 − 1/n, θr = 0.01; X = (θ(h) − θ(50)) 10 depth.
    """
    om, t = 1.72 * oc, 1.0
    alpha = math.exp(
        -14.96 + 0.03135 * clay + 0.0351 * silt + 0.646 * om + 15.29 * bd - 0.192 * t
        - 4.671 * bd**2 - 0.000781 * clay**2 - 0.00687 * om**2 + 0.0449 / om
        + 0.0663 * math.log(silt) + 0.1482 * math.log(om) - 0.04546 * bd * silt
        - 0.4852 * bd * om + 0.00673 * clay * t
    )  # fmt: skip
    theta_s = (
        0.7919 + 0.001691 * clay - 0.29619 * bd - 0.000001491 * silt**2 + 0.0000821 * om**2
        + 0.02427 / clay + 0.01113 / silt + 0.01472 * math.log(silt) - 0.0000733 * om * clay
        - 0.000619 * bd * clay - 0.001183 * bd * om - 0.0001664 * silt * t
    )  # fmt: skip
    n = 1.0 + math.exp(
        -25.23 - 0.02195 * clay + 0.0074 * silt - 0.194 * om + 45.5 * bd - 7.24 * bd**2
        + 0.0003658 * clay**2 + 0.002885 * om**2 - 12.81 / bd - 0.1524 / silt - 0.01958 / om
        - 0.2876 * math.log(silt) - 0.0709 * math.log(om) - 44.6 * math.log(bd)
        - 0.02264 * bd * clay + 0.0896 * bd * om + 0.00718 * clay * t
    )  # fmt: skip
    theta_r, m = 0.01, 1.0 - 1.0 / n

    def theta(h: float) -> float:
        return theta_r + (theta_s - theta_r) / (1.0 + (alpha * h) ** n) ** m

    fc = theta(50.0)
    x1, x2, x3 = ((theta(h) - fc) * 10.0 * depth for h in (1000.0, 15000.0, 1_000_000.0))
    return x1, x2, x3


#: (clay %, silt %, BD g/cm³, OC %, depth cm) → X1, X2, X3 [mm], from van_genuchten_deficits,
#: printed to 4 decimals as rothc-model.md prints the official soil.
TABLE = [
    ((23.4, 58.6, 1.27, 0.94, 23.0), (-37.6423, -61.3368, -80.0490)),
    ((10.0, 30.0, 1.45, 0.60, 30.0), (-51.7829, -73.6330, -85.7306)),
    ((40.0, 25.0, 1.15, 2.50, 30.0), (-37.6445, -64.8589, -92.7505)),
    ((55.0, 40.0, 1.05, 4.00, 20.0), (-22.1179, -41.0259, -62.0115)),
    ((5.0, 10.0, 1.60, 0.30, 23.0), (-33.0623, -41.8559, -44.9925)),
]


def _limits(soil: tuple[float, ...], opt: int, params: RothCParameters, opt_smdbare: int = 1):
    clay, silt, bd, oc, depth = soil
    return soil_water_limits(
        clay,
        depth,
        opt_rmmoist=opt,
        opt_smdbare=opt_smdbare,
        silt_pct=silt,
        bulk_density_g_cm3=bd,
        organic_carbon_pct=oc,
        min_rm_moist=0.1,
        params=params,
    )


def test_official_soil_as_printed_in_the_model_description() -> None:
    # The printed values come from the official single-precision build: compare with socseq's
    # default (float32 literals) to half a unit of the 4th decimal.
    limits = _limits(tuple(OFFICIAL.values()), 2, RothCParameters.rothamsted())
    assert float(limits.smd_1bar) == pytest.approx(X1, abs=5e-5)
    assert float(limits.smd_wilt) == pytest.approx(X2, abs=5e-5)
    assert float(limits.smd_max) == pytest.approx(X3, abs=5e-5)
    assert float(limits.smd_bare) == pytest.approx(BARE, abs=5e-5)
    assert van_genuchten_deficits(**OFFICIAL) == pytest.approx((X1, X2, X3), abs=5e-5)


@pytest.mark.parametrize(("soil", "deficits"), TABLE)
def test_table_of_soils(soil: tuple[float, ...], deficits: tuple[float, float, float]) -> None:
    x1, x2, x3 = deficits
    opt2 = _limits(soil, 2, DECIMAL)
    opt3 = _limits(soil, 3, DECIMAL)
    assert (float(opt2.smd_1bar), float(opt2.smd_wilt), float(opt2.smd_max)) == pytest.approx(
        (x1, x2, x3), abs=5e-5
    )
    # Same equations, same double constants: equal to rounding.
    exact = van_genuchten_deficits(*soil)
    assert float(opt2.smd_1bar) == pytest.approx(exact[0], rel=1e-12)
    assert float(opt2.smd_wilt) == pytest.approx(exact[1], rel=1e-12)
    assert float(opt2.smd_max) == pytest.approx(exact[2], rel=1e-12)
    # opt 3 keeps the 1 and 15 bar deficits but stops the covered soil at 15 bar (§3.2c);
    # the bare limit is SMD15adj − 0.6388/0.8 (SMD15adj − SMD1bar) for opt_SMDbare 1 (§3.2b).
    assert float(opt3.smd_max) == float(opt3.smd_wilt) == float(opt2.smd_wilt)
    bare = x2 - 0.6388 / 0.8 * (x2 - x1)
    assert float(opt2.smd_bare) == pytest.approx(bare, abs=1e-4)
    assert float(_limits(soil, 2, DECIMAL, opt_smdbare=2).smd_bare) == float(opt2.smd_wilt)


#: Four covered months (rain, pan evaporation [mm]) from field capacity, the official soil,
#: minRM = 0.1; DF = rain − 0.75 evap. Hand-worked deficits [mm] and RM_Moist:
#:   month 1: DF = −30: SMD = −30 > X1 → RM 1.
#:   month 2: DF = −30: SMD = −60, between X1 and X2 →
#:            RM = 0.1 + 0.9 (X2 + 60)/(X2 − X1) = 0.1 + 0.9 · (−1.3368 / −23.6945)
#:               = 0.1 + 0.9 · 0.0564182 = 0.1507763.
#:   month 3: DF = −30: SMD = −90 is below the limit under cover: opt 2 stops at X3 = −80.0490
#:            (≤ X2 → RM = minRM = 0.1); opt 3 stops at X2 = −61.3368 (RM = 0.1 + 0.9 · 0 = 0.1).
#:   month 4: DF = +100: back to field capacity, SMD = 0, RM 1.
COVERED = {
    2: ([-30.0, -60.0, X3, 0.0], [1.0, 0.1507763, 0.1, 1.0]),
    3: ([-30.0, -60.0, X2, 0.0], [1.0, 0.1507763, 0.1, 1.0]),
}
#: The same months on bare soil (opt 2, opt_SMDbare 1): the deficit stops at −42.4168 in
#: month 2: RM = 0.1 + 0.9 (X2 − BARE)/(X2 − X1) = 0.1 + 0.9 · (−18.9200 / −23.6945)
#: = 0.1 + 0.9 · 0.7984975 = 0.8186478; it stays there in month 3.
BARE_MONTHS = ([-30.0, BARE, BARE, 0.0], [1.0, 0.8186478, 0.8186478, 1.0])


def _run_months(opt: int, plant_cover: int) -> tuple[np.ndarray, np.ndarray]:
    soil = Soil(
        clay_pct=OFFICIAL["clay"],
        depth_cm=OFFICIAL["depth"],
        opt_rmmoist=opt,
        silt_pct=OFFICIAL["silt"],
        bulk_density_g_cm3=OFFICIAL["bd"],
        organic_carbon_pct=OFFICIAL["oc"],
        min_rm_moist=0.1,
    )
    forcing = MonthlyForcing(
        tmp_degC=15.0,
        rain_mm=[0.0, 0.0, 0.0, 100.0],
        evap_mm=[40.0, 40.0, 40.0, 0.0],
        plant_cover=plant_cover,
        c_inp_t_ha=0.1,
    )
    result = run(soil, forcing, 4, record="month", diagnostics=True)
    assert result.diagnostics is not None
    return result.diagnostics["smd_mm"][0], result.diagnostics["rm_moist"][0]


@pytest.mark.parametrize("opt", [2, 3])
def test_month_by_month_under_cover(opt: int) -> None:
    smd, rm = _run_months(opt, plant_cover=1)
    expected_smd, expected_rm = COVERED[opt]
    # The deficits at the limits are printed to 4 decimals (abs 5e-5 mm); a change of 5e-5 mm
    # in X1 or X2 moves RM by at most 0.9 · 5e-5 / 23.69 · 2 < 4e-6.
    np.testing.assert_allclose(smd, expected_smd, rtol=0, atol=5e-5)
    np.testing.assert_allclose(rm, expected_rm, rtol=0, atol=5e-6)


def test_month_by_month_bare_soil() -> None:
    smd, rm = _run_months(2, plant_cover=0)
    np.testing.assert_allclose(smd, BARE_MONTHS[0], rtol=0, atol=5e-5)
    np.testing.assert_allclose(rm, BARE_MONTHS[1], rtol=0, atol=5e-6)
