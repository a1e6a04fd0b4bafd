"""Reading RothC_input.dat in its three layouts and writing the official result files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import shared_path
from socseq.exceptions import InputFormatError
from socseq.rothc.rothamsted_io import (
    MONTH_COLUMNS,
    YEAR_COLUMNS,
    format_month_results_out,
    format_year_results_out,
    read_results_csv,
    read_results_out,
    read_rothamsted_input,
    write_results,
)

REFERENCE = ("data", "rothc-reference")

# ---------------------------------------------------------------------------------------------
# A small valid v2 file (24 months), edited line by line to make the malformed cases
# ---------------------------------------------------------------------------------------------

NSTEPS = 24
FIRST_DATA_LINE = 11


def _v2_lines(
    options: str = "    1          1",
    soil: str = "23.4\t23.0\t 3.0041      24    58.6      1.27  0.94   0.1",
) -> list[str]:
    rows = []
    for i in range(NSTEPS):
        year = 1 if i < 12 else 2000 + (i - 12) // 12
        rows.append(
            f"{year}\t{i % 12 + 1}\t100\t{5.0 + i}\t{50.0 + i}\t{20.0 + i}\t"
            f"{0.1 * (i % 3)}\t0\t{i % 2}\t1.44"
        )
    return [
        "synthetic RothC 2.0 input",
        "free text",
        "   (-)       (-)",
        " opt_RMmoist  opt_SMDbare",
        options,
        " (%)     (cm)  (t C/ha)      (-)      (%) (g/cm3)     (%)   (-)",
        "clay\tdepth\t    iom   nsteps  silt     BD      OC    minRM_Moist",
        soil,
        "(-)    (-)       (%)    (C)     (mm)    (mm)  (t C/ha) (t C/ha) (-)      (-)",
        "year  month    modern\tTmp\tRain\tEvap   C_inp\tFYM\tPC    DPM_RPM",
        *rows,
    ]


def _write(
    tmp_path: Path, lines: list[str], name: str = "RothC_input.dat", newline: str = "\n"
) -> Path:
    path = tmp_path / name
    path.write_bytes((newline.join(lines) + newline).encode())
    return path


def _set(lineno: int, column: int, value: str) -> Callable[[list[str]], None]:
    """Replace value ``column`` (0-based) of line ``lineno`` (1-based)."""

    def edit(lines: list[str]) -> None:
        values = lines[lineno - 1].split()
        values[column] = value
        lines[lineno - 1] = "\t".join(values)

    return edit


def _replace(lineno: int, text: str) -> Callable[[list[str]], None]:
    def edit(lines: list[str]) -> None:
        lines[lineno - 1] = text

    return edit


def _drop_rows(n: int) -> Callable[[list[str]], None]:
    def edit(lines: list[str]) -> None:
        del lines[-n:]

    return edit


OPT2 = _replace(5, "2 1")

MALFORMED = {
    # id: (edits, line, column, text expected in the message)
    "missing value": (
        [_replace(15, "1\t5\t100\t9.0\t54.0\t24.0\t0.1\t0\t0")],
        15,
        "DPM_RPM",
        "end of the line",
    ),
    "text in Rain": ([_set(23, 4, "abc")], 23, "Rain", "found 'abc'"),
    "nsteps not an integer": ([_set(8, 3, "840.5")], 8, "nsteps", "an integer"),
    "PC not an integer": ([_set(20, 8, "1.5")], 20, "PC", "an integer"),
    "year written as a real": ([_set(12, 0, "1.0")], 12, "year", "an integer"),
    "fewer rows than nsteps": (
        [_drop_rows(3)],
        FIRST_DATA_LINE + NSTEPS - 3,
        "year",
        "end of the file",
    ),
    "blank line in the data": ([_replace(16, "")], 16, "year", "end of the line"),
    "empty field between commas": (
        [_replace(14, "1,4,100,8.0,,23.0,0.0,0,1,1.44")],
        14,
        "Rain",
        "empty field",
    ),
    "NaN temperature": ([_set(13, 3, "NaN")], 13, "Tmp", "finite"),
    "infinite rain": ([_set(13, 4, "-Infinity")], 13, "Rain", "finite"),
    "clay above 100": ([_set(8, 0, "101")], 8, "clay", "100"),
    "clay negative": ([_set(8, 0, "-1")], 8, "clay", "'-1'"),
    "clay 0 with opt 2": ([OPT2, _set(8, 0, "0")], 8, "clay", "log"),
    "depth 0": ([_set(8, 1, "0")], 8, "depth", "above 0"),
    "depth negative": ([_set(8, 1, "-23")], 8, "depth", "'-23'"),
    "IOM negative": ([_set(8, 2, "-0.5")], 8, "iom", "'-0.5'"),
    "nsteps below 12": ([_set(8, 3, "11")], 8, "nsteps", "'11'"),
    "nsteps above 73000": ([_set(8, 3, "73001")], 8, "nsteps", "'73001'"),
    "opt_RMmoist 4": ([_replace(5, "4 1")], 5, "opt_RMmoist", "'4'"),
    "opt_RMmoist 0": ([_replace(5, "0 1")], 5, "opt_RMmoist", "'0'"),
    "opt_SMDbare 3": ([_replace(5, "1 3")], 5, "opt_SMDbare", "'3'"),
    "opt_SMDbare as a real": ([_replace(5, "1 1.0")], 5, "opt_SMDbare", "an integer"),
    "silt 0 with opt 2": ([OPT2, _set(8, 4, "0")], 8, "silt", "'0'"),
    "BD negative with opt 3": ([_replace(5, "3 2"), _set(8, 5, "-1.27")], 8, "BD", "'-1.27'"),
    "OC 0 with opt 2": ([OPT2, _set(8, 6, "0")], 8, "OC", "'0'"),
    "silt missing with opt 2": (
        [OPT2, _replace(8, "23.4 23.0 3.0041 24")],
        8,
        "silt",
        "end of the line",
    ),
    "v2 soil line too short": ([_replace(8, "23.4 23.0 3.0041")], 8, "nsteps", "end of the line"),
    "damaged options line": ([_replace(5, "1 1 0")], 5, "clay", "'1 1 0'"),
    "negative modern carbon": ([_set(14, 2, "-5")], 14, "modern", "found '-5'"),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_input_names_file_line_and_column(tmp_path: Path, case: str) -> None:
    edits, lineno, column, detail = MALFORMED[case]
    lines = _v2_lines()
    for edit in edits:
        edit(lines)
    path = _write(tmp_path, lines)
    with pytest.raises(InputFormatError) as info:
        read_rothamsted_input(path)
    message = str(info.value)
    assert "\n" not in message
    assert f"{path} line {lineno}, column '{column}': expected " in message
    assert detail in message


def test_synthetic_v2_is_read_as_fortran_reads_it(tmp_path: Path) -> None:
    site = read_rothamsted_input(_write(tmp_path, _v2_lines()))
    assert site.layout == "v2"
    assert (site.opt_rmmoist, site.opt_smdbare) == (1, 1)
    assert (site.clay_pct, site.depth_cm, site.iom_t_ha, site.nsteps) == (23.4, 23.0, 3.0041, 24)
    # opt_RMmoist 1: the Fortran does not read values 5-8 of line 8, even when present.
    assert site.silt_pct is None and site.bulk_density_g_cm3 is None
    assert site.organic_carbon_pct is None and site.min_rm_moist is None
    assert site.year.dtype == np.int64 and site.pc.dtype == np.int64
    assert site.month is not None and site.month.tolist() == [m % 12 + 1 for m in range(24)]
    assert site.tmp_degC[-1] == 28.0 and site.c_inp_t_ha[2] == 0.2
    assert site.pc.tolist() == [i % 2 for i in range(24)]
    with pytest.raises(ValueError, match="read-only"):
        site.rain_mm[0] = 1.0


def test_farina_options_read_the_four_extra_soil_values(tmp_path: Path) -> None:
    lines = _v2_lines(options="2 2")
    site = read_rothamsted_input(_write(tmp_path, lines))
    assert (site.opt_rmmoist, site.opt_smdbare) == (2, 2)
    assert (site.silt_pct, site.bulk_density_g_cm3, site.organic_carbon_pct, site.min_rm_moist) == (
        58.6,
        1.27,
        0.94,
        0.1,
    )


def test_fortran_tolerances_are_kept(tmp_path: Path) -> None:
    lines = _v2_lines(options="1 1   ! standard moisture model")
    lines[0] = "1 2 3 4 5 6 7 8 9 10"  # lines 1-4, 6-7 and 9-10 are skipped whatever they hold
    lines[8] = "99 99 99 99"
    _set(FIRST_DATA_LINE, 8, "2")(lines)  # PC other than 0/1 is accepted, as by the Fortran
    _set(FIRST_DATA_LINE + 1, 9, "1.44D0")(lines)  # Fortran double-precision exponent
    lines[FIRST_DATA_LINE + 1] += "\textra values\t7"  # values after the needed ones (row 3)
    lines[FIRST_DATA_LINE + 2] = lines[FIRST_DATA_LINE + 2].replace("\t", ", ")  # row 4
    lines += ["rows after nsteps are ignored", "1 2 x"]
    site = read_rothamsted_input(_write(tmp_path, lines, newline="\r\n"))
    assert site.layout == "v2" and site.nsteps == NSTEPS and len(site.year) == NSTEPS
    assert site.pc[0] == 2 and site.dpm_rpm[1] == 1.44
    assert site.dpm_rpm[2] == 1.44 and site.rain_mm[3] == 53.0 and site.evap_mm[3] == 23.0


def test_nsteps_of_one_spinup_year_is_accepted(tmp_path: Path) -> None:
    lines = _v2_lines()
    _set(8, 3, "12")(lines)
    assert read_rothamsted_input(_write(tmp_path, lines)).nsteps == 12


def _v1_lines(month: bool, names: bool) -> list[str]:
    v2 = _v2_lines()
    rows = v2[FIRST_DATA_LINE - 1 :]
    if not month:
        rows = ["\t".join(v for i, v in enumerate(row.split("\t")) if i != 1) for row in rows]
    header = (
        "year  month  modern Tmp Rain Evap C_inp FYM PC DPM_RPM"
        if month
        else "year\tmodern\tTmp\tRain\tEvap\tC inp\tFYM\tPC\tDPM/RPM"
    )
    return [
        "example input data",
        "clay and depth are only needed once",
        "clay\tdepth\tiom\tnsteps",
        "13.0\t25.0\t3.0041\t24",
        "(-) (-) (%) (C) (mm) (mm) (t C/ha) (t C/ha) (-) (-)",
        *([header] if names else []),
        *rows,
    ]


@pytest.mark.parametrize(
    ("month", "names", "layout"),
    [
        (True, True, "v1"),
        (False, True, "v1-nomonth"),
        (True, False, "v1"),
        (False, False, "v1-nomonth"),
    ],
)
def test_v1_layouts_are_detected(tmp_path: Path, month: bool, names: bool, layout: str) -> None:
    site = read_rothamsted_input(_write(tmp_path, _v1_lines(month, names)))
    assert site.layout == layout
    assert (site.opt_rmmoist, site.opt_smdbare, site.clay_pct, site.nsteps) == (1, 1, 13.0, 24)
    assert site.silt_pct is None
    assert (site.month is not None) == month
    assert site.rain_mm[0] == 50.0 and site.dpm_rpm[-1] == 1.44 and site.year[-1] == 2000


def test_v1_with_numbers_above_the_soil_line_is_refused(tmp_path: Path) -> None:
    lines = _v1_lines(True, True)
    lines[1] = "1"
    with pytest.raises(InputFormatError, match=r"line 2, column 'clay'"):
        read_rothamsted_input(_write(tmp_path, lines))


def test_v1_data_row_of_unknown_width_is_refused(tmp_path: Path) -> None:
    lines = _v1_lines(True, False)
    lines[5] = "1 1 100 5.0 50.0 20.0 0.0 0"
    with pytest.raises(InputFormatError, match=r"line 6, column 'year'.*8 numbers"):
        read_rothamsted_input(_write(tmp_path, lines))


def test_file_without_soil_line_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"line 3, column 'clay'.*end of the file"):
        read_rothamsted_input(_write(tmp_path, ["title", "nothing else"]))


def test_packaged_example_is_read() -> None:
    example = Path(__file__).parents[2] / "src" / "socseq" / "data" / "example_rothc_input.dat"
    site = read_rothamsted_input(example)
    assert site.layout == "v2" and site.nsteps == len(site.year) == 252


# ---------------------------------------------------------------------------------------------
# The official example inputs
# ---------------------------------------------------------------------------------------------

ROTHAMSTED_FIRST = (1, 1, 100.0, 3.73, 52.2, 6.6, 0.0, 0.0, 1, 1.44)
ROTHAMSTED_LAST = (2007, 12, 106.8, 4.63, 52.5, 5.6, 0.0, 0.0, 1, 1.44)


def _row(site, i: int) -> tuple:
    month = None if site.month is None else site.month[i]
    return (
        site.year[i],
        month,
        site.modern_pct[i],
        site.tmp_degC[i],
        site.rain_mm[i],
        site.evap_mm[i],
        site.c_inp_t_ha[i],
        site.fym_t_ha[i],
        site.pc[i],
        site.dpm_rpm[i],
    )


@pytest.mark.shared
@pytest.mark.parametrize("folder", ["RothC_Code_v2", "RothC_R_v2"])
def test_official_v2_input(folder: str) -> None:
    site = read_rothamsted_input(shared_path(*REFERENCE, folder, "RothC_input.dat"))
    assert site.layout == "v2" and (site.opt_rmmoist, site.opt_smdbare) == (1, 1)
    assert (site.clay_pct, site.depth_cm, site.iom_t_ha, site.nsteps) == (23.4, 23.0, 3.0041, 840)
    assert site.silt_pct is None and site.min_rm_moist is None  # given, but opt 1 skips them
    assert _row(site, 0) == ROTHAMSTED_FIRST and _row(site, -1) == ROTHAMSTED_LAST
    assert site.evap_mm.min() < 0  # the official example has negative evaporation


@pytest.mark.shared
def test_official_v1_input() -> None:
    site = read_rothamsted_input(shared_path(*REFERENCE, "RothC_Py_v1", "RothC_input.dat"))
    assert site.layout == "v1" and (site.opt_rmmoist, site.opt_smdbare) == (1, 1)
    assert (site.clay_pct, site.depth_cm, site.iom_t_ha, site.nsteps) == (13.0, 25.0, 3.0041, 840)
    assert _row(site, 0) == ROTHAMSTED_FIRST and _row(site, -1) == ROTHAMSTED_LAST


@pytest.mark.shared
def test_morocco_input_has_no_month_column() -> None:
    site = read_rothamsted_input(
        shared_path(*REFERENCE, "morocco_input", "RothC_input_Morocco.dat")
    )
    assert site.layout == "v1-nomonth" and site.month is None
    assert (site.clay_pct, site.depth_cm, site.iom_t_ha, site.nsteps) == (47.0, 25.0, 1.6095, 252)
    assert _row(site, 0) == (1, None, 100.0, 11.3, 26.4, 140.9, 0.0, 0.0, 1, 1.44)
    assert _row(site, -1) == (2022, None, 106.8, 12.9, 13.2, 152.4, 0.0, 0.0, 0, 1.44)


# ---------------------------------------------------------------------------------------------
# Result files
# ---------------------------------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "formatter", "columns"),
    [
        ("month_results.out", format_month_results_out, MONTH_COLUMNS),
        ("year_results.out", format_year_results_out, YEAR_COLUMNS),
    ],
)
def test_official_outputs_round_trip_byte_for_byte(name: str, formatter, columns) -> None:
    path = shared_path(*REFERENCE, "RothC_Code_v2", name)
    table = read_results_out(path)
    assert tuple(table.columns) == columns
    assert formatter(table) == path.read_bytes().decode("ascii")


@pytest.mark.shared
def test_official_outputs_parse_into_the_contract() -> None:
    folder = ("RothC_Code_v2",)
    month = read_results_out(shared_path(*REFERENCE, *folder, "month_results.out"))
    year = read_results_out(shared_path(*REFERENCE, *folder, "year_results.out"))
    assert len(month) == 2 + 840 - 12 and len(year) == 2 + (840 - 12) // 12
    assert month.loc[1, ["Year", "Month"]].tolist() == [1, 20916]
    assert month.loc[:1, list(MONTH_COLUMNS[2:12])].isna().all().all()
    assert month["PC"].dtype == "Int64" and month["Month"].iloc[2:14].tolist() == list(range(1, 13))
    assert np.isnan(year.loc[0, "deltaC"]) and year.loc[1, "SOC_t_C_ha"] == 42.4779
    assert year.loc[2:, "Month"].eq(12).all()


def _tables(n_years: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Result tables as the model builds them: PC float with NaN in the two initial rows."""
    rng = np.random.default_rng(7)
    n = 12 * n_years
    pools = rng.random((n + 2, 4)) * [0.3, 6.0, 1.0, 32.0]
    pools[0] = 0.0
    iom = 3.0041
    month = pd.DataFrame(
        {
            "Year": np.r_[1, 1, np.repeat(np.arange(2001, 2001 + n_years), 12)],
            "Month": np.r_[0, 20916, np.tile(np.arange(1, 13), n_years)],
            "C_Inp_t_C_ha": np.r_[np.nan, np.nan, rng.random(n)],
            "FYM_Inp_t_C_ha": np.r_[np.nan, np.nan, np.zeros(n)],
            "TEMP_C": np.r_[np.nan, np.nan, rng.normal(10, 8, n)],
            "RM_TMP": np.r_[np.nan, np.nan, rng.random(n)],
            "RAIN_mm": np.r_[np.nan, np.nan, rng.random(n) * 100],
            "PEVAP_mm": np.r_[np.nan, np.nan, rng.normal(40, 30, n)],
            "SMD_mm": np.r_[np.nan, np.nan, -rng.random(n) * 40],
            "RM_Moist": np.r_[np.nan, np.nan, rng.random(n)],
            "PC": np.r_[np.nan, np.nan, rng.integers(0, 2, n)],
            "RM_PC": np.r_[np.nan, np.nan, rng.choice([0.6, 1.0], n)],
            "DPM_t_C_ha": pools[:, 0],
            "RPM_t_C_ha": pools[:, 1],
            "BIO_t_C_ha": pools[:, 2],
            "HUM_t_C_ha": pools[:, 3],
            "IOM_t_C_ha": iom,
            "SOC_t_C_ha": pools.sum(axis=1) + iom,
            "CO2_t_C_ha": np.r_[0.0, 0.0, np.cumsum(rng.random(n))],
        }
    )
    yearly = month.iloc[[1, *range(13, n + 2, 12)]]
    year = pd.concat(
        [
            pd.DataFrame(
                {
                    "Year": [0],
                    "Month": [0],
                    "DPM_t_C_ha": [0.0],
                    "RPM_t_C_ha": [0.0],
                    "BIO_t_C_ha": [0.0],
                    "HUM_t_C_ha": [0.0],
                    "IOM_t_C_ha": [iom],
                    "SOC_t_C_ha": [iom],
                    "CO2_t_C_ha": [0.0],
                    "deltaC": [np.nan],
                }
            ),
            yearly[list(YEAR_COLUMNS[:-1])].assign(deltaC=rng.normal(-50, 30, len(yearly))),
        ],
        ignore_index=True,
    )
    return month, year


def test_month_layout_details() -> None:
    month, _ = _tables()
    month.loc[2, ["TEMP_C", "SMD_mm"]] = [16.25, -0.001]
    lines = format_month_results_out(month).split("\n")
    assert lines[-1] == "" and len(lines) == 1 + len(month) + 1
    assert lines[1].startswith("       1,     0,             ,               ,       ,")
    assert lines[2].startswith("       1, 20916,")
    assert lines[1].count(",") == lines[3].count(",") == len(MONTH_COLUMNS) - 1
    assert len(lines[1]) == len(lines[3])  # the blank fields keep the columns aligned
    fields = lines[3].split(",")
    assert fields[0] == "    2001" and fields[4] == "   16.2" and fields[8] == "  -0.00"
    assert all(line == line.rstrip() for line in lines)


def test_year_layout_details() -> None:
    _, year = _tables()
    lines = format_year_results_out(year).split("\n")
    assert lines[0] == (
        "     Year,  Month, DPM_t_C_ha, RPM_t_C_ha, BIO_t_C_ha, HUM_t_C_ha, "
        "IOM_t_C_ha, SOC_t_C_ha, CO2_t_C_ha,  deltaC"
    )
    assert lines[1] == (
        "        0,      0,     0.0000,     0.0000,     0.0000,     0.0000,"
        "     3.0041,     3.0041,     0.0000, -998.02"
    )
    assert lines[2].startswith("        1,  20916,")  # 9-character year field
    assert lines[3].startswith("    2001,      12,")  # 8-character year field
    assert lines[-1] == "" and len(lines) == 1 + len(year) + 1


def test_too_wide_number_prints_asterisks_as_fortran() -> None:
    month, _ = _tables()
    month.loc[2, ["Year", "PC"]] = [12345678, 1000]
    fields = format_month_results_out(month).split("\n")[3].split(",")
    assert fields[0] == " *******" and fields[10] == "***"


@pytest.mark.parametrize(
    ("column", "row", "value", "match"),
    [
        ("SOC_t_C_ha", 5, np.nan, "SOC_t_C_ha row 5 is nan"),
        ("RM_TMP", 3, np.inf, "RM_TMP row 3 is inf"),
        ("PC", 4, 0.5, "PC row 4 is 0.5"),
        ("Year", 0, np.nan, "Year row 0"),
    ],
)
def test_month_table_breaking_the_contract_is_refused(
    column: str, row: int, value: float, match: str
) -> None:
    month, _ = _tables()
    month.loc[row, column] = value
    with pytest.raises(ValueError, match=match):
        format_month_results_out(month)


def test_tables_with_wrong_columns_are_refused() -> None:
    month, year = _tables()
    with pytest.raises(ValueError, match=r"missing columns \['CO2_t_C_ha'\]"):
        format_month_results_out(month.drop(columns="CO2_t_C_ha"))
    with pytest.raises(ValueError, match=r"unexpected columns \['extra'\]"):
        format_year_results_out(year.assign(extra=1.0))
    with pytest.raises(ValueError, match="deltaC row 1 is nan"):
        format_year_results_out(year.assign(deltaC=np.nan))


def test_csv_round_trip_keeps_full_precision(tmp_path: Path) -> None:
    month, year = _tables()
    month.loc[2, "SMD_mm"] = -0.0
    month.loc[3, "RAIN_mm"] = 5e-324
    month.loc[4, "RAIN_mm"] = 0.1 + 0.2
    paths = write_results(tmp_path, month, year, fmt="csv")
    assert [p.name for p in paths] == ["month_results.csv", "year_results.csv"]
    text = paths[0].read_text()
    assert text.split("\n")[1] == "1,0,,,,,,,,,,,0.0,0.0,0.0,0.0,3.0041,3.0041,0.0"
    assert ",0.30000000000000004," in text
    back = read_results_csv(paths[0])
    expected = month.astype({"PC": "Int64"})
    pd.testing.assert_frame_equal(back, expected, check_exact=True)
    assert np.signbit(back.loc[2, "SMD_mm"])
    pd.testing.assert_frame_equal(read_results_csv(paths[1]), year, check_exact=True)


def test_rothamsted_files_match_the_formatters(tmp_path: Path) -> None:
    month, year = _tables()
    paths = write_results(tmp_path, month, year, fmt="rothamsted")
    assert [p.name for p in paths] == ["month_results.out", "year_results.out"]
    assert paths[0].read_bytes() == format_month_results_out(month).encode("ascii")
    assert paths[1].read_bytes() == format_year_results_out(year).encode("ascii")
    assert sorted(os.listdir(tmp_path)) == ["month_results.out", "year_results.out"]


@pytest.mark.parametrize("fmt", ["csv", "rothamsted"])
def test_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    month, year = _tables()
    calls = []

    def fail_on_second_file(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the month file is fully written, the year file too but unsynced
            raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail_on_second_file)
    with pytest.raises(OSError, match="disk full"):
        write_results(tmp_path / "new", month, year, fmt=fmt)
    assert list((tmp_path / "new").iterdir()) == []

    suffix = ".csv" if fmt == "csv" else ".out"
    old = {tmp_path / f"{kind}_results{suffix}": f"old {kind}\n" for kind in ("month", "year")}
    for path, text in old.items():
        path.write_text(text)
    calls.clear()
    with pytest.raises(OSError, match="disk full"):
        write_results(tmp_path, month, year, fmt=fmt)
    assert {p: p.read_text() for p in tmp_path.glob(f"*{suffix}")} == old
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["new", *(p.name for p in old)])


def test_contract_violation_writes_nothing(tmp_path: Path) -> None:
    month, year = _tables()
    with pytest.raises(ValueError, match="deltaC"):
        write_results(tmp_path, month, year.drop(columns="deltaC"), fmt="rothamsted")
    with pytest.raises(ValueError, match="fmt"):
        write_results(tmp_path, month, year, fmt="xlsx")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_malformed_result_file_is_refused(tmp_path: Path) -> None:
    month, year = _tables()
    text = format_year_results_out(year).split("\n")
    path = tmp_path / "year_results.out"
    path.write_text("\n".join([*text[:3], text[3].replace("12", "**", 1), *text[4:]]))
    with pytest.raises(InputFormatError, match=r"line 4, column 'Month': expected an integer"):
        read_results_out(path)
    path.write_text("Year,Month\n")
    with pytest.raises(InputFormatError, match=r"line 1, column 'Year'"):
        read_results_out(path)
