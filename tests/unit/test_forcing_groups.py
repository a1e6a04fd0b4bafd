"""Grouped forcing rows and the per-cell climate perturbation against explicit arrays.

An ensemble gives each of its ``k`` members of a cell the cell's climate, perturbed by the
member's temperature offset/scale and rain scale. The engine reads one climate row per group of
``k`` consecutive cells and applies the perturbation as it reads; both must give the same bits
as the member rows written out in full.
"""

from __future__ import annotations

import numpy as np
import pytest

from socseq.exceptions import InputValidationError
from socseq.rothc import MonthlyForcing, RothCState, RunOptions, Soil, equilibrium, run
from socseq.rothc.model import per_cell_rows

N_GROUPS, K = 7, 5
N = N_GROUPS * K


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    months = np.arange(12)
    return {
        "tmp": (
            rng.uniform(-3, 25, (N_GROUPS, 1)) + 9 * np.sin(2 * np.pi * (months - 3) / 12)[None, :]
        ),
        "rain": rng.uniform(0, 220, (N_GROUPS, 12)),
        "evap": rng.uniform(5, 160, (N_GROUPS, 12)),
        "pc": (rng.uniform(size=(N_GROUPS, 12)) < 0.7).astype(float),
        "cover": rng.uniform(0.6, 1.0, (N_GROUPS, 12)),
        "c_inp": rng.uniform(0.0, 0.5, (N, 12)),
        "clay": rng.uniform(5, 60, N),
        "t_scale": rng.uniform(0.95, 1.05, N),
        "t_offset": rng.normal(0, 1.0, N),
        "p_scale": rng.uniform(0.8, 1.2, N),
        "target": rng.uniform(20, 80, N),
    }


def _forcing(d: dict[str, np.ndarray], expand: bool, perturbed: bool) -> MonthlyForcing:
    def climate(name: str) -> np.ndarray:
        return per_cell_rows(d[name], N) if expand else d[name]

    tmp, rain = climate("tmp"), climate("rain")
    if perturbed:  # the member rows written out in full, as numpy computes them
        tmp = tmp * d["t_scale"][:, None] + d["t_offset"][:, None]
        rain = rain * d["p_scale"][:, None]
    return MonthlyForcing(
        tmp_degC=tmp,
        rain_mm=rain,
        evap_mm=climate("evap"),
        plant_cover=climate("pc"),
        cover_factor=climate("cover"),
        c_inp_t_ha=d["c_inp"],
    )


def _options(d: dict[str, np.ndarray], perturbation: bool) -> RunOptions:
    if not perturbation:
        return RunOptions(evap_coefficient=1.0, radiocarbon=True)
    return RunOptions(
        evap_coefficient=1.0,
        radiocarbon=True,
        temperature_scale=d["t_scale"],
        temperature_offset_degC=d["t_offset"],
        rain_scale=d["p_scale"],
    )


@pytest.mark.parametrize("method", ["exact", "rothamsted", "dechow"])
def test_grouped_perturbed_equilibrium_equals_explicit_rows(data: dict, method: str) -> None:
    soil = Soil(clay_pct=data["clay"], depth_cm=30.0)
    fast = equilibrium(
        soil,
        _forcing(data, expand=False, perturbed=False),
        method=method,
        target_soc=data["target"],
        options=_options(data, True),
    )
    full = equilibrium(
        soil,
        _forcing(data, expand=True, perturbed=True),
        method=method,
        target_soc=data["target"],
        options=_options(data, False),
    )
    np.testing.assert_array_equal(fast.state.pools, full.state.pools)
    np.testing.assert_array_equal(fast.state.smd, full.state.smd)
    np.testing.assert_array_equal(fast.annual_input_t_ha, full.annual_input_t_ha)


def test_grouped_perturbed_run_equals_explicit_rows(data: dict) -> None:
    soil = Soil(clay_pct=data["clay"], depth_cm=30.0)
    start = equilibrium(
        soil,
        _forcing(data, expand=True, perturbed=True),
        target_soc=data["target"],
        options=_options(data, False),
    ).state
    fast = run(
        soil,
        _forcing(data, expand=False, perturbed=False),
        60,
        state=start,
        record="month",
        options=_options(data, True),
        diagnostics=True,
    )
    full = run(
        soil,
        _forcing(data, expand=True, perturbed=True),
        60,
        state=start,
        record="month",
        options=_options(data, False),
        diagnostics=True,
    )
    np.testing.assert_array_equal(fast.pools, full.pools)
    np.testing.assert_array_equal(fast.co2, full.co2)
    np.testing.assert_array_equal(fast.total_age, full.total_age)
    for name, values in full.diagnostics.items():
        np.testing.assert_array_equal(fast.diagnostics[name], values, err_msg=name)
    # The perturbation is not a no-op: without it the members would all match their group.
    plain = run(
        soil,
        _forcing(data, expand=False, perturbed=False),
        60,
        state=start,
        record="month",
        options=_options(data, False),
    )
    assert not np.array_equal(plain.pools, full.pools)


def test_rows_that_do_not_divide_the_cells_are_refused(data: dict) -> None:
    soil = Soil(clay_pct=data["clay"], depth_cm=30.0)
    forcing = MonthlyForcing(
        tmp_degC=np.zeros((6, 12)), rain_mm=50.0, evap_mm=40.0, plant_cover=1, c_inp_t_ha=0.1
    )
    with pytest.raises(
        InputValidationError,
        match=r"forcing 'tmp_degC': shape \(6, 12\) does "
        "not fit 35 cells",
    ):
        run(soil, forcing, 12, state=RothCState.empty(N))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("temperature_offset_degC", 80.0, "temperature_offset_degC: value 80 degC"),
        ("rain_scale", -1.0, "rain_scale: value -1 -"),
        ("temperature_scale", np.nan, "temperature_scale: value at cell 0 is nan"),
    ],
)
def test_bad_perturbation_is_named(name: str, value: float, message: str) -> None:
    forcing = MonthlyForcing(
        tmp_degC=10.0, rain_mm=50.0, evap_mm=40.0, plant_cover=1, c_inp_t_ha=0.1
    )
    with pytest.raises(InputValidationError, match=message):
        run(Soil(clay_pct=20.0, depth_cm=23.0), forcing, 12, options=RunOptions(**{name: value}))
