"""The HTML report of a finished run: ``report.html`` (self-contained) and ``figures/*.png``.

>>> from socseq.report import build_report
>>> build_report("socseq-out")  # doctest: +SKIP
PosixPath('socseq-out/report.html')

The names are imported on first use, so that light modules (``socseq.report.numbers``, which
the terminal summary uses) do not pull in matplotlib and Jinja2.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "FIGURES_DIR",
    "REPORT_FILE",
    "RunFolder",
    "build_report",
    "read_run_folder",
]

_HOMES = {
    "FIGURES_DIR": "socseq.report.figure_list",
    "REPORT_FILE": "socseq.report.html",
    "build_report": "socseq.report.html",
    "RunFolder": "socseq.report.run_folder",
    "read_run_folder": "socseq.report.run_folder",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'socseq.report' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
