"""The analytical spin-up (Dechow et al. 2019) against a direct solve of the steady state.

The analytical spin-up of GSOCseq (manual §5.4.1.2, eqs. 5.3–5.12) claims to be the steady state
of the continuous-time RothC pools with a constant rate modifier ξ and a constant input I:

    dC/dt = ξ A C + I γ,            C = (DPM, RPM, BIO, HUM)  [t C/ha]

with, for decay constants k = (k_DPM, k_RPM, k_BIO, k_HUM) [1/yr] and the clay-dependent
fractions of decomposed carbon going to BIO, α_B = 0.46/(1 + x), and to HUM, α_H = 0.54/(1 + x),
x = 1.67 (1.85 + 1.60 e^(−0.0786 clay)):

    A = | −k_D        0           0               0             |
        |  0         −k_R         0               0             |
        |  α_B k_D    α_B k_R    (α_B − 1) k_B    α_B k_H       |
        |  α_H k_D    α_H k_R     α_H k_B        (α_H − 1) k_H  |

and γ = (r/(1+r), 1/(1+r), 0, 0) for the DPM/RPM ratio r of the input. The steady state solves
ξ A C = −I γ. This test writes A from the model description (not from socseq), solves the 4×4
system with numpy.linalg.solve and compares the active carbon per unit input (Δ = ΣC / I) and
the pool shares with :func:`socseq.rothc.equilibrium.dechow_pool_fractions` and with the
``"dechow"`` spin-up as a whole.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from socseq.rothc import MonthlyForcing, RothCParameters, Soil
from socseq.rothc.equilibrium import dechow_pool_fractions, equilibrium

#: The decimal constants of the model description (Coleman & Jenkinson), written here on purpose
#: instead of being read from socseq, so that the reference shares nothing with the code.
K = (10.0, 0.3, 0.66, 0.02)
DECIMAL = RothCParameters.decimal()


def steady_state(xi: float, clay: float, ratio: float, annual_input: float = 1.0) -> np.ndarray:
    """Pools [t C/ha] solving ξ A C = −I γ (the continuous-time steady state)."""
    x = 1.67 * (1.85 + 1.60 * math.exp(-0.0786 * clay))
    a_b, a_h = 0.46 / (1.0 + x), 0.54 / (1.0 + x)
    k_d, k_r, k_b, k_h = K
    a = np.array(
        [
            [-k_d, 0.0, 0.0, 0.0],
            [0.0, -k_r, 0.0, 0.0],
            [a_b * k_d, a_b * k_r, (a_b - 1.0) * k_b, a_b * k_h],
            [a_h * k_d, a_h * k_r, a_h * k_b, (a_h - 1.0) * k_h],
        ]
    )
    gamma = np.array([ratio / (1.0 + ratio), 1.0 / (1.0 + ratio), 0.0, 0.0])
    return np.linalg.solve(xi * a, -annual_input * gamma)


@pytest.mark.parametrize("xi", [0.3, 1.0, 2.5])
@pytest.mark.parametrize("clay", [5.0, 23.4, 60.0])
@pytest.mark.parametrize("ratio", [1.44, 0.67, 0.25])
def test_pool_fractions_equal_the_direct_solve(xi: float, clay: float, ratio: float) -> None:
    pools = steady_state(xi, clay, ratio)
    delta, fractions = dechow_pool_fractions(xi, clay, ratio, DECIMAL)
    # Both are exact solutions of the same linear system: they agree to rounding.
    assert float(delta) == pytest.approx(pools.sum(), rel=1e-12)
    np.testing.assert_allclose(fractions, pools / pools.sum(), rtol=1e-12, atol=1e-15)


def test_vectorised_over_cells() -> None:
    xi = np.array([0.3, 1.0, 2.5])
    clay = np.array([5.0, 23.4, 60.0])
    ratio = np.array([1.44, 0.67, 0.25])
    delta, fractions = dechow_pool_fractions(xi, clay, ratio, DECIMAL)
    for i in range(3):
        pools = steady_state(xi[i], clay[i], ratio[i])
        assert delta[i] == pytest.approx(pools.sum(), rel=1e-12)
        np.testing.assert_allclose(fractions[i], pools / pools.sum(), rtol=1e-12, atol=1e-15)


def test_dechow_spinup_reproduces_the_steady_state_of_a_constant_climate() -> None:
    # A climate that is the same every month, wet enough never to limit decomposition
    # (rain 200 mm, pan evaporation 20 mm: the deficit stays 0) and bare (RM_PC = 1), so the
    # annual mean rate modifier is RM_TMP(15 °C) = 47.91 / (exp(106.06 / (15 + 18.27)) + 1).
    tmp = 15.0
    xi = 47.91 / (math.exp(106.06 / (tmp + 18.27)) + 1.0)
    clay, ratio, target = 23.4, 1.44, 40.0
    soil = Soil(clay_pct=clay, depth_cm=23.0)
    forcing = MonthlyForcing(
        tmp_degC=np.full(12, tmp),
        rain_mm=np.full(12, 200.0),
        evap_mm=np.full(12, 20.0),
        plant_cover=0,
        c_inp_t_ha=np.full(12, 1.0 / 12.0),
        dpm_rpm=ratio,
    )
    spun = equilibrium(soil, forcing, target_soc=target, method="dechow", params=DECIMAL)
    iom = 0.049 * target**1.139  # Falloon et al. (1998)
    unit = steady_state(xi, clay, ratio)  # pools per 1 t C/ha/yr
    annual = (target - iom) / unit.sum()
    assert float(spun.annual_input_t_ha[0]) == pytest.approx(annual, rel=1e-12)
    np.testing.assert_allclose(spun.state.pools[0], annual * unit, rtol=1e-12)
    assert float(spun.state.iom[0]) == pytest.approx(iom, rel=1e-12)
