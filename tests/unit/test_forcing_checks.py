"""The forcing checks of ``MonthlyForcing`` find every non-finite or out-of-range value.

The checks take a fast path (a finite sum, the extremes) before looking for the position;
each case below puts one bad value at a known cell and month and expects the one-line error
to name it, including the cases a sum alone would hide or misreport (opposite infinities,
finite values whose sum overflows).
"""

from __future__ import annotations

import numpy as np
import pytest

from socseq.exceptions import InputValidationError
from socseq.rothc import MonthlyForcing

N_CELLS = 6


def _forcing(**overrides: np.ndarray) -> MonthlyForcing:
    values = {
        "tmp_degC": np.full((N_CELLS, 12), 12.0),
        "rain_mm": np.full((N_CELLS, 12), 80.0),
        "evap_mm": np.full((N_CELLS, 12), 60.0),
        "plant_cover": np.ones((N_CELLS, 12)),
        "c_inp_t_ha": np.full((N_CELLS, 12), 0.2),
    }
    values.update(overrides)
    return MonthlyForcing(**values)


def _with(value: float, cell: int = 4, month: int = 7, base: float = 80.0) -> np.ndarray:
    arr = np.full((N_CELLS, 12), base)
    arr[cell, month] = value
    return arr


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_value_is_found_at_its_cell_and_month(bad: float) -> None:
    with pytest.raises(InputValidationError, match=r"forcing 'rain_mm'.* cell 4, month 7"):
        _forcing(rain_mm=_with(bad)).kernel_arrays(N_CELLS)


def test_opposite_infinities_are_found() -> None:
    rain = _with(np.inf)
    rain[5, 0] = -np.inf
    with pytest.raises(InputValidationError, match=r"cell 4, month 7"):
        _forcing(rain_mm=rain).kernel_arrays(N_CELLS)


def test_finite_values_whose_sum_overflows_pass_the_finite_check() -> None:
    # Each value is finite; their sum is not. The range check then names the first one.
    huge = np.full((N_CELLS, 12), 1e308)
    with pytest.raises(
        InputValidationError, match=r"forcing 'c_inp_t_ha': value 1e\+308 .* position 0"
    ):
        _forcing(c_inp_t_ha=huge).kernel_arrays(N_CELLS)


@pytest.mark.parametrize(
    ("name", "value", "position"),
    [
        ("tmp_degC", -90.5, 4 * 12 + 7),  # below [-90, 65]
        ("tmp_degC", 65.5, 4 * 12 + 7),
        ("c_inp_t_ha", -1e-9, 4 * 12 + 7),
    ],
)
def test_an_out_of_range_value_is_named_with_its_position(
    name: str, value: float, position: int
) -> None:
    arr = _with(value, base=10.0)
    with pytest.raises(
        InputValidationError, match=rf"forcing '{name}': value .* position {position} "
    ):
        _forcing(**{name: arr}).kernel_arrays(N_CELLS)


@pytest.mark.parametrize(("name", "value"), [("tmp_degC", -90.0), ("tmp_degC", 65.0)])
def test_values_on_the_range_bounds_pass(name: str, value: float) -> None:
    _forcing(**{name: _with(value, base=10.0)}).kernel_arrays(N_CELLS)
