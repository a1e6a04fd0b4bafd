"""Bulk density pedotransfer functions of organic matter (the FAO SOC Mapping Cookbook's set).

Bulk density missing in a sample is filled by a pedotransfer function of organic matter
(OM = 1.724 × SOC, the van Bemmelen factor). The default is Grigal et al. (1989), which the FAO
Soil Organic Carbon Mapping Cookbook used for the same purpose and which stays within
0.67–1.61 g/cm³ for any organic matter content, whereas the linear and logarithmic functions
(Saini 1966; Jeffrey 1970) turn negative in organic soils. The others of the Cookbook's set are
available by name (:data:`BD_PTFS`).

References
----------
Adams, W.A. (1973) J. Soil Sci. 24, 10–17. Drew, L.A. (1973) Minnesota Forestry Research Notes
243. FAO (2018) Soil Organic Carbon Mapping Cookbook, 2nd ed., ch. 3. Grigal, D.F., Brovold,
S.L., Nord, W.S., Ohmann, L.F. (1989) Can. J. Soil Sci. 69, 895–900. Honeysett, J.L.,
Ratkowsky, D.A. (1989) J. Soil Sci. 40, 299–308. Jeffrey, D.W. (1970) J. Ecol. 58, 297–299.
Saini, G.R. (1966) Nature 210, 1295–1296.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from socseq.exceptions import ConfigError

__all__ = ["BD_PTFS", "VAN_BEMMELEN", "BulkDensityPTF", "bulk_density_ptf"]

#: Organic matter / organic carbon ratio (van Bemmelen factor).
VAN_BEMMELEN = 1.724


@dataclass(frozen=True)
class BulkDensityPTF:
    """A bulk density pedotransfer function of organic matter content.

    Attributes
    ----------
    name : str
        Registry key.
    equation : str
        The equation as published, OM in % and BD in g/cm³.
    reference : str
        Where it comes from.
    of_om : callable
        OM (%) → BD (g/cm³).
    """

    name: str
    equation: str
    reference: str
    of_om: Callable[[np.ndarray], np.ndarray]

    def __call__(self, soc_g_kg: np.ndarray) -> np.ndarray:
        """Return BD (g/cm³) for SOC (g/kg), with OM (%) = 1.724 · SOC (g/kg) / 10."""
        om_pct = VAN_BEMMELEN * np.asarray(soc_g_kg, dtype=float) / 10.0
        return np.asarray(self.of_om(om_pct), dtype=float)


#: The pedotransfer functions listed by the FAO SOC Mapping Cookbook (2018, ch. 3).
BD_PTFS: dict[str, BulkDensityPTF] = {
    ptf.name: ptf
    for ptf in (
        BulkDensityPTF(
            "grigal1989",
            "BD = 0.669 + 0.941 · exp(−0.06 · OM)",
            "Grigal et al. (1989) Can. J. Soil Sci. 69, 895–900",
            lambda om: 0.669 + 0.941 * np.exp(-0.06 * om),
        ),
        BulkDensityPTF(
            "saini1966",
            "BD = 1.62 − 0.06 · OM",
            "Saini (1966) Nature 210, 1295–1296",
            lambda om: 1.62 - 0.06 * om,
        ),
        BulkDensityPTF(
            "drew1973",
            "BD = 1 / (0.6268 + 0.0361 · OM)",
            "Drew (1973) Minnesota Forestry Research Notes 243",
            lambda om: 1.0 / (0.6268 + 0.0361 * om),
        ),
        BulkDensityPTF(
            "jeffrey1970",
            "BD = 1.482 − 0.6786 · ln(OM)",
            "Jeffrey (1970) J. Ecol. 58, 297–299 (natural log, as coded in the FAO Cookbook)",
            lambda om: 1.482 - 0.6786 * np.log(np.maximum(om, 1e-6)),
        ),
        BulkDensityPTF(
            "adams1973",
            "BD = 100 / (OM / 0.244 + (100 − OM) / 2.65)",
            "Adams (1973) J. Soil Sci. 24, 10–17 (mineral density 2.65 as in the FAO Cookbook)",
            lambda om: 100.0 / (om / 0.244 + (100.0 - om) / 2.65),
        ),
        BulkDensityPTF(
            "honeysett1989",
            "BD = 1 / (0.564 + 0.0556 · OM)",
            "Honeysett & Ratkowsky (1989) J. Soil Sci. 40, 299–308",
            lambda om: 1.0 / (0.564 + 0.0556 * om),
        ),
    )
}


def bulk_density_ptf(soc_g_kg: np.ndarray, method: str = "grigal1989") -> np.ndarray:
    """Estimate bulk density from SOC with a named pedotransfer function.

    Parameters
    ----------
    soc_g_kg : array-like
        SOC concentration (g/kg).
    method : str, default "grigal1989"
        Key of :data:`BD_PTFS`.

    Returns
    -------
    numpy.ndarray
        Bulk density (g/cm³).
    """
    if method not in BD_PTFS:
        raise ConfigError(
            f"bulk density pedotransfer function '{method}' is not known; use one of "
            f"{', '.join(BD_PTFS)}"
        )
    return BD_PTFS[method](soc_g_kg)
