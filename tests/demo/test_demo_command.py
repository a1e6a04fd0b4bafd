"""`socseq demo`: the whole chain on the embedded region, run twice into the same folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

from socseq.cli import main


def _demo(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["socseq", "demo", "--out", str(out), "-q"])
    try:
        main()
    except SystemExit as exc:  # pragma: no cover - a failure shows the message
        assert exc.code in (0, None)


def test_demo_runs_the_whole_chain_twice(tmp_path, monkeypatch, capsys):
    out = tmp_path / "demo"
    _demo(out, monkeypatch)
    first = capsys.readouterr().out
    assert "report:" in first and "SSM3" in first
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
    assert len(list((out / "figures").glob("*.png"))) >= 15

    before = (out / "summary.csv").read_bytes()
    _demo(out, monkeypatch)  # re-running into the same folder is safe
    assert (out / "summary.csv").read_bytes() == before
    assert not list(out.glob(".socseq-*"))
