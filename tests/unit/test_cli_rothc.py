"""`socseq rothc`: the official input in, month/year results out, one-line errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from socseq import cli as cli_module
from socseq.cli import cli, main
from socseq.exceptions import InputFormatError
from socseq.rothc.rothamsted_io import (
    MONTH_COLUMNS,
    YEAR_COLUMNS,
    format_month_results_out,
    format_year_results_out,
    read_results_csv,
    read_results_out,
)

# The official soil (rothc-model.md §3.2a): its water limits are given there to 4 decimals.
SOIL = "23.4\t23.0\t 3.0041\t{nsteps}\t58.6\t1.27\t0.94\t0.1"

Row = tuple[int, int, float, float, float, float, float, float, int, float]


def _row(
    year: int,
    month: int,
    *,
    tmp: float = 12.0,
    rain: float = 60.0,
    evap: float = 50.0,
    c_inp: float = 0.25,
    fym: float = 0.0,
    pc: int = 1,
    dpm_rpm: float = 1.44,
) -> Row:
    return (year, month, 100.0, tmp, rain, evap, c_inp, fym, pc, dpm_rpm)


def _year_of_rows(year: int, months: Sequence[int] = range(1, 13), **kwargs: float) -> list[Row]:
    return [_row(year, month, **kwargs) for month in months]


def _write_v2(
    path: Path, rows: Sequence[Row], options: tuple[int, int] = (1, 1), nsteps: int | None = None
) -> Path:
    """Write a RothC 2.0.0 input file laid out as the official example."""
    lines = [
        "synthetic input for socseq tests",
        "soil variables and nsteps (line 8); monthly rows from line 11",
        "   (-)       (-)",
        " opt_RMmoist  opt_SMDbare",
        f"    {options[0]}          {options[1]}",
        " (%)     (cm)  (t C/ha)      (-)      (%) (g/cm3)     (%)   (-)",
        "clay\tdepth\t    iom   nsteps  silt     BD      OC    minRM_Moist",
        SOIL.format(nsteps=len(rows) if nsteps is None else nsteps),
        "(-)    (-)       (%)    (C)     (mm)    (mm)  (t C/ha) (t C/ha) (-)      (-)",
        "year  month    modern\tTmp\tRain\tEvap   C_inp\tFYM\tPC    DPM_RPM",
        *("\t".join(str(value) for value in row) for row in rows),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def _invoke(*args: str) -> object:
    return CliRunner().invoke(cli, ["rothc", *args], catch_exceptions=False)


def _run_csv(
    tmp_path: Path,
    rows: Sequence[Row],
    name: str = "run",
    *extra: str,
    options: tuple[int, int] = (1, 1),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    source = _write_v2(tmp_path / f"{name}.dat", rows, options)
    out = tmp_path / name
    result = _invoke(str(source), "--out", str(out), *extra)
    assert result.exit_code == 0, result.output
    return read_results_csv(out / "month_results.csv"), read_results_csv(out / "year_results.csv")


def _spinup_and_years(first: int, last: int, **kwargs: float) -> list[Row]:
    rows = _year_of_rows(1, **kwargs)
    for year in range(first, last + 1):
        rows += _year_of_rows(year, **kwargs)
    return rows


# ---------------------------------------------------------------------------------------------
# The packaged example
# ---------------------------------------------------------------------------------------------


def test_example_writes_full_precision_csv(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _invoke("--example", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "spin-up: 5364 months; forward: 240 months" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["month_results.csv", "year_results.csv"]
    month = read_results_csv(out / "month_results.csv")
    year = read_results_csv(out / "year_results.csv")
    assert tuple(month.columns) == MONTH_COLUMNS and tuple(year.columns) == YEAR_COLUMNS
    assert len(month) == 2 + 240 and len(year) == 2 + 20
    assert year["Year"].iloc[2:].tolist() == list(range(2001, 2021))


def test_example_as_a_real_process(tmp_path: Path) -> None:
    """The installed ``socseq`` script, run as a user would, writes the official layout."""
    script = shutil.which("socseq", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-c", "from socseq.cli import main; main()"]
    out = tmp_path / "out"
    done = subprocess.run(
        [*command, "rothc", "--example", "--format", "rothamsted", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "100"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote " + str(out / "month_results.out") in done.stdout
    month_text = (out / "month_results.out").read_text(encoding="ascii")
    year_text = (out / "year_results.out").read_text(encoding="ascii")
    assert month_text.count("\n") == 3 + 240 and year_text.count("\n") == 3 + 20
    # The files are exactly what the formatters make of the tables they hold.
    assert format_month_results_out(read_results_out(out / "month_results.out")) == month_text
    assert format_year_results_out(read_results_out(out / "year_results.out")) == year_text


def test_example_and_input_file_are_exclusive(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["rothc"])
    assert result.exit_code == 2 and "give either INPUT_FILE or --example" in result.output


# ---------------------------------------------------------------------------------------------
# Malformed input: one line, exit 2, nothing written
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda lines: lines.__setitem__(7, "23.4 23.0 3.0041 [24]"),
            "line 8, column 'nsteps': expected an integer, found '[24]'",
        ),
        (
            lambda lines: lines.__setitem__(4, "    4          1"),
            "line 5, column 'opt_RMmoist': expected 1, 2 or 3, found '4'",
        ),
        (
            lambda lines: lines.__setitem__(14, "1 5 100 abc 60 50 0.25 0 1 1.44"),
            "line 15, column 'Tmp': expected a number, found 'abc'",
        ),
        (
            lambda lines: lines.__setitem__(14, "1 5 -3.5 12 60 50 0.25 0 1 1.44"),
            "line 15, column 'modern': expected a radiocarbon content of at least 0 % modern, "
            "found '-3.5'",
        ),
        (
            lambda lines: lines.pop(),
            "line 34, column 'year': expected data row 24 of nsteps = 24 (line 8), found the end "
            "of the file",
        ),
    ],
)
def test_malformed_input_is_one_line_and_writes_nothing(tmp_path: Path, edit, message: str) -> None:
    source = _write_v2(tmp_path / "bad.dat", _spinup_and_years(2000, 2000))
    lines = source.read_text(encoding="ascii").splitlines()
    edit(lines)
    source.write_text("\n".join(lines) + "\n", encoding="ascii")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["rothc", str(source), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {source} {message}\n"  # verbatim, brackets included
    assert not out.exists()


def test_model_range_error_is_one_line_and_keeps_old_results(tmp_path: Path) -> None:
    """A value the reader passes but the model refuses (negative plant input) writes nothing."""
    out = tmp_path / "out"
    good = _write_v2(tmp_path / "good.dat", _spinup_and_years(2000, 2000))
    assert _invoke(str(good), "--out", str(out)).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = _write_v2(tmp_path / "bad.dat", _spinup_and_years(2000, 2000, c_inp=-0.1))
    result = CliRunner().invoke(cli, ["rothc", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: forcing 'c_inp_t_ha'")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_missing_input_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["rothc", str(tmp_path / "absent.dat"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert result.stderr == f"error: No such file or directory: {tmp_path / 'absent.dat'}\n"
    assert not (tmp_path / "out").exists()


def test_main_prints_socseq_errors_verbatim(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rich would take ``[dsm.samples]`` for markup and drop it; main() must not."""

    def fail(**_: object) -> None:
        raise InputFormatError("[dsm.samples] path: expected a file, found [1, 2]")

    monkeypatch.setattr(cli_module.cli, "main", fail)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: [dsm.samples] path: expected a file, found [1, 2]\n"


# ---------------------------------------------------------------------------------------------
# Calendar quirks of the official program
# ---------------------------------------------------------------------------------------------


def test_run_starting_in_july_is_labelled_by_the_row_counter(tmp_path: Path) -> None:
    """The input month column is never used: labels come from the row counter (§1, §7)."""
    july = [7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6]
    rows = _year_of_rows(1, july)
    for year in (2000, 2001):
        rows += [_row(year if month >= 7 else year + 1, month) for month in july]
    relabelled = [(y, i % 12 + 1, *rest) for i, (y, _, *rest) in enumerate(rows)]
    month, year = _run_csv(tmp_path, rows, "july")
    month_jan, year_jan = _run_csv(tmp_path, relabelled, "january")
    pd.testing.assert_frame_equal(month.drop(columns="Month"), month_jan.drop(columns="Month"))
    pd.testing.assert_frame_equal(year, year_jan)
    assert month["Month"].iloc[2:].tolist() == list(range(1, 13)) * 2
    # Year rows after data rows 24 and 36, i.e. after the June rows, labelled month 12.
    assert year["Year"].iloc[2:].tolist() == [2001, 2002]
    assert year["Month"].iloc[2:].tolist() == [12, 12]


def test_nsteps_not_a_multiple_of_12(tmp_path: Path) -> None:
    rows = _spinup_and_years(2000, 2002)[: 12 + 30]
    source = _write_v2(tmp_path / "in.dat", rows)
    out = tmp_path / "out"
    assert _invoke(str(source), "--out", str(out), "--format", "rothamsted").exit_code == 0
    month = read_results_out(out / "month_results.out")
    year = read_results_out(out / "year_results.out")
    assert len(month) == 2 + 30  # every forward month, the partial year included
    assert len(year) == 2 + 30 // 12  # year rows only after data rows 24 and 36
    assert year["Year"].iloc[2:].tolist() == [2000, 2001]
    pd.testing.assert_series_equal(
        year.iloc[2:]["SOC_t_C_ha"].reset_index(drop=True),
        month.iloc[[13, 25]]["SOC_t_C_ha"].reset_index(drop=True),
        check_names=False,
    )


def test_extra_rows_after_nsteps_are_ignored(tmp_path: Path) -> None:
    rows = _spinup_and_years(2000, 2001)
    short, _ = _run_csv(tmp_path, rows[:24], "short")
    source = _write_v2(tmp_path / "long.dat", rows, nsteps=24)
    out = tmp_path / "long"
    assert _invoke(str(source), "--out", str(out)).exit_code == 0
    pd.testing.assert_frame_equal(read_results_csv(out / "month_results.csv"), short)


# ---------------------------------------------------------------------------------------------
# Inputs: DPM/RPM 0, farmyard manure
# ---------------------------------------------------------------------------------------------


def test_dpm_rpm_zero_leaves_dpm_empty(tmp_path: Path) -> None:
    rows = _spinup_and_years(2000, 2001, dpm_rpm=0.0)
    for fmt in ("csv", "rothamsted"):
        source = _write_v2(tmp_path / "in.dat", rows)
        out = tmp_path / fmt
        assert _invoke(str(source), "--out", str(out), "--format", fmt).exit_code == 0
    month = read_results_csv(tmp_path / "csv" / "month_results.csv")
    year = read_results_csv(tmp_path / "csv" / "year_results.csv")
    assert (month["DPM_t_C_ha"] == 0.0).all() and (month["RPM_t_C_ha"].iloc[1:] > 0).all()
    # The empty DPM pool has age 0 (§5), so deltaC stays finite.
    assert np.isfinite(year["deltaC"].iloc[1:]).all()
    assert " 0.0000," in (tmp_path / "rothamsted" / "month_results.out").read_text()


def test_farmyard_manure_enters_dpm_rpm_and_hum(tmp_path: Path) -> None:
    """0.49/0.49/0.02 of the manure, after that month's decay, never into BIO (§4)."""
    rows = _spinup_and_years(2000, 2000)
    with_fym = list(rows)
    with_fym[15] = _row(2000, 4, fym=10.0)
    plain, _ = _run_csv(tmp_path, rows, "plain", "--constants", "decimal")
    manured, _ = _run_csv(tmp_path, with_fym, "manured", "--constants", "decimal")
    at = 2 + 3  # month table row of data row 16
    pd.testing.assert_frame_equal(manured.iloc[:at], plain.iloc[:at])
    assert manured.loc[at, "FYM_Inp_t_C_ha"] == 10.0
    gain = manured.loc[at] - plain.loc[at]
    assert gain["DPM_t_C_ha"] == pytest.approx(4.9, abs=1e-12)
    assert gain["RPM_t_C_ha"] == pytest.approx(4.9, abs=1e-12)
    assert gain["HUM_t_C_ha"] == pytest.approx(0.2, abs=1e-12)
    assert gain["BIO_t_C_ha"] == 0.0 and gain["CO2_t_C_ha"] == 0.0
    # Carbon balance of the forward run (decimal constants conserve carbon).
    added = sum(row[6] + row[7] for row in with_fym[12:])
    change = manured["SOC_t_C_ha"].iloc[-1] - manured["SOC_t_C_ha"].iloc[1]
    assert change + manured["CO2_t_C_ha"].iloc[-1] == pytest.approx(added, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Moisture options: every opt_RMmoist / opt_SMDbare pair
# ---------------------------------------------------------------------------------------------

# Limits of the official soil (rothc-model.md §3.2): standard SMD15adj -44.9444, VG X2
# (15 bar) -61.3368, X3 (1000 bar) -80.0490, VG bare limit -42.4168; 0.556 * -44.9444.
# (opt_RMmoist, opt_SMDbare): (deficit under cover, bare deficit, RM_Moist under cover)
OPTION_LIMITS = {
    (1, 1): (-44.9444, -24.9891, 0.2),  # opt 1 ignores minRM_Moist 0.1 on line 8
    (1, 2): (-44.9444, -44.9444, 0.2),
    (2, 1): (-80.0490, -42.4168, 0.1),
    (2, 2): (-80.0490, -61.3368, 0.1),
    (3, 1): (-61.3368, -42.4168, 0.1),
    (3, 2): (-61.3368, -61.3368, 0.1),
}


@pytest.mark.parametrize("options", list(OPTION_LIMITS))
def test_each_moisture_option_pair(tmp_path: Path, options: tuple[int, int]) -> None:
    covered_limit, bare_limit, min_rm = OPTION_LIMITS[options]
    # Months 1-6 bare, 7-12 covered, all dry: the covered months take the soil to the covered
    # limit, and the bare months that follow cannot dry it further nor wet it (§3.2d), so
    # every forward month sits at the covered limit.
    rows = [
        _row(
            1 if i < 12 else 2000 + (i - 12) // 12,
            i % 12 + 1,
            rain=0.0,
            evap=150.0,
            pc=0 if i % 12 < 6 else 1,
        )
        for i in range(36)
    ]
    month, year = _run_csv(tmp_path, rows, "dry", options=options)
    forward = month.iloc[2:]
    assert forward["SMD_mm"].to_numpy() == pytest.approx(covered_limit, abs=5e-5)
    covered = forward[forward["PC"] == 1]
    assert covered["RM_Moist"].to_numpy() == pytest.approx(min_rm, abs=1e-7)
    # A wet spin-up year followed by one dry bare year shows the bare limit.
    wet_then_bare = [_row(1, m, rain=200.0, evap=10.0) for m in range(1, 13)] + [
        _row(2000, m, rain=0.0, evap=150.0, pc=0) for m in range(1, 13)
    ]
    month, _ = _run_csv(tmp_path, wet_then_bare, "bare", options=options)
    assert month["SMD_mm"].iloc[-1] == pytest.approx(bare_limit, abs=5e-5)
    assert np.isfinite(year["SOC_t_C_ha"]).all()


@pytest.mark.parametrize("options", list(OPTION_LIMITS))
def test_rothamsted_format_writes_both_files(tmp_path: Path, options: tuple[int, int]) -> None:
    source = _write_v2(tmp_path / "in.dat", _spinup_and_years(2000, 2001), options)
    out = tmp_path / "out"
    result = _invoke(str(source), "--out", str(out), "--format", "rothamsted")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["month_results.out", "year_results.out"]
    month = read_results_out(out / "month_results.out")
    year = read_results_out(out / "year_results.out")
    assert len(month) == 2 + 24 and len(year) == 2 + 2
    assert (out / "month_results.out").read_text().startswith("    Year, Month, C_Inp_t_C_ha")


def test_exact_spinup_reports_zero_months_and_agrees_with_the_iteration(tmp_path: Path) -> None:
    rows = _spinup_and_years(2000, 2001)
    iterated, _ = _run_csv(tmp_path, rows, "iterated")
    exact, _ = _run_csv(tmp_path, rows, "exact", "--spinup", "exact")
    assert exact.loc[1, "Month"] == 0 and iterated.loc[1, "Month"] > 0
    # The official stopping rule (1e-6 t C/ha per year) stops short of the equilibrium.
    assert exact["SOC_t_C_ha"].to_numpy() == pytest.approx(
        iterated["SOC_t_C_ha"].to_numpy(), abs=1e-3
    )
