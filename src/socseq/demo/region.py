"""The embedded demo region: a Taiwan-like 1 km grid built deterministically from a seed.

:func:`build_region` writes everything ``socseq run`` reads — covariate and class rasters
(Cloud-Optimised GeoTIFF), the monthly climate 1981–2020 and an NDVI series (CF NetCDF), soil
samples (CSV), zones — and a complete run configuration, ``demo.toml``. The region is on
EPSG:3826 (TWD97 / TM2 zone 121), 1000 m cells, bounds 150–360 km E, 2420–2800 km N, i.e.
Taiwan's main island with Green Island and Orchid Island.

What is real and what is synthetic (details and equations in ``docs/demo-region.md``):

- **real**: the coastline, from the GLOBE 30″ land mask of the ``global-land-mask`` package
  (MIT; data NOAA NGDC GLOBE, public domain), and the land cover, from a 0.05° crop of the
  MODIS MCD12C1 2019 IGBP classes shipped beside this module (NASA LP DAAC, no restriction on
  reuse), mapped to the GSOCseq FAO classes;
- **synthetic**: terrain, clay, NDVI, climate, the paddy share of lowland cropland, zones and
  the soil samples, whose SOC follows a documented equation (:func:`true_soc`) plus noise, so
  the DSM step has a known right answer (``truth_soc_t_ha.tif``).

The build takes a couple of seconds; rebuilding into the same folder is safe (every file is
written atomically, and nothing is rewritten while the stamp file records the same region
version and seed).
"""

# Long module: one deterministic recipe for the embedded demo region (coastline, land cover,
# terrain, clay, climate, samples), read top to bottom.

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from importlib import resources
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from numpy.lib import format as npy_format
from pyproj import Transformer
from scipy import ndimage
from scipy.special import ndtr

from socseq import __version__
from socseq.atomic import write_csv_atomic, write_json_atomic, write_text_atomic
from socseq.exceptions import InputValidationError
from socseq.io.raster import write_geotiff, write_netcdf

__all__ = [
    "AGRICULTURAL_CLASSES",
    "CRS",
    "DEFAULT_SEED",
    "FILES",
    "REGION_VERSION",
    "SOC_NOISE_SD_T_HA",
    "build_region",
    "thornthwaite_pet",
    "true_soc",
]

#: Bump when the generated content changes, so existing demo folders are rebuilt.
REGION_VERSION = "1"
#: Seed of the shipped demo.
DEFAULT_SEED = 20240521
#: Coordinate reference system of every layer: TWD97 / TM2 zone 121.
CRS = "EPSG:3826"

#: 1 km grid: cell size (m) and outer bounds xmin, ymin, xmax, ymax (m, EPSG:3826).
RES_M = 1000.0
BOUNDS_M = (150_000.0, 2_420_000.0, 360_000.0, 2_800_000.0)
#: The climate grid is 5 km (5 × 5 fine cells), like gridded national climate products.
CLIMATE_FACTOR = 5
YEARS = (1981, 2020)
NDVI_YEARS = (2019, 2020)

#: FAO classes the run simulates (and that the samples are drawn from).
AGRICULTURAL_CLASSES = (2, 3, 5, 12, 13)
#: Standard deviation of the sampling noise added to the true SOC (t C/ha).
SOC_NOISE_SD_T_HA = 3.0
N_SAMPLES = 600

#: The files of a built region (relative to its folder), and the stamp that records the build.
FILES = (
    "land_mask.tif",
    "ag_mask.tif",
    "elevation.tif",
    "clay_pct.tif",
    "landuse_fao.tif",
    "ndvi_mean.tif",
    "tas_mean_degC.tif",
    "pr_annual_mm.tif",
    "truth_soc_t_ha.tif",
    "zones.tif",
    "zones.csv",
    "climate_1981_2020.nc",
    "ndvi_2019_2020.nc",
    "samples.csv",
    "demo.toml",
)
STAMP = ".socseq-demo-region.json"

_MODIS_CSV = "mcd12c1_2019_igbp_taiwan.csv"

#: IGBP class (MCD12C1 Majority_Land_Cover_Type_1) → GSOCseq FAO class. Cropland/natural
#: vegetation mosaics (14) become croplands below 150 m and tree crops above (orchards, tea,
#: betel palm on Taiwan's foothills); croplands (12) above 1500 m become tree covered.
_IGBP_TO_FAO = {
    0: 11,  # water
    1: 4,
    2: 4,
    3: 4,
    4: 4,
    5: 4,  # needleleaf/broadleaf/mixed forests
    6: 5,
    7: 5,  # closed / open shrublands
    8: 4,  # woody savannas (tree cover 30–60 %)
    9: 3,
    10: 3,  # savannas, grasslands
    11: 6,  # permanent wetlands
    12: 2,  # croplands
    13: 1,  # urban and built-up
    14: 2,  # cropland/natural vegetation mosaic (see above)
    15: 10,  # snow and ice
    16: 9,  # barren
}

#: Offsets of the true SOC by FAO class (t C/ha), relative to croplands.
CLASS_OFFSET_T_HA = {
    1: -15.0,
    2: 0.0,
    3: 5.0,
    4: 20.0,
    5: 8.0,
    6: 10.0,
    7: 15.0,
    8: -10.0,
    9: -20.0,
    10: 0.0,
    12: -4.0,
    13: 8.0,
}

#: Mean monthly NDVI by FAO class (January … December).
_NDVI_BY_CLASS = {
    1: [0.20] * 12,
    2: [0.45, 0.50, 0.60, 0.68, 0.70, 0.62, 0.50, 0.55, 0.65, 0.70, 0.62, 0.50],
    3: [0.45, 0.48, 0.55, 0.62, 0.66, 0.66, 0.64, 0.64, 0.62, 0.58, 0.52, 0.48],
    4: [0.78, 0.78, 0.80, 0.83, 0.85, 0.86, 0.86, 0.86, 0.85, 0.83, 0.80, 0.79],
    5: [0.55, 0.57, 0.62, 0.68, 0.70, 0.70, 0.70, 0.70, 0.68, 0.65, 0.60, 0.57],
    6: [0.50] * 12,
    8: [0.25] * 12,
    9: [0.10] * 12,
    10: [0.0] * 12,
    11: [-0.05] * 12,
    12: [0.65, 0.66, 0.70, 0.74, 0.76, 0.76, 0.75, 0.75, 0.74, 0.72, 0.70, 0.67],
    13: [0.30, 0.28, 0.45, 0.65, 0.75, 0.60, 0.30, 0.35, 0.60, 0.72, 0.60, 0.40],
}

#: Lowland precipitation climatology of the west and south (mm/month), and the extra winter
#: north-east monsoon rain of the north-east coast (mm/month).
_PR_WEST_MM = np.array([30, 60, 80, 110, 230, 400, 320, 400, 250, 60, 25, 25], float)
_PR_NE_WINTER_MM = np.array([160, 170, 150, 60, 0, 0, 0, 0, 40, 200, 220, 180], float)

#: Central Mountain Range crest (x, y in m) and crest height (m) at each vertex.
_RIDGE = np.array(
    [
        (228e3, 2435e3, 400.0),
        (240e3, 2530e3, 2300.0),
        (247e3, 2600e3, 3500.0),
        (262e3, 2660e3, 3450.0),
        (280e3, 2700e3, 3300.0),
        (312e3, 2745e3, 1400.0),
    ]
)
#: Coastal Range of the east coast (x, y in m) and its crest height.
_COASTAL = np.array([(318e3, 2652e3, 1100.0), (272e3, 2520e3, 1100.0)])
#: Tatun volcano group north of Taipei: centre (m) and height (m).
_TATUN = (305e3, 2783e3, 1000.0)

ZONES = {1: "North", 2: "Central", 3: "South", 4: "East", 5: "Northeast"}


@dataclass
class _Grid:
    """Cell centres of a north-up grid in EPSG:3826 (m)."""

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def make(cls, res: float) -> _Grid:
        xmin, ymin, xmax, ymax = BOUNDS_M
        x = np.arange(xmin + res / 2, xmax, res)
        y = np.arange(ymax - res / 2, ymin, -res)
        return cls(x, y)

    @property
    def shape(self) -> tuple[int, int]:
        return self.y.size, self.x.size

    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        return np.meshgrid(self.x, self.y)


# --------------------------------------------------------------------------- real geography


def _globe_land(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Land (True) at points from the GLOBE 30″ mask of ``global-land-mask``.

    The package loads its whole 21600 × 43200 mask (0.9 GB) on import; only the rows holding
    the points are decompressed here, by streaming the ``.npy`` inside its ``.npz``.
    """
    spec = find_spec("global_land_mask")
    if spec is None or spec.origin is None:  # pragma: no cover - a declared dependency
        raise InputValidationError(
            "demo region: the package global-land-mask is not installed; "
            "pip install global-land-mask"
        )
    npz = Path(spec.origin).parent / "globe_combined_mask_compressed.npz"
    rows = np.floor((90.0 - lat) * 120.0).astype(np.int64)
    cols = np.floor((lon + 180.0) * 120.0).astype(np.int64)
    r0, r1 = int(rows.min()), int(rows.max()) + 1
    with zipfile.ZipFile(npz) as archive, archive.open("mask.npy") as handle:
        npy_format.read_magic(handle)
        (n_rows, n_cols), fortran, dtype = npy_format.read_array_header_1_0(handle)
        if fortran or dtype != np.dtype(bool):  # pragma: no cover - fixed package content
            raise InputValidationError(f"demo region: unexpected layout of {npz}")
        remaining = r0 * n_cols
        while remaining:
            remaining -= len(handle.read(min(remaining, 1 << 24)))
        ocean = np.frombuffer(handle.read((r1 - r0) * n_cols), dtype=bool)
    ocean = ocean.reshape(r1 - r0, n_cols)
    return ~ocean[rows - r0, cols]


def _modis_igbp(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """MCD12C1 2019 IGBP class at points (nearest 0.05° cell of the shipped crop)."""
    with resources.as_file(resources.files("socseq.demo") / _MODIS_CSV) as path:
        table = pd.read_csv(path, index_col=0)
    lons = table.columns.to_numpy(float)
    lats = table.index.to_numpy(float)
    classes = table.to_numpy(np.uint8)
    col = np.clip(np.rint((lon - lons[0]) / 0.05).astype(np.int64), 0, lons.size - 1)
    row = np.clip(np.rint((lats[0] - lat) / 0.05).astype(np.int64), 0, lats.size - 1)
    return classes[row, col]


# --------------------------------------------------------------------------- synthetic fields


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sigma: float | tuple[float, ...]
) -> np.ndarray:
    """Gaussian-filtered white noise (``sigma`` in cells, per axis) with mean 0 and SD 1."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return (field - field.mean()) / field.std()


def _polyline_distance(
    px: np.ndarray, py: np.ndarray, line: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance (m) of points to a polyline, its side (+1 east/right), and the crest height.

    The height is interpolated along the nearest segment from the vertices' third column.
    """
    best = np.full(px.shape, np.inf)
    side = np.zeros(px.shape)
    height = np.zeros(px.shape)
    for (x0, y0, h0), (x1, y1, h1) in zip(line[:-1], line[1:], strict=True):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
        d = np.hypot(px - (x0 + t * dx), py - (y0 + t * dy))
        closer = d < best
        best = np.where(closer, d, best)
        # Cross product sign: negative to the right of the north-going line, i.e. east.
        cross = dx * (py - y0) - dy * (px - x0)
        side = np.where(closer, np.where(cross < 0, 1.0, -1.0), side)
        height = np.where(closer, h0 + t * (h1 - h0), height)
    return best, side, height


def _terrain(
    rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray, land: np.ndarray
) -> np.ndarray:
    """Elevation (m): Central and Coastal ranges, Tatun volcanoes, hills, coast taper."""
    d, side, crest = _polyline_distance(xx, yy, _RIDGE)
    sigma = np.where(side > 0, 12e3, 20e3)  # steep east flank, long western slope
    elev = crest * np.exp(-0.5 * (d / sigma) ** 2)
    dc, _, hc = _polyline_distance(xx, yy, _COASTAL)
    elev += hc * np.exp(-0.5 * (dc / 4e3) ** 2)
    tx, ty, th = _TATUN
    elev += th * np.exp(-0.5 * (np.hypot(xx - tx, yy - ty) / 5e3) ** 2)
    relief = 0.25 + elev / 3500.0
    elev += 150.0 * relief * _smooth_noise(rng, xx.shape, 4.0)
    elev += 40.0 * relief * _smooth_noise(rng, xx.shape, 1.0)
    coast_km = ndimage.distance_transform_edt(land) * RES_M / 1000.0
    elev *= 1.0 - np.exp(-coast_km / 4.0)
    return np.where(land, np.maximum(elev, 0.0), np.nan)


def _land_use(
    rng: np.random.Generator, igbp: np.ndarray, land: np.ndarray, elev: np.ndarray
) -> np.ndarray:
    """FAO classes (uint8, 255 off land) from MODIS IGBP, elevation and a synthetic paddy share."""
    # MODIS water at the 5 km coastline but land in the 1 km mask: nearest MODIS land class.
    known = land & (igbp != 0) & (igbp != 255)
    _, (ri, ci) = ndimage.distance_transform_edt(~known, return_indices=True)
    igbp = np.where(land & ~known, igbp[ri, ci], igbp)
    lut = np.full(256, 255, np.uint8)
    for code, fao_class in _IGBP_TO_FAO.items():
        lut[code] = fao_class
    fao = lut[igbp]
    e = np.nan_to_num(elev)
    fao = np.where((igbp == 14) & (e >= 150.0), 12, fao)
    fao = np.where((igbp == 12) & (e > 1500.0), 4, fao)
    # Paddy: 55 % of lowland (< 100 m) cropland on average, in smooth patches.
    paddy_field = ndtr(_smooth_noise(rng, land.shape, 3.0))
    fao = np.where((fao == 2) & (e < 100.0) & (paddy_field < 0.55), 13, fao)
    return np.where(land, fao, 255).astype(np.uint8)


def _clay(rng: np.random.Generator, land: np.ndarray, elev: np.ndarray) -> np.ndarray:
    """Clay content 0–30 cm (%): smooth patterns, finer on the alluvial lowlands."""
    e = np.nan_to_num(elev)
    clay = (
        30.0
        + 7.0 * _smooth_noise(rng, land.shape, 6.0)
        + 4.0 * _smooth_noise(rng, land.shape, 2.0)
        + 5.0 * (e < 100.0)
        - 3.0 * np.minimum(e, 3000.0) / 1000.0
    )
    return np.where(land, np.round(np.clip(clay, 8.0, 55.0), 1), np.nan)


def _month_start_times(first: int, last: int) -> pd.DatetimeIndex:
    return pd.date_range(f"{first}-01-01", f"{last}-12-01", freq="MS")


def _temperature_normal(months: np.ndarray, yy: np.ndarray, elev: np.ndarray) -> np.ndarray:
    """Climatological monthly mean temperature (°C), ``(month, y, x)`` for months 1–12.

    T = 23.0 + 0.5·(2620 km − y)/100 km + A(y)·cos(2π(m − 7)/12) − 0.0060·z,
    A(y) = 6.3 + 0.5·(y − 2620 km)/100 km (larger seasonal range in the north).
    """
    north = (yy - 2620e3) / 100e3
    amplitude = 6.3 + 0.5 * north
    phase = np.cos(2 * np.pi * (months[:, None, None] - 7) / 12.0)
    return 23.0 - 0.5 * north + amplitude * phase - 0.0060 * np.nan_to_num(elev)


def _precip_normal(xx: np.ndarray, yy: np.ndarray, elev: np.ndarray) -> np.ndarray:
    """Climatological monthly precipitation (mm/month), ``(12, y, x)``.

    P = (P_west(m) + w_NE·P_NE(m)) · (1 + 0.45·min(z/1000 m, 2.5)), w_NE a weight of
    the north-east (winter monsoon) coast.
    """
    w_ne = ndtr((xx - 265e3) / 20e3) * ndtr((yy - 2660e3) / 30e3)
    orographic = 1.0 + 0.45 * np.minimum(np.nan_to_num(elev) / 1000.0, 2.5)
    return (_PR_WEST_MM[:, None, None] + w_ne * _PR_NE_WINTER_MM[:, None, None]) * orographic


def _day_length_h(lat_deg: np.ndarray, times: pd.DatetimeIndex) -> np.ndarray:
    """Astronomical day length (h) on the 15th of each month, ``(time, y, x)``."""
    doy = np.asarray(times.day_of_year + 14, float)
    decl = 0.409 * np.sin(2 * np.pi * doy / 365.0 - 1.39)
    arg = -np.tan(np.radians(lat_deg))[None] * np.tan(decl)[:, None, None]
    return 24.0 / np.pi * np.arccos(np.clip(arg, -1.0, 1.0))


def thornthwaite_pet(tas: np.ndarray, lat_deg: np.ndarray, times: pd.DatetimeIndex) -> np.ndarray:
    """Thornthwaite (1948) potential evapotranspiration (mm/month).

    Parameters
    ----------
    tas : numpy.ndarray
        Monthly mean temperature (°C), ``(time, y, x)`` over whole years.
    lat_deg : numpy.ndarray
        Latitude of the cells (degrees north), ``(y, x)``.
    times : pandas.DatetimeIndex
        Month starts of ``tas``.

    Returns
    -------
    numpy.ndarray
        PET (mm/month): 16·(10T/I)^a for 0 < T < 26.5 °C and −415.85 + 32.24T − 0.43T² above
        (Willmott et al. 1985), times (N/12)·(days/30) with N the day length (h); I is the
        heat index of the cell's mean annual cycle and a = 6.75e-7·I³ − 7.71e-5·I² +
        1.792e-2·I + 0.49239.
    """
    t = np.maximum(tas, 0.0)
    normal = t.reshape(-1, 12, *t.shape[1:]).mean(axis=0)
    heat = np.sum((normal / 5.0) ** 1.514, axis=0)
    a = 6.75e-7 * heat**3 - 7.71e-5 * heat**2 + 1.792e-2 * heat + 0.49239
    with np.errstate(divide="ignore", invalid="ignore"):
        low = 16.0 * np.where(t > 0, (10.0 * t / heat) ** a, 0.0)
    high = -415.85 + 32.24 * t - 0.43 * t**2
    unadjusted = np.where(t >= 26.5, high, low)
    days = np.asarray(times.days_in_month, float)[:, None, None]
    return unadjusted * _day_length_h(lat_deg, times) / 12.0 * days / 30.0


def _climate(
    rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray, elev: np.ndarray, lat_deg: np.ndarray
) -> dict[str, np.ndarray]:
    """Monthly tas (°C), pr (mm/month), pet (mm/month) 1981–2020 on the climate grid."""
    times = _month_start_times(*YEARS)
    n_years = YEARS[1] - YEARS[0] + 1
    shape = xx.shape
    months = np.arange(1, 13)
    # Temperature: normal + warming trend 0.02 °C/yr + monthly anomaly (domain-wide and a
    # smooth spatial part).
    normal_t = _temperature_normal(months, yy, elev)
    years = np.arange(YEARS[0], YEARS[1] + 1)
    trend = 0.02 * (years - (YEARS[0] + YEARS[1]) / 2.0)
    anomaly = rng.normal(0.0, 0.6, (n_years, 12))
    spatial_t = 0.25 * _smooth_noise(rng, (n_years * 12, *shape), (0, 3, 3))
    tas = (
        np.tile(normal_t, (n_years, 1, 1))
        + np.repeat(trend, 12)[:, None, None]
        + anomaly.reshape(-1)[:, None, None]
        + spatial_t
    )
    # Precipitation: normal × yearly factor × monthly factor (wider in the typhoon season)
    # × smooth spatial factor, plus typhoon rain in some Jul–Sep months.
    normal_p = _precip_normal(xx, yy, elev)
    yearly = np.exp(rng.normal(0.0, 0.18, n_years) - 0.18**2 / 2)
    sigma_m = np.where((months >= 5) & (months <= 9), 0.5, 0.45)
    monthly = np.exp(rng.normal(0.0, 1.0, (n_years, 12)) * sigma_m - sigma_m**2 / 2)
    spatial_p = np.exp(0.2 * _smooth_noise(rng, (n_years * 12, *shape), (0, 3, 3)) - 0.02)
    pr = (
        np.tile(normal_p, (n_years, 1, 1))
        * (yearly[:, None] * monthly).reshape(-1)[:, None, None]
        * spatial_p
    )
    typhoon_month = (rng.random((n_years, 12)) < 0.35) & (months >= 7) & (months <= 9)
    typhoon_mm = rng.uniform(150.0, 500.0, (n_years, 12)) * typhoon_month
    east = ndtr((xx - 250e3) / 30e3)
    orographic = 1.0 + 0.45 * np.minimum(np.nan_to_num(elev) / 1000.0, 2.5)
    pr += typhoon_mm.reshape(-1)[:, None, None] * (0.6 + 0.8 * east) * orographic
    pet = thornthwaite_pet(tas, lat_deg, times)
    return {"tas": tas, "pr": np.maximum(pr, 0.0), "pet": pet, "times": times}


def _ndvi_series(
    rng: np.random.Generator, fao: np.ndarray, land: np.ndarray
) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Monthly NDVI 2019–2020 (1), ``(time, y, x)``: class curve + spatial and monthly noise."""
    times = _month_start_times(*NDVI_YEARS)
    curves = np.zeros((256, 12))
    for code, curve in _NDVI_BY_CLASS.items():
        curves[code] = curve
    base = curves[fao]  # (y, x, 12)
    base = np.moveaxis(base, -1, 0)
    n = times.size
    spatial = 0.06 * _smooth_noise(rng, land.shape, 3.0)
    monthly = rng.normal(0.0, 0.03, n)[:, None, None]
    pixel = rng.normal(0.0, 0.02, (n, *land.shape))
    ndvi = np.tile(base, (n // 12, 1, 1)) + spatial + monthly + pixel
    ndvi = np.round(np.clip(ndvi, -0.2, 0.95), 3)
    return np.where(land, ndvi, np.nan), times


def true_soc(
    elevation_m: np.ndarray,
    clay_pct: np.ndarray,
    ndvi_mean: np.ndarray,
    tas_mean_degC: np.ndarray,
    fao_class: np.ndarray,
) -> np.ndarray:
    """Return the noise-free SOC stock 0–30 cm (t C/ha) that generates the demo samples.

    SOC = 40 + 1.0·(clay − 30) + 30·(NDVI − 0.55) − 1.5·(T − 22) + 10·(1 − exp(−z/600))
    + offset(class), at least 5; NaN for water and unknown classes.

    Parameters
    ----------
    elevation_m : numpy.ndarray
        Elevation z (m).
    clay_pct : numpy.ndarray
        Clay 0–30 cm (%).
    ndvi_mean : numpy.ndarray
        Mean NDVI 2019–2020 (1).
    tas_mean_degC : numpy.ndarray
        Mean air temperature 1981–2020 T (°C).
    fao_class : numpy.ndarray
        GSOCseq FAO class; offsets in :data:`CLASS_OFFSET_T_HA` (cropland 0, paddy +8, tree
        crops −4, grassland +5, shrubs +8, forest +20, artificial −15 ...).

    Returns
    -------
    numpy.ndarray
        SOC stock (t C/ha).
    """
    offset = np.full(256, np.nan)
    for code, value in CLASS_OFFSET_T_HA.items():
        offset[code] = value
    soc = (
        40.0
        + 1.0 * (clay_pct - 30.0)
        + 30.0 * (ndvi_mean - 0.55)
        - 1.5 * (tas_mean_degC - 22.0)
        + 10.0 * (1.0 - np.exp(-elevation_m / 600.0))
        + offset[np.asarray(fao_class, np.intp)]
    )
    return np.maximum(soc, 5.0)


def _zones(xx: np.ndarray, yy: np.ndarray, land: np.ndarray) -> np.ndarray:
    """Synthetic zones (uint8, 0 off land): west of the crest by northing, east, north-east."""
    ridge_y, ridge_x = _RIDGE[:, 1], _RIDGE[:, 0]
    east = xx > np.interp(yy, ridge_y, ridge_x)
    zones = np.where(yy >= 2700e3, 1, np.where(yy >= 2580e3, 2, 3))
    zones = np.where(east, np.where(yy >= 2700e3, 5, 4), zones)
    return np.where(land, zones, 0).astype(np.uint8)


def _samples(
    rng: np.random.Generator, grid: _Grid, fao: np.ndarray, truth: np.ndarray, zones: np.ndarray
) -> pd.DataFrame:
    """Soil samples on agricultural land: uniform cells, uniform position inside the cell."""
    ok = np.isin(fao, AGRICULTURAL_CLASSES) & np.isfinite(truth)
    cells = np.flatnonzero(ok.ravel())
    chosen = np.sort(rng.choice(cells, size=min(N_SAMPLES, cells.size), replace=False))
    row, col = np.unravel_index(chosen, fao.shape)
    dx, dy = rng.uniform(-0.45, 0.45, (2, chosen.size)) * RES_M
    soc = truth[row, col] + rng.normal(0.0, SOC_NOISE_SD_T_HA, chosen.size)
    return pd.DataFrame(
        {
            "sample_id": [f"DEMO{i + 1:04d}" for i in range(chosen.size)],
            "x_m": np.round(grid.x[col] + dx, 1),
            "y_m": np.round(grid.y[row] + dy, 1),
            "soc_t_ha": np.round(np.maximum(soc, 1.0), 2),
            "fao_class": fao[row, col].astype(int),
            "zone": zones[row, col].astype(int),
        }
    )


# --------------------------------------------------------------------------- writing


def _da(values: np.ndarray, grid: _Grid, name: str, units: str, long_name: str) -> xr.DataArray:
    dims = ("y", "x") if values.ndim == 2 else ("time", "y", "x")
    da = xr.DataArray(
        values,
        dims=dims,
        coords={"y": grid.y, "x": grid.x},
        name=name,
        attrs={"units": units, "long_name": long_name},
    )
    return da.rio.write_crs(CRS)


def _tags(seed: int) -> dict[str, str]:
    return {
        "software": f"socseq {__version__}",
        "demo_region_version": REGION_VERSION,
        "demo_seed": str(seed),
        "source": "socseq.demo.region (synthetic; see docs/demo-region.md)",
    }


def _config_text() -> str:
    """Return the demo run configuration (paths relative to the region folder)."""
    covariates = "\n".join(
        f'[[dsm.covariates]]\nname = "{name}"\npath = "{path}"\n'
        + ("categorical = true\n" if name == "landuse" else "")
        for name, path in (
            ("elevation", "elevation.tif"),
            ("clay", "clay_pct.tif"),
            ("ndvi", "ndvi_mean.tif"),
            ("tas", "tas_mean_degC.tif"),
            ("pr", "pr_annual_mm.tif"),
            ("landuse", "landuse_fao.tif"),
        )
    )
    scenarios = "\n".join(
        f'[[scenarios]]\nname = "{n}"\ninput_multiplier = {m}\n'
        for n, m in (("BAU", "1.0"), ("SSM1", "1.05"), ("SSM2", "1.10"), ("SSM3", "1.20"))
    )
    return f"""\
# socseq demo region: a synthetic, Taiwan-like 1 km region (EPSG:3826), written by
# socseq.demo.region.build_region. Real coastline (GLOBE) and land cover (MODIS MCD12C1 2019);
# terrain, soil, climate and samples are synthetic. See docs/demo-region.md.

[run]
name = "socseq demo region (synthetic, Taiwan-like)"
iso = "XTW"
output_dir = "socseq-out"

[periods]
spinup = [1981, 2000]
warmup = [2001, 2020]
forward_years = 20

[inputs]
clay = {{ path = "clay_pct.tif", units = "%" }}
land_use = {{ path = "landuse_fao.tif" }}
zones = {{ path = "zones.tif" }}
zone_names = "zones.csv"

[climate]
evaporation_kind = "pet"

[climate.series]
temperature = {{ path = "climate_1981_2020.nc", variable = "tas", units = "degC" }}
precipitation = {{ path = "climate_1981_2020.nc", variable = "pr", units = "mm" }}
evaporation = {{ path = "climate_1981_2020.nc", variable = "pet", units = "mm" }}

[land_use]
source_classes = "fao"
table = "fao"
simulate = [2, 3, 5, 12, 13]
cropland = [2, 12, 13]
paddy = "exclude"

[cover]
source = "ndvi"
layer = {{ path = "ndvi_2019_2020.nc", variable = "ndvi", units = "1" }}
ndvi_threshold = 0.6

{scenarios}
[dsm.samples]
path = "samples.csv"
x = "x_m"
y = "y_m"
crs = "{CRS}"
id = "sample_id"
interval_cm = [0, 30]
stock = {{ column = "soc_t_ha", units = "t/ha" }}

{covariates}
[dsm.grid]
template = "elevation.tif"
mask = "ag_mask.tif"

[dsm.model]
method = "qrf"
n_estimators = 200
seed = 42

[dsm.cv]
methods = ["spatial"]
block_size_m = 20000

[dsm.output]
dir = "socseq-out/dsm"
"""


def _stamp(seed: int) -> dict[str, str]:
    return {"region_version": REGION_VERSION, "seed": str(seed), "crs": CRS}


def _is_built(out: Path, seed: int) -> bool:
    try:
        recorded = json.loads((out / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if any(recorded.get(k) != v for k, v in _stamp(seed).items()):
        return False
    return all((out / name).exists() for name in FILES)


def build_region(out_dir: str | Path, *, seed: int = DEFAULT_SEED, force: bool = False) -> Path:
    """Build the demo region into ``out_dir`` and return the path of its ``demo.toml``.

    Parameters
    ----------
    out_dir : path-like
        Folder to write into (created if missing).
    seed : int, default :data:`DEFAULT_SEED`
        Seed of every synthetic field; the same seed gives the same region.
    force : bool, default False
        Rebuild even when the folder's stamp says it holds this region version and seed.

    Returns
    -------
    pathlib.Path
        ``out_dir/demo.toml``, a complete run configuration (``socseq run``) with a ``[dsm]``
        section that maps the SOC baseline from ``samples.csv``.

    Notes
    -----
    Files (EPSG:3826, 1 km unless noted; GeoTIFFs are COGs, float32 with nodata −999 unless
    noted):

    - ``land_mask.tif`` (uint8: 1 land, 0 sea), ``ag_mask.tif`` (uint8: 1 simulated FAO class
      2, 3, 5, 12, 13; 0 other land; 255 sea), ``landuse_fao.tif`` (uint8 FAO class, 255 sea);
    - ``elevation.tif`` (m), ``clay_pct.tif`` (%), ``ndvi_mean.tif`` (1),
      ``tas_mean_degC.tif`` (°C, 1981–2020 mean), ``pr_annual_mm.tif`` (mm/yr, normal);
    - ``truth_soc_t_ha.tif``: the noise-free SOC 0–30 cm (t C/ha) of :func:`true_soc`;
    - ``zones.tif`` (uint8, 0 sea) and ``zones.csv`` (``code,name``);
    - ``climate_1981_2020.nc``: ``tas`` (degC), ``pr`` (mm per month), ``pet`` (mm per
      month), 5 km grid, time = month starts 1981-01 … 2020-12;
    - ``ndvi_2019_2020.nc``: ``ndvi`` (1), 1 km, month starts 2019-01 … 2020-12;
    - ``samples.csv``: ``sample_id``, ``x_m``, ``y_m`` (EPSG:3826, m), ``soc_t_ha`` (SOC
      stock 0–30 cm, t C/ha), ``fao_class``, ``zone``;
    - ``demo.toml`` and the stamp ``.socseq-demo-region.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not force and _is_built(out, seed):
        return out / "demo.toml"
    rng = np.random.default_rng(seed)

    grid = _Grid.make(RES_M)
    xx, yy = grid.mesh()
    to_lonlat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    # Land: at least 5 of 3 × 3 sub-cell points on GLOBE land.
    offsets = (np.arange(3) - 1) * RES_M / 3.0
    sx = (xx[..., None, None] + offsets[None, None, None, :]).repeat(3, axis=2)
    sy = (yy[..., None, None] + offsets[None, None, :, None]).repeat(3, axis=3)
    slon, slat = to_lonlat.transform(sx.ravel(), sy.ravel())
    land = _globe_land(np.asarray(slon), np.asarray(slat)).reshape(sx.shape).sum((2, 3)) >= 5
    lon, lat = (np.asarray(v).reshape(xx.shape) for v in to_lonlat.transform(xx, yy))

    elev = _terrain(rng, xx, yy, land)
    fao = _land_use(rng, _modis_igbp(lon, lat), land, elev)
    clay = _clay(rng, land, elev)
    ndvi, ndvi_times = _ndvi_series(rng, fao, land)
    ndvi_mean = np.where(land, ndvi.mean(axis=0), np.nan)

    # Climate on the 5 km grid: block-mean elevation (sea = 0 m).
    cgrid = _Grid.make(RES_M * CLIMATE_FACTOR)
    cxx, cyy = cgrid.mesh()
    k = CLIMATE_FACTOR
    celev = np.nan_to_num(elev).reshape(cgrid.shape[0], k, cgrid.shape[1], k).mean((1, 3))
    clat = np.asarray(to_lonlat.transform(cxx, cyy)[1]).reshape(cxx.shape)
    climate = _climate(rng, cxx, cyy, celev, clat)

    # 1 km climate normals used as DSM covariates (and in the SOC equation).
    # The warming trend is centred on 1981-2020, so it does not shift the mean.
    months = np.arange(1, 13)
    tas_mean = np.where(land, _temperature_normal(months, yy, elev).mean(axis=0), np.nan)
    pr_annual = np.where(land, _precip_normal(xx, yy, elev).sum(axis=0), np.nan)

    truth = np.where(land, true_soc(np.nan_to_num(elev), clay, ndvi_mean, tas_mean, fao), np.nan)
    zones = _zones(xx, yy, land)
    samples = _samples(rng, grid, fao, truth, zones)

    tags = _tags(seed)
    f32 = "float32"
    write_geotiff(
        _da(land.astype(np.uint8), grid, "land", "1", "land (1) or sea (0)"),
        out / "land_mask.tif",
        nodata=255,
        dtype="uint8",
        tags=tags,
    )
    ag = np.where(land, np.isin(fao, AGRICULTURAL_CLASSES), 255).astype(np.uint8)
    write_geotiff(
        _da(ag, grid, "agricultural", "1", "simulated agricultural land (1)"),
        out / "ag_mask.tif",
        nodata=255,
        dtype="uint8",
        tags=tags,
    )
    write_geotiff(
        _da(fao, grid, "land_use", "1", "GSOCseq FAO land-use class"),
        out / "landuse_fao.tif",
        nodata=255,
        dtype="uint8",
        tags=tags,
    )
    for name, values, units, long_name in (
        ("elevation", elev, "m", "elevation above sea level"),
        ("clay_pct", clay, "%", "clay content 0-30 cm"),
        ("ndvi_mean", ndvi_mean, "1", "mean NDVI 2019-2020"),
        ("tas_mean_degC", tas_mean, "degC", "mean air temperature 1981-2020"),
        ("pr_annual_mm", pr_annual, "mm", "normal annual precipitation (mm per year)"),
        (
            "truth_soc_t_ha",
            truth,
            "t/ha",
            "true (noise-free) SOC stock 0-30 cm of the demo samples, t C/ha",
        ),
    ):
        write_geotiff(
            _da(values, grid, name, units, long_name), out / f"{name}.tif", dtype=f32, tags=tags
        )
    write_geotiff(
        _da(zones, grid, "zones", "1", "demo zone code"),
        out / "zones.tif",
        nodata=0,
        dtype="uint8",
        tags=tags,
    )
    write_csv_atomic(
        pd.DataFrame({"code": list(ZONES), "name": list(ZONES.values())}), out / "zones.csv"
    )

    coords = {"time": climate["times"], "y": cgrid.y, "x": cgrid.x}
    ds = xr.Dataset(
        {
            "tas": (
                ("time", "y", "x"),
                np.round(climate["tas"], 2).astype(np.float32),
                {
                    "units": "degC",
                    "long_name": "monthly mean air temperature",
                    "standard_name": "air_temperature",
                },
            ),
            "pr": (
                ("time", "y", "x"),
                np.round(climate["pr"], 1).astype(np.float32),
                {
                    "units": "mm",
                    "long_name": "monthly precipitation (mm per month)",
                    "cell_methods": "time: sum",
                },
            ),
            "pet": (
                ("time", "y", "x"),
                np.round(climate["pet"], 1).astype(np.float32),
                {
                    "units": "mm",
                    "long_name": (
                        "monthly potential evapotranspiration, Thornthwaite (mm per month)"
                    ),
                    "cell_methods": "time: sum",
                },
            ),
        },
        coords=coords,
        attrs={"title": "socseq demo region: synthetic monthly climate 1981-2020", **tags},
    ).rio.write_crs(CRS)
    shuffle = {name: {"shuffle": True} for name in ("tas", "pr", "pet")}
    write_netcdf(ds, out / "climate_1981_2020.nc", encoding=shuffle)
    nd = xr.Dataset(
        {
            "ndvi": (
                ("time", "y", "x"),
                ndvi.astype(np.float32),
                {"units": "1", "long_name": "normalised difference vegetation index"},
            )
        },
        coords={"time": ndvi_times, "y": grid.y, "x": grid.x},
        attrs={"title": "socseq demo region: synthetic monthly NDVI 2019-2020", **tags},
    ).rio.write_crs(CRS)
    write_netcdf(nd, out / "ndvi_2019_2020.nc", encoding={"ndvi": {"shuffle": True}})
    write_csv_atomic(samples, out / "samples.csv")
    config = write_text_atomic(_config_text(), out / "demo.toml")
    write_json_atomic(
        {**_stamp(seed), "software": f"socseq {__version__}", "files": list(FILES)}, out / STAMP
    )
    return config
