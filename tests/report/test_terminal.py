"""The terminal: progress bars time each stage; the summary table formats as the report does."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pandas as pd

from socseq.cli.progress import progress_bars
from socseq.cli.run import print_summary

from .conftest import make_run_folder


def test_bars_show_the_time_a_stage_took(capfd) -> None:
    with progress_bars(False) as update:
        assert update is not None
        update("inputs", 0, 2)
        time.sleep(1.2)
        update("inputs", 2, 2)
        time.sleep(2.2)  # a stage that reports only when it is done (one window)
        update("spin-up", 1, 1)
    err = capfd.readouterr().err
    times = dict(re.findall(r"^(\S+)\s.*?(\d+:\d\d:\d\d)\s*$", err, re.M))
    assert times["inputs"] == "0:00:01", err
    assert times["spin-up"] == "0:00:02", err  # not 0:00:00


def test_summary_table_shows_the_share_beside_its_denominator(tmp_path: Path, capsys) -> None:
    folder = make_run_folder(tmp_path / "run")
    table = pd.read_csv(folder / "summary.csv")
    table.loc[table["scenario"] == "BAU", "mean_asr_t_ha_yr"] = -2.6e-16
    table.loc[table["scenario"] == "BAU", "total_asr_t_yr"] = -0.3
    table.to_csv(folder / "summary.csv", index=False)
    print_summary(folder / "summary.csv")
    out = capsys.readouterr().out
    assert "e-16" not in out and "-0 " not in out
    assert "cropland" in out and "(ha)" in out and "reaching 4 per" in out
    row = table.query("zone == 'all' and scenario == 'SSM3'").iloc[0]
    line = next(line for line in out.splitlines() if line.strip().startswith("SSM3"))
    assert f"{row['simulated_cropland_area_ha']:,.0f}" in line
    assert f"{float(f'{row.share_4p1000_pct:.3g}'):g}" in line
