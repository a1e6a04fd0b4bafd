"""The runtime carbon-balance check of the phase engine (issue 13 item 6).

(a) On real runs it passes, and it is on: no switch of a run turns it off. (b) A corrupted
pool or CO2 of one cell fails the run with :class:`CarbonBalanceError` naming that cell's grid
row and column, in every phase, for combined scenarios and for ensemble members. (c) The
balance it checks is the one RothC computes: a month computed by hand from
``docs/rothc-model.md`` §3–§4, and the official example outputs (Fortran at 4 decimals, the R
implementation at 15 significant digits), close it as the kernel does.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import shared_path
from socseq.exceptions import CarbonBalanceError
from socseq.pipeline import balance, engine
from socseq.pipeline.balance import (
    TOLERANCE,
    CarbonLedger,
    fym_share,
    partition_surplus,
    relative_residual,
)
from socseq.pipeline.engine import CellInputs, EngineSettings, Members, ScenarioSpec, simulate
from socseq.pipeline.landuse import read_class_table
from socseq.rothc.model import MonthlyForcing, RothCState, RunOptions, Soil, run
from socseq.rothc.modifiers import co2_partition
from socseq.rothc.parameters import RothCParameters
from socseq.rothc.rothamsted_io import read_results_out, read_rothamsted_input

WARM_YEARS, FORWARD_YEARS = 3, 4
SCENARIOS = (
    ScenarioSpec("BAU", 1.0, 0.0, None),
    ScenarioSpec("SSM1", 1.2, 0.0, None),
    ScenarioSpec("MANURE", 1.0, 0.8, None),
    ScenarioSpec("BARE", 0.9, 0.0, (1.0,) * 12),
)


def _settings(**changes: Any) -> EngineSettings:
    base = EngineSettings(
        table=read_class_table("fao"),
        paddy_rate_factor=0.4,
        evap_coefficient=1.0,
        spinup_method="exact",
        monthly_shares=(1.0 / 12.0,) * 12,
        constants="official",
        depth_cm=30.0,
        bare_threshold=0.8,
        scenarios=SCENARIOS,
        n_warmup_years=WARM_YEARS,
        forward_years=FORWARD_YEARS,
    )
    return replace(base, **changes)


def _cells(n: int = 5, forward_period: int = 12, seed: int = 3) -> CellInputs:
    """``n`` cropland/grassland cells with a seasonal climate, placed at grid (10 + i, 20 + 2i)."""
    rng = np.random.default_rng(seed)
    season = np.cos(2 * np.pi * (np.arange(12) - 6.5) / 12)
    tas = 14 + rng.uniform(-6, 8, (n, 1)) + 7 * season
    pr = np.clip(60 + 50 * season + rng.uniform(-20, 20, (n, 1)), 0, None)
    pet = np.clip(35 + 5 * tas, 5, None)

    def series(a: np.ndarray, months: int) -> np.ndarray:
        years = months // 12
        return np.tile(a, (1, years)) + rng.normal(0, 0.5, (n, months))

    warm_months = 12 * WARM_YEARS
    fwd = {"tas": tas, "pr": pr, "pet": pet}
    if forward_period != 12:
        fwd = {
            "tas": series(tas, forward_period),
            "pr": np.clip(series(pr, forward_period), 0, None),
            "pet": np.clip(series(pet, forward_period), 1, None),
        }
    classes = np.where(np.arange(n) % 2 == 0, 2, 3)
    table = read_class_table("fao")
    return CellInputs(
        classes=classes,
        soc=rng.uniform(20, 80, n),
        clay=rng.uniform(5, 60, n),
        spin={"tas": tas, "pr": pr, "pet": pet},
        npp_spin=rng.uniform(800, 1500, n),
        warm={
            "tas": series(tas, warm_months),
            "pr": np.clip(series(pr, warm_months), 0, None),
            "pet": np.clip(series(pet, warm_months), 1, None),
        },
        npp_warm=rng.uniform(800, 1500, (n, WARM_YEARS)),
        fwd=fwd,
        cover=table.cover[classes],
        warm_cover=None,
        fwd_cover=table.cover[classes],
        yearly=np.repeat(classes[:, None], WARM_YEARS, axis=1),
        fwd_classes=classes,
        grid_rc=np.column_stack([10 + np.arange(n), 20 + 2 * np.arange(n)]),
    )


def _ensemble(cells: CellInputs, settings: EngineSettings, k: int = 3) -> Members:
    """``k`` perturbed members per cell (climate, SOC, clay, input, scenario multipliers)."""
    rng = np.random.default_rng(7)
    b = cells.n_cells
    mult = np.array([s.input_multiplier for s in settings.scenarios])
    return Members(
        soc=cells.soc[:, None] * rng.uniform(0.8, 1.2, (b, k)),
        clay=np.clip(cells.clay[:, None] * rng.uniform(0.9, 1.1, (b, k)), 1, 99),
        t_factor=rng.uniform(0.97, 1.03, (b, k)),
        t_offset=rng.uniform(-0.5, 0.5, (b, k)),
        p_factor=rng.uniform(0.9, 1.1, (b, k)),
        input_factor=rng.uniform(0.9, 1.1, (b, k)),
        multipliers=mult[:, None, None] + rng.uniform(-0.1, 0.1, (mult.size, b, k)),
        params=[settings.params],
    )


# ---------------------------------------------------------------------------------------------
# (a) On: real runs pass, and nothing a run can set turns the check off
# ---------------------------------------------------------------------------------------------


def test_the_check_is_on() -> None:
    """The only switch is a private module attribute for the cost benchmark; it is on."""
    assert balance._ENABLED is True
    assert TOLERANCE == 1e-9


@pytest.mark.parametrize("method", ["exact", "dechow", "rothamsted"])
@pytest.mark.parametrize("constants", ["official", "decimal"])
def test_real_runs_close_their_balance(method: str, constants: str) -> None:
    settings = _settings(spinup_method=method, constants=constants)
    cells = _cells()
    result = simulate(settings, cells, Members.identity(cells, settings))
    phases = {"warm-up", "forward"} | ({"spin-up"} if method == "exact" else set())
    assert set(result.balance) == phases
    # Measured: below 1e-14 (docs/pipeline.md); the check's bar is 1e-9.
    assert max(result.balance.values()) < 1e-13, result.balance


def test_ensemble_members_and_a_future_series_close_their_balance() -> None:
    settings = _settings()
    cells = _cells(n=4, forward_period=12 * FORWARD_YEARS)
    members = _ensemble(cells, settings)
    result = simulate(settings, cells, members)
    assert result.forward.shape == (len(SCENARIOS), 4, 3, FORWARD_YEARS)
    assert set(result.balance) == {"spin-up", "warm-up", "forward"}
    assert max(result.balance.values()) < 1e-13, result.balance


def test_partition_surplus_is_the_float32_literals_and_nothing_else() -> None:
    clay = np.array([5.0, 23.4, 60.0])
    official, decimal = RothCParameters.rothamsted(), RothCParameters.decimal()
    f_co2 = co2_partition(clay, official)[0]
    x = f_co2 / (1.0 - f_co2)
    # f32(0.46) + f32(0.54) = 1 + 2.98e-8: per tonne decomposed, 2.98e-8/(x+1) is created.
    extra = float(np.float32(0.46)) + float(np.float32(0.54)) - 1.0
    np.testing.assert_allclose(partition_surplus(clay, official), extra / x, rtol=1e-6)
    assert np.all(np.abs(partition_surplus(clay, decimal)) < 1e-15)
    assert fym_share(official) - 1.0 == pytest.approx(1.862645149230957e-08, rel=1e-12)
    assert fym_share(decimal) == 1.0


def test_relative_residual_is_relative_to_the_largest_term_and_flags_nan() -> None:
    start = np.array([40.0, 0.0, 10.0])
    end = np.array([[41.0], [0.0], [np.nan]])
    inputs = np.array([[3.0], [0.0], [1.0]])
    co2 = np.array([[2.0 - 41e-9], [0.0], [1.0]])  # scale: the end stock, 41
    rel = relative_residual(start, end, inputs, co2, np.zeros(3))
    np.testing.assert_allclose(rel[:, 0], [1e-9, 0.0, np.inf], rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# (b) Fault injection: one corrupted cell fails the run, named by its grid row and column
# ---------------------------------------------------------------------------------------------


def _corrupting_run(
    call: int, row: int, what: str, delta: float = 1e-6
) -> tuple[Any, dict[str, int]]:
    """A :func:`socseq.rothc.model.run` whose ``call``-th call corrupts one row's output.

    Callers also set ``engine.WARMUP_BLOCK_ROW_MONTHS`` to 1 (:func:`_one_year_per_call`), so
    that call ``1 + y`` is warm-up year ``y``.
    """
    real = engine.run
    seen = {"calls": 0}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        seen["calls"] += 1
        if seen["calls"] == call:
            if what == "pools":
                result.pools[row, :, 3] += delta  # HUM, every record from here on
            else:
                result.co2[row, :] += delta
        return result

    return wrapped, seen


@pytest.fixture
def _one_year_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """One warm-up year per kernel call, so that a call number names a year."""
    monkeypatch.setattr(engine, "WARMUP_BLOCK_ROW_MONTHS", 1)


@pytest.mark.parametrize(
    ("call", "what", "phase"),
    [
        (1, "pools", "spin-up (a year from the exact equilibrium)"),
        (2, "co2", "warm-up, year 1 of 3"),
        (1 + WARM_YEARS, "pools", f"warm-up, year {WARM_YEARS} of {WARM_YEARS}"),
        (2 + WARM_YEARS, "co2", "forward scenario 'BAU', year "),
    ],
)
@pytest.mark.usefixtures("_one_year_per_call")
def test_one_corrupted_cell_fails_naming_its_grid_cell(
    monkeypatch: pytest.MonkeyPatch, call: int, what: str, phase: str
) -> None:
    settings = _settings()
    cells = _cells()
    wrapped, seen = _corrupting_run(call, row=3, what=what)
    monkeypatch.setattr(engine, "run", wrapped)
    with pytest.raises(CarbonBalanceError) as info:
        simulate(settings, cells, Members.identity(cells, settings))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("carbon balance not closed at grid row 13, col 26, " + phase)
    assert "this is a bug in socseq, please report it" in message
    for term in ("stock change", "inputs", "CO2 released", "relative residual"):
        assert term in message
    assert seen["calls"] >= call


@pytest.mark.usefixtures("_one_year_per_call")
def test_a_fault_far_below_any_output_precision_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """1e-7 t C/ha on one cell: below the float32 resolution of the maps, still a failure.

    The bar is 1e-9 of the largest term, here the cell's stock (20–80 t C/ha): 2e-8–8e-8.
    """
    settings = _settings()
    cells = _cells()
    wrapped, _ = _corrupting_run(2 + WARM_YEARS, row=1, what="pools", delta=1e-7)
    monkeypatch.setattr(engine, "run", wrapped)
    with pytest.raises(CarbonBalanceError, match="grid row 11, col 22, forward scenario 'BAU'"):
        simulate(settings, cells, Members.identity(cells, settings))


def test_a_wrong_combination_of_runs_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Combined scenarios are checked as reported: inputs come from the scenario, not the runs."""
    real = engine._forward

    def swapped(*args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        soc, co2 = real(*args, **kwargs)
        soc[1] = soc[0]  # SSM1 reported with the BAU trajectory (and its own CO2)
        return soc, co2

    monkeypatch.setattr(engine, "_forward", swapped)
    settings = _settings()
    cells = _cells()
    with pytest.raises(CarbonBalanceError, match="forward scenario 'SSM1'"):
        simulate(settings, cells, Members.identity(cells, settings))


def test_a_corrupted_member_is_named_with_its_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings()
    cells = _cells(n=4)
    members = _ensemble(cells, settings, k=3)
    # Row 7 of cell-major rows (i·k + j) is cell 2, member 1.
    wrapped, _ = _corrupting_run(2, row=7, what="pools")
    monkeypatch.setattr(engine, "run", wrapped)
    with pytest.raises(CarbonBalanceError, match=r"grid row 12, col 24, member 1, warm-up"):
        simulate(settings, cells, members)


def test_a_batch_without_grid_positions_names_the_batch_cell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _settings()
    cells = replace(_cells(), grid_rc=None)
    wrapped, _ = _corrupting_run(2, row=4, what="co2")
    monkeypatch.setattr(engine, "run", wrapped)
    with pytest.raises(CarbonBalanceError, match="at cell 4 of the batch, warm-up"):
        simulate(settings, cells, Members.identity(cells, settings))


def test_ledger_reports_the_worst_cell_and_record() -> None:
    ledger = CarbonLedger.for_rows(
        np.full(3, 20.0), RothCParameters.decimal(), lambda r: f"row {r}"
    )
    start = np.full(3, 50.0)
    inputs = np.array([[1.0, 2.0]] * 3)
    co2 = np.array([[0.5, 1.0]] * 3)
    end = start[:, None] + inputs - co2
    end[2, 1] += 1e-6
    end[0, 0] += 1e-7
    with pytest.raises(
        CarbonBalanceError, match=r"at row 2, test, year 2: stock change \+1.000001"
    ):
        ledger.check("test", start, end, inputs, co2, ["year 1", "year 2"])


# ---------------------------------------------------------------------------------------------
# (c) The balance is RothC's: by hand, and in the official outputs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("constants", ["official", "decimal"])
def test_one_month_by_hand(constants: str) -> None:
    """One cell, one month, every step of rothc-model.md §3–§4 written out."""
    p = RothCParameters.rothamsted() if constants == "official" else RothCParameters.decimal()
    clay, temp, c_inp, fym, ratio = 23.4, 12.0, 0.7, 0.3, 1.44
    pools = [0.4, 6.0, 0.9, 30.0]  # DPM, RPM, BIO, HUM [t C/ha]
    iom = 3.0
    # §3: bare soil (PC 0, RM_PC 1), wet month (the deficit stays at 0, RM_Moist 1).
    rm_tmp = p.tmp_a / (math.exp(p.tmp_b / (temp + p.tmp_c)) + 1.0)
    rate = rm_tmp * 1.0 * 1.0
    k = [p.k_dpm, p.k_rpm, p.k_bio, p.k_hum]
    decomposed = [c - c * math.exp(-rate * kk * p.tstep) for c, kk in zip(pools, k, strict=True)]
    # §4.2: CO2/(BIO+HUM) ratio x and the three shares.
    x = p.co2_a * (p.co2_b + p.co2_c * math.exp(-p.co2_d * clay))
    f_co2, f_bio, f_hum = x / (x + 1), p.bio_fraction / (x + 1), p.hum_fraction / (x + 1)
    co2 = sum(decomposed) * f_co2
    added = c_inp + fym * (p.fym_dpm + p.fym_rpm + p.fym_hum)
    soc_end = iom + sum(pools) - sum(decomposed) * (1 - f_bio - f_hum) + added

    result = run(
        Soil(clay_pct=clay, depth_cm=23.0),
        MonthlyForcing(
            tmp_degC=temp,
            rain_mm=200.0,
            evap_mm=10.0,
            plant_cover=0.0,
            c_inp_t_ha=c_inp,
            fym_t_ha=fym,
            dpm_rpm=ratio,
        ),
        1,
        state=RothCState(
            pools=np.array([pools]), iom=np.array([iom]), smd=np.zeros(1), co2=np.zeros(1)
        ),
        record="end",
        options=RunOptions(),
        params=p,
    )
    assert result.co2[0, 0] == pytest.approx(co2, rel=1e-13)
    assert result.soc[0, 0] == pytest.approx(soc_end, rel=1e-13)
    ledger = CarbonLedger.for_rows(np.array([clay]), p, lambda r: "the cell")
    start = np.array([iom + sum(pools)])
    # The hand balance: what is created is the surplus of the shares on what decomposed.
    created = sum(decomposed) * (f_co2 + f_bio + f_hum - 1.0)
    assert ledger.surplus[0] * co2 == pytest.approx(created, rel=1e-6, abs=1e-18)
    ledger.check("by hand", start, result.soc, np.array([[added]]), result.co2)
    assert ledger.worst["by"] < 1e-15
    without = relative_residual(start, result.soc, np.array([[added]]), result.co2, np.zeros(1))
    if constants == "official":  # the float32 literals: created carbon, about 7e-9 of CO2
        assert without[0, 0] == pytest.approx(created / max(start[0], soc_end), rel=1e-4)
    else:
        assert without[0, 0] < 1e-15


def _reference_inputs(folder: str) -> tuple[np.ndarray, np.ndarray]:
    site = read_rothamsted_input(shared_path("data", "rothc-reference", folder, "RothC_input.dat"))
    return np.asarray(site.c_inp_t_ha[12:]), np.asarray(site.fym_t_ha[12:])


def test_the_r_reference_closes_the_balance_month_by_month() -> None:
    """RothC_R v2 (decimal constants, 15 significant digits): each month, ΔSOC = I − ΔCO2."""
    month = pd.read_csv(shared_path("data", "rothc-reference", "RothC_R_v2", "month_results.out"))
    c_inp, fym = _reference_inputs("RothC_R_v2")
    soc, co2 = month["SOC_t_C_ha"].to_numpy(), month["CO2_t_C_ha"].to_numpy()
    assert soc.size == c_inp.size
    ledger = CarbonLedger.for_rows(np.zeros(soc.size - 1), RothCParameters.decimal(), str)
    # Month m+1 from the state after month m: inputs and CO2 of that month only.
    added = (c_inp + fym * fym_share(RothCParameters.decimal()))[1:, None]
    released = np.diff(co2)[:, None]
    ledger.check("R reference", soc[:-1], soc[1:, None], added, released)
    # 15 printed digits of SOC ~ 40 t C/ha: about 1e-13 absolute, so relative ~1e-14 here.
    assert ledger.worst["R"] < 1e-12


def test_the_fortran_reference_closes_the_balance_at_its_printed_precision() -> None:
    """Official Fortran (float32 literals, 4 decimals): from the spin-up row to the last month.

    Pools and CO2 are printed to 4 decimals, so the balance closes to 2 × 5e-5 t C/ha; the
    created carbon of the float32 shares (about 7e-9 of the CO2) is far below that.
    """
    path = shared_path("data", "rothc-reference", "RothC_Code_v2", "month_results.out")
    month = read_results_out(path)
    c_inp, fym = _reference_inputs("RothC_Code_v2")
    soc, co2 = month["SOC_t_C_ha"].to_numpy(), month["CO2_t_C_ha"].to_numpy()
    assert co2[1] == 0.0 and soc.size == c_inp.size + 2  # initial row, spin-up row, months
    added = np.cumsum(c_inp + fym * fym_share(RothCParameters.rothamsted()))
    residual = (soc[2:] - soc[1]) - (added - co2[2:])
    assert np.abs(residual).max() <= 1e-4 + 1e-12
    assert added[-1] > 50 and co2[-1] > 50  # a real balance: decades of inputs and CO2


# --------------------------------------------------------------------------------------------
# Warm-up blocks: how many years one kernel call holds changes no bit


@pytest.mark.parametrize("block_row_months", [12 * 5 * 2, 10**9])
def test_warmup_blocks_change_no_bit(
    monkeypatch: pytest.MonkeyPatch, block_row_months: int
) -> None:
    """Two years per kernel call, or all of them, equal one year per call bit for bit.

    One year per call is the loop the engine ran before blocks; the equality fixtures
    (``test_equality_fixtures.py``, made before) check the values themselves. Yearly classes
    change from year to year here, so each block must carry each year's DPM/RPM and cover.
    """
    settings = _settings()
    cells = _cells()
    rng = np.random.default_rng(11)
    yearly = rng.choice([2, 3, 4], size=cells.yearly.shape)  # cropland, grassland, tree crops
    cells = replace(cells, yearly=yearly)
    members = Members.identity(cells, settings)
    monkeypatch.setattr(engine, "WARMUP_BLOCK_ROW_MONTHS", 1)
    year_by_year = simulate(settings, cells, members)
    monkeypatch.setattr(engine, "WARMUP_BLOCK_ROW_MONTHS", block_row_months)
    blocked = simulate(settings, cells, members)
    np.testing.assert_array_equal(blocked.warmup, year_by_year.warmup)
    np.testing.assert_array_equal(blocked.forward, year_by_year.forward)
    steady = replace(cells, yearly=np.repeat(cells.classes[:, None], WARM_YEARS, axis=1))
    assert not np.array_equal(simulate(settings, steady, members).warmup, blocked.warmup)


@pytest.mark.parametrize("forward_period", [12, 12 * FORWARD_YEARS])
def test_recording_only_the_last_forward_year_changes_no_bit(forward_period: int) -> None:
    """Members keep only the final forward stocks; they equal the last of the yearly records."""
    settings = _settings()
    cells = _cells(forward_period=forward_period)
    members = _ensemble(cells, settings, k=3)
    yearly = simulate(settings, cells, members)
    last = simulate(settings, cells, members, forward_record="end")
    assert last.forward.shape == (*yearly.forward.shape[:3], 1)
    np.testing.assert_array_equal(last.forward[..., 0], yearly.forward[..., -1])
    np.testing.assert_array_equal(last.t0, yearly.t0)
