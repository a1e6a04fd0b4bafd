"""Plausibility guards (issue 13 item 5): each stops validate and run with one line holding the
numbers seen, writes nothing, and lets the run pass once its [checks] key is relaxed.

Every expected number is counted here from the arrays the test writes (read back with
rasterio), never with socseq's own classification.
"""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine

from socseq.pipeline.landuse import LEGEND_DOC

from .conftest import Region, write_dsm_region, write_region
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
    return captured.out + captured.err


# --------------------------------------------------------------------------------------------
# 1. Land-use codes outside the declared legend


def _esa_region(tmp_path: Path, extra: str = "") -> tuple[Region, np.ndarray]:
    region = write_region(tmp_path / "r", ny=8, nx=10, extra=extra)
    fao = _read(region.root / "landuse.tif").astype(int)
    esa = np.vectorize(FAO_TO_ESA.get)(fao)
    _rewrite(region.root / "landuse.tif", esa)
    return region, esa


def test_esa_codes_declared_as_fao_are_named_with_the_legend_they_fit(
    tmp_path, monkeypatch, capsys
):
    region, esa = _esa_region(tmp_path)
    line = _fails(region, tmp_path, monkeypatch, capsys)
    # ESA 10 and 12 are FAO codes too (snow, tree crops); every other code is unknown.
    unknown = ~np.isin(esa, np.arange(1, 14))
    share = unknown.sum() / esa.size
    assert f"{100 * share:.3g} % of {esa.size} sampled cells" in line
    assert "layer 'inputs.land_use'" in line and "landuse.tif" in line
    for code in np.unique(esa[unknown]):
        assert f"{code} ({(esa == code).sum():,})" in line, code
    assert 'they look like ESA CCI codes: set land_use.source_classes = "esa_cci"' in line
    assert "[checks] unknown_code_share_max (now 0.01)" in line


def test_the_unknown_code_share_can_be_relaxed(tmp_path, monkeypatch, capsys):
    region, _ = _esa_region(tmp_path, extra="[checks]\nunknown_code_share_max = 1\n")
    _validates(region, monkeypatch, capsys)


# --------------------------------------------------------------------------------------------
# 2. land_use.simulate / cropland naming classes the class table lacks


def _table_classes() -> str:
    with open(ROOT / "src/socseq/pipeline/data/fao_classes.csv", newline="") as f:
        return ", ".join(f"{row['code']} {row['name']}" for row in csv.DictReader(f))


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ("simulate = [2, 3, 14]", "land_use.simulate names class 14, not in the class table"),
        ("cropland = [2, 99, 98]", "land_use.cropland names classes 98, 99, not in the class"),
    ],
)
def test_a_class_missing_from_the_table_is_named_with_the_known_ones(
    settings, needle, tmp_path, monkeypatch, capsys
):
    region = write_region(tmp_path / "r", ny=8, nx=10, extra=f"[land_use]\n{settings}\n")
    line = _fails(region, tmp_path, monkeypatch, capsys)
    assert needle in line
    assert f"(fao: {_table_classes()})" in line


# --------------------------------------------------------------------------------------------
# 3. Nothing left to simulate


def test_no_cell_to_simulate_names_the_cells_of_each_reason(tmp_path, monkeypatch, capsys):
    region = write_region(tmp_path / "r", ny=8, nx=10, extra="[masks]\nmax_soc_t_ha = 1\n")
    land = _read(region.root / "landuse.tif")
    soc = _read(region.root / "soc.tif")
    candidate = np.isin(land, CANDIDATE)
    paddy = candidate & (land == 13)
    no_soc = candidate & ~paddy & np.isnan(soc)
    above = candidate & ~paddy & ~np.isnan(soc)  # every stock is above 1 t C/ha
    line = _fails(region, tmp_path, monkeypatch, capsys)
    assert f"all {candidate.sum():,} agricultural cells are excluded" in line
    assert f"paddy (excluded by configuration): {paddy.sum():,}" in line
    assert f"no SOC baseline: {no_soc.sum():,}" in line
    assert f"SOC above the mask limit: {above.sum():,}" in line


# --------------------------------------------------------------------------------------------
# 4. The median SOC stock of the agricultural cells


def _soc_on_candidates(region: Region, low: float, high: float, other: float) -> np.ndarray:
    """Stocks in [low, high] on the agricultural cells, ``other`` elsewhere (NaN kept)."""
    land = _read(region.root / "landuse.tif")
    soc = _read(region.root / "soc.tif")
    rng = np.random.default_rng(5)
    values = np.where(np.isin(land, CANDIDATE), rng.uniform(low, high, soc.shape), other)
    values[np.isnan(soc)] = np.nan
    _rewrite(region.root / "soc.tif", np.where(np.isnan(values), -999.0, values))
    return np.where(np.isin(land, CANDIDATE), values, np.nan)


@pytest.mark.parametrize(
    ("low", "high", "other", "side", "likely"),
    [
        # Other land at 80 t C/ha keeps the whole map clear of the kg/m² unit trap (max ≥ 60).
        (2.0, 4.5, 80.0, "below 5", "stocks in kg/m² declared as t/ha gives stocks 10× too low"),
        # Other land at 50 t C/ha keeps the map's median below the g/m² trap (500).
        (
            420.0,
            480.0,
            50.0,
            "above 400",
            "stocks in t/ha declared as kg/m² gives stocks 10× too high",
        ),
    ],
)
def test_an_implausible_median_soc_stops_validate_and_run(
    low, high, other, side, likely, tmp_path, monkeypatch, capsys
):
    region = write_region(tmp_path / "r", ny=8, nx=10)
    stocks = _soc_on_candidates(region, low, high, other)
    finite = stocks[np.isfinite(stocks)]
    line = _fails(region, tmp_path, monkeypatch, capsys)
    assert f"median {np.median(finite):.3g} t C/ha on {finite.size} agricultural cells" in line
    assert side in line and likely in line
    assert "(inputs.soc, file" in line and "check inputs.soc.units" in line
    assert "[checks] soc_median_range_t_ha" in line


@pytest.mark.parametrize(
    ("median", "kind", "likely"),
    [
        (3.1, "concentration", "SOC in % declared as g/kg gives stocks 10× too low"),
        (610.0, "concentration", "SOC in g/kg declared as % gives stocks 10× too high"),
        (0.045, "concentration", "SOC as a fraction (kg/kg) declared as g/kg gives stocks 1000×"),
        (0.41, "stock", "stocks in t/ha declared as g/m² gives stocks 100× too low"),
        (4400.0, "stock", "stocks in g/m² declared as t/ha gives stocks 100× too high"),
        (20.0, "stock", None),
    ],
)
def test_the_soc_guard_names_the_unit_mixup_of_the_factor(median, kind, likely):
    from socseq.exceptions import InputValidationError
    from socseq.pipeline.config import ChecksConfig
    from socseq.pipeline.guards import SocSource, check_soc_median

    source = SocSource("(samples.csv)", "samples", "the units", kind)
    if likely is None:  # inside 5–400 t C/ha
        check_soc_median(median, 12, ChecksConfig(), source)
        return
    with pytest.raises(InputValidationError) as err:
        check_soc_median(median, 12, ChecksConfig(), source)
    assert f"median {median:.3g} t C/ha on 12 samples" in str(err.value)
    assert likely in str(err.value)


@pytest.mark.parametrize("relaxed", ["[1, 400]", "false"])
def test_the_soc_range_can_be_relaxed(relaxed, tmp_path, monkeypatch, capsys):
    region = write_region(
        tmp_path / "r", ny=8, nx=10, extra=f"[checks]\nsoc_median_range_t_ha = {relaxed}\n"
    )
    _soc_on_candidates(region, 2.0, 4.5, 80.0)
    _validates(region, monkeypatch, capsys)


def _mislabelled_samples(tmp_path: Path, extra: str = "") -> tuple[Region, np.ndarray]:
    """40 samples of about 55 t C/ha declared kg/m² (the unit trap switched off)."""
    rng = np.random.default_rng(3)
    cells = rng.choice(80, 40, replace=False)  # one sample per cell: none is merged
    stock = 55.0 + rng.normal(0, 5, 40)
    region = write_dsm_region(tmp_path / "r", cells, stock, units="kg/m2", extra=extra)
    return region, stock * 10.0  # kg/m² → t/ha: what socseq reads


def test_dsm_samples_with_an_implausible_median_stop_before_the_dsm(tmp_path, monkeypatch, capsys):
    region, read = _mislabelled_samples(tmp_path)
    line = _fails(region, tmp_path, monkeypatch, capsys)
    assert f"median {np.median(read):.3g} t C/ha on 40 samples is above 400" in line
    assert "(the [dsm] samples in" in line
    assert "stocks in t/ha declared as kg/m² gives stocks 10× too high" in line
    assert "check dsm.samples.stock.units ('kg/m2')" in line


def test_a_dsm_map_with_an_implausible_median_on_the_farmland_stops_the_run(
    tmp_path, monkeypatch, capsys
):
    # Plausible samples (median 340–390 t C/ha), but those on the agricultural cells hold
    # 440–480: only the map on those cells shows the implausible median. Clay separates the
    # two groups, so the forest maps the farmland from the farmland's samples.
    land = _read(write_region(tmp_path / "r", ny=8, nx=10).root / "landuse.tif")  # seed 1
    farm = np.isin(land, CANDIDATE)
    rng = np.random.default_rng(4)
    other_cells = np.flatnonzero(~farm.ravel())
    farm_cells = rng.choice(np.flatnonzero(farm.ravel()), 15, replace=False)
    cells = np.concatenate([other_cells, farm_cells])
    stock = np.concatenate(
        [rng.uniform(340, 390, other_cells.size), rng.uniform(440, 480, farm_cells.size)]
    )
    assert np.median(stock) < 400 and other_cells.size > farm_cells.size
    region = write_dsm_region(tmp_path / "r", cells, stock)
    _rewrite(region.root / "clay.tif", np.where(farm, 45.0, 15.0) + rng.uniform(-3, 3, land.shape))
    code, _ = _invoke(["validate", str(region.config), "-q"], monkeypatch, capsys)
    assert code == 0  # validate cannot see the map; the samples are plausible
    out = tmp_path / "out"
    args = ["run", str(region.config), "--out", str(out), "-q", "--no-report"]
    code, err = _invoke(args, monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    found = re.search(r"median ([0-9.]+) t C/ha on ([0-9,]+) agricultural cells", err)
    assert found is not None, err
    assert int(found[2].replace(",", "")) == farm.sum()
    # A forest's mean prediction lies within the values of the samples it was trained on.
    assert 400 < float(found[1]) <= stock.max()
    assert "(the [dsm] map of the samples" in err and "above 400" in err
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_the_dsm_samples_check_can_be_relaxed(tmp_path, monkeypatch, capsys):
    region, _ = _mislabelled_samples(
        tmp_path, extra="[checks]\nsoc_median_range_t_ha = [5, 1000]\n"
    )
    _validates(region, monkeypatch, capsys)


# --------------------------------------------------------------------------------------------
# 5. [domain]: a raster or polygons restrict every area; SOC coverage warning

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


def test_validate_reports_the_domain_share_for_a_raster_and_polygons(tmp_path, monkeypatch, capsys):
    region = write_region(tmp_path / "r", ny=NY, nx=NX)
    land = _read(region.root / "landuse.tif")
    inside = np.zeros((NY, NX), bool)
    inside[BLOCK] = True
    with rasterio.open(region.root / "clay.tif") as src:
        profile = {**src.profile, "dtype": "uint8", "nodata": 255}
    with rasterio.open(region.root / "domain.tif", "w", **profile) as dst:
        dst.write(inside.astype(np.uint8), 1)
    _block_polygon(region.root / "domain.gpkg", (5, 13), (6, 16))
    crop = np.isin(land, CROPLAND)
    outside = (np.isin(land, CANDIDATE) & ~inside).sum()
    config = region.config.read_text()
    for name in ("domain.tif", "domain.gpkg"):
        region.config.write_text(config + f'[domain]\npath = "{name}"\n')
        text = _validates(region, monkeypatch, capsys)
        assert f"{inside.sum()} of {NY * NX} grid cells inside (25 %)" in text, text
        share = 100 * (crop & inside).sum() / crop.sum()
        assert (
            f"cropland inside: {(crop & inside).sum()} of {crop.sum()} cells, "
            f"{CELL_HA * (crop & inside).sum():,.0f} of {CELL_HA * crop.sum():,.0f} ha "
            f"({share:.3g} %)"
        ) in text, text
        assert f"  outside the domain: {outside:,}" in text


def test_a_domain_without_agricultural_cells_leaves_nothing_to_simulate(
    tmp_path, monkeypatch, capsys
):
    region = write_region(tmp_path / "r", ny=8, nx=10, extra='[domain]\npath = "sea.geojson"\n')
    _block_polygon(region.root / "sea.geojson", (7, 8), (0, 10))  # the water row
    land = _read(region.root / "landuse.tif")
    line = _fails(region, tmp_path, monkeypatch, capsys)
    n = np.isin(land, CANDIDATE).sum()
    assert f"all {n:,} agricultural cells are excluded (outside the domain: {n:,})" in line


def test_validate_warns_about_cropland_beyond_the_soc_data(tmp_path, monkeypatch, capsys):
    region = write_region(tmp_path / "r", ny=8, nx=10)
    land = _read(region.root / "landuse.tif")
    soc = _read(region.root / "soc.tif")
    crop = np.isin(land, CROPLAND)
    missing = crop & np.isnan(soc)
    assert missing.any()  # the region has no SOC in three cells of its first row
    text = _validates(region, monkeypatch, capsys)
    assert (
        f"warning: {100 * missing.sum() / crop.sum():.3g} % of the cropland on the grid "
        f"({missing.sum()} of {crop.sum()} cells, {CELL_HA * missing.sum():,.0f} ha) lies "
        "outside the SOC data"
    ) in text


# --------------------------------------------------------------------------------------------
# 6. ESA CCI → FAO table and paddy: documented, stated by validate and by the report


def test_validate_states_the_esa_mapping_and_the_paddy_choice(tmp_path, monkeypatch, capsys):
    region, _ = _esa_region(
        tmp_path, extra='[land_use]\nsource_classes = "esa_cci"\npaddy = "simulate"\n'
    )
    text = _validates(region, monkeypatch, capsys)
    assert (
        f"land use: ESA CCI codes mapped to FAO classes ({LEGEND_DOC}); class 20 (irrigated "
        "or post-flooding cropland) → FAO 13 paddy fields: simulated with the paddy rate "
        'factor (land_use.paddy = "simulate")'
    ) in text


def test_the_documented_esa_table_is_the_one_the_code_reads():
    doc = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    heading = LEGEND_DOC.split("#")[1]
    sections = {
        # GitHub's anchor of a heading: lower case, spaces to hyphens, punctuation dropped.
        re.sub(r"[^a-z0-9 -]", "", part.split("\n", 1)[0].lower()).replace(" ", "-"): part
        for part in doc.split("\n## ")[1:]
    }
    section = sections[heading]
    documented = {
        int(m[1]): (int(m[3]) if m[3].strip() != "–" else 0, m[2].strip())
        for m in re.finditer(r"^\| (\d+) \| ([^|]+) \| ([^|]+) \|", section, re.M)
    }
    with open(ROOT / "src/socseq/pipeline/data/esa_cci_to_fao.csv", newline="") as f:
        table = {int(r["esa_cci"]): (int(r["fao"]), r["esa_cci_name"]) for r in csv.DictReader(f)}
    assert documented == table


def test_the_report_states_the_legend_and_the_paddy_choice(tmp_path):
    from report.conftest import make_run_folder  # tests/ is on sys.path (rootdir packages)
    from socseq.report import build_report

    folder = make_run_folder(tmp_path / "run")
    manifest = json.loads((folder / "run.json").read_text())
    manifest["method"].update(
        land_use_codes="esa_cci",
        land_use_table="fao",
        domain="/data/study_area.gpkg",
        checks_relaxed="soc_median_range_t_ha = [1, 400]",
    )
    (folder / "run.json").write_text(json.dumps(manifest))
    text = html.unescape(build_report(folder).read_text(encoding="utf-8"))
    assert (
        f"<th>land-use codes</th><td>ESA CCI codes mapped to FAO classes ({LEGEND_DOC}); class "
        "20 (irrigated or post-flooding cropland) → FAO 13 paddy fields: excluded "
        '(land_use.paddy = "exclude")</td>'
    ) in text
    assert "<th>study area ([domain])</th><td>/data/study_area.gpkg</td>" in text
    assert "soc_median_range_t_ha = [1, 400]" in text


def test_a_dsm_baseline_is_mapped_on_the_grid_of_the_grid_template(tmp_path) -> None:
    # [grid] template = "land_use" whose grid is the covariates' lattice shifted one cell east,
    # same size: the baseline of run cell (r, c) must be the DSM's value at covariate cell
    # (r, c + 1), which a run without the template maps on the covariates' own grid.
    import zarr

    from socseq.pipeline.config import load_run_config
    from socseq.pipeline.run import WORK, run_pipeline

    cells = np.array([1, 3, 5, 7, 12, 14, 16, 18, 21, 23, 25, 27, 32, 34, 36, 38, 41, 43, 45])
    stock = np.linspace(35.0, 75.0, cells.size)  # no sample in column 0, which the shift drops
    region = write_dsm_region(tmp_path / "r", cells, stock)
    run = load_run_config(region.config)
    own = run_pipeline(run, output_dir=tmp_path / "own", keep_work=True)
    assert own.manifest["dsm"]["reused"] is False

    with rasterio.open(region.root / "landuse.tif") as src:
        land, profile = src.read(1), src.profile
    shifted = np.full_like(land, 11)  # the column beyond the covariates: water
    shifted[:, :-1] = land[:, 1:]
    profile["transform"] = profile["transform"] * Affine.translation(1, 0)
    with rasterio.open(region.root / "landuse_east.tif", "w", **profile) as dst:
        dst.write(shifted, 1)
    text = region.config.read_text().replace('"landuse.tif"', '"landuse_east.tif"')
    config = region.root / "template.toml"
    config.write_text(text.replace("[inputs]", '[grid]\ntemplate = "land_use"\n\n[inputs]'))
    east_run = run_pipeline(load_run_config(config), output_dir=tmp_path / "east", keep_work=True)

    def baseline(out: Path) -> np.ndarray:
        return zarr.open_group(str(out / WORK / "baseline.zarr"), mode="r")["soc_mean_t_ha"][:]

    east, west = baseline(tmp_path / "east"), baseline(tmp_path / "own")
    assert east_run.manifest["grid"]["transform"][2] == 201_000.0
    np.testing.assert_array_equal(east[:, :-1], west[:, 1:])
    assert np.isnan(east[:, -1]).all()  # no covariate there
