"""Synthetic files in each provider's layout, made by the tests (nothing third-party).

- TerraClimate: an xarray Dataset per variable served through the NCSS endpoint
  ``/thredds/ncss/agg_terraclimate_{var}_1958_CurrentYear_GLOBE.nc`` (1/24° cells, lat
  descending, tmax/tmin packed as int16 with scale_factor 0.1 to exercise CF decoding).
- WorldClim 2.1: ``/climate/worldclim/2_1/base/wc2.1_10m_{var}.zip`` holding
  ``wc2.1_10m_{var}_{MM}.tif`` (1/6° cells).
- SoilGrids 2.0: ``/soilgrids/latest/data/{prop}/{prop}_{depth}_mean.vrt`` in the Homolosine
  projection, whose two tiles ``{prop}_{depth}_mean/tileSG-001-00N/tileSG-001-00N_1-1.tif``
  are COGs fetched relative to the VRT (int16, nodata -32768; clay in g/kg, ocs in t/ha).
- ESA WorldCover: ``/v200/2021/map/ESA_WorldCover_10m_2021_v200_{tile}_Map.tif`` COG tiles
  of 3° with overviews (uint8 classes), N39E021 only: neighbours answer 404 like sea tiles.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from affine import Affine
from rasterio.warp import transform_bounds

IGH = "+proj=igh +lat_0=0 +lon_0=0 +datum=WGS84 +units=m +no_defs"
TERRACLIMATE_PATH = "/thredds/ncss/agg_terraclimate_{var}_1958_CurrentYear_GLOBE.nc"
BOX = (21.0, 41.0, 21.5, 41.3)  # a small box in North Macedonia
YEARS = (1999, 2002)


def terraclimate(first: int = 1996, last: int = 2004) -> dict[str, xr.Dataset]:
    """Monthly tmax, tmin (°C), ppt, pet (mm) on 1/24° cells over 20.5–22.5 E, 40.5–42 N."""
    res = 1 / 24
    lon = np.arange(20.5 + res / 2, 22.5, res)
    lat = np.arange(42.0 - res / 2, 40.5, -res)
    time = pd.date_range(f"{first}-01-01", f"{last}-12-01", freq="MS")
    month = time.month.to_numpy()
    season = np.sin(2 * np.pi * (month - 4) / 12)[:, None, None]
    gradient = np.linspace(0, -3, lat.size)[None, :, None] + np.zeros((1, 1, lon.size))
    tmax = 17 + 11 * season + gradient
    out = {}
    for var, values, units in (
        ("tmax", tmax, "degC"),
        ("tmin", tmax - 11, "degC"),
        ("ppt", 60 - 25 * season + 0 * gradient, "mm"),
        ("pet", np.clip(70 + 60 * season + 0 * gradient, 5, None), "mm"),
    ):
        da = xr.DataArray(
            values.astype("float64"),
            dims=("time", "lat", "lon"),
            coords={"time": time, "lat": lat, "lon": lon},
            attrs={"units": units},
        )
        ds = da.to_dataset(name=var)
        if var in ("tmax", "tmin"):
            ds[var].encoding = {"dtype": "int16", "scale_factor": 0.1, "_FillValue": -32768}
        out[TERRACLIMATE_PATH.format(var=var)] = ds
    return out


def _geotiff(
    values: np.ndarray,
    transform: Affine,
    crs: str,
    nodata: float | None,
    driver: str = "GTiff",
    **options: object,
) -> bytes:
    with rasterio.MemoryFile() as mem:
        with mem.open(
            driver=driver,
            height=values.shape[0],
            width=values.shape[1],
            count=1,
            dtype=values.dtype,
            crs=crs,
            transform=transform,
            nodata=nodata,
            **options,
        ) as dst:
            dst.write(values, 1)
        return mem.read()


def worldclim(variables: tuple[str, ...] = ("tavg", "prec")) -> dict[str, bytes]:
    """Zips of 12 monthly 10′ GeoTIFFs over 20–23 E, 40–43 N."""
    res = 1 / 6
    transform = Affine(res, 0, 20.0, 0, -res, 43.0)
    files = {}
    for var in variables:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for m in range(1, 13):
                season = np.sin(2 * np.pi * (m - 4) / 12)
                base = {
                    "tavg": 11 + 11 * season,
                    "prec": 60 - 25 * season,
                    "tmin": 5 + 10 * season,
                    "tmax": 17 + 12 * season,
                }[var]
                values = base + np.linspace(0, 1, 18)[None, :] + np.zeros((18, 1))
                archive.writestr(
                    f"wc2.1_10m_{var}_{m:02d}.tif",
                    _geotiff(values.astype("float32"), transform, "EPSG:4326", -3.4e38),
                )
        files[f"/climate/worldclim/2_1/base/wc2.1_10m_{var}.zip"] = buffer.getvalue()
    return files


def soilgrids() -> dict[str, bytes]:
    """VRT + two COG tiles per layer in the Homolosine projection (1000 m cells)."""
    west, south, east, north = transform_bounds("EPSG:4326", IGH, 20.0, 40.0, 23.0, 43.0)
    res = 1000.0
    x0, y0 = np.floor(west / res) * res, np.ceil(north / res) * res
    width = int(np.ceil((east - x0) / res))
    height = int(np.ceil((y0 - south) / res))
    half = width // 2
    files: dict[str, bytes] = {}
    layers = {
        ("clay", "0-5cm"): 200,
        ("clay", "5-15cm"): 250,
        ("clay", "15-30cm"): 300,
        ("ocs", "0-30cm"): 45,
    }
    rows = np.arange(height)[:, None] + np.zeros((1, width))
    for (prop, depth), level in layers.items():
        values = (level + (rows % 7) * (10 if prop == "clay" else 2)).astype("int16")
        values[:3, :3] = -32768
        name = f"{prop}_{depth}_mean"
        sources = []
        for k, (c0, c1) in enumerate(((0, half), (half, width)), start=1):
            tile = f"tileSG-001-{k:03d}"
            rel = f"{name}/{tile}/{tile}_1-1.tif"
            transform = Affine(res, 0, x0 + c0 * res, 0, -res, y0)
            files[f"/soilgrids/latest/data/{prop}/{rel}"] = _geotiff(
                np.ascontiguousarray(values[:, c0:c1]),
                transform,
                IGH,
                -32768,
                driver="COG",
                compress="DEFLATE",
            )
            sources.append(
                f'<SimpleSource><SourceFilename relativeToVRT="1">{rel}</SourceFilename>'
                f"<SourceBand>1</SourceBand>"
                f'<SrcRect xOff="0" yOff="0" xSize="{c1 - c0}" ySize="{height}"/>'
                f'<DstRect xOff="{c0}" yOff="0" xSize="{c1 - c0}" ySize="{height}"/>'
                "</SimpleSource>"
            )
        srs = rasterio.crs.CRS.from_string(IGH).to_wkt()
        vrt = (
            f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
            f"<SRS>{srs}</SRS>"
            f"<GeoTransform>{x0}, {res}, 0, {y0}, 0, {-res}</GeoTransform>"
            '<VRTRasterBand dataType="Int16" band="1"><NoDataValue>-32768</NoDataValue>'
            + "".join(sources)
            + "</VRTRasterBand></VRTDataset>"
        )
        files[f"/soilgrids/latest/data/{prop}/{name}.vrt"] = vrt.encode()
    return files


def worldcover() -> dict[str, bytes]:
    """Tile N39E021 (3° at 1/400°): cropland with tree, grass and water patches."""
    res = 1 / 400
    n = 1200
    classes = np.full((n, n), 40, dtype=np.uint8)
    rows, cols = np.mgrid[0:n, 0:n]
    classes[(rows // 40 + cols // 40) % 5 == 0] = 10
    classes[(rows // 40 + cols // 40) % 5 == 1] = 30
    classes[:, :20] = 80
    transform = Affine(res, 0, 21.0, 0, -res, 42.0)
    body = _geotiff(
        classes,
        transform,
        "EPSG:4326",
        0,
        driver="COG",
        compress="DEFLATE",
        overview_resampling="NEAREST",
    )
    return {"/v200/2021/map/ESA_WorldCover_10m_2021_v200_N39E021_Map.tif": body}


def write_sources_file(path: Path) -> Path:
    """A user source table: WorldClim at 10′ (the fixture resolution) plus tmin/tmax."""
    path.write_text(
        '[sources.worldclim]\nresolution = "10m"\nnative_res = 0.16666666666666666\n'
        'variables = ["tavg", "prec", "tmin", "tmax"]\n'
    )
    return path
