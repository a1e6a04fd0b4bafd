"""Climate helpers on plain arrays: potential evapotranspiration from temperature (no xarray).

:mod:`socseq.climate.pet` holds the FAO-56 solar geometry (extraterrestrial radiation,
daylight hours) and two temperature-based PET methods: Thornthwaite (1948) from the monthly
mean temperature and latitude, and Hargreaves (FAO-56 eq. 52) when minimum and maximum
temperatures exist.
"""

from socseq.climate.pet import (
    daylight_hours,
    extraterrestrial_radiation,
    hargreaves,
    hargreaves_monthly,
    mid_month_day,
    thornthwaite,
    thornthwaite_heat_index,
)

__all__ = [
    "daylight_hours",
    "extraterrestrial_radiation",
    "hargreaves",
    "hargreaves_monthly",
    "mid_month_day",
    "thornthwaite",
    "thornthwaite_heat_index",
]
