"""One units table and trap set for rasters and soil samples (issue 11).

Rasters (:func:`socseq.io.units.check_and_convert`) and the columns of sample tables
(:func:`socseq.io.samples.read_samples`) take spellings, factors and traps from the same table,
:data:`socseq.io.units.VARIABLES`: the same values declared in the same unit fall into the same
trap and get the same fix, whichever reader meets them.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from socseq.exceptions import InputValidationError, UnitsError
from socseq.io import samples
from socseq.io.samples import QUANTITIES, read_samples
from socseq.io.units import VARIABLES, check_and_convert, unit_key

#: (sample quantity, declared units, values, unit the values look like): the traps at the
#: thresholds both readers share.
CASES = [
    ("stock_t_ha", "t/ha", [5.2, 6.1, 4.8], "kg/m2"),  # median < 8 and max < 60 t/ha
    ("stock_t_ha", "kg/m2", [52.0, 61.0, 48.0], "t/ha"),  # median > 30 kg/m²
    ("stock_t_ha", "t/ha", [2100.0, 4500.0, 3900.0], "g/m2"),  # median > 500 t/ha
    ("bd_g_cm3", "g/cm3", [130.0, 125.0, 140.0], "cg/cm3"),  # 20 < median <= 300
    ("bd_g_cm3", "g/cm3", [1300.0, 1250.0, 1400.0], "kg/m3"),  # median > 300
    ("bd_g_cm3", "kg/m3", [1.3, 1.25, 1.4], "g/cm3"),  # median < 10 kg/m³
    ("soc_g_kg", "%", [12.0, 25.0, 150.0], "g/kg"),  # above 100 %
    ("soc_g_kg", "g/kg", [1.2, 1.8, 2.5], "%"),  # median < 2 g/kg
    ("cf_frac", "fraction", [20.0, 5.0, 0.0], "%"),
    ("cf_frac", "%", [0.2, 0.05, 0.0], "fraction"),
    ("top_cm", "m", [0.0, 30.0, 60.0], "cm"),
]


def _sample_error(tmp_path: Path, quantity: str, units: str, values: list[float]) -> str:
    path = tmp_path / "s.csv"
    xy = {"x": [500_500.0, 501_500.0, 502_500.0], "y": [4_599_500.0] * 3}
    pd.DataFrame({"id": ["a", "b", "c"], **xy, "V": values}).to_csv(path, index=False)
    with pytest.raises(InputValidationError) as exc:
        read_samples(path, x="x", y="y", crs="EPSG:32634", columns={quantity: ("V", units)})
    return str(exc.value)


def _raster_error(variable: str, units: str, values: list[float]) -> str:
    da = xr.DataArray(
        np.asarray(values, float)[None, :], dims=("y", "x"), coords={"y": [0.0], "x": [0, 1, 2.0]}
    )
    with pytest.raises(UnitsError) as exc:
        check_and_convert(da, variable=variable, units=units, name="layer")
    return str(exc.value)


@pytest.mark.parametrize(("quantity", "units", "values", "fix"), CASES)
def test_rasters_and_samples_fall_into_the_same_trap(
    tmp_path: Path, quantity: str, units: str, values: list[float], fix: str
) -> None:
    variable = QUANTITIES[quantity]
    assert f'set units = "{fix}"' in _sample_error(tmp_path, quantity, units, values)
    assert f'set units = "{fix}"' in _raster_error(variable, units, values)


def test_sample_quantities_are_variables_of_the_one_table() -> None:
    assert set(QUANTITIES.values()) <= set(VARIABLES)
    source = inspect.getsource(samples)
    # No second framework: the samples module declares no traps, conversions or spellings.
    for word in ("Trap(", "Conversion(", "_normalise", "maketrans"):
        assert word not in source


@pytest.mark.parametrize("quantity", sorted(QUANTITIES))
def test_every_spelling_resolves_in_both_readers(quantity: str) -> None:
    variable = QUANTITIES[quantity]
    for key, conversion in VARIABLES[variable].units.items():
        for spelling in (key, *conversion.aliases, key.upper(), f" {key} "):
            assert unit_key(variable, spelling) == key
