"""MIAMI net primary productivity (Lieth 1975), as used by the GSOCseq warm-up.

NPP_T = 3000 / (1 + exp(1.315 − 0.119 T)), NPP_P = 3000 (1 − exp(−0.000664 P)),
NPP = min(NPP_T, NPP_P) in g dry matter m⁻² yr⁻¹, with T the annual mean air temperature
(°C) and P the annual precipitation (mm). GSOCseq Technical Manual eqs. 6.4–6.9; the
carbon fraction is 0.48 in the manual (eq. 6.9) and 0.5 in the FAO scripts.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["miami_npp_g_dm_m2", "npp_t_c_ha"]


def miami_npp_g_dm_m2(tas_degC: ArrayLike, pr_mm: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    """MIAMI NPP [g DM m⁻² yr⁻¹] from annual mean temperature [°C] and precipitation [mm/yr]."""
    t = np.asarray(tas_degC, dtype=np.float64)
    p = np.asarray(pr_mm, dtype=np.float64)
    npp_t = 3000.0 / (1.0 + np.exp(1.315 - 0.119 * t))
    npp_p = 3000.0 * (1.0 - np.exp(-0.000664 * p))
    return np.minimum(npp_t, npp_p)


def npp_t_c_ha(npp_g_dm_m2: ArrayLike, carbon_fraction: float) -> NDArray[np.float64]:
    """Convert NPP [g DM m⁻² yr⁻¹] to carbon [t C ha⁻¹ yr⁻¹]: × 0.01 (g/m² → t/ha) × C fraction."""
    return np.asarray(npp_g_dm_m2, dtype=np.float64) * 0.01 * carbon_fraction
