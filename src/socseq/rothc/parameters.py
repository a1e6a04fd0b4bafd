"""RothC 2.0.0 constants, in one frozen, documented object.

The official Fortran code (Rothamsted RothC 2.0.0, ``RothC.for``) writes every real literal as a
default (single-precision) REAL, so the value it computes with is the float32 rounding of the
decimal, used as a double (``docs/rothc-model.md`` §8.1).
:meth:`RothCParameters.rothamsted` (the default) copies those values, which makes socseq
reproduce the official outputs byte for byte;
:meth:`RothCParameters.decimal` uses the decimal values as printed in the model description, which
differs by at most one unit in the fourth decimal of the printed pools.

References
----------
Coleman, K. and Jenkinson, D. S. (1996, revised 2024). RothC - A model for the turnover of carbon
in soil. Model description and users guide. Rothamsted Research.
Farina, R. et al. (2013). Modification of the RothC model for simulations of soil organic C
dynamics in dryland regions. Geoderma 200-201, 18-30.
Falloon, P. et al. (1998). Estimating the size of the inert organic matter pool from total soil
organic carbon content for use in the Rothamsted carbon model. Soil Biol. Biochem. 30, 1207-1211.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, cast

import numpy as np


def _f32(value: float) -> float:
    """Return ``value`` rounded to IEEE single precision, as a Python float (double)."""
    return float(np.float32(value))


def _param(default: float, units: str, doc: str) -> Any:
    return field(default=default, metadata={"units": units, "doc": doc})


@dataclass(frozen=True)
class RothCParameters:
    """Constants of RothC 2.0.0.

    All rates are per year; all pools are t C/ha; moisture deficits are mm (negative = drier).
    Build with :meth:`rothamsted` (default, bit-compatible with the official code) or
    :meth:`decimal`; change one value with :meth:`replace`.
    """

    k_dpm: float = _param(
        10.0, "1/yr", "decomposition rate constant of decomposable plant material"
    )
    k_rpm: float = _param(0.3, "1/yr", "decomposition rate constant of resistant plant material")
    k_bio: float = _param(0.66, "1/yr", "decomposition rate constant of microbial biomass")
    k_hum: float = _param(0.02, "1/yr", "decomposition rate constant of humified organic matter")
    tstep: float = _param(1.0 / 12.0, "yr", "time step (one month)")

    tmp_a: float = _param(47.91, "-", "RM_TMP = a / (exp(b / (T + c)) + 1)")
    tmp_b: float = _param(106.06, "degC", "RM_TMP = a / (exp(b / (T + c)) + 1)")
    tmp_c: float = _param(18.27, "degC", "RM_TMP = a / (exp(b / (T + c)) + 1)")
    tmp_min: float = _param(-5.0, "degC", "RM_TMP = 0 below this temperature (strict <)")

    smd_a: float = _param(20.0, "mm", "SMD15 = -(a + b*clay - c*clay^2) for a 23 cm layer")
    smd_b: float = _param(1.3, "mm/%", "SMD15 = -(a + b*clay - c*clay^2)")
    smd_c: float = _param(0.01, "mm/%^2", "SMD15 = -(a + b*clay - c*clay^2)")
    smd_ref_depth: float = _param(23.0, "cm", "layer depth of the SMD15 formula")
    smd_1bar_ratio: float = _param(0.444, "-", "SMD1bar = ratio * SMD15adj (opt_RMmoist 1)")
    smd_bare_ratio: float = _param(0.556, "-", "SMDbare = ratio * SMD15adj (opt 1/1)")
    vg_bare_ratio: float = _param(
        0.6388 / 0.8, "-", "SMDbare = SMD15adj - ratio*(SMD15adj - SMD1bar) (opt 2/3, SMDbare 1)"
    )
    min_rm_moist: float = _param(0.2, "-", "minimum moisture rate modifier (opt_RMmoist 1)")
    evap_coefficient: float = _param(0.75, "-", "DF = Rain - coefficient * Evap (open pan)")
    cover_factor: float = _param(0.6, "-", "RM_PC under plant cover (1 when bare)")

    co2_a: float = _param(1.67, "-", "x = a * (b + c * exp(-d * clay)), CO2/(BIO+HUM)")
    co2_b: float = _param(1.85, "-", "x = a * (b + c * exp(-d * clay))")
    co2_c: float = _param(1.60, "-", "x = a * (b + c * exp(-d * clay))")
    co2_d: float = _param(0.0786, "1/%", "x = a * (b + c * exp(-d * clay))")
    bio_fraction: float = _param(0.46, "-", "share of BIO in the BIO+HUM formed")
    hum_fraction: float = _param(0.54, "-", "share of HUM in the BIO+HUM formed")
    fym_dpm: float = _param(0.49, "-", "share of farmyard manure entering DPM")
    fym_rpm: float = _param(0.49, "-", "share of farmyard manure entering RPM")
    fym_hum: float = _param(0.02, "-", "share of farmyard manure entering HUM")

    conr: float = _param(math.log(2.0) / 5568.0, "1/yr", "radiocarbon decay constant ln2/5568")
    iom_age: float = _param(50000.0, "yr", "radiocarbon age of the inert organic matter")
    delta_c_age_constant: float = _param(8035.0, "yr", "deltaC = (exp(-age/8035) - 1) * 1000")
    spinup_tolerance: float = _param(
        1e-6, "t C/ha", "iterative spin-up stops when |yearly change of DPM+RPM+BIO+HUM| < tol"
    )

    vg_om_per_oc: float = _param(1.72, "-", "organic matter = 1.72 * organic carbon (Wosten 1999)")

    iom_a: float = _param(0.049, "t C/ha", "IOM = a * SOC^b (Falloon et al. 1998)")
    iom_b: float = _param(1.139, "-", "IOM = a * SOC^b (Falloon et al. 1998)")

    fortran_literals: bool = field(
        default=False,
        metadata={
            "units": "-",
            "doc": "round the van Genuchten (Wosten 1999) coefficients to "
            "float32 as the official code does",
        },
    )

    @classmethod
    def rothamsted(cls) -> RothCParameters:
        """Constants as the official Fortran computes with them (float32-rounded literals).

        Returns
        -------
        RothCParameters
            Parameters reproducing the official RothC 2.0.0 outputs byte for byte.
        """
        exact = {
            "tmp_min",
            "smd_a",
            "smd_ref_depth",
            "evap_coefficient",
            "k_dpm",
            "iom_age",
            "delta_c_age_constant",
            "iom_a",
            "iom_b",
            "fortran_literals",
        }
        values: dict[str, float] = {}
        for f in fields(cls):
            if f.name in exact:
                continue
            values[f.name] = _f32(cast(float, f.default))
        # Quotients the Fortran evaluates in single precision, not the rounding of the quotient.
        values["tstep"] = float(np.float32(1.0) / np.float32(12.0))
        values["conr"] = float(np.float32(np.log(np.float32(2.0))) / np.float32(5568.0))
        values["vg_bare_ratio"] = float(np.float32(0.6388) / np.float32(0.8))
        return cls(**values, fortran_literals=True)

    @classmethod
    def decimal(cls) -> RothCParameters:
        """Constants at their decimal values (as printed in the model description).

        Returns
        -------
        RothCParameters
            Parameters in plain double precision.
        """
        return cls()

    def replace(self, **changes: Any) -> RothCParameters:
        """Return a copy with some constants changed (e.g. for parameter uncertainty).

        Parameters
        ----------
        **changes
            Field names and their new values.

        Returns
        -------
        RothCParameters
            The modified copy.
        """
        return replace(self, **changes)

    def describe(self) -> list[tuple[str, float | bool, str, str]]:
        """Return ``(name, value, units, description)`` for every constant (for reports)."""
        return [
            (f.name, getattr(self, f.name), f.metadata["units"], f.metadata["doc"])
            for f in fields(self)
        ]


DEFAULT_PARAMETERS = RothCParameters.rothamsted()
"""The default constants: bit-compatible with the official RothC 2.0.0."""
