"""Configuration options of the pipeline, each run end to end on the small synthetic region."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
import zarr

from socseq.exceptions import ConfigError
from socseq.io.raster import write_geotiff, write_netcdf
from socseq.pipeline.config import load_run_config
from socseq.pipeline.inputs import read_window
from socseq.pipeline.landuse import esa_cci_to_fao, read_class_table
from socseq.pipeline.plan import plan_inputs, resolve_grid, windows
from socseq.pipeline.run import WORK, run_pipeline

from .conftest import _da, write_region


def _run(config_path, out):
    result = run_pipeline(load_run_config(config_path), output_dir=out, keep_work=True)
    stocks = np.asarray(zarr.open_group(str(out / WORK / "results.zarr"), mode="r")["soc"][:])
    return result, stocks


def _summary(out) -> pd.DataFrame:
    return pd.read_csv(out / "summary.csv").query("zone == 'all'").set_index("scenario")


def test_builtin_class_table_and_esa_mapping():
    table = read_class_table("fao")
    assert table.dpm_rpm[2] == 1.44 and table.dpm_rpm[3] == 0.67 and table.dpm_rpm[4] == 0.25
    assert table.paddy[13] and not table.paddy[2]
    assert list(esa_cci_to_fao(np.array([10, 11, 20, 12, 130, 60, 210, 190, 999 - 800]))) == [
        2,
        2,
        13,
        12,
        3,
        4,
        11,
        1,
        0,
    ]


def test_esa_cci_land_use_gives_the_same_run_as_fao_codes(tmp_path):
    region = write_region(tmp_path / "fao", ny=8, nx=10)
    _, fao = _run(region.config, tmp_path / "out-fao")
    esa_region = write_region(
        tmp_path / "esa", ny=8, nx=10, extra='[land_use]\nsource_classes = "esa_cci"\n'
    )
    to_esa = {2: 10, 3: 130, 5: 120, 12: 12, 13: 20, 4: 60, 1: 190, 11: 210}
    with rasterio.open(esa_region.root / "landuse.tif") as src:
        codes = src.read(1)
    esa = np.vectorize(lambda c: to_esa.get(int(c), 0))(codes).astype(np.uint8)
    write_geotiff(
        _da(esa_region.grid, esa, "land_use"),
        esa_region.root / "landuse.tif",
        nodata=0,
        dtype="uint8",
    )
    _, mapped = _run(esa_region.config, tmp_path / "out-esa")
    np.testing.assert_array_equal(mapped, fao)


def test_manure_and_cover_crop_scenarios(tmp_path):
    extra = """
[[scenarios]]
name = "BAU"
[[scenarios]]
name = "Manure"
fym_t_ha = 1.0
[[scenarios]]
name = "Bare"
cover_factor = 1.0
"""
    region = write_region(tmp_path / "r", ny=8, nx=10, extra=extra)
    _run(region.config, tmp_path / "out")
    summary = _summary(tmp_path / "out")
    assert summary.loc["Manure", "mean_rsr_t_ha_yr"] > 0.02
    # Bare soil all year decomposes faster than the class default cover (0.6).
    assert summary.loc["Bare", "mean_rsr_t_ha_yr"] < 0
    names = {p.name for p in (tmp_path / "out" / "maps").iterdir()}
    assert "XTS_GSOCseq_RSR_Manure_Map030.tif" in names


def test_ndvi_cover_and_cover_raster(tmp_path):
    region = write_region(tmp_path / "r", ny=8, nx=10)
    ny, nx = region.grid.shape
    months = pd.date_range("2015-01-01", periods=72, freq="MS")
    # Green (NDVI 0.8) from May to October, brown otherwise: GSOCseq cover factor 0.6 / 1.0.
    green = np.isin(months.month, range(5, 11))
    ndvi = np.where(green[:, None, None], 0.8, 0.2) * np.ones((72, ny, nx))
    da = _da(region.grid, ndvi, "ndvi").assign_coords(time=months)
    write_netcdf(da.to_dataset(), region.root / "ndvi.nc")
    text = region.config.read_text()
    region.config.write_text(
        text + '[cover]\nsource = "ndvi"\n'
        'layer = { path = "ndvi.nc", variable = "ndvi", units = "1" }\n'
    )
    _run(region.config, tmp_path / "out-ndvi")
    config = load_run_config(region.config)
    plan = plan_inputs(config, resolve_grid(config))
    data = read_window(plan, windows(plan.grid, 64)[0])
    months = np.arange(1, 13)
    expected = np.where((months >= 5) & (months <= 10), 0.6, 1.0)
    assert data.cover.shape == (int(data.candidate.sum()), 12)
    np.testing.assert_allclose(data.cover, np.broadcast_to(expected, data.cover.shape))

    raster = np.where(green[:12, None, None], 0.6, 1.0) * np.ones((12, ny, nx))
    write_geotiff(_da(region.grid, raster, "cover"), region.root / "cover.tif")
    region.config.write_text(text + '[cover]\nsource = "raster"\nlayer = { path = "cover.tif" }\n')
    _run(region.config, tmp_path / "out-raster")
    a = xr.open_dataset(tmp_path / "out-ndvi" / "soc_stocks.nc")["soc_t_ha"].values
    b = xr.open_dataset(tmp_path / "out-raster" / "soc_stocks.nc")["soc_t_ha"].values
    np.testing.assert_array_equal(a, b)


def test_spinup_climatology_future_series_and_area_fraction(tmp_path):
    region = write_region(tmp_path / "r", ny=8, nx=10)
    _, base = _run(region.config, tmp_path / "out-base")
    root = region.root
    for name in ("tas", "pr", "pet"):
        with xr.open_dataset(root / f"{name}.nc", decode_coords="all") as ds:
            ds = ds.load()
        first20 = ds.isel(time=slice(0, 240))
        # The spin-up climatology of the series, as 12 monthly means in their own file.
        clim = first20.groupby("time.month").mean().rename(month="time")
        clim = clim.assign_coords(time=pd.date_range("1990-01-01", periods=12, freq="MS"))
        write_netcdf(clim, root / f"{name}_clim.nc")
        # A future series equal to the mean of the warm-up years, every year.
        warm = ds.isel(time=slice(240, 480)).groupby("time.month").mean()
        future = (
            xr.concat([warm] * 20, dim="month")
            .rename(month="time")
            .assign_coords(time=pd.date_range("2021-01-01", periods=240, freq="MS"))
        )
        write_netcdf(future, root / f"{name}_future.nc")
    share = np.full(region.grid.shape, 0.5)
    write_geotiff(_da(region.grid, share, "share"), root / "share.tif")
    text = region.config.read_text()
    text = text.replace(
        "zones = {", 'area_fraction = { path = "share.tif", units = "1" }\nzones = {'
    )

    def block(section: str, suffix: str) -> str:
        return f"[climate.{section}]\n" + "".join(
            f'{key} = {{ path = "{v}{suffix}.nc", variable = "{v}", units = "{u}" }}\n'
            for key, v, u in (
                ("temperature", "tas", "degC"),
                ("precipitation", "pr", "mm"),
                ("evaporation", "pet", "mm"),
            )
        )

    # A future series equal to the default forward climate: the same stocks (float32 file).
    region.config.write_text(text + block("forward", "_future"))
    _, future = _run(region.config, tmp_path / "out-future")
    ok = np.isfinite(base)
    np.testing.assert_allclose(future[ok], base[ok], rtol=1e-6)
    a = _summary(tmp_path / "out-base")
    b = _summary(tmp_path / "out-future")
    assert b.loc["BAU", "simulated_area_ha"] == pytest.approx(a.loc["BAU", "simulated_area_ha"] / 2)
    assert b.loc["SSM1", "total_asr_t_yr"] == pytest.approx(
        a.loc["SSM1", "total_asr_t_yr"] / 2, rel=1e-4
    )

    # 12 monthly means for the spin-up: the same equilibrium, so the same fitted input. (The
    # warm-up differs: with a climatology, NPP_spin is the NPP of the mean climate, not the
    # mean NPP of the years.)
    region.config.write_text(text + block("spinup", "_clim"))
    _run(region.config, tmp_path / "out-clim")
    ceq = {
        name: np.asarray(
            zarr.open_group(str(tmp_path / name / WORK / "results.zarr"), mode="r")["ceq"][:]
        )
        for name in ("out-base", "out-clim")
    }
    ok = np.isfinite(ceq["out-base"])
    assert ok.sum() > 20
    np.testing.assert_allclose(ceq["out-clim"][ok], ceq["out-base"][ok], rtol=1e-6)


def test_yearly_land_use_changes_the_warmup_inputs(tmp_path):
    region = write_region(tmp_path / "r", ny=8, nx=10)
    with rasterio.open(region.root / "landuse.tif") as src:
        land = src.read(1)
    yearly = np.repeat(land[None], 20, axis=0)
    cropland = land == 2
    yearly[10:, cropland] = 3  # cropland becomes grassland from 2011 on
    write_geotiff(
        _da(region.grid, yearly, "land_use").rename(time="band"),
        region.root / "landuse_yearly.tif",
        nodata=0,
        dtype="uint8",
    )
    text = region.config.read_text()
    region.config.write_text(
        text + '[land_use]\nyearly = { path = "landuse_yearly.tif" }\nyearly_first_year = 2001\n'
    )
    _, changed = _run(region.config, tmp_path / "out")
    _, base = _run(write_region(tmp_path / "b", ny=8, nx=10).config, tmp_path / "out-b")
    rows, cols = np.nonzero(cropland)
    # Grass: more NPP reaches the soil (0.72 vs 0.53) and less decomposable input.
    assert np.all(changed[0, 0, rows, cols] > base[0, 0, rows, cols])
    untouched = ~cropland & np.isfinite(base[0, 0])
    np.testing.assert_array_equal(changed[:, :, untouched], base[:, :, untouched])


def test_config_errors_name_the_key(tmp_path):
    region = write_region(tmp_path / "r", ny=8, nx=10)
    text = region.config.read_text()
    for extra, needle in (
        ('[[scenarios]]\nname = "SSM1"\n', "baseline"),
        ("[periods]\nwarmup = [2020, 2001]\n", "ends before it starts"),
        ('[cover]\nsource = "ndvi"\n', "need layer"),
    ):
        region.config.write_text(text + extra)
        with pytest.raises(ConfigError, match=needle):
            load_run_config(region.config)
