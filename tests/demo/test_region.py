"""The embedded demo region: determinism, files, units, climate, samples, config, DSM answer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr

from socseq.demo import region
from socseq.demo.region import FILES, STAMP, build_region
from socseq.dsm.api import run_cv
from socseq.dsm.validation import model_efficiency
from socseq.io.grid import GridSpec, align_to_template
from socseq.io.raster import open_monthly, open_raster
from socseq.io.units import check_and_convert
from socseq.pipeline.config import load_run_config

TIFS = [name for name in FILES if name.endswith(".tif")]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_region(tmp_path_factory.mktemp("demo")).parent


def _read(path: Path) -> tuple[np.ndarray, rasterio.profiles.Profile]:
    with rasterio.open(path) as src:
        return src.read(1), src.profile


def test_build_writes_every_file_and_returns_the_config(built: Path) -> None:
    for name in FILES:
        assert (built / name).is_file(), name
    stamp = json.loads((built / STAMP).read_text())
    assert stamp["seed"] == str(region.DEFAULT_SEED)
    assert stamp["region_version"] == region.REGION_VERSION


def test_same_seed_gives_identical_region(built: Path, tmp_path: Path) -> None:
    again = build_region(tmp_path / "again").parent
    for name in TIFS:
        a, pa = _read(built / name)
        b, pb = _read(again / name)
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert pa["transform"] == pb["transform"]
    for name in ("samples.csv", "zones.csv", "demo.toml"):
        assert (built / name).read_text() == (again / name).read_text(), name
    for name in ("climate_1981_2020.nc", "ndvi_2019_2020.nc"):
        with xr.open_dataset(built / name) as a, xr.open_dataset(again / name) as b:
            xr.testing.assert_identical(a.load(), b.load())


def test_another_seed_gives_another_region(built: Path, tmp_path: Path) -> None:
    other = build_region(tmp_path / "other", seed=7).parent
    # Real geography is the same, synthetic fields differ.
    np.testing.assert_array_equal(
        _read(built / "land_mask.tif")[0], _read(other / "land_mask.tif")[0]
    )
    assert not np.array_equal(_read(built / "clay_pct.tif")[0], _read(other / "clay_pct.tif")[0])
    assert (built / "samples.csv").read_text() != (other / "samples.csv").read_text()


def test_rebuild_is_skipped_by_the_stamp_and_forced_on_request(tmp_path: Path) -> None:
    config = build_region(tmp_path)
    before = {name: (tmp_path / name).stat().st_mtime_ns for name in FILES}
    assert build_region(tmp_path) == config
    assert {name: (tmp_path / name).stat().st_mtime_ns for name in FILES} == before
    # A missing file or another seed triggers a rebuild; no temporary files are left behind.
    (tmp_path / "clay_pct.tif").unlink()
    build_region(tmp_path)
    assert (tmp_path / "clay_pct.tif").is_file()
    build_region(tmp_path, seed=3)
    assert json.loads((tmp_path / STAMP).read_text())["seed"] == "3"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.name != STAMP]


def test_rasters_are_on_the_1km_twd97_grid_with_units(built: Path) -> None:
    land, profile = _read(built / "land_mask.tif")
    assert 30_000 <= int((land == 1).sum()) <= 40_000
    for name in TIFS:
        with rasterio.open(built / name) as src:
            assert src.crs.to_epsg() == 3826, name
            assert src.res == (1000.0, 1000.0), name
            assert (src.width, src.height) == (210, 380), name
            assert src.transform == profile["transform"], name
            assert src.tags().get("units"), name
    fao, p = _read(built / "landuse_fao.tif")
    assert p["dtype"] == "uint8" and p["nodata"] == 255
    codes = set(np.unique(fao[land == 1]).tolist())
    assert codes <= set(range(1, 14)) and {2, 4, 12, 13} <= codes
    assert (fao[land == 0] == 255).all()
    # Physical layers pass the unit checks of the pipeline's reader.
    for name, variable, units in (
        ("clay_pct.tif", "clay_pct", "%"),
        ("truth_soc_t_ha.tif", "soc_t_ha", "t/ha"),
    ):
        da = open_raster(built / name, name=name)
        check_and_convert(da, variable=variable, units=units, name=name)
    clay = open_raster(built / "clay_pct.tif", name="clay").values
    assert 8 <= np.nanmin(clay) and np.nanmax(clay) <= 55 and 25 < np.nanmean(clay) < 35
    elev = open_raster(built / "elevation.tif", name="elevation").values
    assert 3000 < np.nanmax(elev) < 4200 and np.nanmin(elev) >= 0
    # Lowlands in the west: the western third of the land is mostly below 500 m.
    west = elev[:, :70]
    assert np.nanmedian(west) < 500
    truth = open_raster(built / "truth_soc_t_ha.tif", name="truth").values
    ag = np.isin(fao, region.AGRICULTURAL_CLASSES)
    assert 35 < np.nanmean(truth[ag]) < 60
    zones = pd.read_csv(built / "zones.csv")
    assert list(zones.columns) == ["code", "name"]
    z, _ = _read(built / "zones.tif")
    assert set(np.unique(z[land == 1])) == set(zones["code"])


def test_climate_has_monsoon_season_interannual_variation_and_warming(built: Path) -> None:
    path = built / "climate_1981_2020.nc"
    series = {
        v: open_monthly(path, name=v, variable=v, full_years=True) for v in ("tas", "pr", "pet")
    }
    tas, pr, pet = series["tas"], series["pr"], series["pet"]
    assert tas.sizes["time"] == 480
    assert str(tas.time.values[0])[:10] == "1981-01-01"
    assert str(tas.time.values[-1])[:7] == "2020-12"
    with xr.open_dataset(path) as ds:
        assert ds.tas.attrs["units"] == "degC" and ds.pr.attrs["units"] == "mm"
        assert ds.pet.attrs["units"] == "mm"
    for variable, units in (("tas_degC", "degC"), ("pr_mm", "mm"), ("pet_mm", "mm")):
        check_and_convert(
            series[variable.split("_")[0]], variable=variable, units=units, name=variable
        )
    # A western lowland cell (Changhua-like).
    cell = {"x": 200_000, "y": 2_650_000}
    t = tas.sel(cell, method="nearest").groupby("time.month").mean().values
    assert 14 < t[0] < 18 and 27 < t[6] < 31
    p_cell = pr.sel(cell, method="nearest")
    monthly = p_cell.groupby("time.month").mean().values
    assert monthly[4:9].sum() / monthly.sum() > 0.7  # May–September wet season
    assert monthly[[10, 11, 0]].max() < 80  # dry winter in the south-west
    annual = p_cell.groupby("time.year").sum().values
    assert 1800 < annual.mean() < 3200
    assert annual.std() / annual.mean() > 0.1  # year-to-year variation
    assert not np.allclose(annual[:-1], annual[1:])
    years = tas.groupby("time.year").mean().mean(("y", "x")).values
    slope = np.polyfit(np.arange(years.size), years, 1)[0]
    assert 0.005 < slope < 0.04  # slight warming, °C per year
    pet_annual = pet.sel(cell, method="nearest").groupby("time.year").sum().values
    assert 900 < pet_annual.mean() < 1500
    # Mountains are colder (lapse rate) and wetter than the lowlands.
    mountain = {"x": 247_000, "y": 2_600_000}
    assert tas.sel(mountain, method="nearest").mean() < t.mean() - 8
    assert pr.sel(mountain, method="nearest").mean() > p_cell.mean()


def test_climate_aligns_to_the_1km_template(built: Path) -> None:
    grid = GridSpec.from_raster(open_raster(built / "clay_pct.tif", name="clay"))
    tas = open_monthly(built / "climate_1981_2020.nc", name="tas", variable="tas")
    aligned = align_to_template(tas.isel(time=slice(0, 12)), grid, kind="continuous", name="tas")
    assert aligned.shape == (12, 380, 210)
    land = open_raster(built / "land_mask.tif", name="land").values == 1
    assert np.isfinite(aligned.values[:, land]).mean() > 0.99


def test_ndvi_series(built: Path) -> None:
    ndvi = open_monthly(built / "ndvi_2019_2020.nc", name="ndvi", variable="ndvi")
    assert ndvi.sizes["time"] == 24 and str(ndvi.time.values[0])[:7] == "2019-01"
    check_and_convert(ndvi, variable="ndvi", units="1", name="ndvi")
    fao, _ = _read(built / "landuse_fao.tif")
    share = (ndvi.values > 0.6).mean(axis=0)
    # Forest stays green; paddy is above the threshold in some months only.
    assert share[fao == 4].mean() > 0.9
    assert 0.2 < share[fao == 13].mean() < 0.7


def test_samples_lie_on_simulated_agricultural_land(built: Path) -> None:
    samples = pd.read_csv(built / "samples.csv")
    assert 400 <= len(samples) <= 800 and samples["sample_id"].is_unique
    with rasterio.open(built / "landuse_fao.tif") as src:
        rows, cols = rasterio.transform.rowcol(src.transform, samples["x_m"], samples["y_m"])
        fao = src.read(1)[rows, cols]
    land, _ = _read(built / "land_mask.tif")
    assert (land[rows, cols] == 1).all()
    assert np.isin(fao, region.AGRICULTURAL_CLASSES).all()
    assert (fao == samples["fao_class"].to_numpy()).all()
    assert 30 < samples["soc_t_ha"].median() < 60
    # Observations are the truth plus noise of the documented size.
    truth, _ = _read(built / "truth_soc_t_ha.tif")
    noise = samples["soc_t_ha"].to_numpy() - truth[rows, cols]
    assert abs(noise.mean()) < 0.6
    assert 0.8 * region.SOC_NOISE_SD_T_HA < noise.std() < 1.2 * region.SOC_NOISE_SD_T_HA


def test_truth_map_follows_the_documented_equation(built: Path) -> None:
    layers = {
        n: open_raster(built / f"{n}.tif", name=n).values
        for n in ("elevation", "clay_pct", "ndvi_mean", "tas_mean_degC", "truth_soc_t_ha")
    }
    fao, _ = _read(built / "landuse_fao.tif")
    land = fao != 255
    expected = region.true_soc(
        layers["elevation"], layers["clay_pct"], layers["ndvi_mean"], layers["tas_mean_degC"], fao
    )
    got = layers["truth_soc_t_ha"]
    ok = land & np.isfinite(expected)
    np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-5, atol=1e-3)


def test_config_validates_and_points_at_the_region(built: Path) -> None:
    config = load_run_config(built / "demo.toml")
    assert config.run.iso == "XTW"
    assert config.periods.spinup == (1981, 2000) and config.periods.warmup == (2001, 2020)
    assert config.periods.forward == (2021, 2040)
    assert [s.name for s in config.scenarios] == ["BAU", "SSM1", "SSM2", "SSM3"]
    assert config.inputs.soc is None and config.dsm is not None
    paths = [
        config.inputs.clay.path,
        config.inputs.land_use.path,
        config.inputs.zones.path,
        config.inputs.zone_names,
        config.climate.series.temperature.path,
        config.cover.layer.path,
        config.dsm.samples.path,
        config.dsm.grid.template,
        config.dsm.grid.mask,
        *(c.path for c in config.dsm.covariates),
    ]
    for path in paths:
        assert path.is_absolute() and path.is_file(), path
    assert config.dsm.samples.crs == region.CRS


def test_dsm_recovers_the_generating_relationship(built: Path) -> None:
    dsm = load_run_config(built / "demo.toml").dsm
    dsm = dsm.model_copy(
        update={
            "model": dsm.model.model_copy(update={"n_estimators": 150, "n_jobs": 2}),
            "cv": dsm.cv.model_copy(update={"methods": ("spatial",), "importance": False}),
        }
    )
    # Held-out spatial blocks: predictions against the noisy observations ...
    result = run_cv(dsm, write=False)
    cv = result.cv["spatial"]
    assert cv.metrics["MEC"] >= 0.5, cv.metrics
    # ... and against the noise-free truth at the held-out samples.
    predictions = cv.predictions
    samples = pd.read_csv(built / "samples.csv").set_index("sample_id")
    with rasterio.open(built / "truth_soc_t_ha.tif") as src:
        rows, cols = rasterio.transform.rowcol(
            src.transform,
            samples.loc[predictions["sample_id"], "x_m"],
            samples.loc[predictions["sample_id"], "y_m"],
        )
        truth = src.read(1)[rows, cols]
    assert model_efficiency(truth, predictions["mean_t_ha"].to_numpy()) >= 0.5


def test_pipeline_validates_the_demo(built: Path) -> None:
    from socseq.pipeline.run import validate_config

    report = validate_config(load_run_config(built / "demo.toml"))
    ag, _ = _read(built / "ag_mask.tif")
    assert report["cells"] == 210 * 380
    assert report["candidate_cells"] == int((ag == 1).sum())
