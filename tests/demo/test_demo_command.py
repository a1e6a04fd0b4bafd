"""`socseq demo`: the whole chain on the embedded region, run twice into the same folder."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

from socseq.cli import main
from socseq.report.numbers import fmt_number


def _demo(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["socseq", "demo", "--out", str(out), "-q"])
    try:
        main()
    except SystemExit as exc:  # pragma: no cover - a failure shows the message
        assert exc.code in (0, None)


def test_demo_runs_the_whole_chain_twice(demo_run, tmp_path, monkeypatch, capsys):
    # The session's demo run is the first run; the second runs into a copy of its folder.
    out = tmp_path / "demo"
    shutil.copytree(demo_run.path, out)
    first = demo_run.output
    assert "report:" in first and "SSM3" in first
    # One timing source: the terminal prints run.json's stage times, as the report does.
    timings = json.loads((out / "run.json").read_text())["timings_s"]
    assert f"total {fmt_number(timings['total'], 'seconds')} s" in first
    assert f"forward {fmt_number(timings['forward'], 'seconds')} s" in first
    manifest = json.loads((out / "run.json").read_text())
    # The DSM recovers the generating relationship on held-out (spatially blocked) samples.
    assert manifest["dsm"]["metrics"]["spatial"]["MEC"] >= 0.5
    assert manifest["notes"] and "synthetic" in manifest["notes"][0]
    summary = pd.read_csv(out / "summary.csv").query("zone == 'all'").set_index("scenario")
    rsr = summary["mean_rsr_t_ha_yr"]
    assert rsr["SSM2"] == pytest.approx(2 * rsr["SSM1"], rel=1e-9)
    assert rsr["SSM3"] == pytest.approx(4 * rsr["SSM1"], rel=1e-9)
    with rasterio.open(out / "maps" / "XTW_GSOCseq_RSR_SSM1_Map030.tif") as src:
        rsr1 = src.read(1, masked=True)
    with rasterio.open(out / "maps" / "XTW_GSOCseq_RSR_SSM2_Map030.tif") as src:
        rsr2 = src.read(1, masked=True)
    np.testing.assert_allclose(rsr2.compressed(), 2 * rsr1.compressed(), rtol=1e-6)
    report = (out / "report.html").read_text()
    assert "synthetic" in report and report.count("<img") >= 15
    total = fmt_number(timings["total"], "seconds")
    assert f'<td>total</td><td class="num">{total} s</td>' in report
    assert len(list((out / "figures").glob("*.png"))) >= 15

    before = (out / "summary.csv").read_bytes()
    _demo(out, monkeypatch)  # re-running into the same folder is safe
    assert (out / "summary.csv").read_bytes() == before
    # The copy moved the folder, which the DSM settings name (as the outputs' provenance does),
    # so dsm/ was computed again; the region's files kept their content, so the next run here
    # would reuse it (tests/pipeline/test_dsm_reuse.py).
    dsm = json.loads((out / "run.json").read_text())["dsm"]
    key = manifest["dsm"]["key"]
    assert dsm["note"] == f"computed: settings changed since the earlier run (key {key})"
    assert not list(out.glob(".socseq-*"))


def test_demo_passes_its_thread_budget_to_the_run(tmp_path, monkeypatch):
    """``socseq demo --threads N`` runs the chain within N cores, as ``socseq run`` does."""
    from click.testing import CliRunner

    import socseq.cli.demo as demo_cli

    seen: dict = {}

    class StopBeforeRunError(Exception):
        pass

    def fake_run(config, **kwargs):
        seen.update(kwargs)
        raise StopBeforeRunError

    monkeypatch.setattr(demo_cli, "run_pipeline", fake_run)
    args = ["--out", str(tmp_path / "d"), "--threads", "1", "-q"]
    result = CliRunner().invoke(demo_cli.demo, args)
    assert isinstance(result.exception, StopBeforeRunError), result.output
    assert seen["threads"] == 1
