"""PET on the cells of a grid: the cell latitudes and one entry point for the methods.

:mod:`socseq.climate.pet` computes PET from numbers; this module gives it what a gridded run
has: the latitude of every cell centre of a :class:`~socseq.io.grid.GridSpec` (geodetic
latitude on the grid's own datum, so projected grids work too), and :func:`monthly_pet`,
which applies the configured method to monthly temperatures with the month axis first.

The Thornthwaite heat index is an input here, not something computed from the months given:
the index is a property of a place's climate (Thornthwaite 1948 computes it from the 12
monthly normals), so a run computes it once per cell from its reference climatology and
uses it for every month of every phase (see :func:`monthly_pet`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pyproj import Transformer

from socseq.climate.pet import hargreaves_monthly, thornthwaite
from socseq.io.grid import GridSpec

__all__ = ["PET_METHODS", "PetMethod", "cell_latitude_deg", "monthly_pet"]

PetMethod = Literal["thornthwaite", "hargreaves"]

#: How each method is named in run.json, the NetCDF attributes and the report.
PET_METHODS: dict[str, str] = {
    "thornthwaite": (
        "Thornthwaite (1948) from the monthly mean temperature and the cell latitude; heat "
        "index from the spin-up climatology of each cell"
    ),
    "hargreaves": (
        "Hargreaves (FAO-56 eq. 52) from the monthly mean daily minimum and maximum "
        "temperature and the extraterrestrial radiation at the cell latitude"
    ),
}


def cell_latitude_deg(grid: GridSpec) -> NDArray[np.float64]:
    """Return the latitude of every cell centre [degrees north], shape ``(rows, cols)``.

    Geographic grids give it directly; projected grids are transformed to the geographic
    CRS of their own datum (``CRS.geodetic_crs``), so the latitude is the geodetic latitude
    that FAO-56's solar geometry expects.
    """
    y, x = grid.coords()
    if grid.is_geographic:
        return np.broadcast_to(y[:, None], grid.shape).astype(np.float64)
    geodetic = grid.crs.geodetic_crs
    assert geodetic is not None  # a projected CRS always has one
    to_lonlat = Transformer.from_crs(grid.crs, geodetic, always_xy=True)
    xx, yy = np.meshgrid(x, y)
    _, lat = to_lonlat.transform(xx, yy)
    return np.asarray(lat, dtype=np.float64)


def monthly_pet(
    method: PetMethod,
    months: NDArray[np.int64],
    lat_deg: NDArray[np.float64],
    *,
    tas_degC: NDArray[np.float64] | None = None,
    heat_index: NDArray[np.float64] | None = None,
    tmin_degC: NDArray[np.float64] | None = None,
    tmax_degC: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Monthly potential evapotranspiration [mm per month], month axis first.

    Parameters
    ----------
    method : {"thornthwaite", "hargreaves"}
    months : numpy.ndarray
        Calendar month 1–12 of each step, shape ``(time,)``.
    lat_deg : numpy.ndarray
        Latitude of each cell [degrees], the trailing shape of the temperatures.
    tas_degC : numpy.ndarray, optional
        Monthly mean temperature [°C], shape ``(time, ...)``; Thornthwaite needs it.
    heat_index : numpy.ndarray, optional
        Thornthwaite's annual heat index I per cell (shape of ``lat_deg``), from the run's
        reference climatology: required for Thornthwaite, so that the PET of a month does
        not depend on which other months are computed with it.
    tmin_degC, tmax_degC : numpy.ndarray, optional
        Monthly means of the daily minimum and maximum temperature [°C], shape
        ``(time, ...)``; Hargreaves needs them and takes Tmean = (Tmax + Tmin)/2 (FAO-56).

    Returns
    -------
    numpy.ndarray
        PET, shape ``(time, ...)``, 365-day calendar (28-day February); NaN where a
        temperature is NaN.
    """
    if method == "thornthwaite":
        if tas_degC is None or heat_index is None:
            raise ValueError("Thornthwaite needs tas_degC and heat_index")
        pet = thornthwaite(tas_degC, lat_deg, months, heat_index=heat_index)
        return np.where(np.isfinite(tas_degC) & np.isfinite(heat_index), pet, np.nan)
    if tmin_degC is None or tmax_degC is None:
        raise ValueError("Hargreaves needs tmin_degC and tmax_degC")
    month_axis = months.reshape((-1,) + (1,) * (tmin_degC.ndim - 1))
    pet = hargreaves_monthly(tmin_degC, tmax_degC, lat_deg, month_axis)
    return np.where(np.isfinite(tmin_degC) & np.isfinite(tmax_degC), pet, np.nan)
