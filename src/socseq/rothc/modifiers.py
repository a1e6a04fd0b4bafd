"""RothC rate modifiers and per-soil constants, as vectorised numpy functions.

These functions take arrays (any shape, broadcast together) and return arrays. The numba kernel
receives the per-soil constants computed here and evaluates the monthly modifiers with the same
formulas (``socseq.rothc._kernel``). Equations follow ``docs/rothc-model.md`` §3-§4,
which documents the official Fortran RothC 2.0.0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from socseq.rothc import _kernel
from socseq.rothc.parameters import DEFAULT_PARAMETERS, RothCParameters

FloatArray = NDArray[np.float64]

#: Woesten et al. (1999) pedotransfer coefficients used by opt_RMmoist 2 and 3 (Farina 2013),
#: in the order of the terms in rothc-model.md §3.2(a).
_VG_ALPHA = (
    -14.96,
    0.03135,
    0.0351,
    0.646,
    15.29,
    0.192,
    4.671,
    0.000781,
    0.00687,
    0.0449,
    0.0663,
    0.1482,
    0.04546,
    0.4852,
    0.00673,
)
_VG_THETA_S = (
    0.7919,
    0.001691,
    0.29619,
    0.000001491,
    0.0000821,
    0.02427,
    0.01113,
    0.01472,
    0.0000733,
    0.000619,
    0.001183,
    0.0001664,
)
_VG_N = (
    -25.23,
    0.02195,
    0.0074,
    0.194,
    45.5,
    7.24,
    0.0003658,
    0.002885,
    12.81,
    0.1524,
    0.01958,
    0.2876,
    0.0709,
    44.6,
    0.02264,
    0.0896,
    0.00718,
)
_VG_THETA_R = 0.01
#: Suction heads (cm) of field capacity, 1 bar, 15 bar and 1000 bar.
_VG_HEADS = (50.0, 1000.0, 15000.0, 1000000.0)


def temperature_modifier(
    tmp_degC: ArrayLike, params: RothCParameters = DEFAULT_PARAMETERS
) -> FloatArray:
    """Temperature rate modifier RM_TMP.

    ``RM_TMP = 47.91 / (exp(106.06 / (T + 18.27)) + 1)`` for T >= -5 degC, else 0 (strict ``<``).

    Parameters
    ----------
    tmp_degC : array_like
        Monthly mean air temperature [degC].
    params : RothCParameters
        Model constants.

    Returns
    -------
    numpy.ndarray
        RM_TMP [-].
    """
    t = np.asarray(tmp_degC, dtype=np.float64)
    out: FloatArray = _kernel.temperature_modifier_array(
        t.ravel(), params.tmp_a, params.tmp_b, params.tmp_c, params.tmp_min
    )
    return out.reshape(t.shape)


def co2_partition(
    clay_pct: ArrayLike, params: RothCParameters = DEFAULT_PARAMETERS
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Fractions of decomposed carbon going to CO2, BIO and HUM.

    ``x = 1.67 * (1.85 + 1.60 * exp(-0.0786 * clay))``; CO2 ``x/(x+1)``, BIO ``0.46/(x+1)``,
    HUM ``0.54/(x+1)``.

    Parameters
    ----------
    clay_pct : array_like
        Clay content [%].
    params : RothCParameters
        Model constants.

    Returns
    -------
    tuple of numpy.ndarray
        ``(f_co2, f_bio, f_hum)`` [-]; they sum to 1 up to rounding.
    """
    clay = np.asarray(clay_pct, dtype=np.float64)
    x = params.co2_a * (params.co2_b + params.co2_c * np.exp(-params.co2_d * clay))
    return x / (x + 1.0), params.bio_fraction / (x + 1.0), params.hum_fraction / (x + 1.0)


@dataclass(frozen=True)
class SoilWaterLimits:
    """Moisture deficits [mm, <= 0] that drive the RothC moisture modifier of one or many soils.

    Attributes
    ----------
    smd_wilt : numpy.ndarray
        SMD15adj: deficit at wilting point (15 bar) for the layer [mm].
    smd_1bar : numpy.ndarray
        SMD1bar: deficit below which decomposition slows [mm].
    smd_bare : numpy.ndarray
        Lowest deficit bare soil can reach [mm].
    smd_max : numpy.ndarray
        Lowest deficit under plant cover [mm] (SMD15adj; 1000 bar for opt_RMmoist 2).
    min_rm_moist : numpy.ndarray
        Moisture modifier at and below the wilting-point deficit [-].
    """

    smd_wilt: FloatArray
    smd_1bar: FloatArray
    smd_bare: FloatArray
    smd_max: FloatArray
    min_rm_moist: FloatArray


def _vg_parameters(
    clay: FloatArray,
    silt: FloatArray,
    bd: FloatArray,
    om: FloatArray,
    c: tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Woesten et al. (1999) van Genuchten alpha, theta_s and n, topsoil (t = 1).

    Sums are accumulated left to right, ``c/X`` terms as ``c * (1/X)`` and squares as ``X*X``,
    as the official code does, so that results match it to the last bit.
    """
    a, ts, n_ = c
    t = 1.0
    alpha = np.exp(
        a[0]
        + a[1] * clay
        + a[2] * silt
        + a[3] * om
        + a[4] * bd
        - a[5] * t
        - a[6] * (bd * bd)
        - a[7] * (clay * clay)
        - a[8] * (om * om)
        + a[9] * (1.0 / om)
        + a[10] * np.log(silt)
        + a[11] * np.log(om)
        - a[12] * bd * silt
        - a[13] * bd * om
        + a[14] * clay * t
    )
    theta_s = (
        ts[0]
        + ts[1] * clay
        - ts[2] * bd
        - ts[3] * (silt * silt)
        + ts[4] * (om * om)
        + ts[5] * (1.0 / clay)
        + ts[6] * (1.0 / silt)
        + ts[7] * np.log(silt)
        - ts[8] * om * clay
        - ts[9] * bd * clay
        - ts[10] * bd * om
        - ts[11] * silt * t
    )
    n = 1.0 + np.exp(
        n_[0]
        - n_[1] * clay
        + n_[2] * silt
        - n_[3] * om
        + n_[4] * bd
        - n_[5] * (bd * bd)
        + n_[6] * (clay * clay)
        + n_[7] * (om * om)
        - n_[8] * (1.0 / bd)
        - n_[9] * (1.0 / silt)
        - n_[10] * (1.0 / om)
        - n_[11] * np.log(silt)
        - n_[12] * np.log(om)
        - n_[13] * np.log(bd)
        - n_[14] * bd * clay
        + n_[15] * bd * om
        + n_[16] * clay * t
    )
    return alpha, theta_s, n


def soil_water_limits(
    clay_pct: ArrayLike,
    depth_cm: ArrayLike,
    *,
    opt_rmmoist: int = 1,
    opt_smdbare: int = 1,
    silt_pct: ArrayLike | None = None,
    bulk_density_g_cm3: ArrayLike | None = None,
    organic_carbon_pct: ArrayLike | None = None,
    min_rm_moist: ArrayLike | None = None,
    params: RothCParameters = DEFAULT_PARAMETERS,
) -> SoilWaterLimits:
    """Soil moisture deficit limits of RothC 2.0.0 (standard or Farina van Genuchten).

    ``opt_rmmoist = 1``: ``SMD15 = -(20 + 1.3 clay - 0.01 clay^2)``, ``SMD15adj = SMD15*depth/23``,
    ``SMD1bar = 0.444 SMD15adj``. ``opt_rmmoist = 2, 3``: deficits at 1, 15 and 1000 bar from
    the Woesten et al. (1999) van Genuchten curve of the layer (rothc-model.md §3.2a).
    Bare limit: ``0.556 SMD15adj`` (opt 1/1), ``SMD15adj - 0.6388/0.8 (SMD15adj - SMD1bar)``
    (opt 2-3/1) or ``SMD15adj`` (opt_smdbare 2). Under cover the deficit can reach SMD15adj
    (opt 1, 3) or the 1000 bar deficit (opt 2).

    Parameters
    ----------
    clay_pct : array_like
        Clay [%], 0-100 (> 0 for opt 2/3).
    depth_cm : array_like
        Layer depth [cm], > 0.
    opt_rmmoist : {1, 2, 3}
        Moisture option of RothC 2.0.0.
    opt_smdbare : {1, 2}
        Bare-soil deficit option.
    silt_pct, bulk_density_g_cm3, organic_carbon_pct : array_like, optional
        Silt [%], bulk density [g/cm3], organic carbon [%]; required for opt_rmmoist 2 and 3.
    min_rm_moist : array_like, optional
        Minimum moisture modifier; opt_rmmoist 1 always uses the built-in 0.2, as the
        official code does.
    params : RothCParameters
        Model constants.

    Returns
    -------
    SoilWaterLimits
        The deficits [mm] and minimum modifier, broadcast to a common shape.
    """
    if opt_rmmoist not in (1, 2, 3):
        raise ValueError(f"opt_rmmoist must be 1, 2 or 3, got {opt_rmmoist}")
    if opt_smdbare not in (1, 2):
        raise ValueError(f"opt_smdbare must be 1 or 2, got {opt_smdbare}")
    clay = np.asarray(clay_pct, dtype=np.float64)
    depth = np.asarray(depth_cm, dtype=np.float64)
    if opt_rmmoist == 1:
        smd15 = -(params.smd_a + params.smd_b * clay - params.smd_c * clay * clay)
        wilt = smd15 * depth / params.smd_ref_depth
        one_bar = params.smd_1bar_ratio * wilt
        cover_limit = wilt
        min_rm = np.full_like(wilt, params.min_rm_moist)
    else:
        if silt_pct is None or bulk_density_g_cm3 is None or organic_carbon_pct is None:
            raise ValueError(
                "opt_rmmoist 2 and 3 need silt_pct, bulk_density_g_cm3 and organic_carbon_pct"
            )
        if min_rm_moist is None:
            raise ValueError("opt_rmmoist 2 and 3 need min_rm_moist")
        rnd: Callable[[tuple[float, ...]], tuple[float, ...]] = (
            _round_literals if params.fortran_literals else (lambda v: v)
        )
        coefficients = (rnd(_VG_ALPHA), rnd(_VG_THETA_S), rnd(_VG_N))
        om = rnd((params.vg_om_per_oc,))[0] * np.asarray(organic_carbon_pct, dtype=np.float64)
        alpha, theta_s, n = _vg_parameters(
            clay,
            np.asarray(silt_pct, dtype=np.float64),
            np.asarray(bulk_density_g_cm3, dtype=np.float64),
            om,
            coefficients,
        )
        theta_r = rnd((_VG_THETA_R,))[0]
        m = 1.0 - 1.0 / n

        def theta(h: float) -> FloatArray:
            return theta_r + (theta_s - theta_r) / (1.0 + (alpha * h) ** n) ** m

        fc, one, fifteen, thousand = (theta(h) for h in _VG_HEADS)
        one_bar = (one - fc) * 10.0 * depth
        wilt = (fifteen - fc) * 10.0 * depth
        cover_limit = (thousand - fc) * 10.0 * depth if opt_rmmoist == 2 else wilt
        min_rm = np.asarray(min_rm_moist, dtype=np.float64)
    if opt_smdbare == 2:
        bare = wilt
    elif opt_rmmoist == 1:
        bare = params.smd_bare_ratio * wilt
    else:
        bare = wilt - params.vg_bare_ratio * (wilt - one_bar)
    arrays = np.broadcast_arrays(wilt, one_bar, bare, cover_limit, min_rm)
    return SoilWaterLimits(*(np.array(a, dtype=np.float64) for a in arrays))


def _round_literals(values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(float(np.float32(v)) for v in values)


def moisture_modifier(smd_mm: ArrayLike, limits: SoilWaterLimits) -> FloatArray:
    """Moisture rate modifier RM_Moist from the end-of-month deficit.

    1 when ``SMD > SMD1bar``; ``minRM`` when ``SMD <= SMD15adj``; otherwise
    ``minRM + (1 - minRM)(SMD15adj - SMD)/(SMD15adj - SMD1bar)`` (rothc-model.md §3.2e).
    This is the kernel's function (``socseq.rothc._kernel._rm_moist``) applied element-wise:
    the value every run uses, not a second implementation.

    Parameters
    ----------
    smd_mm : array_like
        Soil moisture deficit [mm, <= 0].
    limits : SoilWaterLimits
        Deficit limits of the soil(s).

    Returns
    -------
    numpy.ndarray
        RM_Moist [-].
    """
    arrays = np.broadcast_arrays(
        np.asarray(smd_mm, dtype=np.float64),
        np.asarray(limits.smd_wilt, dtype=np.float64),
        np.asarray(limits.smd_1bar, dtype=np.float64),
        np.asarray(limits.min_rm_moist, dtype=np.float64),
    )
    shape = arrays[0].shape
    # The kernel's own function, so that this public one is what every run computes.
    flat = [np.ascontiguousarray(a).ravel() for a in arrays]
    out: FloatArray = _kernel.moisture_modifier_array(*flat)
    return out.reshape(shape)


def falloon_iom(soc_t_ha: ArrayLike, params: RothCParameters = DEFAULT_PARAMETERS) -> FloatArray:
    """Inert organic matter from total SOC, ``IOM = 0.049 SOC^1.139`` (Falloon et al. 1998).

    Parameters
    ----------
    soc_t_ha : array_like
        Total soil organic carbon [t C/ha].
    params : RothCParameters
        Model constants.

    Returns
    -------
    numpy.ndarray
        IOM [t C/ha].
    """
    return params.iom_a * np.asarray(soc_t_ha, dtype=np.float64) ** params.iom_b
