"""Configurations whose products must not change when the pipeline's data flow changes.

Each case writes its inputs into a folder and returns the run configuration. The products of
a run are reduced to named arrays by :func:`dump`. ``tests/data/equality/<case>.npz`` holds
those arrays as the pipeline computed them *before* a data-flow rewrite (the commit is in
``tests/data/equality/README.md``); ``test_equality_fixtures.py`` runs the current pipeline
on the same inputs and compares every cell of every product.

Regenerate (only when a change of results is intended and explained):
``python tests/pipeline/equality_cases.py --out tests/data/equality``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from affine import Affine

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the tests folder: `pipeline.conftest`

from pipeline.conftest import _da, climate, write_region  # noqa: E402
from socseq.io.grid import GridSpec  # noqa: E402
from socseq.io.raster import write_geotiff, write_netcdf  # noqa: E402

#: Every case, by name: ``build(root) -> configuration path``.
CASES: dict[str, Callable[[Path], Path]] = {}

MONTE_CARLO = """
[uncertainty]
mode = "montecarlo"
members = 6
seed = 11
[uncertainty.soc]
source = "relative"
relative = 0.15
[uncertainty.clay]
relative_sd = 0.1
[uncertainty.climate]
temperature_sd_degC = 0.8
precipitation_relative_sd = 0.1
shared_over_space = false
[uncertainty.inputs]
relative_sd = 0.1
increase_relative_sd = 0.3
"""


def case(name: str) -> Callable[[Callable[[Path], Path]], Callable[[Path], Path]]:
    def register(fn: Callable[[Path], Path]) -> Callable[[Path], Path]:
        CASES[name] = fn
        return fn

    return register


@case("demo")
def demo(root: Path) -> Path:
    """The embedded demo region (DSM baseline, NDVI cover, paddy excluded)."""
    from socseq.demo.region import build_region

    return build_region(root)


@case("offgrid_climate")
def offgrid_climate(root: Path, **size: int) -> Path:
    """A 0.05° (about 5 km) series in EPSG:4326 on a 1 km projected template."""
    from pyproj import Transformer

    region = write_region(root, **size)
    left, bottom, right, top = region.grid.bounds
    to_lonlat = Transformer.from_crs(region.grid.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform([left, right, left, right], [bottom, bottom, top, top])
    west, north = np.floor(min(lon) / 0.05) * 0.05 - 0.05, np.ceil(max(lat) / 0.05) * 0.05 + 0.05
    nx = int(np.ceil((max(lon) + 0.05 - west) / 0.05))
    ny = int(np.ceil((north - min(lat) + 0.05) / 0.05))
    grid = GridSpec("EPSG:4326", Affine(0.05, 0, west, 0, -0.05, north), nx, ny)
    rng = np.random.default_rng(5)
    clim = climate(grid, 1981, 40, rng)
    # Sea in the north-east corner: coastal cells are filled from the nearest climate cell.
    for values in clim.values():
        values[:, :3, -3:] = np.nan
    time = pd.date_range("1981-01-01", periods=480, freq="MS")
    for name, units in (("tas", "degC"), ("pr", "mm"), ("pet", "mm")):
        da = _da(grid, clim[name], name).assign_coords(time=time)
        da.attrs["units"] = units
        write_netcdf(da.to_dataset(), region.root / f"{name}.nc")
    text = region.config.read_text().replace(
        '[climate]\nevaporation_kind = "pet"',
        '[climate]\nevaporation_kind = "pet"\nfill_distance_m = 6000',
    )
    region.config.write_text(text)
    return region.config


@case("geotiff_series")
def geotiff_series(root: Path, **size: int) -> Path:
    """The climate as 480-band GeoTIFFs with a declared first month."""
    region = write_region(root, **size)
    text = region.config.read_text()
    for name in ("tas", "pr", "pet"):
        with xr.open_dataset(region.root / f"{name}.nc") as ds:
            values = ds[name].values
        da = _da(region.grid, values.astype(np.float32), name).rename(time="band")
        write_geotiff(da, region.root / f"{name}.tif", dtype="float32")
        text = text.replace(
            f'path = "{name}.nc", variable = "{name}"', f'path = "{name}.tif", start = "1981-01"'
        )
    region.config.write_text(text)
    return region.config


@case("ndvi_cover")
def ndvi_cover(root: Path, **size: int) -> Path:
    """Monthly cover factors from a 2015–2020 NDVI series (GSOCseq rule)."""
    region = write_region(root, **size)
    ny, nx = region.grid.shape
    months = pd.date_range("2015-01-01", periods=72, freq="MS")
    rng = np.random.default_rng(3)
    ndvi = np.clip(
        0.45
        + 0.3 * np.sin(2 * np.pi * (months.month.values - 4) / 12)[:, None, None]
        + 0.15 * rng.standard_normal((72, ny, nx)),
        -0.1,
        0.95,
    )
    da = _da(region.grid, ndvi, "ndvi").assign_coords(time=months)
    write_netcdf(da.to_dataset(), region.root / "ndvi.nc")
    region.config.write_text(
        region.config.read_text() + '[cover]\nsource = "ndvi"\nndvi_threshold = 0.5\n'
        'layer = { path = "ndvi.nc", variable = "ndvi", units = "1" }\n'
    )
    return region.config


@case("yearly_land_use")
def yearly_land_use(root: Path, **size: int) -> Path:
    """One land-use map per warm-up year: cropland turns to grassland from 2011 on."""
    region = write_region(root, **size)
    with rasterio.open(region.root / "landuse.tif") as src:
        land = src.read(1)
    yearly = np.repeat(land[None], 20, axis=0)
    yearly[10:, land == 2] = 3
    yearly[15:, land == 3] = 2
    write_geotiff(
        _da(region.grid, yearly, "land_use").rename(time="band"),
        region.root / "landuse_yearly.tif",
        nodata=0,
        dtype="uint8",
    )
    region.config.write_text(
        region.config.read_text()
        + '[land_use]\nyearly = { path = "landuse_yearly.tif" }\nyearly_first_year = 2001\n'
    )
    return region.config


@case("paddy_simulated")
def paddy_simulated(root: Path, **size: int) -> Path:
    """Paddy cells simulated with the GSOCseq rate factor 0.4."""
    return write_region(root, extra='[land_use]\npaddy = "simulate"\n', **size).config


@case("future_series")
def future_series(root: Path, **size: int) -> Path:
    """A 20-year future climate series, warmer and drier than the warm-up years."""
    region = write_region(root, **size)
    block = "[climate.forward]\n"
    for key, name, units in (
        ("temperature", "tas", "degC"),
        ("precipitation", "pr", "mm"),
        ("evaporation", "pet", "mm"),
    ):
        with xr.open_dataset(region.root / f"{name}.nc", decode_coords="all") as ds:
            ds = ds.load()
        warm = ds.isel(time=slice(240, 480))
        trend = np.repeat(np.linspace(0, 1, 20), 12)[:, None, None]
        values = warm[name].values
        values = {"tas": values + 1.5 * trend, "pr": values * (1 - 0.1 * trend)}.get(name, values)
        future = warm.copy()
        future[name] = (warm[name].dims, values)
        future = future.assign_coords(time=pd.date_range("2021-01-01", periods=240, freq="MS"))
        write_netcdf(future, region.root / f"{name}_future.nc")
        block += (
            f'{key} = {{ path = "{name}_future.nc", variable = "{name}", units = "{units}" }}\n'
        )
    region.config.write_text(region.config.read_text() + block)
    return region.config


def cover_raster(root: Path, **size: int) -> Path:
    """A 12-band monthly cover-factor raster instead of the class defaults."""
    built = write_region(root, **size)
    ny, nx = built.grid.shape
    rng = np.random.default_rng(4)
    cover = np.clip(0.6 + 0.4 * rng.random((12, ny, nx)), 0.6, 1.0)
    write_geotiff(_da(built.grid, cover, "cover"), built.root / "cover.tif")
    built.config.write_text(
        built.config.read_text() + '[cover]\nsource = "raster"\nlayer = { path = "cover.tif" }\n'
    )
    return built.config


def spinup_climatology(root: Path, **size: int) -> Path:
    """12 monthly means for the spin-up in their own files (``[climate.spinup]``)."""
    built = write_region(root, **size)
    block = "[climate.spinup]\n"
    for key, name, units in (
        ("temperature", "tas", "degC"),
        ("precipitation", "pr", "mm"),
        ("evaporation", "pet", "mm"),
    ):
        with xr.open_dataset(built.root / f"{name}.nc", decode_coords="all") as ds:
            ds = ds.load()
        clim = ds.isel(time=slice(0, 240)).groupby("time.month").mean().rename(month="time")
        clim = clim.assign_coords(time=pd.date_range("1990-01-01", periods=12, freq="MS"))
        write_netcdf(clim, built.root / f"{name}_clim.nc")
        layer = f'path = "{name}_clim.nc", variable = "{name}", units = "{units}"'
        block += f"{key} = {{ {layer} }}\n"
    built.config.write_text(built.config.read_text() + block)
    return built.config


#: Builders of run options (the fixture cases that are options, and two more), by name.
OPTIONS: dict[str, Callable[..., Path]] = {
    "yearly_land_use": yearly_land_use,
    "cover_raster": cover_raster,
    "ndvi_cover": ndvi_cover,
    "paddy_simulated": paddy_simulated,
    "future_series": future_series,
    "spinup_climatology": spinup_climatology,
    "offgrid_climate": offgrid_climate,
    "geotiff_series": geotiff_series,
}


@case("montecarlo")
def montecarlo(root: Path) -> Path:
    """A seeded Monte Carlo ensemble of six members with every kind of perturbation."""
    return write_region(root, extra=MONTE_CARLO).config


@case("gsocseq_minmax")
def gsocseq_minmax(root: Path) -> Path:
    """The GSOCseq minimum / maximum runs."""
    return write_region(root, extra='[uncertainty]\nmode = "gsocseq"\n').config


@case("taiwan_chiayi")
def taiwan_chiayi(root: Path) -> Path:
    """The Taiwan example's main configuration on the Chiayi window (needs ../shared/data)."""
    import importlib.util

    example = HERE.parents[1] / "examples" / "taiwan"
    sys.path.insert(0, str(example))
    spec = importlib.util.spec_from_file_location("taiwan_prepare", example / "prepare.py")
    assert spec is not None and spec.loader is not None
    prepare = importlib.util.module_from_spec(spec)
    sys.modules["taiwan_prepare"] = prepare
    spec.loader.exec_module(prepare)
    from conftest import shared_path  # tests/conftest.py: skip or fail without ../shared

    built = prepare.prepare(root, prepare.CHIAYI_WINDOW, data=shared_path("data"))
    return Path(built["configs"]["main"])


#: Summary and table columns that are run metadata, not results.
_SKIP_COLUMNS = {"seconds"}


def dump(out: Path) -> dict[str, np.ndarray]:
    """Every product of a finished run as named arrays (GeoTIFF bands, NetCDF variables, CSVs)."""
    arrays: dict[str, np.ndarray] = {}
    for path in sorted(out.rglob("*.tif")):
        rel = path.relative_to(out).as_posix()
        if rel.startswith(("dsm/", "region/", "figures/")):
            continue
        with rasterio.open(path) as src:
            values = src.read()
            if src.nodata is not None and values.dtype.kind == "f":
                values = np.where(values == src.nodata, np.nan, values)
        arrays[rel] = values
    for path in sorted(out.rglob("*.nc")):
        rel = path.relative_to(out).as_posix()
        if rel.startswith(("dsm/", "region/")):
            continue
        # Flags (integers) as stored; measurements with their fill values as NaN.
        with (
            xr.open_dataset(path, mask_and_scale=True) as ds,
            xr.open_dataset(path, mask_and_scale=False) as raw,
        ):
            for name, var in ds.data_vars.items():
                stored = raw[name]
                arrays[f"{rel}:{name}"] = (
                    stored.values if stored.dtype.kind in "iub" else var.values
                )
    for path in sorted(out.rglob("*.csv")):
        rel = path.relative_to(out).as_posix()
        if rel.startswith(("dsm/", "region/")):
            continue
        table = pd.read_csv(path)
        for column in table.columns:
            if column in _SKIP_COLUMNS:
                continue
            values = table[column].to_numpy()
            arrays[f"{rel}:{column}"] = (
                values if values.dtype.kind in "fiub" else values.astype(str)
            )
    return arrays


def run_case(name: str, root: Path) -> dict[str, np.ndarray]:
    """Build the inputs of case ``name`` under ``root``, run it and dump its products."""
    from socseq.pipeline.config import load_run_config
    from socseq.pipeline.run import run_pipeline

    config = load_run_config(CASES[name](root / "inputs"))
    config = config.model_copy(
        update={"outputs": config.outputs.model_copy(update={"report": False})}
    )
    out = root / "out"
    run_pipeline(config, output_dir=out)
    return dump(out)


def main() -> None:
    import subprocess
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("cases", nargs="*", default=list(CASES))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.cases:
        with tempfile.TemporaryDirectory() as tmp:
            arrays = run_case(name, Path(tmp))
        np.savez_compressed(args.out / f"{name}.npz", **arrays)
        print(f"{name}: {len(arrays)} arrays")
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE, check=False
    ).stdout.strip()
    (args.out / "made_by.json").write_text(json.dumps({"commit": commit}, indent=1) + "\n")


if __name__ == "__main__":
    main()
