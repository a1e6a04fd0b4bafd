"""socseq against the official RothC example outputs in ../shared/data/rothc-reference.

Every reference runs through the same public path as ``socseq rothc``:
``run_rothamsted(read_rothamsted_input(path))``. What is compared, and why each tolerance is
what it is (measured figures are in docs/rothc.md):

- ``RothC_Code_v2`` (Fortran, 4-decimal text): with the official float32 literals
  (:meth:`RothCParameters.rothamsted`) both files must be byte-identical. With the decimal
  constants every printed value may differ by at most one unit of its last printed digit, the
  bar of rothc-model.md §10.
- ``RothC_R_v2`` (R, 15 significant digits) and ``RothC_Py_v1`` (Python, round-trip floats):
  both compute in plain double with decimal constants, so they are compared with
  :meth:`RothCParameters.decimal`. The two implementations evaluate the same formulas in a
  different order, so values may differ by the print rounding (half a unit of the 15th
  significant digit for R, nothing for RothC_Py) plus ``RTOL`` relative; deltaC by ``DELTA_C_ATOL``
  per mil instead (see below).
- ``morocco_input``: no reference output exists; only invariants are checked.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray

from conftest import shared_path
from socseq.rothc.equilibrium import equilibrium
from socseq.rothc.model import MonthlyForcing, RunOptions, Soil, delta_c_from_age, run
from socseq.rothc.parameters import RothCParameters
from socseq.rothc.rothamsted_io import (
    MONTH_COLUMNS,
    YEAR_COLUMNS,
    format_month_results_out,
    format_year_results_out,
    read_rothamsted_input,
)
from socseq.rothc.site import run_rothamsted

REFERENCE = ("data", "rothc-reference")
POOLS = ["DPM_t_C_ha", "RPM_t_C_ha", "BIO_t_C_ha", "HUM_t_C_ha", "IOM_t_C_ha", "SOC_t_C_ha"]

# Double-precision implementations that differ only in the order of operations: each month
# adds rounding errors of a few ulp, which the decay of the pools damps. 1e-14 relative is
# about 45 ulp; the measured worst case is 4 ulp (RothC_Py) and 0.17 units of the 15th
# significant digit beyond R's print rounding.
RTOL = 1e-14
# deltaC = (exp(-age/8035) - 1) 1000 with age = ln(SOC / activity) / conr: a relative error e
# of the activity ratio moves deltaC by about 1000 e per mil whatever its size, so the same
# RTOL on the ratio allows 1000 * 1e-14 = 1e-11 per mil (measured: 2.6e-12 against R,
# 1.1e-12 against RothC_Py). Near deltaC = 0 this is far more than R's 15 significant digits
# can express, so deltaC is not compared digit by digit.
DELTA_C_ATOL = 1000 * RTOL


def _site(folder: str, name: str = "RothC_input.dat"):
    return read_rothamsted_input(shared_path(*REFERENCE, folder, name))


def _printed_units(path: Path) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64]]:
    """Header, values and the unit of the last printed digit of every cell of an R csv.

    R's ``write.csv`` prints 15 significant digits and drops trailing zeros, so the unit of
    the last digit is ``10 ** (floor(log10 |v|) - 14)``; an exact zero is printed as ``0``.
    """
    lines = path.read_text(encoding="ascii").splitlines()
    header = [name.strip('"') for name in lines[0].split(",")]
    values = np.array([[float(field) for field in line.split(",")] for line in lines[1:]])
    with np.errstate(divide="ignore"):
        units = np.where(values == 0.0, 0.0, 10.0 ** (np.floor(np.log10(np.abs(values))) - 14))
    return header, values, units


# ---------------------------------------------------------------------------------------------
# (a) Fortran RothC 2.0.0: byte for byte
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fortran_official() -> tuple[pd.DataFrame, pd.DataFrame]:
    site = _site("RothC_Code_v2")
    return run_rothamsted(site, spinup="rothamsted", params=RothCParameters.rothamsted())


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "formatter", "table"),
    [
        ("month_results.out", format_month_results_out, 0),
        ("year_results.out", format_year_results_out, 1),
    ],
)
def test_fortran_example_is_byte_identical(
    fortran_official, name: str, formatter, table: int
) -> None:
    expected = shared_path(*REFERENCE, "RothC_Code_v2", name).read_bytes().decode("ascii")
    produced = formatter(fortran_official[table])
    if produced != expected:  # name the first differing line rather than dump 160 kB
        for lineno, (ours, theirs) in enumerate(
            zip(produced.split("\n"), expected.split("\n"), strict=False), start=1
        ):
            assert ours == theirs, f"{name} line {lineno}"
    assert produced == expected


@pytest.mark.shared
def test_fortran_example_tables(fortran_official) -> None:
    month, year = fortran_official
    assert tuple(month.columns) == MONTH_COLUMNS and tuple(year.columns) == YEAR_COLUMNS
    assert len(month) == 2 + 840 - 12 and len(year) == 2 + (840 - 12) // 12
    assert month.loc[1, "Month"] == 20916  # spin-up months, as the official run
    assert year.loc[1, "SOC_t_C_ha"] == pytest.approx(42.4779, abs=5e-5)
    assert year["SOC_t_C_ha"].iloc[-1] == pytest.approx(42.7758, abs=5e-5)


def _printed_digits(text: str) -> tuple[list[list[str]], list[list[int | None]]]:
    """Fields of an official .out file and their printed decimals (None for blank/integers)."""
    rows = [[field.strip() for field in line.split(",")] for line in text.splitlines()[1:]]
    decimals = [[len(f.split(".")[1]) if "." in f else None for f in row] for row in rows]
    return rows, decimals


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "formatter", "table"),
    [
        ("month_results.out", format_month_results_out, 0),
        ("year_results.out", format_year_results_out, 1),
    ],
)
def test_fortran_example_with_decimal_constants_within_one_printed_unit(
    name: str, formatter, table: int
) -> None:
    tables = run_rothamsted(_site("RothC_Code_v2"), params=RothCParameters.decimal())
    ours, ours_decimals = _printed_digits(formatter(tables[table]))
    theirs, theirs_decimals = _printed_digits(
        shared_path(*REFERENCE, "RothC_Code_v2", name).read_text(encoding="ascii")
    )
    assert ours_decimals == theirs_decimals and len(ours) == len(theirs)
    worst = 0
    for row_ours, row_theirs, row_decimals in zip(ours, theirs, theirs_decimals, strict=True):
        for a, b, d in zip(row_ours, row_theirs, row_decimals, strict=True):
            if d is None:  # labels, PC and blanks: identical
                assert a == b
            else:
                worst = max(worst, abs(round(float(a) * 10**d) - round(float(b) * 10**d)))
    assert worst <= 1


# ---------------------------------------------------------------------------------------------
# (b) RothC_R 2.0: full precision, plain double
# ---------------------------------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "table", "skip"),
    [
        ("month_results.out", 0, 2),  # R writes no initial and no spin-up month row
        ("year_results.out", 1, 1),
    ],
)  # R writes no year-0 row
def test_r_example_to_the_precision_it_prints(name: str, table: int, skip: int) -> None:
    site = _site("RothC_R_v2")
    ours = run_rothamsted(site, params=RothCParameters.decimal())[table].iloc[skip:]
    header, values, units = _printed_units(shared_path(*REFERENCE, "RothC_R_v2", name))
    assert values.shape == ours.shape
    # R names some columns differently (Pl_inp, OA_inp, RM_Temp, Bio, Hum); same order.
    assert [h.lower() for h in header[:2]] == ["year", "month"] and len(header) == ours.shape[1]
    ours_values = ours.to_numpy(dtype=np.float64)
    for j, column in enumerate(ours.columns):
        tolerance = 0.5 * units[:, j] + (
            DELTA_C_ATOL if column == "deltaC" else RTOL * np.abs(values[:, j])
        )
        excess = np.abs(ours_values[:, j] - values[:, j]) - tolerance
        row = int(np.argmax(excess))
        assert excess[row] <= 0, (
            f"{name} {column} row {row}: R {values[row, j]!r}, socseq {ours_values[row, j]!r}"
        )


# ---------------------------------------------------------------------------------------------
# (c) RothC_Py 1.0: round-trip floats, plain double, its own input (clay 13 %, depth 25 cm)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def python_v1() -> dict[str, object]:
    site = _site("RothC_Py_v1")
    folder = shared_path(*REFERENCE, "RothC_Py_v1")
    # round_trip: every printed digit parsed exactly (pandas 2.1's default parser was off by
    # up to 6e-13 relative on 572 of these values, above RTOL).
    return {
        "site": site,
        "month": pd.read_csv(
            folder / "month_results.csv", dtype=float, float_precision="round_trip"
        ),
        "year": pd.read_csv(folder / "year_results.csv", dtype=float, float_precision="round_trip"),
    }


def _assert_close(ours: NDArray[np.float64], theirs: NDArray[np.float64], column: str) -> None:
    tolerance = DELTA_C_ATOL if column == "deltaC" else RTOL * np.abs(theirs)
    excess = np.abs(ours - theirs) - tolerance
    row = int(np.argmax(excess))
    assert excess[row] <= 0, f"{column} row {row}: reference {theirs[row]!r}, socseq {ours[row]!r}"


@pytest.mark.shared
def test_python_v1_outputs_come_from_its_own_input(python_v1) -> None:
    site = python_v1["site"]
    assert site.layout == "v1" and (site.opt_rmmoist, site.opt_smdbare) == (1, 1)
    assert (site.clay_pct, site.depth_cm) == (13.0, 25.0)


@pytest.mark.shared
def test_python_v1_year_results_with_decimal_constants(python_v1) -> None:
    _, year = run_rothamsted(python_v1["site"], params=RothCParameters.decimal())
    ours, theirs = year.iloc[1:], python_v1["year"]
    assert len(ours) == len(theirs)
    # RothC_Py labels the spin-up row year 1 and counts its months as we do (19872).
    assert ours["Year"].tolist() == theirs["Year"].astype(int).tolist()
    assert ours["Month"].tolist() == theirs["Month"].astype(int).tolist()
    for column in [*POOLS, "deltaC"]:
        _assert_close(ours[column].to_numpy(), theirs[column].to_numpy(), column)


@pytest.mark.shared
def test_python_v1_month_results_with_decimal_constants(python_v1) -> None:
    site = python_v1["site"]
    month, _ = run_rothamsted(site, params=RothCParameters.decimal())
    ours, theirs = month.iloc[2:], python_v1["month"]
    # RothC_Py labels months with the input month column, socseq with a 1..12 counter as the
    # Fortran; this input starts every year in January, so both agree.
    assert ours["Year"].tolist() == theirs["Year"].astype(int).tolist()
    assert ours["Month"].tolist() == theirs["Month"].astype(int).tolist()
    for column in POOLS:
        _assert_close(ours[column].to_numpy(), theirs[column].to_numpy(), column)


@pytest.mark.shared
def test_python_v1_monthly_delta_c_through_the_python_api(python_v1) -> None:
    """RothC_Py also prints deltaC every month; get it from equilibrium() and run()."""
    site = python_v1["site"]
    params = RothCParameters.decimal()
    soil = Soil(clay_pct=site.clay_pct, depth_cm=site.depth_cm, iom_t_ha=site.iom_t_ha)

    def forcing(rows: slice) -> MonthlyForcing:
        return MonthlyForcing(
            tmp_degC=np.array(site.tmp_degC[rows]),
            rain_mm=np.array(site.rain_mm[rows]),
            evap_mm=np.array(site.evap_mm[rows]),
            plant_cover=site.pc[rows].astype(float),
            c_inp_t_ha=np.array(site.c_inp_t_ha[rows]),
            fym_t_ha=np.array(site.fym_t_ha[rows]),
            dpm_rpm=np.array(site.dpm_rpm[rows]),
            modern_pct=np.array(site.modern_pct[rows]),
        )

    options = RunOptions(radiocarbon=True)
    spun = equilibrium(
        soil, forcing(slice(0, 12)), method="rothamsted", options=options, params=params
    )
    assert spun.spinup_months is not None and spun.spinup_months[0] == 19872
    result = run(
        soil,
        forcing(slice(12, site.nsteps)),
        site.nsteps - 12,
        state=spun.state,
        record="month",
        options=options,
        params=params,
    )
    assert result.total_age is not None
    _assert_close(
        delta_c_from_age(result.total_age[0], params),
        python_v1["month"]["deltaC"].to_numpy(),
        "deltaC",
    )


@pytest.mark.shared
def test_python_v1_is_not_reproduced_by_the_float32_constants(python_v1) -> None:
    """RothC_Py computes with decimal constants: the Fortran literals are 1e-6 away from it."""
    _, year = run_rothamsted(python_v1["site"], params=RothCParameters.rothamsted())
    soc = np.abs(
        year["SOC_t_C_ha"].iloc[1:].to_numpy() - python_v1["year"]["SOC_t_C_ha"].to_numpy()
    )
    assert 1e-6 < soc.max() < 1e-4


# ---------------------------------------------------------------------------------------------
# (d) Morocco (older layout without month column): input only, no reference output
# ---------------------------------------------------------------------------------------------


@pytest.mark.shared
def test_morocco_runs_and_keeps_its_invariants() -> None:
    site = _site("morocco_input", "RothC_input_Morocco.dat")
    assert site.layout == "v1-nomonth" and site.nsteps == 252
    official = run_rothamsted(site, params=RothCParameters.rothamsted())
    decimal = run_rothamsted(site, params=RothCParameters.decimal())
    for month, year in (official, decimal):
        assert len(month) == 2 + 240 and len(year) == 2 + 20
        assert year["Year"].iloc[2:].tolist() == list(range(2003, 2023))
        assert month["Month"].iloc[2:].tolist() == list(range(1, 13)) * 20
        assert month.loc[1, "Month"] % 12 == 0
    assert official[0].loc[1, "Month"] == decimal[0].loc[1, "Month"]
    # The two constant sets agree to within one unit of the printed fourth decimal.
    for ours, theirs in zip(official, decimal, strict=True):
        for column in (
            "DPM_t_C_ha",
            "RPM_t_C_ha",
            "BIO_t_C_ha",
            "HUM_t_C_ha",
            "SOC_t_C_ha",
            "CO2_t_C_ha",
        ):
            assert np.abs(ours[column] - theirs[column]).max() < 1e-4
    # Carbon balance of the forward run with decimal constants (which conserve carbon):
    # SOC change + CO2 released = plant + manure carbon added.
    month = decimal[0]
    added = float(np.sum(site.c_inp_t_ha[12:]) + np.sum(site.fym_t_ha[12:]))
    change = month["SOC_t_C_ha"].iloc[-1] - month["SOC_t_C_ha"].iloc[1]
    assert math.isclose(change + month["CO2_t_C_ha"].iloc[-1], added, rel_tol=0, abs_tol=1e-9)
