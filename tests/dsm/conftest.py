"""A small synthetic region: covariate GeoTIFFs, soil samples with a known stock function."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from affine import Affine

from socseq.exceptions import SocseqError
from socseq.io.grid import GridSpec

CRS_UTM = "EPSG:32634"  # UTM 34N, metres
CELL_M = 1000.0
SHAPE = (30, 40)  # rows, cols
ORIGIN = (500_000.0, 4_600_000.0)  # top-left corner


def one_line(exc: pytest.ExceptionInfo) -> str:
    """The message of a socseq error, checked to be a single line."""
    message = str(exc.value)
    assert isinstance(exc.value, SocseqError)
    assert "\n" not in message
    return message


@dataclass
class Region:
    """Paths and truth of the synthetic region."""

    root: Path
    grid: GridSpec
    covariates: dict[str, Path]
    samples_csv: Path
    samples: pd.DataFrame

    def stock(self, elevation: np.ndarray, rain: np.ndarray, landcover: np.ndarray) -> np.ndarray:
        return truth(elevation, rain, landcover)


def truth(elevation: np.ndarray, rain: np.ndarray, landcover: np.ndarray) -> np.ndarray:
    """The SOC stock (t C/ha) the synthetic samples follow, before noise."""
    return 20 + 0.04 * elevation + 0.03 * rain + np.where(landcover == 2, 15.0, 0.0)


def _write(values: np.ndarray, grid: GridSpec, path: Path, nodata: float | None = None) -> Path:
    y, x = grid.coords()
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x})
    da = da.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    if nodata is not None:
        da = da.rio.write_nodata(nodata)
    da.rio.to_raster(path)
    return path


def make_region(root: Path, n_samples: int = 300, seed: int = 0) -> Region:
    """Write covariates and a samples CSV (SOC %, BD, CF over 0–30 cm) under ``root``."""
    rng = np.random.default_rng(seed)
    grid = GridSpec(
        CRS_UTM, Affine(CELL_M, 0, ORIGIN[0], 0, -CELL_M, ORIGIN[1]), SHAPE[1], SHAPE[0]
    )
    rows, cols = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    elevation = 200.0 + 30.0 * cols + 10.0 * np.sin(rows / 3.0)
    rain = 500.0 + 15.0 * rows + 5.0 * np.cos(cols / 4.0)
    landcover = np.where(cols < SHAPE[1] // 2, 1, 2).astype("uint8")
    landcover[:3, :3] = 3
    root.mkdir(parents=True, exist_ok=True)
    covariates = {
        "elevation": _write(elevation, grid, root / "elevation.tif"),
        "rain": _write(rain, grid, root / "rain.tif"),
        "landcover": _write(landcover, grid, root / "landcover.tif", nodata=255),
    }
    r = rng.integers(0, SHAPE[0], n_samples)
    c = rng.integers(0, SHAPE[1], n_samples)
    x = ORIGIN[0] + (c + rng.uniform(0.1, 0.9, n_samples)) * CELL_M
    y = ORIGIN[1] - (r + rng.uniform(0.1, 0.9, n_samples)) * CELL_M
    stock = truth(elevation[r, c], rain[r, c], landcover[r, c]) + rng.normal(0, 3, n_samples)
    bd = rng.uniform(1.1, 1.5, n_samples)
    cf = rng.uniform(0, 0.2, n_samples)
    soc_pct = stock / (bd * 30 * (1 - cf))  # stock = SOC% · BD · 30 cm · (1 − CF)
    samples = pd.DataFrame(
        {
            "site": [f"S{i:03d}" for i in range(n_samples)],
            "east": x,
            "north": y,
            "SOC": soc_pct,
            "BD": bd,
            "CF": cf * 100,
            "stock": stock,
        }
    )
    path = root / "samples.csv"
    samples.to_csv(path, index=False)
    return Region(root, grid, covariates, path, samples)


CONFIG_TEMPLATE = """
[dsm.samples]
path = "samples.csv"
x = "east"
y = "north"
crs = "{crs}"
id = "site"
interval_cm = [0, 30]
soc = {{ column = "SOC", units = "%" }}
bulk_density = {{ column = "BD", units = "g/cm3" }}
coarse_fragments = {{ column = "CF", units = "%" }}

[[dsm.covariates]]
name = "elevation"
path = "elevation.tif"

[[dsm.covariates]]
name = "rain"
path = "rain.tif"

[[dsm.covariates]]
name = "landcover"
path = "landcover.tif"
categorical = true

[dsm.model]
method = "qrf"
n_estimators = 40
min_samples_leaf = 5
kriging = {kriging}
seed = 7
n_jobs = 1

[dsm.cv]
methods = ["spatial", "kfold"]
n_splits = 3
block_size_m = 8000

[dsm.output]
dir = "out"
"""


def write_config(region: Region, *, kriging: bool = False) -> Path:
    path = region.root / "dsm.toml"
    path.write_text(CONFIG_TEMPLATE.format(crs=CRS_UTM, kriging=str(kriging).lower()))
    return path


@pytest.fixture(scope="session")
def region(tmp_path_factory: pytest.TempPathFactory) -> Region:
    return make_region(tmp_path_factory.mktemp("region"))
