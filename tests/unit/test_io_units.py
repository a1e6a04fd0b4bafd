"""Unit conversion at the edge and the common unit traps, each named in a one-line error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from socseq.exceptions import (
    ConfigError,
    InputValidationError,
    SocseqError,
    UnitsError,
    UnitsWarning,
)
from socseq.io.grid import GridSpec
from socseq.io.units import VARIABLES, canonical_units, check_and_convert

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

GRID = GridSpec.from_bounds("EPSG:4326", 1 / 120, (120.0, 23.0, 120.05, 23.05))


def _layer(values, source="x.tif") -> xr.DataArray:
    """A (y, x) layer on a 6×6 30″ grid spanning ``values`` (min, max) or given cells."""
    values = np.asarray(values, dtype=float)
    if values.shape != GRID.shape:
        values = np.linspace(values.min(), values.max(), 36).reshape(GRID.shape)
    da = GRID.template(name="layer").copy(data=values)
    return da.assign_attrs(source=source)


def _monthly(values_per_month, start="2004-01") -> xr.DataArray:
    months = [_layer(np.full(GRID.shape, v)) for v in values_per_month]
    times = pd.date_range(start, periods=len(months), freq="MS")
    return xr.concat(months, dim="time").assign_coords(time=times)


def _error(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert isinstance(exc.value, SocseqError)
    return message


# --- conversions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "units", "raw", "expected"),
    [
        ("soc_t_ha", "t/ha", 45.0, 45.0),
        ("soc_t_ha", "t C ha-1", 45.0, 45.0),
        ("soc_t_ha", "Mg/ha", 45.0, 45.0),
        ("soc_t_ha", "kg/m2", 4.5, 45.0),
        ("soc_t_ha", "kg m⁻²", 4.5, 45.0),
        ("soc_t_ha", "g/m2", 4500.0, 45.0),
        ("clay_pct", "%", 35.0, 35.0),
        ("clay_pct", "g/kg", 350.0, 35.0),
        ("sand_pct", "kg/kg", 0.35, 35.0),
        ("tas_degC", "degC", 21.5, 21.5),
        ("tas_degC", "°C", 21.5, 21.5),
        ("tas_degC", "K", 294.65, 21.5),
        ("tas_degC", "0.1 degC", 215.0, 21.5),
        ("tas_degC", "degF", 70.7, 21.5),  # (70.7 − 32) · 5/9 = 21.5
        ("tas_degC", "°F", 50.0, 10.0),
        ("ndvi", "1", 0.7, 0.7),
        ("ndvi", "0.0001", 7000.0, 0.7),
        ("ec_dS_m", "dS/m", 1.2, 1.2),
        ("ec_dS_m", "uS/cm", 1200.0, 1.2),
        ("ec_dS_m", "µS/cm", 1200.0, 1.2),
        ("bulk_density_g_cm3", "g/cm3", 1.3, 1.3),
        ("bulk_density_g_cm3", "cg/cm3", 130.0, 1.3),
        ("bulk_density_g_cm3", "kg/m3", 1300.0, 1.3),
        ("pr_mm", "mm", 120.0, 120.0),
        ("pr_mm", "0.1 mm", 1200.0, 120.0),
    ],
)
def test_conversions_to_canonical_units(variable, units, raw, expected):
    out = check_and_convert(
        _layer(np.full(GRID.shape, raw)), variable=variable, units=units, name="v"
    )
    np.testing.assert_allclose(out.values, expected)
    assert out.attrs["units"] == canonical_units(variable)
    assert out.attrs["source"] == "x.tif"
    assert out.rio.crs.to_epsg() == 4326


def test_per_day_and_per_second_use_the_days_of_each_month():
    # 2004 is a leap year: February has 29 days.
    pet = check_and_convert(
        _monthly([2.0, 2.0, 2.0]), variable="pet_mm", units="mm/day", name="pet"
    )
    np.testing.assert_allclose(pet.values[:, 0, 0], [62.0, 58.0, 62.0])
    flux = _monthly([1e-5, 1e-5])
    pr = check_and_convert(flux, variable="pr_mm", units="kg m-2 s-1", name="pr")
    np.testing.assert_allclose(pr.values[:, 0, 0], [1e-5 * 86400 * 31, 1e-5 * 86400 * 29])
    assert pr.dims == ("time", "y", "x")


def test_per_day_climatology_uses_mean_month_lengths_and_needs_an_axis():
    clim = _monthly([3.0] * 12).rename(time="month").assign_coords(month=np.arange(1, 13))
    out = check_and_convert(clim, variable="pet_mm", units="mm/day", name="pet")
    assert out.values[1, 0, 0] == pytest.approx(3.0 * 28.25)
    with pytest.raises(UnitsError) as exc:
        check_and_convert(
            _layer(np.full(GRID.shape, 3.0)), variable="pet_mm", units="mm/day", name="pet"
        )
    assert "time or month axis" in _error(exc)


def test_dask_input_stays_lazy():
    da = _layer([100.0, 400.0]).chunk({"y": 3, "x": 3})
    out = check_and_convert(da, variable="clay_pct", units="g/kg", name="clay")
    assert out.chunks is not None
    np.testing.assert_allclose(out.values, da.values / 10)


# --- traps ------------------------------------------------------------------------------------


TRAPS = [
    # (variable, declared units, (min, max) of values, words in message, fix)
    ("soc_t_ha", "t/ha", (0.5, 12.0), ("kg/m²", "0.5–12"), "kg/m2"),
    ("soc_t_ha", "t/ha", (2000.0, 9000.0), ("g/m²",), "g/m2"),
    ("clay_pct", "%", (50.0, 450.0), ("g/kg", "50–450"), "g/kg"),
    ("sand_pct", "%", (0.05, 0.9), ("fraction",), "kg/kg"),
    ("tas_degC", "degC", (265.0, 305.0), ("Kelvin",), "K"),
    ("tas_degC", "degC", (-300.0, 350.0), ("tenths of °C", "TerraClimate"), "0.1 degC"),
    ("tas_degC", "K", (5.0, 30.0), ("°C already",), "degC"),
    # A hot region in °F (Taiwan's monthly means, 59–86 °F).
    ("tas_degC", "degC", (59.0, 86.0), ("°F", "tenths of °C"), "degF"),
    ("pr_mm", "mm", (0.5, 12.0), ("mm/day",), "mm/day"),
    ("pet_mm", "mm", (1.0, 7.0), ("mm/day",), "mm/day"),
    ("pet_mm", "mm/day", (40.0, 180.0), ("monthly totals",), "mm"),
    ("pet_mm", "mm", (200.0, 2400.0), ("tenths of mm",), "0.1 mm"),
    ("pr_mm", "mm", (1e-6, 5e-4), ("kg m⁻² s⁻¹",), "kg m-2 s-1"),
    ("ndvi", "1", (-500.0, 9000.0), ("×10000",), "0.0001"),
    ("ec_dS_m", "dS/m", (200.0, 3000.0), ("µS/cm",), "uS/cm"),
    ("bulk_density_g_cm3", "g/cm3", (90.0, 160.0), ("cg/cm³",), "cg/cm3"),
    ("bulk_density_g_cm3", "g/cm3", (900.0, 1600.0), ("kg/m³",), "kg/m3"),
]


@pytest.mark.parametrize(("variable", "units", "span", "words", "fix"), TRAPS)
def test_trap_is_named_with_layer_file_range_and_fix(variable, units, span, words, fix):
    da = _layer(list(span), source="inputs/layer.tif")
    with pytest.raises(UnitsError) as exc:
        check_and_convert(da, variable=variable, units=units, name="mylayer")
    message = _error(exc)
    assert "'mylayer'" in message and "inputs/layer.tif" in message
    assert f'set units = "{fix}"' in message
    for word in words:
        assert word in message
    assert VARIABLES[variable].label in message


def test_soc_message_reads_like_the_design():
    with pytest.raises(UnitsError) as exc:
        check_and_convert(_layer([0.5, 12.0]), variable="soc_t_ha", units="t/ha", name="soc")
    assert _error(exc).startswith(
        "SOC layer 'soc' (file x.tif): values 0.5–12 (median 6.25) look like kg/m² but units "
        'are declared "t/ha"; set units = "kg/m2"'
    )


def test_negative_precipitation_and_undeclared_nodata():
    with pytest.raises(UnitsError) as exc:
        check_and_convert(_layer([-20.0, 300.0]), variable="pr_mm", units="mm", name="pr")
    assert "negatives" in _error(exc)
    values = np.full(GRID.shape, 30.0)
    values[0, 0] = -9999.0
    with pytest.raises(UnitsError) as exc:
        check_and_convert(_layer(values), variable="clay_pct", units="%", name="clay")
    assert "nodata" in _error(exc)


def test_out_of_plausible_range_after_conversion():
    values = np.full(GRID.shape, 50.0)
    values[2, 2] = 1500.0
    with pytest.raises(UnitsError) as exc:
        check_and_convert(_layer(values), variable="soc_t_ha", units="t/ha", name="soc")
    assert "values 50–1500 t/ha are outside the plausible range 0–1000 t/ha" in _error(exc)
    with pytest.raises(UnitsError) as exc:
        check_and_convert(_layer(values / 10), variable="soc_t_ha", units="kg/m2", name="soc")
    assert 'values 50–1500 t/ha (converted from "kg/m2") are outside' in _error(exc)


def test_nan_only_layer():
    with pytest.raises(InputValidationError) as exc:
        check_and_convert(
            _layer(np.full(GRID.shape, np.nan)), variable="soc_t_ha", units="t/ha", name="soc"
        )
    assert "no valid value" in _error(exc)


def test_unknown_units_and_variable():
    with pytest.raises(UnitsError) as exc:
        check_and_convert(_layer([1.0, 2.0]), variable="clay_pct", units="ppm", name="clay")
    message = _error(exc)
    assert '"ppm"' in message and '"g/kg"' in message
    with pytest.raises(ConfigError) as exc:
        check_and_convert(_layer([1.0, 2.0]), variable="clay", units="%", name="clay")
    assert "clay_pct" in _error(exc)
    with pytest.raises(ConfigError):
        canonical_units("soc")


def test_strict_false_turns_traps_into_warnings():
    with pytest.warns(UnitsWarning, match="kg/m²"):
        out = check_and_convert(
            _layer([0.5, 6.0]), variable="soc_t_ha", units="t/ha", name="soc", strict=False
        )
    np.testing.assert_allclose(float(out.max()), 6.0)


def test_plausible_values_pass_silently(recwarn):
    check_and_convert(_layer([5.0, 180.0]), variable="soc_t_ha", units="t/ha", name="soc")
    check_and_convert(_layer([-12.0, 31.0]), variable="tas_degC", units="degC", name="tas")
    check_and_convert(_monthly([0.0, 250.0, 600.0]), variable="pr_mm", units="mm", name="pr")
    assert not [w for w in recwarn if issubclass(w.category, UnitsWarning)]
