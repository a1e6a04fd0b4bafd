"""PET helpers against FAO-56's printed worked examples and hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from socseq.climate import (
    daylight_hours,
    extraterrestrial_radiation,
    hargreaves,
    hargreaves_monthly,
    mid_month_day,
    thornthwaite,
    thornthwaite_heat_index,
)


def test_fao56_example8_extraterrestrial_radiation() -> None:
    # FAO-56 Example 8: 3 September (J = 246) at 20°S -> Ra = 32.2 MJ m-2 day-1 (13.1 mm/day).
    ra = extraterrestrial_radiation(-20.0, 246)
    assert round(float(ra), 1) == 32.2
    assert round(float(ra) * 0.408, 1) == 13.1


def test_fao56_example9_daylight_hours() -> None:
    # FAO-56 Example 9: 3 September at 20°S -> N = 11.7 hours.
    assert round(float(daylight_hours(-20.0, 246)), 1) == 11.7


def test_fao56_example10_radiation_and_daylight() -> None:
    # FAO-56 Example 10: Rio de Janeiro (22°54'S), 15 May (J = 135): Ra = 25.1, N = 10.9 h.
    lat = -(22 + 54 / 60)
    assert round(float(extraterrestrial_radiation(lat, 135)), 1) == 25.1
    assert round(float(daylight_hours(lat, 135)), 1) == 10.9


def test_equator_has_twelve_hour_days_and_polar_night_is_dark() -> None:
    days = np.arange(1, 366)
    np.testing.assert_allclose(daylight_hours(0.0, days), 12.0, atol=1e-12)
    assert float(daylight_hours(80.0, 355)) == 0.0  # polar night: ωs clipped to 0
    assert float(extraterrestrial_radiation(80.0, 355)) == pytest.approx(0.0, abs=1e-12)
    assert float(daylight_hours(80.0, 172)) == pytest.approx(24.0)


def test_mid_month_day_rule() -> None:
    # FAO-56: J = int(30.4 M - 15): January 15, July 197, December 349.
    assert mid_month_day(np.array([1, 7, 12])).tolist() == [15, 197, 349]
    with pytest.raises(ValueError, match="1 \\(January\\)"):
        mid_month_day(13)


def test_hargreaves_hand_computation() -> None:
    # 0.0023 * (22 + 17.8) * sqrt(25 - 19) * 0.408 * 32
    # = 0.09154 * 2.449490 * 13.056 = 2.9275 mm/day.
    assert float(hargreaves(19.0, 25.0, 32.0)) == pytest.approx(2.9275, abs=5e-5)
    # Inverted range counts as zero; a given Tmean replaces the midpoint.
    assert float(hargreaves(25.0, 19.0, 32.0)) == 0.0
    assert float(hargreaves(19.0, 25.0, 32.0, tmean_degC=12.2)) == pytest.approx(
        0.0023 * 30.0 * 6**0.5 * 0.408 * 32.0
    )


def test_hargreaves_monthly_uses_mid_month_radiation_and_days() -> None:
    # September at 20°S: mid-month J = int(30.4*9 - 15) = 258; 30 days.
    tmin, tmax = np.array([[12.0]]), np.array([[26.0]])
    out = hargreaves_monthly(tmin, tmax, np.array([-20.0]), np.array([[9]]))
    ra = float(extraterrestrial_radiation(-20.0, 258))
    expected = 0.0023 * (19.0 + 17.8) * 14.0**0.5 * 0.408 * ra * 30.0
    assert out.shape == (1, 1)
    assert float(out[0, 0]) == pytest.approx(expected)


def test_thornthwaite_hand_computation_at_the_equator() -> None:
    # Every month 5 °C: i = 1, I = 12, a = 6.75e-7*1728 - 7.71e-5*144 + 1.792e-2*12 + 0.49239
    # = 0.697494; PET* = 16 * (50/12)^0.697494 = 43.293 mm. At the equator N = 12 h, so a
    # 30-day month (April) gets PET* itself and a 31-day month 31/30 of it.
    t = np.full((12, 1), 5.0)
    heat = thornthwaite_heat_index(t)
    assert float(heat[0]) == pytest.approx(12.0)
    pet = thornthwaite(t, np.array([0.0]), np.arange(1, 13))
    assert float(pet[3, 0]) == pytest.approx(43.293, abs=5e-4)
    assert float(pet[0, 0]) == pytest.approx(43.293 * 31 / 30, abs=5e-4)


def test_thornthwaite_second_hand_case() -> None:
    # Every month 10 °C: i = 2^1.514 = 2.856008, I = 34.272096, a = 1.043158;
    # PET* = 16 * (100/34.272096)^1.043158 = 48.893 mm (April at the equator).
    pet = thornthwaite(np.full(12, 10.0), 0.0, np.arange(1, 13))
    assert float(pet[3]) == pytest.approx(48.893, abs=5e-4)


def test_thornthwaite_cold_hot_and_daylength() -> None:
    t = np.array([-5, 0, 3, 8, 12, 18, 27, 24, 16, 10, 4, -2], dtype=float)
    months = np.arange(1, 13)
    pet = thornthwaite(t, 45.0, months)
    assert pet[0] == 0.0 and pet[1] == 0.0 and pet[11] == 0.0
    # July at 27 °C uses the hot-month fit: -415.85 + 32.24*27 - 0.43*27^2 = 141.16 mm
    # before the daylength (N at 45°N in mid July) and 31-day adjustment.
    n_july = float(daylight_hours(45.0, 197))
    assert pet[6] == pytest.approx(141.16 * n_july / 12 * 31 / 30)
    # Northern summer days are longer than 12 h: same T, more PET in June than in the south.
    south = thornthwaite(t, -45.0, months)
    assert pet[5] > south[5]


def test_thornthwaite_series_uses_the_climatology_heat_index() -> None:
    rng = np.random.default_rng(0)
    normals = np.array([2, 4, 8, 12, 16, 20, 23, 22, 18, 13, 7, 3], dtype=float)
    series = np.tile(normals, 3)[:, None] + rng.normal(0, 1, (36, 4))
    months = np.tile(np.arange(1, 13), 3)
    lat = np.array([10.0, 30.0, 45.0, 60.0])
    pet = thornthwaite(series, lat, months)
    heat = thornthwaite_heat_index(series.reshape(3, 12, 4).mean(axis=0))
    np.testing.assert_allclose(pet, thornthwaite(series, lat, months, heat_index=heat))
    assert pet.shape == (36, 4)
    with pytest.raises(ValueError, match="every calendar month"):
        thornthwaite(series[:6], lat, months[:6])
