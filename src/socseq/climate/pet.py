"""Potential evapotranspiration from temperature: Thornthwaite (1948) and Hargreaves (FAO-56).

Pure numpy on broadcastable arrays (no xarray, no I/O), so the pipeline can call these on a
window's cells and a test can call them on the numbers printed in the sources.

Solar geometry follows FAO Irrigation and Drainage Paper 56 (Allen, Pereira, Raes and Smith,
1998), chapter 3: inverse relative Earth–Sun distance (eq. 23), solar declination (eq. 24),
sunset hour angle (eq. 25), extraterrestrial radiation (eq. 21) and daylight hours (eq. 34).
For monthly values the day of year is that of the middle of the month,
``J = int(30.4 M − 15)`` (FAO-56, chapter 3, note to eq. 21).

The two methods:
- **Hargreaves** (FAO-56 eq. 52; Hargreaves and Samani, 1985), the FAO-56 fallback when only
  air temperature is measured::

      ET0 = 0.0023 (Tmean + 17.8) (Tmax − Tmin)^0.5 · 0.408 Ra        [mm/day]

  with Ra in MJ m⁻² day⁻¹ (0.408 = 1/λ converts it to mm/day, FAO-56 eq. 20).
- **Thornthwaite** (1948, Geographical Review 38: 55–94, appendix), from the monthly mean
  temperature T [°C] and the annual heat index I::

      i = (T/5)^1.514,  I = Σ over the 12 months of i (months with T ≤ 0 count 0)
      a = 6.75e-7 I³ − 7.71e-5 I² + 1.792e-2 I + 0.49239
      PET* = 16 (10 T / I)^a         [mm per 30-day month of 12-hour days], 0 < T < 26.5 °C
      PET* = −415.85 + 32.24 T − 0.43 T²                                   T ≥ 26.5 °C
      PET  = PET* · (N/12) · (d/30)

  Thornthwaite gave the values above 26.5 °C as a table; the quadratic is the fit of
  Willmott, Rowe and Mintz (1985, J. Climatology 5: 589–606) used by most implementations.
  N is the mean daylight length of the month (FAO-56 eq. 34 at the mid-month day) and d the
  number of days in the month. Months with T ≤ 0 °C have PET = 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "daylight_hours",
    "extraterrestrial_radiation",
    "hargreaves",
    "hargreaves_monthly",
    "mid_month_day",
    "thornthwaite",
    "thornthwaite_heat_index",
]

#: Solar constant [MJ m⁻² min⁻¹] (FAO-56 eq. 21).
SOLAR_CONSTANT = 0.0820
#: 1/λ: MJ m⁻² day⁻¹ of radiation → mm/day of evaporated water (FAO-56 eq. 20).
MJ_TO_MM = 0.408
#: Days in each month of a non-leap year (the default of the monthly functions).
DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.float64)
#: Thornthwaite's formula holds below this monthly temperature [°C]; above it the table applies.
THORNTHWAITE_HOT_DEGC = 26.5


def _solar_terms(
    lat_deg: ArrayLike, day_of_year: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Latitude φ, inverse relative distance dr, declination δ, sunset hour angle ωs [rad]."""
    phi = np.deg2rad(np.asarray(lat_deg, dtype=np.float64))
    day = np.asarray(day_of_year, dtype=np.float64)
    if np.any(np.abs(phi) > np.pi / 2):
        raise ValueError("latitude must lie between -90 and 90 degrees")
    dr = 1.0 + 0.033 * np.cos(2.0 * np.pi * day / 365.0)  # FAO-56 eq. 23
    delta = 0.409 * np.sin(2.0 * np.pi * day / 365.0 - 1.39)  # eq. 24
    # eq. 25; clipped so polar day (ωs = π) and polar night (ωs = 0) stay defined.
    omega = np.arccos(np.clip(-np.tan(phi) * np.tan(delta), -1.0, 1.0))
    return phi, dr, delta, omega


def extraterrestrial_radiation(lat_deg: ArrayLike, day_of_year: ArrayLike) -> NDArray[np.float64]:
    """Daily extraterrestrial radiation Ra [MJ m⁻² day⁻¹] (FAO-56 eq. 21).

    Parameters
    ----------
    lat_deg : array_like
        Latitude [degrees], positive north.
    day_of_year : array_like
        Day of the year J (1 = 1 January); broadcast against ``lat_deg``.

    Returns
    -------
    numpy.ndarray
        Ra = (24·60/π) Gsc dr [ωs sin φ sin δ + cos φ cos δ sin ωs], Gsc = 0.0820
        MJ m⁻² min⁻¹.
    """
    phi, dr, delta, omega = _solar_terms(lat_deg, day_of_year)
    return (
        24.0
        * 60.0
        / np.pi
        * SOLAR_CONSTANT
        * dr
        * (omega * np.sin(phi) * np.sin(delta) + np.cos(phi) * np.cos(delta) * np.sin(omega))
    )


def daylight_hours(lat_deg: ArrayLike, day_of_year: ArrayLike) -> NDArray[np.float64]:
    """Maximum possible duration of sunshine N [hours] (FAO-56 eq. 34: N = 24 ωs / π)."""
    _, _, _, omega = _solar_terms(lat_deg, day_of_year)
    return 24.0 / np.pi * omega


def mid_month_day(month: ArrayLike) -> NDArray[np.int64]:
    """Day of year of the middle of calendar month 1–12: ``int(30.4 M − 15)`` (FAO-56)."""
    m = np.asarray(month)
    if np.any((m < 1) | (m > 12)):
        raise ValueError("months are numbered 1 (January) to 12 (December)")
    return np.floor(30.4 * m - 15.0).astype(np.int64)


def _month_days(month: NDArray[np.int64], days: ArrayLike | None) -> NDArray[np.float64]:
    if days is None:
        return DAYS_IN_MONTH[np.asarray(month) - 1]
    return np.asarray(days, dtype=np.float64)


def hargreaves(
    tmin_degC: ArrayLike,
    tmax_degC: ArrayLike,
    ra_mj_m2_day: ArrayLike,
    tmean_degC: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Return the Hargreaves reference evapotranspiration [mm/day] (FAO-56 eq. 52).

    Parameters
    ----------
    tmin_degC, tmax_degC : array_like
        Mean daily minimum and maximum air temperature of the period [°C].
    ra_mj_m2_day : array_like
        Extraterrestrial radiation [MJ m⁻² day⁻¹] (:func:`extraterrestrial_radiation`).
    tmean_degC : array_like, optional
        Mean air temperature [°C]; FAO-56 takes (Tmax + Tmin)/2, the default.

    Returns
    -------
    numpy.ndarray
        ET0 = 0.0023 (Tmean + 17.8) (Tmax − Tmin)^0.5 · 0.408 Ra, never negative; a
        temperature range below zero (inconsistent inputs) counts as zero.
    """
    tmin = np.asarray(tmin_degC, dtype=np.float64)
    tmax = np.asarray(tmax_degC, dtype=np.float64)
    tmean = (tmax + tmin) / 2.0 if tmean_degC is None else np.asarray(tmean_degC, np.float64)
    spread = np.sqrt(np.clip(tmax - tmin, 0.0, None))
    et0 = 0.0023 * (tmean + 17.8) * spread * MJ_TO_MM * np.asarray(ra_mj_m2_day, np.float64)
    return np.clip(et0, 0.0, None)


def hargreaves_monthly(
    tmin_degC: ArrayLike,
    tmax_degC: ArrayLike,
    lat_deg: ArrayLike,
    month: ArrayLike,
    *,
    days: ArrayLike | None = None,
    tmean_degC: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Monthly Hargreaves reference evapotranspiration [mm per month].

    Parameters
    ----------
    tmin_degC, tmax_degC : array_like
        Monthly means of the daily minimum and maximum temperature [°C], e.g. shape
        ``(time, cells)``.
    lat_deg : array_like
        Latitude [degrees], broadcast against the temperatures (e.g. shape ``(cells,)``).
    month : array_like
        Calendar month 1–12 of each step, broadcast against the temperatures (e.g. shape
        ``(time, 1)``).
    days : array_like, optional
        Days in each step's month (default: 28 for February, no leap years).
    tmean_degC : array_like, optional
        Monthly mean temperature [°C] (default (Tmax + Tmin)/2).

    Returns
    -------
    numpy.ndarray
        :func:`hargreaves` with Ra of the mid-month day, times the days in the month.
    """
    m = np.asarray(month)
    ra = extraterrestrial_radiation(lat_deg, mid_month_day(m))
    return hargreaves(tmin_degC, tmax_degC, ra, tmean_degC) * _month_days(m, days)


def thornthwaite_heat_index(monthly_normals_degC: ArrayLike, axis: int = 0) -> NDArray[np.float64]:
    """Annual heat index I = Σ (T/5)^1.514 over 12 monthly normals (T ≤ 0 °C counts 0).

    Parameters
    ----------
    monthly_normals_degC : array_like
        The 12 monthly mean temperatures [°C] along ``axis``.
    axis : int, default 0
        The month axis.
    """
    t = np.asarray(monthly_normals_degC, dtype=np.float64)
    if t.shape[axis] != 12:
        raise ValueError(f"the heat index needs 12 monthly normals along axis {axis}")
    return np.sum(_heat_terms(t), axis=axis)


def _heat_terms(t: NDArray[np.float64]) -> NDArray[np.float64]:
    """Monthly heat index i = (T/5)^1.514, 0 for T ≤ 0 °C."""
    return np.power(np.clip(t, 0.0, None) / 5.0, 1.514)


def thornthwaite(
    tas_degC: ArrayLike,
    lat_deg: ArrayLike,
    month: ArrayLike,
    *,
    heat_index: ArrayLike | None = None,
    days: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Monthly potential evapotranspiration by Thornthwaite (1948) [mm per month].

    Parameters
    ----------
    tas_degC : array_like
        Monthly mean air temperature [°C] with the time steps along axis 0, e.g. shape
        ``(time, cells)``: 12 normals or a series of whole or partial years.
    lat_deg : array_like
        Latitude [degrees], broadcast against one time step (e.g. shape ``(cells,)``).
    month : array_like
        Calendar month 1–12 of each time step, shape ``(time,)``.
    heat_index : array_like, optional
        Annual heat index I per cell (:func:`thornthwaite_heat_index`). Default: from the
        12 calendar-month means of ``tas_degC`` (the climatology of the series, as
        Thornthwaite computed I from the normals).
    days : array_like, optional
        Days in each step's month, shape ``(time,)`` (default: 28 for February).

    Returns
    -------
    numpy.ndarray
        PET, same shape as ``tas_degC``; 0 where T ≤ 0 °C or where I = 0 (no month above
        freezing).
    """
    t = np.asarray(tas_degC, dtype=np.float64)
    m = np.asarray(month).astype(np.int64)
    if m.ndim != 1 or m.shape[0] != t.shape[0]:
        raise ValueError("month must give the calendar month of each step along axis 0")
    if heat_index is None:
        present = np.unique(m)
        if present.size != 12:
            raise ValueError(
                "the heat index needs every calendar month; give heat_index for a partial year"
            )
        normals = np.stack([np.nanmean(t[m == k], axis=0) for k in range(1, 13)])
        heat = thornthwaite_heat_index(normals)
    else:
        heat = np.asarray(heat_index, dtype=np.float64)
    a = 6.75e-7 * heat**3 - 7.71e-5 * heat**2 + 1.792e-2 * heat + 0.49239
    safe_heat = np.where(heat > 0, heat, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cool = 16.0 * np.power(10.0 * np.clip(t, 0.0, None) / safe_heat, a)
    hot = -415.85 + 32.24 * t - 0.43 * t**2
    unadjusted = np.where(t >= THORNTHWAITE_HOT_DEGC, hot, cool)
    unadjusted = np.where((t > 0) & (heat > 0), unadjusted, 0.0)
    month_shape = (-1,) + (1,) * (t.ndim - 1)
    n_hours = daylight_hours(lat_deg, mid_month_day(m).reshape(month_shape))
    d = _month_days(m, days).reshape(month_shape)
    return unadjusted * (n_hours / 12.0) * (d / 30.0)
