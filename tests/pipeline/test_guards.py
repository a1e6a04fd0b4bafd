"""Plausibility guards (issue 13 item 5): each stops validate and run with one line holding the
numbers seen, writes nothing, and lets the run pass once its [checks] key is relaxed.

Every expected number is counted here from the arrays the test writes (read back with
rasterio), never with socseq's own classification.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio

from .conftest import Region, write_region
from .test_bad_inputs import _invoke

ROOT = Path(__file__).resolve().parents[2]
CANDIDATE = [2, 3, 5, 12, 13]  # land_use.simulate ∪ cropland (defaults)
SIMULATED_CLASSES = [2, 3, 5, 12]  # paddy (13) is excluded by default
CROPLAND = [2, 12, 13]
CELL_HA = 100.0  # 1 km cells of a projected grid
FAO_TO_ESA = {1: 190, 2: 10, 3: 130, 4: 50, 5: 120, 11: 210, 12: 12, 13: 20}


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        data = src.read(1).astype(np.float64)
        if src.nodata is not None:
            data[data == src.nodata] = np.nan
    return data


def _rewrite(path: Path, values: np.ndarray) -> None:
    with rasterio.open(path, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as dst:
        dst.write(values.astype(dst.dtypes[0]), 1)


def _fails(region: Region, tmp_path: Path, monkeypatch, capsys) -> str:
    """Run validate and run; both exit 2 with the same one line; nothing is written."""
    out = tmp_path / "out"
    lines = []
    for command in ("validate", "run"):
        extra = ["--out", str(out), "-q", "--no-report"] if command == "run" else ["-q"]
        code, err = _invoke([command, str(region.config), *extra], monkeypatch, capsys)
        text = [line for line in err.splitlines() if line.strip()]
        assert code == 2, err
        assert len(text) == 1, err
        lines.append(text[0])
    assert lines[0] == lines[1]
    written = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert written == [], written
    return lines[0]


def _validates(region: Region, monkeypatch, capsys) -> str:
    """Run validate, which must pass; return what it printed (one line per message)."""
    import sys

    from socseq.cli import main

    monkeypatch.setattr("socseq.cli.run.console.width", 400)
    monkeypatch.setattr(sys, "argv", ["socseq", "validate", str(region.config)])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


# --------------------------------------------------------------------------------------------
# [domain]: polygons restrict every area

NY, NX = 16, 20
BLOCK = (slice(5, 13), slice(6, 16))  # rows 5–12, columns 6–15: 80 cells across 4 windows


def _block_polygon(path: Path, rows: tuple[int, int], cols: tuple[int, int]) -> None:
    """A box whose edges lie 200 m outside the block: only the block's centres are inside."""
    import geopandas as gpd
    from shapely.geometry import box

    x0, y0 = 200_000.0, 2_600_000.0
    shape = box(
        x0 + cols[0] * 1000 - 200,
        y0 - rows[1] * 1000 - 200,
        x0 + cols[1] * 1000 + 200,
        y0 - rows[0] * 1000 + 200,
    )
    gpd.GeoDataFrame(geometry=[shape], crs="EPSG:3826").to_file(path)


def test_a_polygon_domain_bounds_every_area_and_count(tmp_path, monkeypatch, capsys):
    region = write_region(tmp_path / "r", ny=NY, nx=NX, extra='[domain]\npath = "domain.gpkg"\n')
    _block_polygon(region.root / "domain.gpkg", (5, 13), (6, 16))
    land = _read(region.root / "landuse.tif")
    soc = _read(region.root / "soc.tif")
    inside = np.zeros((NY, NX), bool)
    inside[BLOCK] = True
    candidate = np.isin(land, CANDIDATE)
    simulated = inside & np.isin(land, SIMULATED_CLASSES) & np.isfinite(soc) & (soc <= 200)
    out = tmp_path / "out"
    code, err = _invoke(
        ["run", str(region.config), "--out", str(out), "-q", "--no-report"], monkeypatch, capsys
    )
    assert code == 0, err

    exclusions = pd.read_csv(out / "exclusions.csv").set_index("reason")
    assert exclusions.loc["outside the domain", "cells"] == (candidate & ~inside).sum()
    assert exclusions.loc["outside the domain", "area_ha"] == CELL_HA * (candidate & ~inside).sum()
    assert exclusions["cells"].sum() == NY * NX
    summary = pd.read_csv(out / "summary.csv").query("zone == 'all' and scenario == 'BAU'")
    row = summary.iloc[0]
    assert row["simulated_cells"] == simulated.sum()
    assert row["simulated_area_ha"] == CELL_HA * simulated.sum()
    assert row["cropland_area_ha"] == CELL_HA * (inside & np.isin(land, CROPLAND)).sum()
    assert (
        row["simulated_cropland_area_ha"] == CELL_HA * (simulated & np.isin(land, CROPLAND)).sum()
    )
    with rasterio.open(out / "maps" / "XTS_GSOCseq_T0_Map030.tif") as src:
        np.testing.assert_array_equal(src.read(1) != src.nodata, simulated)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["method"]["domain"] == str(region.root / "domain.gpkg")
