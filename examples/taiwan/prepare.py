"""Build the inputs of the Taiwan case (cultivated land, 1 km, EPSG:3826) from the shared data.

Everything is derived, at run time, from the third-party data sets beside the repository
(``../shared/data``; they are never copied into it):

- ``taiwan-env-1km/main_island_epsg3826``: the 1 km TWD97 grid, terrain and the 2010s land-use
  area fractions (FF farm field, FW farm wetland = paddy, MD meadow, FO forest, BU bush,
  WL wetland, UB urban, WB water, BL bare land; m² per 1 km² cell);
- ``taiwan-cwb-chiayi-monthly``: Chiayi station (CWA 467480) monthly mean temperature, rain and
  Class-A pan evaporation 2010–2014;
- ``taiwan-tari-soc-points``: the TARI agricultural SOC points (x, y, soc).

Outputs, written to a work folder outside git (default ``examples/taiwan/work``):

- ``landuse_fao.tif`` (FAO/GSOCseq class codes), ``farm_share.tif`` (area fraction),
  ``cultivated_mask.tif`` (the cells mapped by the DSM), ``clay_pct_{15,25,35}.tif``,
  ``cover_calendar.tif`` (12-band cover factor for the cover variant);
- ``tas_lapse{rate}.nc``, ``pr.nc``, ``evap.nc``: CF NetCDF monthly series 1981–2020;
- ``samples_tari_agri.csv`` and ``samples_tari_agri_horizons.csv``: the agricultural points
  with the SOC readings the configurations use;
- ``taiwan.toml`` (main run) and one ``taiwan_<variant>.toml`` per sensitivity variant;
- ``assumptions.json``: every assumption, its value and why (also rendered in docs/taiwan.md).

Usage::

    python examples/taiwan/prepare.py [--work DIR] [--subset xmin,ymin,xmax,ymax]

``--subset`` (TWD97 metres, snapped outwards to the grid) cuts every raster to a window, e.g.
the 40 × 40 km lowland window around Chiayi used by the test (:data:`CHIAYI_WINDOW`).
"""

# Long module: an example script that builds every input of the Taiwan case, read top to bottom
# like the case study it documents.

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from rasterio.windows import Window

from socseq.io import (
    write_csv_atomic,
    write_geotiff,
    write_json_atomic,
    write_netcdf,
    write_text_atomic,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_WORK = HERE / "work"

ENV_DIR = ("taiwan-env-1km", "main_island_epsg3826")
OUTLYING_DIR = ("taiwan-env-1km", "outlying_islands_epsg3825")
STATION_CSV = ("taiwan-cwb-chiayi-monthly", "chiayi_467480_monthly_2010_2014.csv")
POINTS_CSV = ("taiwan-tari-soc-points", "tari_soc_points.csv")

#: 40 × 40 km lowland window around the Chiayi station (TWD97 x 192,080, y 2,599,314).
CHIAYI_WINDOW = (172_000.0, 2_579_000.0, 212_000.0, 2_619_000.0)

#: The grid's CRS (TWD97 / TM2 zone 121; the shared GeoTIFFs carry an equal unnamed WKT).
CRS = "EPSG:3826"
#: zlib level of the monthly series: level 1 writes the five 480-month files about three times
#: faster than the default 4, and every run reads them back the same way.
SERIES_DEFLATE = 1

#: Land-use fraction layers of the 2010s and the FAO (GSOCseq) class each maps to when it is
#: the dominant non-farm class of a cell. WL (wetland) → 6 "herbaceous vegetation, flooded".
OTHER_CLASSES = {"FO": 4, "UB": 1, "WB": 11, "MD": 3, "BU": 5, "BL": 9, "WL": 6}
FAO_CROPLAND, FAO_PADDY, FAO_NODATA = 2, 13, 0

#: Months of the two rice crops (1-based), for the cover-calendar variant.
RICE_MONTHS = (3, 4, 5, 6, 8, 9, 10, 11)


def env_file(name: str, data: Path = SHARED_DATA) -> Path:
    """Path of a main-island layer, e.g. ``env_file("DTM_ELE")``."""
    return data.joinpath(*ENV_DIR, f"G1km_TWD97-121_{name}.tif")


#: DSM covariates: (name, layer) read straight from the shared folder at run time.
COVARIATES = (
    ("elevation_m", "DTM_ELE"),
    ("elevation_range_m", "DTM_ELERA"),
    ("slope_deg", "DTM_Slope"),
    ("solar_radiation", "DTM_ASR"),
    ("dist_sea_m", "Other_DSW"),
    ("dist_freshwater_m", "Other_DFW"),
    ("farm_field_2010s", "Landuse_2010s_FF"),
    ("farm_wetland_2010s", "Landuse_2010s_FW"),
    ("farm_wetland_1990s", "Landuse_1990s_FW"),
    ("meadow_2010s", "Landuse_2010s_MD"),
    ("forest_2010s", "Landuse_2010s_FO"),
    ("urban_2010s", "Landuse_2010s_UB"),
)


@dataclass(frozen=True)
class Settings:
    """The choices behind the inputs; each is recorded with its reason in assumptions.json."""

    farm_threshold: float = 0.25
    meadow_is_farm: bool = False
    lapse_rate_c_per_km: float = 6.0
    lapse_variants_c_per_km: tuple[float, ...] = (5.0, 7.0)
    station_elevation_m: float = 26.9
    series_years: tuple[int, int] = (1981, 2020)
    clay_pct: float = 25.0
    clay_variants_pct: tuple[float, ...] = (15.0, 35.0)
    soc_reading: str = "om_pct"
    subsoil_ratio: float = 0.6
    topsoil_cm: float = 15.0
    bulk_density_ptf: str = "grigal1989"
    dsm_trees: int = 300
    dsm_seed: int = 42


# --------------------------------------------------------------------------------------------
# grid and rasters


@dataclass(frozen=True)
class Grid:
    """The (possibly cut) 1 km grid: window into the shared rasters and its transform."""

    window: Window
    transform: rasterio.Affine
    height: int
    width: int

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre y (decreasing) and x coordinates."""
        t = self.transform
        x = t.c + t.a * (np.arange(self.width) + 0.5)
        y = t.f + t.e * (np.arange(self.height) + 0.5)
        return y, x

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """xmin, ymin, xmax, ymax."""
        t = self.transform
        return (t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f)


def make_grid(subset: Sequence[float] | None = None, data: Path = SHARED_DATA) -> Grid:
    """Return the shared grid, or its window covering ``subset`` (snapped outwards)."""
    with rasterio.open(env_file("DTM_ELE", data)) as src:
        if subset is None:
            window = Window(0, 0, src.width, src.height)
        else:
            xmin, ymin, xmax, ymax = subset
            if not (xmax > xmin and ymax > ymin):
                raise SystemExit(f"--subset {subset}: give xmin,ymin,xmax,ymax with max > min")
            # Plain north-up arithmetic (rasterio's window helpers use the deprecated
            # affine * operator).
            t = src.transform
            col0 = math.floor((xmin - t.c) / t.a + 1e-6)
            col1 = math.ceil((xmax - t.c) / t.a - 1e-6)
            row0 = math.floor((ymax - t.f) / t.e + 1e-6)
            row1 = math.ceil((ymin - t.f) / t.e - 1e-6)
            col0, row0 = max(col0, 0), max(row0, 0)
            col1, row1 = min(col1, src.width), min(row1, src.height)
            if col1 <= col0 or row1 <= row0:
                raise SystemExit(
                    f"--subset {subset}: does not overlap the Taiwan grid {tuple(src.bounds)}"
                )
            window = Window(col0, row0, col1 - col0, row1 - row0)
        t = src.transform
        transform = rasterio.Affine(
            t.a, 0.0, t.c + window.col_off * t.a, 0.0, t.e, t.f + window.row_off * t.e
        )
    return Grid(window, transform, int(window.height), int(window.width))


def read_layer(name: str, grid: Grid, data: Path = SHARED_DATA) -> np.ndarray:
    """Read a shared main-island layer on ``grid``, float64 with NaN for no data."""
    with rasterio.open(env_file(name, data)) as src:
        values = src.read(1, window=grid.window).astype("float64")
        if src.nodata is not None:
            values[values == src.nodata] = np.nan
    return values


def to_dataarray(values: np.ndarray, grid: Grid, name: str, **attrs: Any) -> xr.DataArray:
    """Wrap a ``(y, x)`` or ``(k, y, x)`` array on ``grid`` with coordinates and CRS."""
    y, x = grid.coords()
    dims = ("y", "x") if values.ndim == 2 else ("band", "y", "x")
    coords: dict[str, Any] = {"y": y, "x": x}
    if values.ndim == 3:
        coords["band"] = np.arange(1, values.shape[0] + 1)
    da = xr.DataArray(values, dims=dims, coords=coords, name=name, attrs=attrs)
    return da.rio.write_crs(CRS).rio.write_transform(grid.transform)


# --------------------------------------------------------------------------------------------
# land use


def land_use(grid: Grid, settings: Settings, data: Path = SHARED_DATA) -> dict[str, np.ndarray]:
    """FAO classes, area fraction and cultivated-land mask from the 2010s area fractions.

    A land cell (valid elevation) is cultivated when its farm share (FF + FW [+ MD]) / 1e6
    reaches ``settings.farm_threshold``; it is paddy (13) where FW is more than half of the
    farm share, else cropland (2). Other cells take their dominant non-farm class.
    """
    land = np.isfinite(read_layer("DTM_ELE", grid, data))
    frac = {
        c: np.nan_to_num(read_layer(f"Landuse_2010s_{c}", grid, data)) / 1e6
        for c in ("FF", "FW", *OTHER_CLASSES)
    }
    farm = frac["FF"] + frac["FW"] + (frac["MD"] if settings.meadow_is_farm else 0.0)
    cultivated = land & (farm >= settings.farm_threshold)
    paddy = frac["FW"] > 0.5 * farm
    others = [c for c in OTHER_CLASSES if not (c == "MD" and settings.meadow_is_farm)]
    stack = np.stack([frac[c] for c in others])
    dominant = np.asarray([OTHER_CLASSES[c] for c in others])[np.argmax(stack, axis=0)]
    classes = np.where(cultivated, np.where(paddy, FAO_PADDY, FAO_CROPLAND), dominant)
    classes = np.where(land, classes, FAO_NODATA).astype("uint8")
    fraction = np.where(cultivated, farm, stack.max(axis=0))
    fraction = np.where(land, np.clip(fraction, 0.0, 1.0), np.nan)
    mask = np.where(land, cultivated.astype("uint8"), 255).astype("uint8")
    return {
        "classes": classes,
        "fraction": fraction,
        "mask": mask,
        "land": land,
        "farm_share": np.where(land, farm, np.nan),
    }


# --------------------------------------------------------------------------------------------
# climate


def station_series(settings: Settings, data: Path = SHARED_DATA) -> pd.DataFrame:
    """Build the monthly series of ``settings.series_years`` by cycling the station years.

    Year Y takes station year 2010 + (Y − 2010) mod 5, so 2010–2014 are the observed years and
    every other year repeats one of them; 20-year periods starting in 1981 or 2001 hold each
    station year exactly four times, so spin-up and warm-up means are the same.
    """
    station = pd.read_csv(data.joinpath(*STATION_CSV))
    years = sorted(station["year"].unique())
    if len(station) != 12 * len(years):
        raise SystemExit(f"{data.joinpath(*STATION_CSV)}: expected whole years of months")
    first, last = settings.series_years
    rows = []
    for year in range(first, last + 1):
        source = years[0] + (year - years[0]) % len(years)
        block = station[station["year"] == source].sort_values("month")
        for _, row in block.iterrows():
            rows.append(
                {
                    "year": year,
                    "month": int(row["month"]),
                    "source_year": int(source),
                    "tas_degC": float(row["tmean_c"]),
                    "pr_mm": float(row["precip_mm"]),
                    "evap_mm": float(row["pan_evap_a_mm"]),
                }
            )
    return pd.DataFrame(rows)


def _series_dataarray(
    values: np.ndarray,
    times: pd.DatetimeIndex,
    grid: Grid,
    name: str,
    units: str,
    long_name: str,
    comment: str,
) -> xr.DataArray:
    y, x = grid.coords()
    da = xr.DataArray(
        values.astype("float32"),
        dims=("time", "y", "x"),
        coords={"time": times, "y": y, "x": x},
        name=name,
        attrs={"units": units, "long_name": long_name, "comment": comment},
    )
    da["y"].attrs.update(units="m", standard_name="projection_y_coordinate")
    da["x"].attrs.update(units="m", standard_name="projection_x_coordinate")
    return da.rio.write_crs(CRS).rio.write_transform(grid.transform)


def write_climate(
    grid: Grid,
    land: np.ndarray,
    elevation: np.ndarray,
    settings: Settings,
    work: Path,
    data: Path = SHARED_DATA,
) -> dict[str, Path]:
    """Write tas (one file per lapse rate), pr and evap as CF NetCDF with a time axis."""
    series = station_series(settings, data)
    times = pd.DatetimeIndex(
        pd.to_datetime({"year": series["year"], "month": series["month"], "day": 1})
    )
    chunks = {"chunksizes": (12, min(grid.height, 128), min(grid.width, 128))}
    out: dict[str, Path] = {}
    nan_outside = np.where(land, 1.0, np.nan)[None]
    for key, column, long_name in (
        ("pr", "pr_mm", "monthly precipitation (Chiayi station 467480, uniform)"),
        ("evap", "evap_mm", "monthly Class-A pan evaporation (Chiayi station 467480, uniform)"),
    ):
        values = series[column].to_numpy()[:, None, None] * nan_outside
        da = _series_dataarray(
            values,
            times,
            grid,
            key,
            "mm",
            long_name,
            "station years 2010-2014 cycled over the series",
        )
        out[key] = write_netcdf(
            da, work / f"{key}.nc", encoding={key: chunks}, complevel=SERIES_DEFLATE
        )
    dz_km = (elevation - settings.station_elevation_m) / 1000.0
    for rate in sorted({settings.lapse_rate_c_per_km, *settings.lapse_variants_c_per_km}):
        values = series["tas_degC"].to_numpy()[:, None, None] - rate * dz_km[None] * nan_outside
        da = _series_dataarray(
            values,
            times,
            grid,
            "tas",
            "degC",
            "monthly mean air temperature (Chiayi station 467480, lapse-rate adjusted)",
            f"station temperature - {rate:g} degC/km x (cell mean elevation - "
            f"{settings.station_elevation_m:g} m)",
        )
        out[f"tas_{rate:g}"] = write_netcdf(
            da, work / f"tas_lapse{rate:g}.nc", encoding={"tas": chunks}, complevel=SERIES_DEFLATE
        )
    return out


def lapse_rate_check(data: Path = SHARED_DATA) -> dict[str, float]:
    """Annual-mean temperature against elevation on the outlying islands (2010s normals)."""
    folder = data.joinpath(*OUTLYING_DIR)

    def read(name: str) -> np.ndarray:
        with rasterio.open(folder / f"G1km_TWD97-119_{name}.tif") as src:
            values = src.read(1).astype("float64")
            values[values == src.nodata] = np.nan
        return values

    elevation = read("DTM_ELE")
    temp = np.mean([read(f"Climate_2010s_Temp{m:02d}") for m in range(1, 13)], axis=0)
    ok = np.isfinite(elevation) & np.isfinite(temp)
    slope, _ = np.polyfit(elevation[ok], temp[ok], 1)
    return {
        "cells": int(ok.sum()),
        "elevation_max_m": float(elevation[ok].max()),
        "fitted_lapse_c_per_km": float(-slope * 1000.0),
    }


# --------------------------------------------------------------------------------------------
# samples


def write_samples(settings: Settings, work: Path, data: Path = SHARED_DATA) -> dict[str, Path]:
    """Write the agricultural TARI points with the SOC readings the configurations use.

    ``soc_as_given`` is the source value read as SOC % (g/100 g); ``soc_pct_from_om`` reads it
    as organic matter % and divides by the van Bemmelen factor 1.724. The horizon table gives
    each point a topsoil (0–``topsoil_cm``) at the OM reading and a subsoil down to 30 cm at
    ``subsoil_ratio`` of it (the depth variant).
    """
    points = pd.read_csv(data.joinpath(*POINTS_CSV))
    agri = points[points["landuse"] == "agriculture"]
    table = pd.DataFrame(
        {
            "id": agri["id"],
            "x_twd97": agri["x_twd97"],
            "y_twd97": agri["y_twd97"],
            "soc_as_given": agri["soc"],
            "soc_pct_from_om": agri["soc"] / 1.724,
        }
    )
    horizons = pd.concat(
        [
            table.assign(top_cm=0.0, bottom_cm=settings.topsoil_cm),
            table.assign(
                top_cm=settings.topsoil_cm,
                bottom_cm=30.0,
                soc_pct_from_om=table["soc_pct_from_om"] * settings.subsoil_ratio,
            ),
        ]
    ).sort_values(["id", "top_cm"])
    paths = {
        "points": work / "samples_tari_agri.csv",
        "horizons": work / "samples_tari_agri_horizons.csv",
    }
    write_csv_atomic(table, paths["points"])
    write_csv_atomic(horizons, paths["horizons"])
    return paths


# --------------------------------------------------------------------------------------------
# configurations


def _rel(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` (the TOML's folder) when possible, with / separators."""
    try:
        return Path(os.path.relpath(path, start)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).as_posix()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _is_inline(value: Any) -> bool:
    """Layer and column specifications (flat tables with a path or column) are inline."""
    return (
        isinstance(value, Mapping)
        and ("path" in value or "column" in value)
        and not any(isinstance(v, Mapping) for v in value.values())
    )


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """Write the configuration dictionaries built here as TOML (a small writer)."""
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, Mapping) and not _is_inline(value):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in tables:
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, list):
            for item in value:
                out += f"\n[[{name}]]\n" + to_toml(item, name)
        else:
            body = to_toml(value, name)
            out += f"\n[{name}]\n" + body
    return out


def base_config(
    work: Path, grid_template: Path, settings: Settings, name: str, data: Path = SHARED_DATA
) -> dict[str, Any]:
    """Return the main run configuration as a dictionary (paths relative to ``work``)."""
    out_dir = work / "runs" / name
    rel = lambda p: _rel(p, work)  # noqa: E731
    return {
        "run": {
            "name": "Taiwan cultivated land (1 km, TWD97)",
            "iso": "TWN",
            "output_dir": rel(out_dir),
            "chunk_size": 256,
        },
        "grid": {"template": "land_use"},
        "periods": {"spinup": [1981, 2000], "warmup": [2001, 2020], "forward_years": 20},
        "inputs": {
            "clay": {"path": f"clay_pct_{settings.clay_pct:g}.tif", "units": "%"},
            "land_use": {"path": "landuse_fao.tif", "resampling": "mode"},
            "area_fraction": {"path": "farm_share.tif", "units": "1"},
        },
        "climate": {
            "evaporation_kind": "pan",
            "fill_distance_m": 0,
            "series": {
                "temperature": {
                    "path": f"tas_lapse{settings.lapse_rate_c_per_km:g}.nc",
                    "variable": "tas",
                    "units": "degC",
                },
                "precipitation": {"path": "pr.nc", "variable": "pr", "units": "mm"},
                "evaporation": {"path": "evap.nc", "variable": "evap", "units": "mm"},
            },
        },
        "land_use": {
            "source_classes": "fao",
            "table": "fao",
            "simulate": [2, 13],
            "cropland": [2, 13],
            "paddy": "simulate",
            "paddy_rate_factor": 0.4,
        },
        "cover": {"source": "class"},
        "model": {"spinup": "exact", "carbon_fraction": 0.48, "depth_cm": 30},
        "masks": {"max_soc_t_ha": 200},
        "scenarios": [
            {"name": "BAU", "input_multiplier": 1.0},
            {"name": "SSM1", "input_multiplier": 1.05},
            {"name": "SSM2", "input_multiplier": 1.10},
            {"name": "SSM3", "input_multiplier": 1.20},
        ],
        "outputs": {"geotiff": True, "netcdf": True, "warmup_stocks": False, "report": True},
        "dsm": {
            "samples": {
                "path": "samples_tari_agri.csv",
                "x": "x_twd97",
                "y": "y_twd97",
                "crs": CRS,
                "id": "id",
                "interval_cm": [0, 30],
                "soc": {
                    "column": (
                        "soc_pct_from_om" if settings.soc_reading == "om_pct" else "soc_as_given"
                    ),
                    "units": "%",
                },
            },
            "stocks": {"depth_cm": [0, 30], "bulk_density_ptf": settings.bulk_density_ptf},
            "covariates": [
                {"name": cname, "path": rel(env_file(layer, data))} for cname, layer in COVARIATES
            ],
            "grid": {"template": rel(grid_template), "mask": "cultivated_mask.tif"},
            "model": {
                "method": "qrf",
                "n_estimators": settings.dsm_trees,
                "min_samples_leaf": 5,
                "seed": settings.dsm_seed,
                "n_jobs": -1,
            },
            "cv": {"methods": ["spatial", "kfold"], "n_splits": 5, "block_size_m": 10000},
            "aoa": {"enabled": True, "folds": "spatial"},
            "output": {"dir": rel(out_dir / "dsm"), "prefix": "TWN_soc_0_30cm"},
        },
    }


def _set(config: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = config
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


@dataclass(frozen=True)
class Variant:
    """A sensitivity run: its name, what it changes and the changed keys."""

    name: str
    label: str
    changes: dict[str, Any]


def variants(settings: Settings) -> list[Variant]:
    """Return the sensitivity variants of the main configuration."""
    out = [
        Variant(
            "paddy_excluded", "paddy cells excluded (socseq default)", {"land_use.paddy": "exclude"}
        )
    ]
    for clay in settings.clay_variants_pct:
        out.append(
            Variant(
                f"clay{clay:g}",
                f"clay {clay:g} % everywhere",
                {"inputs.clay.path": f"clay_pct_{clay:g}.tif"},
            )
        )
    for rate in settings.lapse_variants_c_per_km:
        out.append(
            Variant(
                f"lapse{rate:g}",
                f"lapse rate {rate:g} °C/km",
                {"climate.series.temperature.path": f"tas_lapse{rate:g}.nc"},
            )
        )
    out.append(
        Variant(
            "soc_pct",
            "TARI soc read as SOC % (not organic matter %)",
            {"dsm.samples.soc.column": "soc_as_given"},
        )
    )
    out.append(
        Variant(
            "soc_topsoil",
            f"soc (OM %) of 0–{settings.topsoil_cm:g} cm, "
            f"{settings.topsoil_cm:g}–30 cm at {settings.subsoil_ratio:g}× that",
            {
                "dsm.samples.path": "samples_tari_agri_horizons.csv",
                "dsm.samples.interval_cm": None,
                "dsm.samples.profile": "id",
                "dsm.samples.id": None,
                "dsm.samples.top": {"column": "top_cm", "units": "cm"},
                "dsm.samples.bottom": {"column": "bottom_cm", "units": "cm"},
            },
        )
    )
    out.append(
        Variant(
            "cover_calendar",
            "cover from a rice/upland crop calendar raster",
            {"cover": {"source": "raster", "layer": {"path": "cover_calendar.tif", "units": "1"}}},
        )
    )
    return out


def apply_variant(config: dict[str, Any], variant: Variant, work: Path) -> dict[str, Any]:
    """Return a copy of ``config`` with the variant's changes and its own output folder."""
    new = json.loads(json.dumps(config))
    for dotted, value in variant.changes.items():
        if value is None:
            keys = dotted.split(".")
            node = new
            for key in keys[:-1]:
                node = node[key]
            node.pop(keys[-1], None)
        else:
            _set(new, dotted, value)
    out_dir = work / "runs" / variant.name
    new["run"]["output_dir"] = _rel(out_dir, work)
    new["run"]["name"] += f" — {variant.label}"
    if any(key.startswith("dsm") for key in variant.changes):
        new["dsm"]["output"]["dir"] = _rel(out_dir / "dsm", work)
    else:
        # The SOC baseline is unchanged: take the main run's DSM map instead of refitting it
        # (the main run goes first), which keeps the whole sensitivity study within minutes.
        dsm = new.pop("dsm")
        main_map = work / "runs" / "main" / "dsm" / f"{dsm['output']['prefix']}_soc_mean_t_ha.tif"
        new["inputs"]["soc"] = {"path": _rel(main_map, work), "units": "t/ha"}
    return new


# --------------------------------------------------------------------------------------------
# assumptions


def assumptions(settings: Settings, stats: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every assumption: key, value, and why (machine-readable; docs/taiwan.md renders it)."""
    s = settings
    return [
        {
            "key": "grid",
            "value": "taiwan-env-1km main island, 1 km, EPSG:3826 (TWD97/TM2 121)",
            "why": "the grid of the shared terrain and land-use layers (the study's own grid)",
        },
        {
            "key": "cultivated_land",
            "value": f"(FF + FW) / 1e6 >= {s.farm_threshold:g}",
            "why": (
                f"FF+FW sum to {stats['farm_area_total_ha']:,.0f} ha on the island, close to "
                "Taiwan's official ~0.79 Mha of cultivated land; cells passing "
                f"{s.farm_threshold:g} hold {stats['farm_area_in_mask_pct']:.1f} % of it "
                f"({stats['cultivated_cells']:,} cells), a 0.5 threshold only "
                f"{stats['farm_area_at_half_pct']:.1f} %; below a quarter a cell is mostly "
                "something else"
            ),
        },
        {
            "key": "meadow_md",
            "value": "not farm" if not s.meadow_is_farm else "farm",
            "why": (
                f"adding MD ({stats['md_area_total_ha']:,.0f} ha) would overshoot the official "
                "cultivated area by a third; MD cells become grassland (3), not simulated"
            ),
        },
        {
            "key": "paddy_class",
            "value": "FAO 13 where FW > half of FF+FW, else 2",
            "why": "FW (farm wetland, irrigated/flooded) is paddy in the source's legend",
        },
        {
            "key": "other_classes",
            "value": "dominant of FO→4, UB→1, WB→11, MD→3, BU→5, BL→9, WL→6",
            "why": "non-farm cells keep a class so they are counted as not simulated "
            "(land_use.simulate = [2, 13])",
        },
        {
            "key": "area_fraction",
            "value": "farm share on cultivated cells, dominant-class share elsewhere",
            "why": "summary areas = cell area × share, so the cropland area is the farmed area",
        },
        {
            "key": "climate_source",
            "value": "Chiayi CWA 467480 monthly 2010–2014",
            "why": "the main-island gridded climate of taiwan-env-1km is not available; the only "
            "monthly main-island series in the shared data",
        },
        {
            "key": "station_elevation_m",
            "value": s.station_elevation_m,
            "why": "CWA station list (weather_sta_list.csv) as quoted in the data provenance",
        },
        {
            "key": "lapse_rate_c_per_km",
            "value": s.lapse_rate_c_per_km,
            "why": (
                "a common environmental lapse rate for Taiwan's mountains (~5–7 °C/km); "
                "T = T_station − rate × (cell mean elevation − station elevation). The "
                "outlying-island normals span only "
                f"0–{stats['lapse_check']['elevation_max_m']:.0f} m (fit: "
                f"{stats['lapse_check']['fitted_lapse_c_per_km']:.0f} °C/km, "
                "driven by latitude between islands), so they cannot check it"
            ),
        },
        {
            "key": "precipitation_evaporation",
            "value": "station values uniform over the island",
            "why": "no gridded main-island rain or evaporation; the biggest simplification: "
            "Taiwan's rain ranges ~1,500 to >4,000 mm/yr, the station's 1,022–2,581 mm",
        },
        {
            "key": "series",
            "value": (
                f"{s.series_years[0]}–{s.series_years[1]}: year Y uses "
                "station year 2010 + (Y − 2010) mod 5"
            ),
            "why": "spin-up (1981–2000) and warm-up (2001–2020) each hold every station year four "
            "times, so their climates differ only by the order of the years",
        },
        {
            "key": "evaporation_kind",
            "value": "pan",
            "why": "Class-A pan evaporation → RothC's 0.75 coefficient",
        },
        {
            "key": "clay_pct",
            "value": s.clay_pct,
            "why": "no clay layer in the shared data; 25 % is a mid value for Taiwan's alluvial "
            f"cropland soils (loam to clay loam); variants {list(s.clay_variants_pct)} %",
        },
        {
            "key": "soc_reading",
            "value": (
                "TARI soc = organic matter % of 0–30 cm; SOC % = soc / 1.724"
                if s.soc_reading == "om_pct"
                else "TARI soc = SOC % of 0–30 cm"
            ),
            "why": (
                f"agricultural soc median {stats['soc_median']:.2f} (5–95 %: "
                f"{stats['soc_p05']:.2f}–{stats['soc_p95']:.2f}) is not g/kg (0.27 % SOC is "
                "implausibly low); read as SOC % it gives 0–30 cm stocks near "
                f"{stats['stock_median_soc_pct']:.0f} t C/ha, about twice the 36–60 t C/ha "
                "published for Taiwan's rural soils (Hseu et al. 2010: 5.97 kg/m²; Tsui et "
                "al. 2016, Tainan: ~37 t/ha); read as organic matter % (what Taiwan's soil "
                f"fertility surveys report) it gives {stats['stock_median_om']:.0f} t C/ha. "
                "Depth is not documented: the value is applied to 0–30 cm"
            ),
        },
        {
            "key": "bulk_density_ptf",
            "value": s.bulk_density_ptf,
            "why": "no bulk density in the data; Grigal 1989 (socseq default) stays 0.67–1.61 "
            "g/cm³ for any OM",
        },
        {
            "key": "dsm_samples",
            "value": "agricultural points only (2,323); fold column unused",
            "why": "the map covers cultivated land; the fold column exists for forest points only "
            "(the source's 10-fold CV ids), it is no train/test split, so socseq's own "
            "spatial-block and random 5-fold CV are used",
        },
        {
            "key": "dsm_covariates",
            "value": [c for c, _ in COVARIATES],
            "why": "terrain, distances and land-use fractions of taiwan-env-1km read from "
            "../shared at run time (the source's own covariate columns are random noise)",
        },
        {
            "key": "depth_variant",
            "value": (
                f"0–{s.topsoil_cm:g} cm at the OM reading, "
                f"{s.topsoil_cm:g}–30 cm at {s.subsoil_ratio:g}×"
            ),
            "why": "illustrative: plough layer over a poorer plough pan; not measured",
        },
        {
            "key": "cover_variant",
            "value": "rice months "
            + ", ".join(map(str, RICE_MONTHS))
            + " covered on paddy, other months bare; upland "
            "cropland covered all year",
            "why": "two rice crops a year (Mar–Jun, Aug–Nov) with fallow between, against the "
            "class table's default cover",
        },
        {
            "key": "paddy",
            "value": "simulated with rate factor 0.4 (GSOCseq); variant: excluded",
            "why": "GSOCseq's treatment; socseq's default excludes paddy (RothC is not valid "
            "flooded)",
        },
    ]


def cover_calendar(classes: np.ndarray, land: np.ndarray) -> np.ndarray:
    """Return a 12-band cover factor from a crop calendar.

    Paddy is covered (0.6) in the rice months and bare (1.0) otherwise; other cells are
    covered all year.
    """
    bands = np.full((12, *classes.shape), 0.6)
    for month in range(1, 13):
        if month not in RICE_MONTHS:
            bands[month - 1][classes == FAO_PADDY] = 1.0
    return np.where(land[None], bands, np.nan)


def _stock_median(soc_pct: np.ndarray, ptf: str) -> float:
    from socseq.dsm.ptf import bulk_density_ptf

    bd = bulk_density_ptf(soc_pct * 10.0, ptf)
    return float(np.median(soc_pct * bd * 30.0))


# --------------------------------------------------------------------------------------------
# main


def prepare(
    work: Path = DEFAULT_WORK,
    subset: Sequence[float] | None = None,
    settings: Settings | None = None,
    data: Path = SHARED_DATA,
) -> dict[str, Any]:
    """Build every input and configuration in ``work``; return the paths and statistics."""
    settings = settings or Settings()
    work = Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    grid = make_grid(subset, data)
    lu = land_use(grid, settings, data)
    land = lu["land"]
    elevation = read_layer("DTM_ELE", grid, data)

    write_geotiff(
        to_dataarray(lu["classes"], grid, "land_use", long_name="FAO GSOCseq land-use class"),
        work / "landuse_fao.tif",
        nodata=FAO_NODATA,
        dtype="uint8",
    )
    write_geotiff(
        to_dataarray(
            lu["fraction"],
            grid,
            "area_fraction",
            units="1",
            long_name="share of the cell under its class",
        ),
        work / "farm_share.tif",
        dtype="float32",
    )
    write_geotiff(
        to_dataarray(
            lu["mask"], grid, "cultivated", long_name="1 cultivated land (DSM mask), 0 other land"
        ),
        work / "cultivated_mask.tif",
        nodata=255,
        dtype="uint8",
    )
    for clay in sorted({settings.clay_pct, *settings.clay_variants_pct}):
        write_geotiff(
            to_dataarray(
                np.where(land, clay, np.nan),
                grid,
                "clay",
                units="%",
                long_name="clay 0-30 cm (assumed constant)",
            ),
            work / f"clay_pct_{clay:g}.tif",
            dtype="float32",
        )
    write_geotiff(
        to_dataarray(
            cover_calendar(lu["classes"], land),
            grid,
            "cover",
            units="1",
            long_name="monthly cover factor (crop calendar)",
        ),
        work / "cover_calendar.tif",
        dtype="float32",
    )
    climate = write_climate(grid, land, elevation, settings, work, data)
    samples = write_samples(settings, work, data)

    # The DSM grid: the shared elevation raster for the whole island; on a subset the
    # cultivated mask (same grid, cut), since the template fixes the mapped extent.
    template = env_file("DTM_ELE", data) if subset is None else work / "cultivated_mask.tif"
    main = base_config(work, template, settings, "main", data)
    configs = {"main": work / "taiwan.toml"}
    header = (
        "# Generated by examples/taiwan/prepare.py; edit the script, not this file.\n"
        "# Assumptions: assumptions.json beside this file and docs/taiwan.md.\n\n"
    )
    write_text_atomic(header + to_toml(main), configs["main"])
    for variant in variants(settings):
        path = work / f"taiwan_{variant.name}.toml"
        write_text_atomic(header + to_toml(apply_variant(main, variant, work)), path)
        configs[variant.name] = path

    points = pd.read_csv(samples["points"])
    farm_all = lu["farm_share"]
    stats = {
        "grid_shape": [grid.height, grid.width],
        "grid_bounds": list(grid.bounds),
        "subset": list(subset) if subset is not None else None,
        "land_cells": int(land.sum()),
        "cultivated_cells": int((lu["mask"] == 1).sum()),
        "paddy_cells": int((lu["classes"] == FAO_PADDY).sum()),
        "cropland_cells": int((lu["classes"] == FAO_CROPLAND).sum()),
        "farm_area_total_ha": float(np.nansum(farm_all) * 100.0),
        "farm_area_in_mask_ha": float(np.nansum(np.where(lu["mask"] == 1, farm_all, 0)) * 100),
        "md_area_total_ha": float(np.nansum(read_layer("Landuse_2010s_MD", grid, data)) / 1e4),
        "soc_median": float(points["soc_as_given"].median()),
        "soc_p05": float(points["soc_as_given"].quantile(0.05)),
        "soc_p95": float(points["soc_as_given"].quantile(0.95)),
        "stock_median_soc_pct": _stock_median(
            points["soc_as_given"].to_numpy(), settings.bulk_density_ptf
        ),
        "stock_median_om": _stock_median(
            points["soc_pct_from_om"].to_numpy(), settings.bulk_density_ptf
        ),
        "lapse_check": lapse_rate_check(data),
    }
    total = max(stats["farm_area_total_ha"], 1e-9)
    stats["farm_area_in_mask_pct"] = 100.0 * stats["farm_area_in_mask_ha"] / total
    at_half = np.nansum(np.where(farm_all >= 0.5, farm_all, 0.0)) * 100.0
    stats["farm_area_at_half_pct"] = 100.0 * float(at_half) / total
    record = {
        "settings": asdict(settings),
        "statistics": stats,
        "assumptions": assumptions(settings, stats),
        "variants": [
            {"name": v.name, "label": v.label, "config": configs[v.name].name}
            for v in variants(settings)
        ],
        "configs": {k: p.name for k, p in configs.items()},
        "shared_data": str(data),
    }
    write_json_atomic(record, work / "assumptions.json")
    gitignore = work / ".gitignore"
    if not gitignore.exists():
        write_text_atomic("# derived inputs and runs of the Taiwan case\n*\n", gitignore)
    return {
        "work": work,
        "configs": configs,
        "climate": climate,
        "samples": samples,
        "statistics": stats,
    }


def _parse_subset(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    if text.strip().lower() == "chiayi":
        return CHIAYI_WINDOW
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise SystemExit(
            f"--subset '{text}': give xmin,ymin,xmax,ymax in TWD97 metres (or 'chiayi')"
        )
    return values


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the inputs in --work (default examples/taiwan/work)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="output folder")
    parser.add_argument("--subset", help="xmin,ymin,xmax,ymax (EPSG:3826 m) or 'chiayi'")
    parser.add_argument(
        "--data",
        type=Path,
        default=SHARED_DATA,
        help="the shared data folder (default ../shared/data)",
    )
    args = parser.parse_args(argv)
    if not args.data.joinpath(*ENV_DIR).is_dir():
        print(
            f"prepare: {args.data.joinpath(*ENV_DIR)} is absent; the shared data sit beside "
            "the repository (../shared/data)",
            file=sys.stderr,
        )
        return 2
    result = prepare(args.work, _parse_subset(args.subset), data=args.data)
    stats = result["statistics"]
    print(
        f"grid {stats['grid_shape'][0]}×{stats['grid_shape'][1]}, "
        f"{stats['cultivated_cells']:,} cultivated cells ({stats['paddy_cells']:,} paddy), "
        f"farm area in mask {stats['farm_area_in_mask_ha']:,.0f} ha"
    )
    for name, path in result["configs"].items():
        print(f"{name:>16}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "CHIAYI_WINDOW",
    "Settings",
    "Variant",
    "apply_variant",
    "base_config",
    "land_use",
    "make_grid",
    "prepare",
    "station_series",
    "to_toml",
    "variants",
]
