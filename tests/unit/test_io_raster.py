"""Reading and writing rasters: GeoTIFF/COG, NetCDF, Zarr; nodata, scale, CRS, time axes."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from affine import Affine
from pyproj import CRS

from geotiffs import write_tif
from socseq.exceptions import (
    ConfigError,
    InputFormatError,
    InputValidationError,
    MissingCRSError,
    RasterFileNotFoundError,
    SocseqError,
)
from socseq.io.grid import GridSpec
from socseq.io.raster import (
    open_monthly,
    open_raster,
    write_geotiff,
    write_netcdf,
    write_zarr,
)

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

# A 1 km grid in TWD97 / TM2 (EPSG:3826); write_tif defaults to a 30″ grid over Taiwan.
TM2 = Affine(1000.0, 0, 200_000.0, 0, -1000.0, 2_650_000.0)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert isinstance(exc.value, SocseqError)
    return message


def _lonlat_netcdf(path, *, times, lat_ascending=True):
    """A TerraClimate-like file: int16 packed with scale_factor 0.1, lat/lon named, no CRS."""
    lat = 22.0 + (np.arange(4) + 0.5) / 24
    lat = lat if lat_ascending else lat[::-1]
    lon = 120.0 + (np.arange(5) + 0.5) / 24
    raw = np.arange(len(times) * 20, dtype=np.int16).reshape(len(times), 4, 5) * 10
    values = raw * 0.1
    values[0, 0, 0] = np.nan
    ds = xr.Dataset(
        {"tmax": (("time", "lat", "lon"), values, {"units": "degC"})},
        coords={
            "time": times,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
    )
    encoding = {"tmax": {"dtype": "int16", "scale_factor": 0.1, "_FillValue": -32768}}
    ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)
    return raw


# --- GeoTIFF ---------------------------------------------------------------------------------


def test_geotiff_reads_as_float64_yx_with_nan_for_nodata(tmp_path):
    data = np.arange(12, dtype="int16").reshape(3, 4)
    data[0, 0] = -9999
    path = write_tif(tmp_path / "soc.tif", data, nodata=-9999)
    da = open_raster(path, name="soc")
    assert da.dims == ("y", "x")
    assert da.dtype == np.float64
    assert np.isnan(da.values[0, 0])
    assert da.values[2, 3] == 11
    assert da.rio.crs.to_epsg() == 4326
    assert da.attrs["source"] == str(path)
    assert da.name == "soc"
    assert da["y"].values[0] > da["y"].values[-1]
    np.testing.assert_allclose(da["x"].values[0], 120.0 + 1 / 240)


def test_projected_geotiff_keeps_its_crs(tmp_path):
    path = write_tif(
        tmp_path / "clay.tif", np.ones((2, 3), "float32"), crs="EPSG:3826", transform=TM2
    )
    da = open_raster(path, name="clay")
    assert da.rio.crs.to_epsg() == 3826
    np.testing.assert_allclose(da["x"].values, [200_500.0, 201_500.0, 202_500.0])


def test_geotiff_scale_is_applied_exactly_once(tmp_path):
    path = write_tif(tmp_path / "t.tif", np.full((2, 2), 250, "int16"), scale=0.1, nodata=-1)
    da = open_raster(path, name="tas")
    np.testing.assert_allclose(da.values, 25.0)
    assert "scale_factor" not in da.attrs


def test_categorical_geotiff_keeps_integer_codes_and_nodata(tmp_path):
    classes = np.array([[10, 20], [30, 255]], dtype="uint8")
    path = write_tif(tmp_path / "lu.tif", classes, nodata=255)
    da = open_raster(path, name="landuse", categorical=True)
    assert da.dtype == np.uint8
    assert da.rio.nodata == 255
    np.testing.assert_array_equal(da.values, classes)


def test_multiband_geotiff_band_selection_and_errors(tmp_path):
    data = np.stack([np.full((2, 2), v, "float32") for v in (1, 2, 3)])
    path = write_tif(tmp_path / "gsoc.tif", data, desc=("soc_mean", "soc_sd", "other"))
    da = open_raster(path, name="soc")
    assert da.dims == ("band", "y", "x")
    assert float(open_raster(path, name="soc", band=2).mean()) == 2.0
    assert float(open_raster(path, name="soc", variable="soc_sd").mean()) == 2.0
    with pytest.raises(InputValidationError) as exc:
        open_raster(path, name="soc", band=5)
    message = _one_line(exc)
    assert "band 5" in message and "3 band" in message and "gsoc.tif" in message
    with pytest.raises(InputValidationError) as exc:
        open_raster(path, name="soc", variable="mean")
    assert "soc_mean, soc_sd, other" in _one_line(exc)


def test_geotiff_without_crs_is_refused(tmp_path):
    path = write_tif(tmp_path / "nocrs.tif", np.ones((2, 2), "float32"), crs=None, transform=TM2)
    with pytest.raises(MissingCRSError) as exc:
        open_raster(path, name="clay")
    message = _one_line(exc)
    assert "'clay'" in message and "nocrs.tif" in message and "gdal_edit.py" in message


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(RasterFileNotFoundError) as exc:
        open_raster(tmp_path / "absent.tif", name="soc")
    assert isinstance(exc.value, FileNotFoundError)
    assert "absent.tif" in _one_line(exc)
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    with pytest.raises(InputFormatError) as exc:
        open_raster(bad, name="soc")
    assert "'soc'" in _one_line(exc)
    bad_nc = tmp_path / "bad.nc"
    bad_nc.write_text("not netcdf")
    with pytest.raises(InputFormatError) as exc:
        open_raster(bad_nc, name="pr")
    assert "bad.nc" in _one_line(exc)


# --- NetCDF ----------------------------------------------------------------------------------


def test_netcdf_scale_factor_fill_value_and_lat_lon(tmp_path):
    times = pd.date_range("2001-01-15", periods=3, freq="MS") + pd.Timedelta(days=14)
    raw = _lonlat_netcdf(tmp_path / "tc.nc", times=times)
    stored = xr.open_dataset(tmp_path / "tc.nc", engine="h5netcdf", mask_and_scale=False)
    assert stored["tmax"].dtype == np.int16 and stored["tmax"].attrs["scale_factor"] == 0.1
    da = open_raster(tmp_path / "tc.nc", name="tmax")
    assert da.dims == ("time", "y", "x")
    assert da.rio.crs.to_epsg() == 4326
    assert da.dtype == np.float64
    # Flipped to north-up: the file's first (southern) row is now the last one.
    assert da["y"].values[0] > da["y"].values[-1]
    assert np.isnan(da.values[0, -1, 0])
    np.testing.assert_allclose(da.values[1, -1, :], raw[1, 0, :] * 0.1)
    assert "scale_factor" not in da.attrs
    assert da.attrs["units"] == "degC"


def test_netcdf_variable_choice(tmp_path):
    grid = GridSpec.from_bounds("EPSG:4326", 0.5, (120, 22, 121, 23))
    ds = xr.Dataset({"pre": grid.template().fillna(1.0), "tmp": grid.template().fillna(2.0)})
    write_netcdf(ds, tmp_path / "cru.nc")
    assert float(open_raster(tmp_path / "cru.nc", name="t", variable="tmp").mean()) == 2.0
    with pytest.raises(InputValidationError) as exc:
        open_raster(tmp_path / "cru.nc", name="pet", variable="pet")
    message = _one_line(exc)
    assert "'pet'" in message and "pre" in message and "tmp" in message
    with pytest.raises(InputValidationError) as exc:
        open_raster(tmp_path / "cru.nc", name="clim")
    assert "set variable" in _one_line(exc)


def test_netcdf_projected_without_crs_is_refused(tmp_path):
    ds = xr.Dataset(
        {"clay": (("y", "x"), np.ones((2, 2)))},
        coords={"y": [2_600_500.0, 2_599_500.0], "x": [250_500.0, 251_500.0]},
    )
    ds.to_netcdf(tmp_path / "clay.nc", engine="h5netcdf")
    with pytest.raises(MissingCRSError) as exc:
        open_raster(tmp_path / "clay.nc", name="clay")
    assert "clay.nc" in _one_line(exc)


def test_netcdf_crs_from_crs_wkt_and_0_360_longitudes(tmp_path):
    ds = xr.Dataset(
        {
            "v": (("y", "x"), np.ones((2, 2))),
            "crs": ((), 0, {"crs_wkt": CRS.from_epsg(3826).to_wkt()}),
        },
        coords={"y": [2_600_500.0, 2_599_500.0], "x": [250_500.0, 251_500.0]},
    )
    ds.to_netcdf(tmp_path / "p.nc", engine="h5netcdf")
    assert open_raster(tmp_path / "p.nc", name="v", variable="v").rio.crs.to_epsg() == 3826

    lon = np.array([178.5, 179.5, 180.5, 181.5])
    ds = xr.Dataset(
        {"v": (("lat", "lon"), np.tile(lon, (2, 1)))}, coords={"lat": [1, 0], "lon": lon}
    )
    ds.to_netcdf(tmp_path / "wrap.nc", engine="h5netcdf")
    da = open_raster(tmp_path / "wrap.nc", name="v")
    np.testing.assert_allclose(da["x"].values, [-179.5, -178.5, 178.5, 179.5])
    np.testing.assert_allclose(da.values[0], [180.5, 181.5, 178.5, 179.5])


# --- Zarr and writers -------------------------------------------------------------------------


def test_zarr_round_trip_keeps_crs_units_and_chunks(tmp_path):
    grid = GridSpec.from_bounds("EPSG:3826", 1000, (200_000, 2_600_000, 204_000, 2_603_000))
    da = grid.template().fillna(5.0).rename("soc")
    da.values[0, 0] = np.nan
    da.attrs["units"] = "t/ha"
    write_zarr(da.chunk({"y": 2, "x": 2}), tmp_path / "soc.zarr")
    back = open_raster(tmp_path / "soc.zarr", name="soc", chunks={})
    assert back.chunks is not None
    assert back.rio.crs.to_epsg() == 3826
    assert back.attrs["units"] == "t/ha"
    xr.testing.assert_allclose(back.reset_coords(drop=True), da.reset_coords(drop=True))


def test_write_geotiff_cog_nodata_tags_and_round_trip(tmp_path):
    grid = GridSpec.from_bounds("EPSG:4326", 1 / 120, (120, 23, 120.05, 23.025))
    da = grid.template().fillna(1.5)
    da.values[1, 2] = np.nan
    da.attrs["units"] = "t/ha"
    path = write_geotiff(da, tmp_path / "T0.tif", tags={"socseq_version": "0.1"})
    with rasterio.open(path) as src:
        assert src.nodata == -999.0
        assert src.read(1)[1, 2] == -999.0
        assert src.tags()["socseq_version"] == "0.1"
        assert src.tags()["units"] == "t/ha"
        assert src.profile["compress"] == "deflate"
        assert src.crs.to_epsg() == 4326
    back = open_raster(path, name="T0")
    np.testing.assert_array_equal(np.isnan(back.values), np.isnan(da.values))
    np.testing.assert_allclose(back["x"].values, da["x"].values)
    plain = write_geotiff(da, tmp_path / "plain.tif", cog=False, dtype="float32")
    with rasterio.open(plain) as src:
        assert src.profile["tiled"] and src.dtypes[0] == "float32"


def test_writers_refuse_data_without_crs_and_leave_nothing(tmp_path):
    da = xr.DataArray(np.ones((2, 2)), dims=("y", "x"), coords={"y": [1.5, 0.5], "x": [0.5, 1.5]})
    for writer, name in ((write_geotiff, "a.tif"), (write_netcdf, "a.nc"), (write_zarr, "a.zarr")):
        with pytest.raises(MissingCRSError) as exc:
            writer(da, tmp_path / name)
        assert name in _one_line(exc)
    assert list(tmp_path.iterdir()) == []


def test_write_netcdf_is_cf_and_compressed(tmp_path):
    grid = GridSpec.from_bounds("EPSG:4326", 0.25, (120, 22, 121, 23))
    da = grid.template().fillna(3.0).rename("asr")
    da.attrs.update(units="t C/ha/yr", long_name="absolute sequestration rate")
    write_netcdf(da, tmp_path / "asr.nc")
    ds = xr.open_dataset(tmp_path / "asr.nc", engine="h5netcdf", decode_coords="all")
    assert ds["asr"].attrs["units"] == "t C/ha/yr"
    assert ds["asr"].encoding["zlib"] is True
    assert ds["asr"].encoding["grid_mapping"] == "spatial_ref"
    assert ds.attrs["Conventions"].startswith("CF")
    assert open_raster(tmp_path / "asr.nc", name="asr").rio.crs.to_epsg() == 4326


# --- monthly series ---------------------------------------------------------------------------


def test_open_monthly_netcdf_stamps_month_starts(tmp_path):
    times = pd.date_range("2001-01-01", periods=24, freq="MS") + pd.Timedelta(days=14)
    _lonlat_netcdf(tmp_path / "tmax.nc", times=times)
    da = open_monthly(tmp_path / "tmax.nc", name="tmax", full_years=True)
    assert da.dims == ("time", "y", "x")
    assert da["time"].values[0] == np.datetime64("2001-01-01")
    assert da["time"].values[-1] == np.datetime64("2002-12-01")


def test_open_monthly_names_the_first_missing_month(tmp_path):
    times = pd.date_range("2001-01-01", periods=14, freq="MS").delete([3, 4])
    _lonlat_netcdf(tmp_path / "gap.nc", times=times)
    with pytest.raises(InputValidationError) as exc:
        open_monthly(tmp_path / "gap.nc", name="pr")
    message = _one_line(exc)
    assert "2001-04" in message and "2 month(s)" in message and "gap.nc" in message


def test_open_monthly_refuses_daily_data_and_partial_years(tmp_path):
    _lonlat_netcdf(tmp_path / "daily.nc", times=pd.date_range("2001-01-01", periods=3, freq="D"))
    with pytest.raises(InputValidationError) as exc:
        open_monthly(tmp_path / "daily.nc", name="pr")
    assert "2001-01" in _one_line(exc)
    _lonlat_netcdf(tmp_path / "short.nc", times=pd.date_range("2001-01-01", periods=18, freq="MS"))
    with pytest.raises(InputValidationError) as exc:
        open_monthly(tmp_path / "short.nc", name="pr", full_years=True)
    assert "18 months" in _one_line(exc)
    with pytest.raises(ConfigError) as exc:
        open_monthly(tmp_path / "short.nc", name="pr", start="2002-01")
    assert "2001-01" in _one_line(exc)


def test_open_monthly_multiband_geotiff_needs_start_and_whole_years(tmp_path):
    stack = np.arange(24 * 4, dtype="float32").reshape(24, 2, 2)
    path = write_tif(tmp_path / "pr.tif", stack)
    da = open_monthly(path, name="pr", start="2001-01")
    assert da.dims == ("time", "y", "x")
    assert pd.Timestamp(da["time"].values[13]) == pd.Timestamp("2002-02-01")
    np.testing.assert_allclose(da.values, stack)
    with pytest.raises(InputValidationError) as exc:
        open_monthly(path, name="pr")
    assert "start" in _one_line(exc)
    odd = write_tif(tmp_path / "odd.tif", stack[:13])
    with pytest.raises(InputValidationError) as exc:
        open_monthly(odd, name="pr", start="2001-01")
    assert "13 bands" in _one_line(exc)
    with pytest.raises(ConfigError):
        open_monthly(path, name="pr", start="January")
    single = write_tif(tmp_path / "one.tif", stack[0])
    with pytest.raises(InputValidationError):
        open_monthly(single, name="pr", start="2001-01")


def test_categorical_netcdf_applies_unsigned_and_keeps_fill(tmp_path):
    # ESA CCI land cover stores class codes 0–220 as signed bytes with _Unsigned = "true".
    codes = np.array([[0, 10, 200], [220, 30, 190]], dtype="uint8")
    ds = xr.Dataset(
        {"lccs_class": (("lat", "lon"), codes)},
        coords={"lat": [1.0, 0.0], "lon": [0.0, 1.0, 2.0]},
    )
    encoding = {"lccs_class": {"dtype": "int8", "_Unsigned": "true", "_FillValue": 0}}
    ds.to_netcdf(tmp_path / "lc.nc", engine="h5netcdf", encoding=encoding)
    da = open_raster(tmp_path / "lc.nc", name="landuse", categorical=True)
    assert da.dtype == np.uint8
    np.testing.assert_array_equal(da.values, codes)
    assert da.rio.nodata == 0
    as_float = open_raster(tmp_path / "lc.nc", name="landuse")
    assert np.isnan(as_float.values[0, 0]) and as_float.values[1, 0] == 220


def test_netcdf3_and_gzipped_netcdf3_are_read(tmp_path):
    # CRU TS files come as NetCDF-3, often gzipped; h5netcdf cannot read them, scipy can.
    ds = xr.Dataset(
        {"pre": (("lat", "lon"), np.full((2, 3), 80.0))},
        coords={"lat": [1.0, 0.0], "lon": [0.0, 1.0, 2.0]},
    )
    ds.to_netcdf(tmp_path / "cru.nc", engine="scipy")
    assert float(open_raster(tmp_path / "cru.nc", name="pre").mean()) == 80.0
    with open(tmp_path / "cru.nc", "rb") as raw, gzip.open(tmp_path / "cru.nc.gz", "wb") as gz:
        shutil.copyfileobj(raw, gz)
    assert open_raster(tmp_path / "cru.nc.gz", name="pre").rio.crs.to_epsg() == 4326
