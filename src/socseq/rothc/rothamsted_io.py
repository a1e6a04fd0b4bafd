"""Read the official RothC input file and write the official result files.

The official Rothamsted programs read ``RothC_input.dat`` and write ``month_results.out`` and
``year_results.out`` (``docs/rothc-model.md`` §1 and §7). This module reads the input
into a :class:`RothamstedInput` and writes result tables either as full-precision CSV or
byte-for-byte in the official text layout, so socseq can stand in for the official program.

Input layouts
-------------
``"v2"`` (RothC 2.0.0, Fortran ``RothC_Code`` and ``RothC_R``)
    Read by line number, as ``Shell.for`` does: line 5 holds ``opt_RMmoist opt_SMDbare``, line 8
    ``clay depth iom nsteps [silt BD OC minRM_Moist]``, data rows start on line 11 with the ten
    columns ``year month modern Tmp Rain Evap C_inp FYM PC DPM_RPM``. All other lines are
    ignored, whatever they hold. The four values after ``nsteps`` are read only when
    ``opt_RMmoist`` is not 1; with option 1 they stay ``None`` even if the line gives them
    (the Fortran then uses its built-in minimum moisture modifier).
``"v1"`` (``RothC_Py``)
    The soil line ``clay depth iom nsteps`` (line 5 in the official file), then the ten data
    columns above (data from line 8 in the official file).
``"v1-nomonth"`` (the older Fortran shell, e.g. ``RothC_input_Morocco.dat``)
    As ``"v1"`` but the data rows have nine columns, without ``month`` (soil line 4, data from
    line 6 in that file).

Layout detection
----------------
A line *starts with k numbers* when its first k values are numbers and value k+1, if any, is
not.

1. The file is ``"v2"`` when line 5 starts with exactly two numbers. In a v1 file line 5 is
   the soil line (four numbers), text, or a data row, so a v2 file whose line 8 is damaged is
   still read as v2 and the damage reported on line 8.
2. Otherwise it is a v1 file. Its soil line is the first line that starts with at least four
   numbers, and every line above it must start with text; a line above it that starts with a
   number is an error, because it means a damaged v2 options line or a misplaced header.
3. The data rows start at the first line after the soil line that starts with a number.
4. Month or no month: if a text line between the soil line and the data holds the word
   ``year`` (the column names), the layout has a month column exactly when that line also
   holds the word ``month``. Without such a line the first data row decides: ten or more
   numbers mean ``"v1"``, exactly nine mean ``"v1-nomonth"``.

Reading rules
-------------
Values are separated by blanks, tabs or commas (Fortran list-directed input); values after the
needed ones on a line are ignored; integer fields (``opt_RMmoist``, ``opt_SMDbare``, ``nsteps``,
``year``, ``month``, ``PC``) must be written as integers. Only the first ``nsteps`` data rows
are read, later rows are ignored, as in the Fortran. The reader is stricter than Fortran where
Fortran would silently misread a damaged file, and refuses: a line with too few values (Fortran
takes the missing ones from the next line), a blank line inside the data block (Fortran skips
it, so one more row than intended is read), an empty field between two commas (a Fortran *null
value*, which leaves the variable undefined here), repeat counts (``3*0``), ``NaN`` and
infinities.

Validation (each raises :class:`~socseq.exceptions.InputFormatError` with one line naming the
file, the line, the column, what was expected and what was found): missing values, text or
``NaN`` in a numeric column, a decimal number in an integer column, fewer data rows than
``nsteps``, clay outside 0-100 % (and clay of 0 with ``opt_RMmoist`` 2 or 3, whose pedotransfer
functions take its logarithm), depth <= 0, IOM < 0, ``nsteps`` outside 12-73000 (the Fortran
array size), ``opt_RMmoist`` not in {1, 2, 3}, ``opt_SMDbare`` not in {1, 2}, and, with
``opt_RMmoist`` 2 or 3, silt, bulk density or organic carbon <= 0 (silt and OC also > 100 %),
and a negative radiocarbon content (``modern``, % modern; the Fortran would run it). Weather
and carbon inputs are not range-checked: the official example has negative evaporation.
``PC`` values other than 0 and 1 are accepted, as by the Fortran, which treats them as
"covered" in the cover factor and as "bare" in the water balance (rothc-model.md §1).

Result tables
-------------
The writers take two :class:`pandas.DataFrame` with the official v2 column names
(:data:`MONTH_COLUMNS`, :data:`YEAR_COLUMNS`).

Month table, one row per line of ``month_results.out``:

- row 0, the initial state: ``Year`` = year of data row 1, ``Month`` = 0, the ten input and
  modifier columns (``C_Inp_t_C_ha`` ... ``RM_PC``) NaN, active pools 0, ``IOM_t_C_ha`` = IOM,
  ``SOC_t_C_ha`` = IOM, ``CO2_t_C_ha`` = 0;
- row 1, the end of the spin-up: ``Year`` = year of data row 12, ``Month`` = number of spin-up
  months, the ten columns NaN, the pools, IOM and SOC after the spin-up, ``CO2_t_C_ha`` = 0;
- then one row per forward month (data rows 13..nsteps), ``Month`` counting 1..12.

Year table, one row per line of ``year_results.out``:

- row 0: ``Year`` 0, ``Month`` 0, pools 0, IOM, SOC = IOM, CO2 0, ``deltaC`` NaN (printed
  as the constant ``-998.02``);
- row 1: the end of the spin-up, as in the month table, with its ``deltaC`` [per mil];
- then the state after each data row 24, 36, ... <= nsteps, ``Year`` of that row and
  ``Month`` = 12.

``Year``, ``Month`` and ``PC`` must hold whole numbers (any numeric dtype; ``PC`` may be NaN or
``<NA>`` in rows 0 and 1). The readers return ``Year`` and ``Month`` as int64, ``PC`` as the
nullable ``Int64`` and everything else as float64.
"""

# Long module: the official Rothamsted file formats, read and written byte for byte; the reader
# and the writers share the column tables and the Fortran number formatting. Could split into
# reader and writers.

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from socseq.atomic import atomic_path
from socseq.exceptions import InputFormatError

__all__ = [
    "MONTH_COLUMNS",
    "YEAR_COLUMNS",
    "Layout",
    "RothamstedInput",
    "format_month_results_out",
    "format_year_results_out",
    "read_results_csv",
    "read_results_out",
    "read_rothamsted_input",
    "write_results",
]

Layout = Literal["v2", "v1", "v1-nomonth"]

# Largest nsteps the official program accepts: the size of its arrays.
_MAX_STEPS = 73000

# Fortran list-directed separators. A comma with blanks around it is one separator, so ",,"
# yields an empty value, which the reader refuses (see the module docstring).
_SEPARATOR = re.compile(r"\s*,\s*|\s+")
_INTEGER = re.compile(r"[+-]?\d+")
# Fortran real syntax, including the double-precision exponent letter D.
_REAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?")

_OPTION_NAMES = ("opt_RMmoist", "opt_SMDbare")
_SOIL_NAMES = ("clay", "depth", "iom", "nsteps")
_SOIL_EXTRA_NAMES = ("silt", "BD", "OC", "minRM_Moist")
_DATA_NAMES = ("year", "month", "modern", "Tmp", "Rain", "Evap", "C_inp", "FYM", "PC", "DPM_RPM")
_INTEGER_DATA = frozenset({"year", "month", "PC"})
_V2_OPTIONS_LINE = 5
_V2_SOIL_LINE = 8
_V2_DATA_LINE = 11
_SPINUP_ROWS = 12


# ---------------------------------------------------------------------------------------------
# Input file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RothamstedInput:
    """A parsed ``RothC_input.dat``.

    Attributes
    ----------
    source : pathlib.Path
        The file that was read.
    layout : {"v2", "v1", "v1-nomonth"}
        The detected layout (see the module docstring).
    opt_rmmoist : int
        Moisture model option: 1 standard RothC, 2 or 3 the Farina et al. (2013) variants.
        Always 1 for the v1 layouts.
    opt_smdbare : int
        Bare-soil deficit option, 1 or 2. Always 1 for the v1 layouts.
    clay_pct : float
        Clay content [%].
    depth_cm : float
        Depth of the soil layer [cm].
    iom_t_ha : float
        Inert organic matter [t C/ha].
    nsteps : int
        Number of monthly data rows read; rows 1-12 drive the spin-up only.
    silt_pct, bulk_density_g_cm3, organic_carbon_pct : float or None
        Silt [%], bulk density [g/cm3] and organic carbon [%], read only when
        ``opt_rmmoist`` is 2 or 3, else None.
    min_rm_moist : float or None
        Minimum of the moisture rate modifier [-], read only when ``opt_rmmoist`` is 2 or 3,
        else None (the model then uses its built-in default).
    year, month : numpy.ndarray of int64, shape (nsteps,)
        Year label and month number of each row; ``month`` is None for ``"v1-nomonth"``. The
        official program uses neither in the computation.
    modern_pct : numpy.ndarray of float64
        Radiocarbon of the month's inputs [% modern].
    tmp_degC : numpy.ndarray of float64
        Mean air temperature [degC].
    rain_mm, evap_mm : numpy.ndarray of float64
        Monthly rainfall and open-pan evaporation [mm].
    c_inp_t_ha, fym_t_ha : numpy.ndarray of float64
        Plant and farmyard-manure carbon inputs of the month [t C/ha].
    pc : numpy.ndarray of int64
        Plant cover, 1 covered and 0 bare (other integers are passed through, see above).
    dpm_rpm : numpy.ndarray of float64
        DPM/RPM ratio of the month's plant input [-].

    Notes
    -----
    The arrays are read-only, so the object is immutable like the file it mirrors.
    """

    source: Path
    layout: Layout
    opt_rmmoist: int
    opt_smdbare: int
    clay_pct: float
    depth_cm: float
    iom_t_ha: float
    nsteps: int
    silt_pct: float | None
    bulk_density_g_cm3: float | None
    organic_carbon_pct: float | None
    min_rm_moist: float | None
    year: NDArray[np.int64]
    month: NDArray[np.int64] | None
    modern_pct: NDArray[np.float64]
    tmp_degC: NDArray[np.float64]  # noqa: N815 - the unit degC is spelt as in the contract
    rain_mm: NDArray[np.float64]
    evap_mm: NDArray[np.float64]
    c_inp_t_ha: NDArray[np.float64]
    fym_t_ha: NDArray[np.float64]
    pc: NDArray[np.int64]
    dpm_rpm: NDArray[np.float64]


def _text_lines(path: Path) -> list[str]:
    """Return the lines of a text file without their line ends.

    Universal newlines turn CRLF into LF. The text is split on LF only, because
    :meth:`str.splitlines` also splits on form feeds and other characters Fortran does not
    treat as line ends, which would shift the line numbers the v2 layout depends on. Bytes that
    are not UTF-8 (a Latin-1 degree sign in a header) are replaced, not fatal; NUL bytes (a
    UTF-16 or binary file, whose lines would all look empty) are refused in one line.
    """
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise InputFormatError(
            f"{path}: is not a text file (it holds NUL bytes: UTF-16 or binary); save it as "
            "plain text (ASCII or UTF-8), as RothC_input.dat"
        )
    text = raw.decode("utf-8-sig", errors="replace")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


class _Lines:
    """The lines of one input file, with error messages that point into it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = _text_lines(path)

    def tokens(self, lineno: int) -> list[str]:
        """Return the values of line ``lineno`` (1-based); none past the end of the file."""
        if lineno > len(self.lines):
            return []
        stripped = self.lines[lineno - 1].strip()
        return _SEPARATOR.split(stripped) if stripped else []

    def error(self, lineno: int, column: str, expected: str, found: str) -> InputFormatError:
        """Build the one-line error for a bad value."""
        return InputFormatError(
            f"{self.path} line {lineno}, column '{column}': expected {expected}, found {found}"
        )

    def value(
        self,
        tokens: Sequence[str],
        index: int,
        lineno: int,
        column: str,
        kind: type[int] | type[float],
    ) -> int | float:
        """Parse value ``index`` of a line as an integer or a finite real."""
        expected = "an integer" if kind is int else "a number"
        if index >= len(tokens):
            where = "the end of the file" if lineno > len(self.lines) else "the end of the line"
            raise self.error(lineno, column, expected, where)
        token = tokens[index]
        if token == "":
            raise self.error(lineno, column, expected, "an empty field between two commas")
        if kind is int and _INTEGER.fullmatch(token):
            return int(token)
        if kind is float and _REAL.fullmatch(token):
            return _real(token)
        if kind is float and _is_non_finite(token):
            expected = "a finite number"
        raise self.error(lineno, column, expected, f"'{token}'")


def _real(token: str) -> float:
    """Convert a token matching ``_REAL`` to a float (Python has no ``D`` exponent)."""
    return float(token.replace("d", "e").replace("D", "e"))


def _is_non_finite(token: str) -> bool:
    """Tell whether Python would read ``token`` as NaN or an infinity."""
    try:
        return not math.isfinite(float(token))
    except ValueError:
        return False


def _leading_numbers(tokens: Sequence[str]) -> int:
    """Count the values at the start of a line that are numbers."""
    count = 0
    for token in tokens:
        if not _REAL.fullmatch(token):
            break
        count += 1
    return count


def _detect(lines: _Lines) -> tuple[Layout, int, int]:
    """Find the layout, the soil line and the first data line (see the module docstring)."""
    if _leading_numbers(lines.tokens(_V2_OPTIONS_LINE)) == 2:
        return "v2", _V2_SOIL_LINE, _V2_DATA_LINE
    soil_line = 0
    for lineno in range(1, len(lines.lines) + 1):
        count = _leading_numbers(lines.tokens(lineno))
        if count >= len(_SOIL_NAMES):
            soil_line = lineno
            break
        if count:
            raise InputFormatError(
                f"{lines.path} line {lineno}, column 'clay': expected header text above the "
                "v1 soil line 'clay depth iom nsteps', or the two RothC 2.0 options "
                f"'opt_RMmoist opt_SMDbare' on line {_V2_OPTIONS_LINE}, found "
                f"'{lines.lines[lineno - 1].strip()[:60]}'"
            )
    if not soil_line:
        raise lines.error(
            len(lines.lines) + 1,
            "clay",
            "the soil line 'clay depth iom nsteps' (v1) or the options "
            f"'opt_RMmoist opt_SMDbare' on line {_V2_OPTIONS_LINE} (v2)",
            "the end of the file",
        )
    data_line = soil_line + 1
    while data_line <= len(lines.lines) and not _leading_numbers(lines.tokens(data_line)):
        data_line += 1
    names = [
        [token.lower() for token in lines.tokens(lineno)]
        for lineno in range(soil_line + 1, data_line)
    ]
    names = [tokens for tokens in names if "year" in tokens]
    if names:
        return ("v1" if "month" in names[-1] else "v1-nomonth"), soil_line, data_line
    count = _leading_numbers(lines.tokens(data_line))
    if count >= len(_DATA_NAMES):
        return "v1", soil_line, data_line
    if count == len(_DATA_NAMES) - 1:
        return "v1-nomonth", soil_line, data_line
    raise lines.error(
        data_line,
        "year",
        f"a data row of {len(_DATA_NAMES)} values ({' '.join(_DATA_NAMES)}) or "
        f"of {len(_DATA_NAMES) - 1} values without month",
        f"{count} numbers" if count else "the end of the file",
    )


def _check(lines: _Lines, ok: bool, lineno: int, column: str, expected: str, token: str) -> None:
    """Raise the one-line error for a value out of range."""
    if not ok:
        raise lines.error(lineno, column, expected, f"'{token}'")


def read_rothamsted_input(path: str | os.PathLike[str]) -> RothamstedInput:
    """Read an official RothC input file (``RothC_input.dat``) in any of its layouts.

    Parameters
    ----------
    path : path-like
        The input file: RothC 2.0.0 (``"v2"``), RothC_Py (``"v1"``) or the older layout
        without a month column (``"v1-nomonth"``), detected as the module docstring describes.

    Returns
    -------
    RothamstedInput
        Options, soil properties (clay [%], depth [cm], IOM [t C/ha] ...) and the first
        ``nsteps`` monthly rows.

    Raises
    ------
    socseq.exceptions.InputFormatError
        If the file is malformed or a value is out of range; the message names the file, the
        line, the column, what was expected and what was found.
    """
    lines = _Lines(Path(path))
    layout, soil_line, data_line = _detect(lines)

    opt_rmmoist, opt_smdbare = 1, 1
    if layout == "v2":
        tokens = lines.tokens(_V2_OPTIONS_LINE)
        opt_rmmoist, opt_smdbare = (
            int(lines.value(tokens, i, _V2_OPTIONS_LINE, name, int))
            for i, name in enumerate(_OPTION_NAMES)
        )
        _check(
            lines, opt_rmmoist in (1, 2, 3), _V2_OPTIONS_LINE, "opt_RMmoist", "1, 2 or 3", tokens[0]
        )
        _check(lines, opt_smdbare in (1, 2), _V2_OPTIONS_LINE, "opt_SMDbare", "1 or 2", tokens[1])

    tokens = lines.tokens(soil_line)
    clay, depth, iom = (
        float(lines.value(tokens, i, soil_line, name, float))
        for i, name in enumerate(_SOIL_NAMES[:3])
    )
    nsteps = int(lines.value(tokens, 3, soil_line, "nsteps", int))
    farina = opt_rmmoist != 1
    if farina:
        _check(
            lines,
            0 < clay <= 100,
            soil_line,
            "clay",
            "a clay content above 0 and at most 100 % (opt_RMmoist 2 and 3 take its log)",
            tokens[0],
        )
    else:
        _check(
            lines, 0 <= clay <= 100, soil_line, "clay", "a clay content from 0 to 100 %", tokens[0]
        )
    _check(lines, depth > 0, soil_line, "depth", "a depth above 0 cm", tokens[1])
    _check(lines, iom >= 0, soil_line, "iom", "an IOM of at least 0 t C/ha", tokens[2])
    _check(
        lines,
        _SPINUP_ROWS <= nsteps <= _MAX_STEPS,
        soil_line,
        "nsteps",
        f"a number of months from {_SPINUP_ROWS} (the spin-up year) to {_MAX_STEPS}",
        tokens[3],
    )
    silt = bulk_density = organic_carbon = min_rm_moist = None
    if farina:
        silt, bulk_density, organic_carbon, min_rm_moist = (
            float(lines.value(tokens, i, soil_line, name, float))
            for i, name in enumerate(_SOIL_EXTRA_NAMES, start=len(_SOIL_NAMES))
        )
        _check(
            lines,
            0 < silt <= 100,
            soil_line,
            "silt",
            "a silt content above 0 and at most 100 %",
            tokens[4],
        )
        _check(lines, bulk_density > 0, soil_line, "BD", "a bulk density above 0 g/cm3", tokens[5])
        _check(
            lines,
            0 < organic_carbon <= 100,
            soil_line,
            "OC",
            "an organic carbon content above 0 and at most 100 %",
            tokens[6],
        )

    names = (
        _DATA_NAMES
        if layout != "v1-nomonth"
        else tuple(name for name in _DATA_NAMES if name != "month")
    )
    kinds = [int if name in _INTEGER_DATA else float for name in names]
    columns: list[list[int | float]] = [[] for _ in names]
    for row in range(nsteps):
        lineno = data_line + row
        tokens = lines.tokens(lineno)
        if not tokens and lineno > len(lines.lines):
            raise lines.error(
                lineno,
                names[0],
                f"data row {row + 1} of nsteps = {nsteps} (line {soil_line})",
                "the end of the file",
            )
        for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
            columns[i].append(lines.value(tokens, i, lineno, name, kind))
        modern = columns[names.index("modern")][-1]
        _check(
            lines,
            modern >= 0,
            lineno,
            "modern",
            "a radiocarbon content of at least 0 % modern",
            tokens[names.index("modern")],
        )

    def column(name: str) -> NDArray[np.float64]:
        values = np.array(columns[names.index(name)], dtype=np.float64)
        values.setflags(write=False)
        return values

    def int_column(name: str) -> NDArray[np.int64]:
        values = np.array(columns[names.index(name)], dtype=np.int64)
        values.setflags(write=False)
        return values

    return RothamstedInput(
        source=lines.path,
        layout=layout,
        opt_rmmoist=opt_rmmoist,
        opt_smdbare=opt_smdbare,
        clay_pct=clay,
        depth_cm=depth,
        iom_t_ha=iom,
        nsteps=nsteps,
        silt_pct=silt,
        bulk_density_g_cm3=bulk_density,
        organic_carbon_pct=organic_carbon,
        min_rm_moist=min_rm_moist,
        year=int_column("year"),
        month=int_column("month") if "month" in names else None,
        modern_pct=column("modern"),
        tmp_degC=column("Tmp"),
        rain_mm=column("Rain"),
        evap_mm=column("Evap"),
        c_inp_t_ha=column("C_inp"),
        fym_t_ha=column("FYM"),
        pc=int_column("PC"),
        dpm_rpm=column("DPM_RPM"),
    )


# ---------------------------------------------------------------------------------------------
# Result tables
# ---------------------------------------------------------------------------------------------

_POOLS = (
    "DPM_t_C_ha",
    "RPM_t_C_ha",
    "BIO_t_C_ha",
    "HUM_t_C_ha",
    "IOM_t_C_ha",
    "SOC_t_C_ha",
    "CO2_t_C_ha",
)
# (column, width, decimals or None for an integer) of a forward row of month_results.out,
# i.e. ' %7d,%6d,%13.3f,%15.3f,%7.1f,...' (rothc-model.md §7.1).
_MONTH_FIELDS: tuple[tuple[str, int, int | None], ...] = (
    ("Year", 7, None),
    ("Month", 6, None),
    ("C_Inp_t_C_ha", 13, 3),
    ("FYM_Inp_t_C_ha", 15, 3),
    ("TEMP_C", 7, 1),
    ("RM_TMP", 7, 4),
    ("RAIN_mm", 8, 1),
    ("PEVAP_mm", 9, 1),
    ("SMD_mm", 7, 2),
    ("RM_Moist", 9, 4),
    ("PC", 3, None),
    ("RM_PC", 6, 1),
    *((name, 11, 4) for name in _POOLS),
)
MONTH_COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in _MONTH_FIELDS)
"""Columns of the month table, in the order of ``month_results.out``."""
YEAR_COLUMNS: tuple[str, ...] = ("Year", "Month", *_POOLS, "deltaC")
"""Columns of the year table, in the order of ``year_results.out``."""
# The input echoes and modifiers, left blank in the first two rows of month_results.out.
_MONTH_DIAGNOSTICS = MONTH_COLUMNS[2:12]
_INTEGER_COLUMNS = ("Year", "Month", "PC")

_MONTH_HEADER = "    " + ", ".join(MONTH_COLUMNS)
_YEAR_HEADER = "     Year,  Month, " + ", ".join(_POOLS) + ",  deltaC"
# Shell.for prints this constant as deltaC of the initial row.
_DELTA_C_INITIAL = " -998.02"
_INITIAL_ROWS = 2

_Table = Literal["month", "year"]


def _as_float(
    frame: pd.DataFrame, columns: Sequence[str], table: _Table
) -> dict[str, NDArray[np.float64]]:
    """Check a result table against the contract and return its columns as float64 arrays."""
    missing = [name for name in columns if name not in frame.columns]
    extra = [name for name in frame.columns if name not in columns]
    if missing or extra:
        raise ValueError(
            f"{table} table: missing columns {missing}, unexpected columns "
            f"{extra}; expected exactly {list(columns)}"
        )
    if len(frame) < _INITIAL_ROWS:
        raise ValueError(
            f"{table} table: has {len(frame)} rows; expected at least the "
            "initial row and the end-of-spin-up row"
        )
    arrays = {}
    for name in columns:
        try:
            arrays[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{table} table: column {name} is not numeric ({exc})") from exc
    for name in _INTEGER_COLUMNS:
        if name in arrays:
            values = arrays[name]
            whole = np.isfinite(values) & (values == np.round(values))
            if name == "PC":
                # PC has no value in the initial and end-of-spin-up rows (blank in the .out).
                whole[:_INITIAL_ROWS] |= np.isnan(values[:_INITIAL_ROWS])
            if not whole.all():
                row = int(np.flatnonzero(~whole)[0])
                raise ValueError(
                    f"{table} table: column {name} row {row} is {values[row]}; "
                    "expected a whole number"
                )
    return arrays


def _require_finite(
    arrays: dict[str, NDArray[np.float64]],
    columns: Sequence[str],
    first_row: int,
    last_row: int | None,
    table: _Table,
) -> None:
    """Refuse NaN and infinities in fields the official layout prints as numbers."""
    for name in columns:
        values = arrays[name][first_row:last_row]
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            row = int(bad[0]) + first_row
            raise ValueError(
                f"{table} table: column {name} row {row} is {values[bad[0]]}; "
                "the Rothamsted text layout holds finite numbers only"
            )


def _fortran(values: NDArray[np.float64], width: int, decimals: int | None) -> list[str]:
    """Format numbers as Fortran ``Fw.d`` (or ``Iw`` when ``decimals`` is None).

    Python's ``%w.df`` rounds exactly as gfortran (nearest, ties to even on the binary value,
    ``-0.00`` for small negatives). A number too wide for its field prints as ``w`` asterisks in
    Fortran, where Python would widen the field.
    """
    if decimals is None:
        texts = [f"{value:{width}d}" for value in values.astype(np.int64).tolist()]
    else:
        texts = [f"{value:{width}.{decimals}f}" for value in values.tolist()]
    return [text if len(text) <= width else "*" * width for text in texts]


def _join_rows(columns: Sequence[Sequence[str]], separators: Sequence[str]) -> list[str]:
    """Join per-column field texts into lines; ``separators[i]`` precedes field ``i``."""
    return [
        "".join(sep + field for sep, field in zip(separators, fields, strict=True))
        for fields in zip(*columns, strict=True)
    ]


def format_month_results_out(month: pd.DataFrame) -> str:
    """Return the text of ``month_results.out`` for a month table.

    Parameters
    ----------
    month : pandas.DataFrame
        The month table (:data:`MONTH_COLUMNS`, rows as in the module docstring): pools, SOC
        and CO2 [t C/ha], inputs [t C/ha], temperature [degC], rain, evaporation and deficit
        [mm], modifiers [-].

    Returns
    -------
    str
        The file content, byte for byte as the official program writes it (rothc-model.md
        §7.1): header, the two initial rows with the ten input and modifier fields left blank
        (whatever the table holds there), one line per forward month, LF line ends and a final
        newline.

    Raises
    ------
    ValueError
        If the table breaks the contract, or a printed field is NaN or infinite.
    """
    arrays = _as_float(month, MONTH_COLUMNS, "month")
    _require_finite(arrays, MONTH_COLUMNS, _INITIAL_ROWS, None, "month")
    _require_finite(arrays, _POOLS, 0, _INITIAL_ROWS, "month")
    columns = []
    for name, width, decimals in _MONTH_FIELDS:
        if name in _MONTH_DIAGNOSTICS:
            texts = [" " * width] * _INITIAL_ROWS + _fortran(
                arrays[name][_INITIAL_ROWS:], width, decimals
            )
        else:
            texts = _fortran(arrays[name], width, decimals)
        columns.append(texts)
    separators = [" "] + [","] * (len(MONTH_COLUMNS) - 1)
    return "\n".join([_MONTH_HEADER, *_join_rows(columns, separators)]) + "\n"


def format_year_results_out(year: pd.DataFrame) -> str:
    """Return the text of ``year_results.out`` for a year table.

    Parameters
    ----------
    year : pandas.DataFrame
        The year table (:data:`YEAR_COLUMNS`, rows as in the module docstring): pools, SOC and
        CO2 [t C/ha], ``deltaC`` [per mil].

    Returns
    -------
    str
        The file content, byte for byte as the official program writes it (rothc-model.md
        §7.2): a 9-character year field in the first two rows and an 8-character one after
        them, ``deltaC`` of row 0 printed as the constant ``-998.02`` whatever the table holds,
        LF line ends and a final newline.

    Raises
    ------
    ValueError
        If the table breaks the contract, or a printed field is NaN or infinite.
    """
    arrays = _as_float(year, YEAR_COLUMNS, "year")
    _require_finite(arrays, _POOLS, 0, None, "year")
    _require_finite(arrays, ("deltaC",), 1, None, "year")
    pools = [_fortran(arrays[name], 11, 4) for name in _POOLS]
    delta = _fortran(arrays["deltaC"][1:], 8, 2)
    # The first two rows are written with ' %8d, %6d,' and the yearly rows with ' %7d,%8d,'.
    initial = _join_rows(
        [
            _fortran(arrays["Year"][:_INITIAL_ROWS], 8, None),
            _fortran(arrays["Month"][:_INITIAL_ROWS], 6, None),
            *(texts[:_INITIAL_ROWS] for texts in pools),
            [_DELTA_C_INITIAL, *delta[: _INITIAL_ROWS - 1]],
        ],
        [" ", ", ", *[","] * len(_POOLS), ","],
    )
    yearly = _join_rows(
        [
            _fortran(arrays["Year"][_INITIAL_ROWS:], 7, None),
            _fortran(arrays["Month"][_INITIAL_ROWS:], 8, None),
            *(texts[_INITIAL_ROWS:] for texts in pools),
            delta[_INITIAL_ROWS - 1 :],
        ],
        [" ", ",", *[","] * len(_POOLS), ","],
    )
    return "\n".join([_YEAR_HEADER, *initial, *yearly]) + "\n"


def _canonical(arrays: dict[str, NDArray[np.float64]], columns: Sequence[str]) -> pd.DataFrame:
    """Build a table with the canonical dtypes: int64 Year/Month, Int64 PC, float64 else."""
    data: dict[str, object] = {}
    for name in columns:
        if name in ("Year", "Month"):
            data[name] = arrays[name].astype(np.int64)
        elif name == "PC":
            data[name] = pd.array(arrays[name], dtype="Int64")
        else:
            data[name] = arrays[name]
    return pd.DataFrame(data, columns=list(columns))


def _csv_text(frame: pd.DataFrame, columns: Sequence[str], table: _Table) -> str:
    """Return a table as CSV text: shortest round-trip floats, NaN as an empty field."""
    canonical = _canonical(_as_float(frame, columns, table), columns)
    text: str = canonical.to_csv(index=False, lineterminator="\n")
    return text


def write_results(
    out_dir: str | os.PathLike[str],
    month: pd.DataFrame,
    year: pd.DataFrame,
    *,
    fmt: Literal["csv", "rothamsted"],
) -> list[Path]:
    """Write the month and year result tables, both or neither.

    Parameters
    ----------
    out_dir : path-like
        Output folder; created if missing.
    month, year : pandas.DataFrame
        The result tables (:data:`MONTH_COLUMNS`, :data:`YEAR_COLUMNS`; see the module
        docstring). Pools, SOC and CO2 in t C/ha.
    fmt : {"csv", "rothamsted"}
        ``"csv"``: ``month_results.csv`` and ``year_results.csv`` with the official column
        names, floats with full (round-trip) precision, NaN as an empty field, ``Year``,
        ``Month`` and ``PC`` as integers. ``"rothamsted"``: ``month_results.out`` and
        ``year_results.out`` byte for byte in the official text layout.

    Returns
    -------
    list of pathlib.Path
        The month file and the year file.

    Raises
    ------
    ValueError
        If a table breaks the contract (or ``fmt`` is unknown); nothing is written then.

    Notes
    -----
    Both texts are built first, then each is written to a temporary file beside its final
    name, and the temporary files are renamed over the final names only after both were
    written. On any failure the temporary files are removed and existing result files keep
    their previous content.
    """
    if fmt == "csv":
        texts = {
            "month_results.csv": _csv_text(month, MONTH_COLUMNS, "month"),
            "year_results.csv": _csv_text(year, YEAR_COLUMNS, "year"),
        }
    elif fmt == "rothamsted":
        texts = {
            "month_results.out": format_month_results_out(month),
            "year_results.out": format_year_results_out(year),
        }
    else:
        raise ValueError(f"fmt: expected 'csv' or 'rothamsted', got {fmt!r}")
    paths = [Path(out_dir) / name for name in texts]
    with ExitStack() as stack:
        for path, text in zip(paths, texts.values(), strict=True):
            tmp = stack.enter_context(atomic_path(path))
            with open(tmp, "w", encoding="ascii", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
    return paths


# ---------------------------------------------------------------------------------------------
# Reading result files back
# ---------------------------------------------------------------------------------------------


def _parse_table(
    path: Path, lines: Sequence[str], columns: Sequence[str], optional: Callable[[int, str], bool]
) -> dict[str, NDArray[np.float64]]:
    """Parse the comma-separated rows below the header into float64 columns.

    Each field is converted by Python's ``float``, which is exact (round trip) whatever the
    pandas version. An empty field becomes NaN where ``optional(row, column)`` allows it.
    """
    values = np.full((len(lines) - 1, len(columns)), np.nan)
    for row, line in enumerate(lines[1:]):
        lineno = row + 2
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != len(columns):
            raise InputFormatError(
                f"{path} line {lineno}, column '{columns[0]}': expected "
                f"{len(columns)} comma-separated fields, found {len(fields)}"
            )
        for i, (name, field) in enumerate(zip(columns, fields, strict=True)):
            if field == "" and optional(row, name):
                continue
            integer = name in _INTEGER_COLUMNS
            if not (_INTEGER if integer else _REAL).fullmatch(field):
                raise InputFormatError(
                    f"{path} line {lineno}, column '{name}': expected "
                    f"{'an integer' if integer else 'a number'}, found "
                    f"'{field}'"
                )
            values[row, i] = _real(field)
    return dict(zip(columns, values.T, strict=True))


def read_results_out(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an official ``month_results.out`` or ``year_results.out`` into a result table.

    Parameters
    ----------
    path : path-like
        A file in the layout of rothc-model.md §7; the header tells which of the two it is.

    Returns
    -------
    pandas.DataFrame
        The month or year table of the module docstring, with canonical dtypes. Blank fields
        become NaN (``<NA>`` for ``PC``) and the ``-998.02`` of the initial year row becomes
        NaN, so :func:`format_month_results_out` and :func:`format_year_results_out` give the
        file back byte for byte.

    Raises
    ------
    socseq.exceptions.InputFormatError
        If the header is neither official header, a row has the wrong number of fields or a
        field is not a number.
    """
    path = Path(path)
    lines = _text_lines(path)
    header = lines[0] if lines else ""
    if header == _MONTH_HEADER:
        columns = MONTH_COLUMNS
    elif header == _YEAR_HEADER:
        columns = YEAR_COLUMNS
    else:
        raise InputFormatError(
            f"{path} line 1, column 'Year': expected the header of "
            f"month_results.out or year_results.out, found '{header[:60]}'"
        )
    arrays = _parse_table(
        path, lines, columns, lambda row, name: row < _INITIAL_ROWS and name in _MONTH_DIAGNOSTICS
    )
    if "deltaC" in arrays and len(arrays["deltaC"]):
        arrays["deltaC"][0] = np.nan  # the constant -998.02 stands for "no value"
    return _canonical(arrays, columns)


def read_results_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``month_results.csv`` or ``year_results.csv`` written by :func:`write_results`.

    Parameters
    ----------
    path : path-like
        A CSV file with the columns of the month or the year table, in that order.

    Returns
    -------
    pandas.DataFrame
        The table with canonical dtypes; floats are read back exactly, empty fields as NaN.

    Raises
    ------
    socseq.exceptions.InputFormatError
        If the header is that of neither table, a row has the wrong number of fields, or a
        field is not a number (``Year`` and ``Month`` must be present in every row, ``PC`` in
        every row after the first two).
    """
    path = Path(path)
    lines = _text_lines(path)
    header = lines[0] if lines else ""
    for columns in (MONTH_COLUMNS, YEAR_COLUMNS):
        if header == ",".join(columns):
            arrays = _parse_table(
                path,
                lines,
                columns,
                lambda row, name: (
                    name not in _INTEGER_COLUMNS or (name == "PC" and row < _INITIAL_ROWS)
                ),
            )
            return _canonical(arrays, columns)
    raise InputFormatError(
        f"{path} line 1, column 'Year': expected the header "
        f"'{','.join(MONTH_COLUMNS)}' or '{','.join(YEAR_COLUMNS)}', found "
        f"'{header[:60]}'"
    )
