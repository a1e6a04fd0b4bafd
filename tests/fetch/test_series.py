"""Per-month file patterns read as one monthly series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine

from socseq.exceptions import ConfigError, GridMismatchError
from socseq.io.grid import GridSpec
from socseq.io.raster import RasterFileNotFoundError, open_monthly, write_geotiff
from socseq.io.series import expand_pattern, open_monthly_pattern


def _write(path: Path, values: np.ndarray, transform: Affine | None = None) -> None:
    ny, nx = values.shape
    grid = GridSpec("EPSG:4326", transform or Affine(0.5, 0, 20.0, 0, -0.5, 42.0), nx, ny)
    y, x = grid.coords()
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x}, attrs={"units": "mm"})
    write_geotiff(da.rio.write_crs(grid.crs).rio.write_transform(grid.transform), path)


def test_twelve_normals_match_a_stacked_file(tmp_path: Path) -> None:
    values = np.arange(12 * 3 * 4, dtype=float).reshape(12, 3, 4)
    values[5, 1, 2] = np.nan
    for m in range(12):
        _write(tmp_path / f"wc2.1_30s_prec_{m + 1:02d}.tif", values[m])
    series = open_monthly_pattern(tmp_path / "wc2.1_30s_prec_{month:02d}.tif", name="prec")
    assert series.dims == ("time", "y", "x")
    assert series.attrs["units"] == "mm" and series.attrs["climatology"] == 1
    assert list(series["time"].dt.month.values) == list(range(1, 13))
    np.testing.assert_array_equal(series.values, values)
    # The same months as one 12-band GeoTIFF read by open_monthly: identical values and grid.
    stacked = series.rename(time="band").assign_coords(band=np.arange(1, 13))
    write_geotiff(stacked, tmp_path / "stack.tif")
    reference = open_monthly(tmp_path / "stack.tif", name="prec", start="2000-01")
    np.testing.assert_array_equal(reference.values, series.values)
    np.testing.assert_array_equal(reference["time"].values, series["time"].values)
    assert series.rio.transform() == reference.rio.transform()


def test_year_and_month_pattern_and_start(tmp_path: Path) -> None:
    for year in (2001, 2002):
        for m in range(1, 13):
            _write(tmp_path / f"tas_{year}_{m:02d}.tif", np.full((2, 2), year + m / 100))
    series = open_monthly_pattern(
        tmp_path / "tas_{year}_{month:02d}.tif", name="tas", years=(2001, 2002)
    )
    assert series.sizes["time"] == 24
    assert pd.Timestamp(series["time"].values[13]) == pd.Timestamp("2002-02-01")
    assert float(series[13, 0, 0]) == pytest.approx(2002.02)
    files = expand_pattern("p_{month}.tif", name="p", start="1991-07")
    assert [f.path.name for f in files][:2] == ["p_7.tif", "p_8.tif"]
    assert files[-1].time == pd.Timestamp("1992-06-01")


def test_errors_name_the_layer_and_the_fix(tmp_path: Path) -> None:
    for m in range(1, 12):  # December missing
        _write(tmp_path / f"p_{m:02d}.tif", np.ones((2, 2)))
    with pytest.raises(RasterFileNotFoundError, match=r"1 of the 12 files .*p_12\.tif"):
        open_monthly_pattern(tmp_path / "p_{month:02d}.tif", name="prec")
    _write(tmp_path / "p_12.tif", np.ones((3, 2)))
    with pytest.raises(GridMismatchError, match=r"p_12\.tif.*share one grid"):
        open_monthly_pattern(tmp_path / "p_{month:02d}.tif", name="prec")
    with pytest.raises(ConfigError, match=r"must contain \{month\}"):
        open_monthly_pattern(tmp_path / "p_{day}.tif", name="prec")
    with pytest.raises(ConfigError, match="give years"):
        open_monthly_pattern(tmp_path / "p_{year}_{month}.tif", name="prec")


@pytest.mark.shared
def test_north_macedonia_chelsa_precipitation(shared) -> None:
    folder = shared.path("data", "mkd-gsp-covariates-1km", "all_covs")
    series = open_monthly_pattern(folder / "P{month:02d}CHE3.tif", name="precipitation")
    assert series.shape[0] == 12
    annual = float(series.sum("time").mean())
    # PROVENANCE.md: the 12 months sum to PRSCHE3, about 662 mm.
    assert 550 < annual < 800


def test_lazy_pattern_reads_only_the_window_of_the_months_asked(
    tmp_path: Path, monkeypatch
) -> None:
    """A window task reads its block of the months it needs, not whole files."""
    import rioxarray._io

    values = np.arange(12 * 40 * 50, dtype=float).reshape(12, 40, 50)
    for m in range(12):
        _write(tmp_path / f"p_{m + 1:02d}.tif", values[m])
    reads: list[tuple] = []
    original = rioxarray._io.RasterioArrayWrapper._getitem

    def spy(self, key):  # noqa: ANN001, ANN202
        reads.append(key)
        return original(self, key)

    monkeypatch.setattr(rioxarray._io.RasterioArrayWrapper, "_getitem", spy)
    series = open_monthly_pattern(tmp_path / "p_{month:02d}.tif", name="prec", lazy=True)
    assert reads == []  # opening reads no value
    block = series.isel(time=slice(2, 5)).isel(y=slice(10, 20), x=slice(30, 45)).values
    np.testing.assert_array_equal(block, values[2:5, 10:20, 30:45])
    assert len(reads) == 3  # one read per month asked, each of the window only
    assert all(k[1:] == (slice(10, 20, 1), slice(30, 45, 1)) for k in reads)
