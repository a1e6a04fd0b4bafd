"""The README's demo table and timings are what a real demo run printed, by construction.

``benchmarks/readme_demo.py`` records a fresh ``socseq demo`` run in ``docs/demo-run.json``
and writes the README block from that record. Here: the README block must be exactly the
rendering of the record (so it cannot be edited by hand), and every number of the README's
table must round the same value of the session's own demo run (so the record cannot drift
from what the code computes).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location(
        "readme_demo", REPO / "benchmarks" / "readme_demo.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _readme_table() -> dict[str, list[str]]:
    """Rows of the README's scenario table: scenario → the numbers as printed."""
    script = _script()
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split(script.BEGIN, 1)[1].split(script.END, 1)[0]
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)]
        if len(cells) == 6 and re.fullmatch(r"BAU|SSM\d", cells[0]):
            rows[cells[0]] = cells[1:]
    return rows


def _rounds(shown: str, value: float) -> bool:
    """Whether ``shown`` is ``value`` rounded: within half a unit of its last shown digit."""
    if shown == "–":
        return value != value  # NaN
    digits = shown.replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    unit = 10.0**-decimals
    if "." not in digits and len(digits.lstrip("-")) > 3:  # rounded to significant figures
        unit = 10.0 ** (len(digits.lstrip("-")) - 3)
    return abs(float(digits) - value) <= unit / 2 + 1e-9 * abs(value)


def test_the_readme_block_is_the_rendering_of_the_record() -> None:
    script = _script()
    record = json.loads((REPO / "docs" / "demo-run.json").read_text(encoding="utf-8"))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert script.render_block(record) in readme, (
        "README.md's demo block differs from docs/demo-run.json: run "
        "`python benchmarks/readme_demo.py` to rewrite it from a real demo run"
    )
    assert "about half a minute" not in readme
    assert "socseq-demo/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_the_readme_numbers_are_those_of_a_fresh_demo_run(demo_run) -> None:
    rows = _readme_table()
    assert set(rows) == {"BAU", "SSM1", "SSM2", "SSM3"}
    summary = pd.read_csv(demo_run.path / "summary.csv").query("zone == 'all'")
    columns = [
        "mean_asr_t_ha_yr",
        "mean_rsr_t_ha_yr",
        "total_asr_t_yr",
        "simulated_cropland_area_ha",
        "share_4p1000_pct",
    ]
    for _, row in summary.iterrows():
        shown = rows[row["scenario"]]
        for text, column in zip(shown, columns, strict=True):
            assert _rounds(text, float(row[column])), (row["scenario"], column, text, row[column])


@pytest.mark.parametrize(
    ("shown", "value", "ok"),
    [
        ("-0.0401", -0.040066, True),
        ("-0.0401", -0.0399, False),
        ("136,000", 136294.0, True),
        ("84.4", 84.4496, True),
        ("84.4", 84.5, False),
        ("–", float("nan"), True),
    ],
)
def test_the_rounding_check_itself(shown: str, value: float, ok: bool) -> None:
    assert _rounds(shown, value) is ok
