"""A small synthetic region written as real GeoTIFF/NetCDF files, and its run configuration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine

from socseq.io.grid import GridSpec
from socseq.io.raster import write_geotiff, write_netcdf

CRS = "EPSG:3826"


@dataclass
class Region:
    """Files of the synthetic region."""

    root: Path
    grid: GridSpec
    config: Path


def _da(grid: GridSpec, values: np.ndarray, name: str) -> xr.DataArray:
    y, x = grid.coords()
    dims = ("y", "x") if values.ndim == 2 else ("time", "y", "x")
    da = xr.DataArray(values, dims=dims, coords={"y": y, "x": x}, name=name)
    return da.rio.write_crs(grid.crs).rio.write_transform(grid.transform)


def climate(
    grid: GridSpec, first_year: int, n_years: int, rng: np.random.Generator, *, steady: bool = False
) -> dict[str, np.ndarray]:
    """Monthly tas (°C), pr (mm) and pet (mm), ``(months, y, x)``; ``steady``: same every year."""
    ny, nx = grid.shape
    months = np.arange(12 * n_years)
    season = np.cos(2 * np.pi * ((months % 12) - 6.5) / 12)
    gradient = np.linspace(0, -4, ny)[:, None] + np.zeros((ny, nx))
    year_noise = np.zeros(n_years) if steady else rng.normal(0, 0.6, n_years)
    tas = 22 + 5 * season[:, None, None] + gradient[None] + np.repeat(year_noise, 12)[:, None, None]
    wet = np.clip(np.sin(np.pi * ((months % 12) - 3.5) / 7), 0, None)
    rain_year = np.ones(n_years) if steady else rng.gamma(20, 1 / 20, n_years)
    pr = (
        (30 + 350 * wet)[:, None, None]
        * np.repeat(rain_year, 12)[:, None, None]
        * (1 + 0.3 * np.linspace(0, 1, nx))[None, None, :]
    )
    pet = np.clip(40 + 6 * tas, 10, None)
    return {"tas": tas, "pr": pr + 0 * tas, "pet": pet}


def write_region(
    root: Path, *, ny: int = 24, nx: int = 30, steady: bool = False, seed: int = 1, extra: str = ""
) -> Region:
    """Write soc, clay, land use and 1981–2020 monthly climate; return the config path."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    grid = GridSpec(CRS, Affine(1000.0, 0, 200_000.0, 0, -1000.0, 2_600_000.0), nx, ny)
    soc = 30 + 30 * rng.random((ny, nx))
    soc[0, :3] = np.nan  # no SOC baseline
    soc[1, 0] = 250.0  # above the 200 t/ha mask
    clay = 10 + 40 * rng.random((ny, nx))
    land = rng.choice(np.array([2, 2, 2, 3, 5, 12, 13, 4, 1], np.uint8), size=(ny, nx))
    land[-1, :] = 11  # water row
    write_geotiff(_da(grid, soc, "soc"), root / "soc.tif")
    write_geotiff(_da(grid, clay, "clay"), root / "clay.tif")
    write_geotiff(_da(grid, land, "land_use"), root / "landuse.tif", nodata=0, dtype="uint8")
    zones = np.where(np.arange(nx)[None, :] < nx // 2, 1, 2) + 0 * land
    write_geotiff(
        _da(grid, zones.astype(np.int16), "zones"), root / "zones.tif", nodata=-1, dtype="int16"
    )
    pd.DataFrame({"code": [1, 2], "name": ["West", "East"]}).to_csv(root / "zones.csv", index=False)
    clim = climate(grid, 1981, 40, rng, steady=steady)
    time = pd.date_range("1981-01-01", periods=480, freq="MS")
    for name, units in (("tas", "degC"), ("pr", "mm"), ("pet", "mm")):
        da = _da(grid, clim[name], name).assign_coords(time=time)
        da.attrs["units"] = units
        write_netcdf(da.to_dataset(), root / f"{name}.nc")
    config = root / "run.toml"
    config.write_text(f"""
[run]
name = "synthetic test region"
iso = "XTS"
output_dir = "out"
chunk_size = 8

[inputs]
soc = {{ path = "soc.tif", units = "t/ha" }}
clay = {{ path = "clay.tif", units = "%" }}
land_use = {{ path = "landuse.tif" }}
zones = {{ path = "zones.tif" }}
zone_names = "zones.csv"

[climate]
evaporation_kind = "pet"
[climate.series]
temperature = {{ path = "tas.nc", variable = "tas", units = "degC" }}
precipitation = {{ path = "pr.nc", variable = "pr", units = "mm" }}
evaporation = {{ path = "pet.nc", variable = "pet", units = "mm" }}
{extra}
""")
    return Region(root=root, grid=grid, config=config)


#: A ``[dsm]`` section that maps the baseline of :func:`write_dsm_region` in a second or two.
DSM_TOML = """
[dsm.samples]
path = "samples.csv"
x = "x"
y = "y"
crs = "EPSG:3826"
interval_cm = [0, 30]
stock = {{ column = "stock", units = "{units}" }}
check_units = false

[[dsm.covariates]]
name = "clay"
path = "clay.tif"

[dsm.model]
n_estimators = 10
n_jobs = 1
seed = 1

[dsm.cv]
methods = ["kfold"]
n_splits = 2
importance = false

[dsm.aoa]
enabled = false

[dsm.output]
plots = false
"""


def write_dsm_region(
    root: Path, cells: np.ndarray, stock: np.ndarray, *, units: str = "t/ha", extra: str = ""
) -> Region:
    """An 8 × 10 region whose baseline is mapped by ``[dsm]`` from ``samples.csv``.

    One sample per cell in ``cells`` (flat indices), at the cell's centre, with the stocks
    ``stock``; ``extra`` is appended to the configuration.
    """
    region = write_region(root, ny=8, nx=10)
    rows, cols = cells // 10, cells % 10
    pd.DataFrame(
        {
            "x": 200_000.0 + (cols + 0.5) * 1000.0,
            "y": 2_600_000.0 - (rows + 0.5) * 1000.0,
            "stock": stock,
        }
    ).to_csv(root / "samples.csv", index=False)
    text = region.config.read_text()
    soc = 'soc = { path = "soc.tif", units = "t/ha" }\n'
    assert soc in text
    region.config.write_text(text.replace(soc, "") + DSM_TOML.format(units=units) + extra)
    return region


@pytest.fixture
def region(tmp_path: Path) -> Region:
    return write_region(tmp_path / "region")
