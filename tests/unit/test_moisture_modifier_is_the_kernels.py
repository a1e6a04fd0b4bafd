"""One moisture modifier: the public function is the one every run uses (issue 11).

``socseq.rothc.moisture_modifier`` applies the kernel's ``_rm_moist`` element-wise; these tests
tie the two together by comparing, bit for bit, the public function with the RM_Moist the kernel
records during runs, over every moisture option and both plant-cover states.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from socseq.rothc import (
    MonthlyForcing,
    Soil,
    _kernel,
    modifiers,
    moisture_modifier,
    run,
    soil_water_limits,
)


@pytest.mark.parametrize("opt", [1, 2, 3])
def test_public_function_equals_what_runs_record(opt: int) -> None:
    rng = np.random.default_rng(opt)
    n = 64
    clay = rng.uniform(5, 60, n)
    soil_kw = {}
    if opt != 1:
        soil_kw = {
            "silt_pct": rng.uniform(10, 60, n),
            "bulk_density_g_cm3": rng.uniform(1.0, 1.6, n),
            "organic_carbon_pct": rng.uniform(0.3, 4.0, n),
            "min_rm_moist": rng.uniform(0.05, 0.3, n),
        }
    soil = Soil(clay_pct=clay, depth_cm=23.0, opt_rmmoist=opt, **soil_kw)
    months = 48
    forcing = MonthlyForcing(
        tmp_degC=15.0,
        rain_mm=rng.gamma(1.0, 40.0, (n, months)),
        evap_mm=rng.uniform(0, 120, (n, months)),
        plant_cover=rng.integers(0, 2, (n, months)),
        c_inp_t_ha=0.1,
    )
    result = run(soil, forcing, months, record="month", diagnostics=True)
    assert result.diagnostics is not None
    limits = soil_water_limits(clay, 23.0, opt_rmmoist=opt, **soil_kw)
    smd = result.diagnostics["smd_mm"]
    expected = moisture_modifier(smd, _columns(limits))
    np.testing.assert_array_equal(result.diagnostics["rm_moist"], expected)
    # The runs covered every branch: wet, between 1 and 15 bar, and at the lower limits.
    assert (smd > limits.smd_1bar[:, None]).any()
    between = (smd <= limits.smd_1bar[:, None]) & (smd > limits.smd_wilt[:, None])
    assert between.any() and (smd <= limits.smd_wilt[:, None]).any()


def _columns(limits: modifiers.SoilWaterLimits) -> modifiers.SoilWaterLimits:
    """The limits as (n_cells, 1) columns, to broadcast against (n_cells, months)."""
    return modifiers.SoilWaterLimits(
        *(np.asarray(getattr(limits, f))[:, None] for f in limits.__dataclass_fields__)
    )


def test_scalar_and_array_shapes_are_kept() -> None:
    limits = soil_water_limits(23.4, 23.0)
    assert np.shape(moisture_modifier(-10.0, limits)) == ()
    grid = moisture_modifier(np.linspace(-60.0, 0.0, 12).reshape(3, 4), limits)
    assert grid.shape == (3, 4)
    assert float(moisture_modifier(0.0, limits)) == 1.0
    assert float(moisture_modifier(-1e6, limits)) == pytest.approx(0.2, abs=1e-8)


def test_there_is_no_second_implementation() -> None:
    source = inspect.getsource(modifiers.moisture_modifier)
    assert "_kernel.moisture_modifier_array" in source
    assert "_rm_moist(" in inspect.getsource(_kernel.moisture_modifier_array.py_func)
