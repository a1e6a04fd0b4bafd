"""The HTML report of a finished run: ``report.html`` (self-contained) and ``figures/*.png``.

>>> from socseq.report import build_report
>>> build_report("socseq-out")  # doctest: +SKIP
PosixPath('socseq-out/report.html')
"""

from socseq.report.html import FIGURES_DIR, REPORT_FILE, build_report
from socseq.report.run_folder import RunFolder, read_run_folder

__all__ = [
    "FIGURES_DIR",
    "REPORT_FILE",
    "RunFolder",
    "build_report",
    "read_run_folder",
]
