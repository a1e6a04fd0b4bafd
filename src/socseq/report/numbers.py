"""Numbers as people read them: significant figures, no ``-0``, no ``1e-16``.

One formatter for the report, the terminal summary and the README table, so that a number
reads the same wherever it is shown. A value is rounded to a number of significant figures,
but never finer than the *resolution* of its quantity: a mean rate of ``-2.6e-16`` t C/ha/yr
(round-off of a steady run) is below 0.0001 t C/ha/yr and reads ``0``, and a rounded zero
never carries a sign.

>>> fmt_number(-0.040066, "rate")
'-0.0401'
>>> fmt_number(-2.6e-16, "rate")
'0'
>>> fmt_number(136293.99, "total")
'136,000'
>>> fmt_number(84.4496, "share")
'84.4'
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "ASR_UNITS",
    "QUANTITIES",
    "STOCK_UNITS",
    "STAGES",
    "fmt_number",
    "fmt_share",
    "is_missing",
    "timing_line",
    "timing_rows",
]

#: Quantity kind → (significant figures, resolution in the quantity's units).
QUANTITIES: dict[str, tuple[int, float]] = {
    "rate": (3, 1e-4),  # t C/ha/yr: 0.1 kg C/ha/yr
    "stock": (3, 1e-2),  # t C/ha
    "total": (3, 1.0),  # t C/yr
    "area": (4, 1.0),  # ha
    "share": (3, 1e-3),  # %
    "factor": (3, 1e-3),  # multipliers, unitless
    "metric": (3, 1e-3),  # R², MEC, CCC, PICP
    "seconds": (3, 0.1),  # s
}

#: Units of rates and stocks as the report and the terminal show them.
ASR_UNITS = "t C/ha/yr"
STOCK_UNITS = "t C/ha"

#: Shown for a missing value (None, NaN, empty).
MISSING = "–"


def is_missing(value: Any) -> bool:
    """Tell whether a table value is missing (None, NaN, empty string)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def fmt_number(value: Any, kind: str = "stock", *, digits: int | None = None) -> str:
    """Format a number to significant figures, at most as fine as its quantity's resolution.

    Parameters
    ----------
    value : float, int, str or None
        The number; strings are returned as they are, missing values as an en dash.
    kind : str, default "stock"
        Key of :data:`QUANTITIES` (``rate``, ``stock``, ``total``, ``area``, ``share``,
        ``factor``, ``metric``, ``seconds``).
    digits : int, optional
        Significant figures, overriding the quantity's.

    Returns
    -------
    str
        E.g. ``-0.0401``, ``136,000``, ``84.4``, ``0``; thousands separated by commas,
        never in exponent notation, never ``-0``.
    """
    if isinstance(value, str) and value.strip():
        return value
    if is_missing(value):
        return MISSING
    number = float(value)
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    sig, resolution = QUANTITIES[kind]
    sig = digits if digits is not None else sig
    if abs(number) < resolution / 2 or number == 0:
        return "0"
    exponent = math.floor(math.log10(abs(number)))
    # Decimals for the significant figures, capped by the resolution's.
    decimals = min(sig - 1 - exponent, max(0, -math.floor(math.log10(resolution))))
    rounded = round(number, decimals)
    if rounded == 0:
        return "0"
    text = f"{rounded:,.{max(decimals, 0)}f}"
    return text


def fmt_share(value: Any, denominator: Any, unit: str = "ha", what: str = "") -> str:
    """Format a share with its denominator, e.g. ``84.4 % of 473,300 ha simulated cropland``."""
    share = fmt_number(value, "share")
    if share == MISSING:
        return MISSING
    tail = f" {what}" if what else ""
    return f"{share} % of {fmt_number(denominator, 'area')} {unit}{tail}"


#: Stages of ``run.json``'s ``timings_s``, in run order, with their labels.
STAGES: dict[str, str] = {
    "dsm": "DSM",
    "inputs": "inputs",
    "spin-up": "spin-up",
    "warm-up": "warm-up",
    "forward": "forward",
    "uncertainty": "uncertainty",
    "products": "products",
    "total": "total",
}


def timing_rows(timings: dict[str, Any] | None) -> list[tuple[str, float]]:
    """Stages and seconds of ``run.json``'s ``timings_s`` in run order (unknown keys last).

    The one timing source: the terminal, ``run.json`` and the report all show these.
    """
    timings = timings or {}
    keys = [k for k in STAGES if k in timings] + [k for k in timings if k not in STAGES]
    return [(STAGES.get(k, k), float(timings[k])) for k in keys]


def timing_line(timings: dict[str, Any] | None) -> str:
    """One line of the stage times, e.g. ``DSM 9.1 s, inputs 29.2 s, …; total 66.6 s``."""
    rows = timing_rows(timings)
    parts = [f"{label} {fmt_number(s, 'seconds')} s" for label, s in rows if label != "total"]
    total = [s for label, s in rows if label == "total"]
    line = ", ".join(parts)
    if total:
        line += f"; total {fmt_number(total[0], 'seconds')} s"
    return line
