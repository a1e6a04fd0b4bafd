"""Fetched files → the layers of a run: cut to the box, aligned, unit-labelled.

Each source kind has one preparer: monthly NetCDF subsets are joined per variable (and
``tas`` made from ``tasmax``/``tasmin`` when absent), monthly normals are cut from their zips
as one GeoTIFF per month, soil windows are depth-weighted and averaged onto the output grid,
and land-cover tiles are mapped to the FAO classes and reduced by majority.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from socseq.atomic import write_text_atomic
from socseq.exceptions import ConfigError, SourceFormatError
from socseq.fetch.plan import FetchRequest, Item, thickness_weights
from socseq.fetch.sources import Source

__all__ = ["SERIES_NAMES", "boundary_mask", "prepare_source"]

#: TerraClimate names → the names and units written (CF decoding has applied the scales).
SERIES_NAMES = {
    "tmax": ("tasmax", "degC"),
    "tmin": ("tasmin", "degC"),
    "tavg": ("tas", "degC"),
    "ppt": ("pr", "mm"),
    "pet": ("pet", "mm"),
}


def boundary_mask(request: FetchRequest) -> np.ndarray | None:
    """Return True for cells inside the boundary (None without a boundary)."""
    if request.boundary is None:
        return None
    import geopandas as gpd
    from rasterio.features import geometry_mask

    grid = request.grid
    shapes = gpd.read_file(request.boundary).to_crs("EPSG:4326").geometry
    return ~geometry_mask(shapes, out_shape=grid.shape, transform=grid.transform, all_touched=True)


def prepare_source(
    source: Source,
    items: list[Item],
    got: dict[str, Path | None],
    request: FetchRequest,
    mask: np.ndarray | None,
) -> dict[str, Path]:
    """Turn one source's fetched files into layers in ``request.out``; return them by role.

    Roles are ``"clay"``, ``"soc"``, ``"land_use"``, ``"series:VAR"`` and ``"normals:VAR"``.
    """
    if source.kind == "ncss":
        return _prepare_series(source, items, got, request)
    if source.kind == "zip_monthly":
        return _prepare_normals(source, items, got, request)
    if source.kind == "cog_window":
        return _prepare_static(source, items, got, request, mask)
    if source.kind == "cog_tiles":
        return _prepare_classes(source, items, got, request, mask)
    raise ConfigError(f"source {source.name}: unknown kind {source.kind}")  # pragma: no cover


def _open_nc(path: Path, variable: str):  # noqa: ANN202 - xarray is imported lazily
    import xarray as xr

    for engine in ("scipy", "h5netcdf"):
        try:
            return xr.open_dataset(path, engine=engine)[variable].load()
        except (OSError, ValueError, TypeError):
            continue
    raise SourceFormatError(f"cached file {path}: cannot be read; delete it and fetch again")


def _prepare_series(
    source: Source, items: list[Item], got: dict[str, Path | None], request: FetchRequest
) -> dict[str, Path]:
    import xarray as xr

    from socseq.io.raster import write_netcdf

    by_var: dict[str, list[xr.DataArray]] = {}
    for item in items:
        path = got[str(item.path)]
        assert path is not None  # NCSS items are never optional
        by_var.setdefault(item.meta["variable"], []).append(_open_nc(path, item.meta["variable"]))
    series: dict[str, xr.DataArray] = {}
    for var, parts in by_var.items():
        da = xr.concat(parts, dim="time").sortby("time")
        da = da.rename(
            {
                d: {"lat": "y", "latitude": "y", "lon": "x", "longitude": "x"}.get(str(d), str(d))
                for d in da.dims
            }
        )
        da = da.drop_vars([c for c in da.coords if c not in ("time", "y", "x")])
        da = da.sortby("y", ascending=False).sortby("x")
        out_name, units = SERIES_NAMES.get(var, (var, str(da.attrs.get("units", ""))))
        da = da.astype("float64")
        da.attrs = {"units": units, "long_name": f"{source.title}: {var}"}
        series[out_name] = da
    if "tas" not in series and {"tasmax", "tasmin"} <= set(series):
        tas = (series["tasmax"] + series["tasmin"]) / 2.0
        tas.attrs = {"units": "degC", "long_name": "monthly mean temperature (tmax + tmin) / 2"}
        series["tas"] = tas
    y0, y1 = request.years
    outputs = {}
    for out_name, da in series.items():
        da.name = out_name
        da = da.rio.write_crs("EPSG:4326")
        path = request.out / "climate" / f"{source.name}_{out_name}_{y0}_{y1}.nc"
        write_netcdf(da.to_dataset(), path)
        outputs[f"series:{out_name}"] = path
    return outputs


def _prepare_normals(
    source: Source, items: list[Item], got: dict[str, Path | None], request: FetchRequest
) -> dict[str, Path]:
    import rasterio
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    from socseq.fetch.remote import outer_window

    outputs = {}
    folder = request.out / "climate" / source.name
    folder.mkdir(parents=True, exist_ok=True)
    bbox = request.source_bbox(source.native_res)
    for item in items:
        archive = got[str(item.path)]
        assert archive is not None
        for month, member in enumerate(item.meta["members"], start=1):
            with rasterio.open(f"/vsizip/{archive}/{member}") as src:
                crs = src.crs or "EPSG:4326"
                bounds = transform_bounds("EPSG:4326", crs, *bbox)
                window = from_bounds(*bounds, transform=src.transform)
                window = outer_window(window)
                window = window.intersection(Window(0, 0, src.width, src.height))
                data = src.read(1, window=window)
                profile = {
                    "driver": "GTiff",
                    "height": data.shape[0],
                    "width": data.shape[1],
                    "count": 1,
                    "dtype": data.dtype,
                    "crs": crs,
                    "transform": src.window_transform(window),
                    "nodata": src.nodata,
                    "compress": "deflate",
                }
            path = folder / member
            part = path.with_name(f".{path.name}.part.tif")
            with rasterio.open(part, "w", **profile) as dst:
                dst.write(data, 1)
                dst.update_tags(units=_normals_units(item.meta["variable"]))
            os.replace(part, path)
            if month == 1:
                pattern = member.replace("_01.", "_{month:02d}.")
                outputs[f"normals:{item.meta['variable']}"] = folder / pattern
    return outputs


def _normals_units(var: str) -> str:
    return "mm" if var == "prec" else "degC" if var in ("tavg", "tmin", "tmax") else ""


def _reproject_to_grid(path: Path, request: FetchRequest, resampling: str) -> np.ndarray:
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    grid = request.grid
    out = np.full(grid.shape, np.nan, dtype=np.float64)
    with rasterio.open(path) as src:
        data = src.read(1).astype(np.float64)
        if src.nodata is not None:
            data[data == src.nodata] = np.nan
        reproject(
            data,
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            src_nodata=np.nan,
            dst_transform=grid.transform,
            dst_crs=grid.crs.to_wkt(),
            dst_nodata=np.nan,
            resampling=getattr(Resampling, resampling),
        )
    return out


def _write_layer(
    values: np.ndarray, path: Path, request: FetchRequest, units: str, **kw: Any
) -> Path:
    from socseq.io.raster import write_geotiff

    da = request.grid.template(values.dtype)
    da = da.copy(data=values)
    if units:
        da.attrs["units"] = units
    return write_geotiff(da, path, **kw)


def _prepare_static(
    source: Source,
    items: list[Item],
    got: dict[str, Path | None],
    request: FetchRequest,
    mask: np.ndarray | None,
) -> dict[str, Path]:
    weights = thickness_weights(source.depths) if source.depths else np.ones(1)
    total = np.zeros(request.grid.shape)
    for weight, item in zip(weights, items, strict=True):
        path = got[str(item.path)]
        assert path is not None
        total += weight * _reproject_to_grid(path, request, "average")
    values = total * source.scale
    if mask is not None:
        values[~mask] = np.nan
    unit_slug = {"%": "pct", "t/ha": "t_ha", "g/kg": "g_kg"}.get(source.out_units, "")
    name = f"{source.role}_0_30cm" + (f"_{unit_slug}" if unit_slug else "")
    path = _write_layer(
        values, request.out / "soil" / f"{name}.tif", request, source.out_units, dtype="float32"
    )
    return {source.role: path}


def _class_table(source: Source) -> tuple[np.ndarray, str]:
    """Lookup code → FAO class (256 entries) and the table's text."""
    import pandas as pd

    if os.path.exists(source.classes):
        text = Path(source.classes).read_text()
    else:
        text = (resources.files("socseq.fetch.data") / source.classes).read_text()
    from io import StringIO

    frame = pd.read_csv(StringIO(text))
    if not {"code", "fao"} <= set(frame.columns):
        raise ConfigError(f"class table {source.classes}: needs columns code and fao")
    lut = np.zeros(256, dtype=np.uint8)
    lut[frame["code"].to_numpy(int)] = frame["fao"].to_numpy(int)
    return lut, text


def _prepare_classes(
    source: Source,
    items: list[Item],
    got: dict[str, Path | None],
    request: FetchRequest,
    mask: np.ndarray | None,
) -> dict[str, Path]:
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    grid = request.grid
    factor = 10
    fine_t = grid.transform * Affine.scale(1 / factor)
    fine = np.zeros((grid.height * factor, grid.width * factor), dtype=np.uint8)
    for item in items:
        path = got[str(item.path)]
        if path is None:
            continue
        tile = np.zeros_like(fine)
        with rasterio.open(path) as src:
            reproject(
                rasterio.band(src, 1),
                tile,
                dst_transform=fine_t,
                dst_crs=grid.crs.to_wkt(),
                dst_nodata=0,
                resampling=Resampling.nearest,
            )
        fine = np.where(tile > 0, tile, fine)
    lut, text = _class_table(source)
    fao = lut[fine]
    # Majority of the 10 x 10 sub-cells with data; no data only where all are empty.
    sub = fao.reshape(grid.height, factor, grid.width, factor).transpose(0, 2, 1, 3)
    blocks = sub.reshape(grid.height, grid.width, factor * factor)
    counts = np.stack([(blocks == k).sum(axis=-1) for k in range(1, 14)], axis=-1)
    classes = np.where(counts.max(axis=-1) > 0, counts.argmax(axis=-1) + 1, 0).astype(np.uint8)
    if mask is not None:
        classes[~mask] = 0
    folder = request.out / "landcover"
    path = _write_layer(classes, folder / "land_use_fao.tif", request, "", nodata=0, dtype="uint8")
    write_text_atomic(text, folder / f"{source.name}_to_fao.csv")
    return {"land_use": path}
