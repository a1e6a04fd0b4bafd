"""A run whose carbon balance does not close fails in one line and publishes nothing.

The fault is injected in this process: one kernel call of the phase engine returns a HUM pool
0.001 t C/ha too large for one cell in one warm-up year. ``socseq run`` must stop with exit
status 2 and one line naming that cell's grid row and column, the phase and the terms, and the
output folder must still hold the previous run's products, untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from socseq.pipeline import engine

from .conftest import FaultRegion, bookkeeping, copy_set, invoke, which_set


def test_a_broken_balance_fails_the_run_and_publishes_nothing(
    fault_region: FaultRegion,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with xr.open_dataset(fault_region.clean_a / "soc_stocks.nc") as cube:
        simulated = np.argwhere(cube["exclusion_reason"].values == 0)
    assert len(simulated) > 5  # one window: the batch holds the simulated cells row-major
    row, col = simulated[5]
    real = engine.run
    calls = {"n": 0}

    def corrupted(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:  # 1: a year at the exact equilibrium, 2–6: warm-up years 1–5
            result.pools[5, :, 3] += 1e-3
        return result

    monkeypatch.setattr(engine, "run", corrupted)
    monkeypatch.setattr(engine, "WARMUP_BLOCK_ROW_MONTHS", 1)  # one warm-up year per call
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    code, err = invoke(
        ["run", str(fault_region.config_b), "--out", str(folder), "-q", "--no-report"], capsys
    )
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"error: carbon balance not closed at grid row {row}, col {col}, warm-up, year 2 of 5: "
        "stock change "
    ), lines[0]
    assert "this is a bug in socseq, please report it" in lines[0]
    assert which_set(folder, fault_region) == "A"
    assert bookkeeping(folder) == []
