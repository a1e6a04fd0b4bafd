"""``socseq fetch``: download the public inputs of a run and write a ready configuration.

:func:`fetch` plans the files every selected source needs (:mod:`socseq.fetch.plan`), takes
what the cache has, downloads or reads the rest (:mod:`socseq.fetch.download`,
:mod:`socseq.fetch.remote`), and prepares them in ``out``:

==============================  =================================================================
``soil/clay_0_30cm_pct.tif``     SoilGrids clay, thickness-weighted 0–30 cm, g/kg → %, on the grid
``soil/soc_0_30cm_t_ha.tif``     SoilGrids organic carbon stock 0–30 cm (t/ha), on the grid
``landcover/land_use_fao.tif``   WorldCover majority class per cell mapped to the FAO classes
``climate/terraclimate_*.nc``    TerraClimate monthly tas (from tmax, tmin), pr, pet, tasmin,
                                 tasmax on TerraClimate's own grid over the box (socseq run
                                 resamples climate per window)
``climate/worldclim/*.tif``      WorldClim normals, one GeoTIFF per month, cropped to the box
``socseq.toml``                  a configuration skeleton that ``socseq validate`` accepts
``sources.json``                 what came from where: URLs, versions, licences, citations
==============================  =================================================================

The static layers share one EPSG:4326 grid (30″ by default) aligned to multiples of the cell
size. Nothing here runs at ``socseq run`` time: the run only reads the files written here.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from socseq import __version__
from socseq.atomic import write_json_atomic, write_text_atomic
from socseq.exceptions import ConfigError, DownloadError, SourceFormatError
from socseq.fetch.cache import Cache, default_cache_dir
from socseq.fetch.download import HttpOptions, download, head
from socseq.fetch.plan import (
    DEFAULT_RESOLUTION_DEG,
    FetchRequest,
    Item,
    parse_bbox,
    parse_years,
    plan_items,
    split_periods,
    thickness_weights,
)
from socseq.fetch.remote import read_window
from socseq.fetch.sources import Source, load_sources
from socseq.progress import Progress

__all__ = ["FetchPlan", "FetchResult", "fetch", "plan_fetch"]

#: TerraClimate names → the names and units written (CF decoding has applied the scales).
_SERIES_NAMES = {
    "tmax": ("tasmax", "degC"),
    "tmin": ("tasmin", "degC"),
    "tavg": ("tas", "degC"),
    "ppt": ("pr", "mm"),
    "pet": ("pet", "mm"),
}


@dataclass
class FetchPlan:
    """The files a fetch needs, per source, with what the cache already has."""

    request: FetchRequest
    sources: dict[str, Source]
    items: list[Item]
    cached: dict[str, bool]

    def rows(self) -> list[dict[str, Any]]:
        """One row per file: source, label, URL, cached, size (bytes) and whether exact."""
        return [
            {
                "source": item.source.name,
                "file": item.label,
                "url": item.url,
                "cached": self.cached[str(item.path)],
                "size_bytes": item.size,
                "size_exact": item.size_exact,
                "method": item.method,
                "error": item.meta.get("error"),
            }
            for item in self.items
        ]


@dataclass
class FetchResult:
    """What :func:`fetch` wrote."""

    out: Path
    config: Path | None
    outputs: dict[str, Path] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    cache_hits: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)


def plan_fetch(
    bbox: str | tuple[float, float, float, float] | None = None,
    *,
    boundary: str | os.PathLike[str] | None = None,
    years: str | tuple[int, int] = (1981, 2020),
    out: str | os.PathLike[str] = "socseq-inputs",
    sources: Iterable[str] | None = None,
    sources_file: str | os.PathLike[str] | None = None,
    base_urls: Mapping[str, str] | None = None,
    resolution: float = DEFAULT_RESOLUTION_DEG,
    cache_dir: str | os.PathLike[str] | None = None,
    options: HttpOptions | None = None,
    sizes: bool = False,
) -> FetchPlan:
    """List what a fetch would download (``--dry-run``), without downloading.

    Parameters
    ----------
    bbox : str or tuple, optional
        ``WEST,SOUTH,EAST,NORTH`` in degrees; or give ``boundary``.
    boundary : path-like, optional
        Vector file (GeoPackage, GeoJSON, Shapefile) whose outline limits the layers; its
        bounds give the box.
    years : str or (int, int)
        Years of the monthly series (``"1991-2020"``).
    out : path-like
        Output folder.
    sources : iterable of str, optional
        Source names (default: the table's default entries).
    sources_file : path-like, optional
        TOML file extending or overriding the source table.
    base_urls : mapping, optional
        Source name → base URL (mirrors, test servers).
    resolution : float
        Output cell size in degrees (default 30″).
    cache_dir : path-like, optional
        Cache root (default :func:`socseq.fetch.cache.default_cache_dir`).
    options : HttpOptions, optional
        Network settings.
    sizes : bool
        Ask the servers (HEAD) for the exact size of whole-file downloads that are not
        cached; estimates are shown otherwise.
    """
    options = options or HttpOptions()
    table = load_sources(sources_file, base_urls=base_urls)
    if boundary is not None:
        if bbox is not None:
            raise ConfigError("give --bbox or --boundary, not both")
        box = _boundary_bbox(Path(boundary))
    elif bbox is not None:
        box = parse_bbox(bbox)
    else:
        raise ConfigError("give --bbox WEST,SOUTH,EAST,NORTH or --boundary FILE")
    names = list(sources) if sources else [n for n, s in table.items() if s.default]
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ConfigError(
            f"--source {unknown[0]}: no such source; use one of {', '.join(sorted(table))}"
        )
    request = FetchRequest(
        bbox=box,
        years=parse_years(years),
        out=Path(out),
        resolution=resolution,
        boundary=Path(boundary) if boundary is not None else None,
    )
    cache = Cache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
    chosen = {n: table[n] for n in names}
    items = [item for source in chosen.values() for item in plan_items(source, request, cache)]
    cached = {str(item.path): cache.hit(item.path) for item in items}
    if sizes:
        for item in items:
            if item.method == "http" and not cached[str(item.path)] and not options.offline:
                try:
                    info = head(item.url, options)
                except DownloadError as exc:
                    item.meta["error"] = str(exc)
                    continue
                if info.size is not None and item.source.kind != "ncss":
                    item.size, item.size_exact = info.size, True
    return FetchPlan(request=request, sources=chosen, items=items, cached=cached)


def _boundary_bbox(path: Path) -> tuple[float, float, float, float]:
    import geopandas as gpd

    if not path.exists():
        raise ConfigError(f"--boundary {path}: does not exist; check the path")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own types
        raise ConfigError(
            f"--boundary {path}: cannot be read as a vector file ({exc}); give a GeoPackage, "
            "GeoJSON or Shapefile"
        ) from exc
    if frame.crs is None:
        raise ConfigError(f"--boundary {path}: has no CRS; write one into the file")
    west, south, east, north = frame.to_crs("EPSG:4326").total_bounds
    return parse_bbox((west, south, east, north))


def fetch(
    bbox: str | tuple[float, float, float, float] | None = None,
    *,
    boundary: str | os.PathLike[str] | None = None,
    years: str | tuple[int, int] = (1981, 2020),
    out: str | os.PathLike[str] = "socseq-inputs",
    sources: Iterable[str] | None = None,
    sources_file: str | os.PathLike[str] | None = None,
    base_urls: Mapping[str, str] | None = None,
    resolution: float = DEFAULT_RESOLUTION_DEG,
    cache_dir: str | os.PathLike[str] | None = None,
    options: HttpOptions | None = None,
    iso: str = "XXX",
    name: str | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchResult:
    """Download the public inputs for a box and write aligned layers and ``socseq.toml``.

    Parameters are those of :func:`plan_fetch`, plus ``iso`` and ``name`` for the ``[run]``
    section of the configuration, ``progress(label, done, total)`` called as each file
    advances (bytes, or rows of a remote window), and ``sleep`` for the retry waits.

    Returns
    -------
    FetchResult
        The output folder, the configuration written, the prepared layers by role, and which
        files were fetched, taken from the cache, or absent upstream (sea tiles).

    Raises
    ------
    OfflineError, DownloadError, ChecksumError, SourceFormatError
        One line naming the URL and what to do (see :mod:`socseq.fetch.download`).
    """
    options = options or HttpOptions()
    plan = plan_fetch(
        bbox,
        boundary=boundary,
        years=years,
        out=out,
        sources=sources,
        sources_file=sources_file,
        base_urls=base_urls,
        resolution=resolution,
        cache_dir=cache_dir,
        options=options,
    )
    request = plan.request
    result = FetchResult(out=request.out, config=None)
    got: dict[str, Path | None] = {}
    for item in plan.items:
        if plan.cached[str(item.path)]:
            result.cache_hits.append(item.label)
            got[str(item.path)] = item.path
            continue
        if item.method == "http":
            path: Path | None = download(
                item.url,
                item.path,
                options=options,
                checksum=item.checksum,
                validate=item.validate,
                progress=progress,
                label=item.label,
                sleep=sleep,
            )
        else:
            path = read_window(
                item.url,
                item.bbox or request.bbox,
                item.path,
                options=options,
                nodata=item.source.nodata,
                min_overview_res=item.overview_res,
                missing_ok=item.missing_ok,
                progress=progress,
                label=item.label,
                sleep=sleep,
            )
        if path is None:
            result.missing.append(item.label)
        else:
            result.fetched.append(item.label)
        got[str(item.path)] = path
    request.out.mkdir(parents=True, exist_ok=True)
    mask = _boundary_mask(request)
    for source in plan.sources.values():
        items = [i for i in plan.items if i.source.name == source.name]
        result.outputs.update(_prepare(source, items, got, request, mask))
    if "series" not in {_role(k) for k in result.outputs} and any(
        _role(k) == "normals" for k in result.outputs
    ):
        result.outputs.update(_series_from_normals(result.outputs, request))
    _write_provenance(plan, result)
    result.config = _write_skeleton(result, request, iso=iso, name=name)
    return result


def _role(key: str) -> str:
    return key.split(":", 1)[0]


# --------------------------------------------------------------------------- preparing


def _boundary_mask(request: FetchRequest) -> np.ndarray | None:
    """Return True for cells inside the boundary (None without a boundary)."""
    if request.boundary is None:
        return None
    import geopandas as gpd
    from rasterio.features import geometry_mask

    grid = request.grid
    shapes = gpd.read_file(request.boundary).to_crs("EPSG:4326").geometry
    return ~geometry_mask(shapes, out_shape=grid.shape, transform=grid.transform, all_touched=True)


def _prepare(
    source: Source,
    items: list[Item],
    got: dict[str, Path | None],
    request: FetchRequest,
    mask: np.ndarray | None,
) -> dict[str, Path]:
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
        out_name, units = _SERIES_NAMES.get(var, (var, str(da.attrs.get("units", ""))))
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
    blocks = fao.reshape(grid.height, factor, grid.width, factor).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(grid.height, grid.width, factor * factor)
    counts = np.stack([(blocks == k).sum(axis=-1) for k in range(1, 14)], axis=-1)
    classes = np.where(counts.max(axis=-1) > 0, counts.argmax(axis=-1) + 1, 0).astype(np.uint8)
    if mask is not None:
        classes[~mask] = 0
    folder = request.out / "landcover"
    path = _write_layer(classes, folder / "land_use_fao.tif", request, "", nodata=0, dtype="uint8")
    write_text_atomic(text, folder / f"{source.name}_to_fao.csv")
    return {"land_use": path}


def _series_from_normals(outputs: dict[str, Path], request: FetchRequest) -> dict[str, Path]:
    """Write a monthly series that repeats the normals every year, with PET from temperature."""
    import pandas as pd
    import xarray as xr

    from socseq.climate.pet import hargreaves_monthly, thornthwaite
    from socseq.io.raster import write_netcdf
    from socseq.io.series import open_monthly_pattern

    if "normals:tavg" not in outputs or "normals:prec" not in outputs:
        return {}
    tas = open_monthly_pattern(outputs["normals:tavg"], name="tavg")
    pr = open_monthly_pattern(outputs["normals:prec"], name="prec")
    months = np.arange(1, 13)
    lat = tas["y"].values[:, None] * np.ones(tas.shape[1:])
    if "normals:tmin" in outputs and "normals:tmax" in outputs:
        tmin = open_monthly_pattern(outputs["normals:tmin"], name="tmin").values
        tmax = open_monthly_pattern(outputs["normals:tmax"], name="tmax").values
        pet = hargreaves_monthly(tmin, tmax, lat, months[:, None, None], tmean_degC=tas.values)
        method = "Hargreaves (FAO-56 eq. 52) from WorldClim tmin/tmax normals"
    else:
        pet = thornthwaite(tas.values, lat, months)
        method = "Thornthwaite (1948) from WorldClim tavg normals and latitude"
    y0, y1 = request.years
    n = y1 - y0 + 1
    times = pd.date_range(f"{y0}-01-01", periods=12 * n, freq="MS")
    out = {}
    for name, values, units, long_name in (
        ("tas", tas.values, "degC", "WorldClim 2.1 tavg normals repeated every year"),
        ("pr", pr.values, "mm", "WorldClim 2.1 prec normals repeated every year"),
        ("pet", pet, "mm", f"PET by {method}, repeated every year"),
    ):
        da = xr.DataArray(
            np.tile(values, (n, 1, 1)),
            dims=("time", "y", "x"),
            coords={"time": times, "y": tas["y"].values, "x": tas["x"].values},
            name=name,
            attrs={"units": units, "long_name": long_name},
        ).rio.write_crs(tas.rio.crs)
        path = request.out / "climate" / f"normals_{name}_{y0}_{y1}.nc"
        write_netcdf(da.to_dataset(), path)
        out[f"series:{name}"] = path
    return out


# --------------------------------------------------------------------------- records


def _write_provenance(plan: FetchPlan, result: FetchResult) -> None:
    record = {
        "socseq_version": __version__,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bbox": list(plan.request.bbox),
        "boundary": str(plan.request.boundary) if plan.request.boundary else None,
        "years": list(plan.request.years),
        "resolution_deg": plan.request.resolution,
        "sources": {
            s.name: {
                "title": s.title,
                "version": s.version,
                "licence": s.licence,
                "citation": s.citation,
                "homepage": s.homepage,
                "urls": [i.url for i in plan.items if i.source.name == s.name],
            }
            for s in plan.sources.values()
        },
        "absent_upstream": result.missing,
        "outputs": {k: os.path.relpath(v, result.out) for k, v in result.outputs.items()},
    }
    write_json_atomic(record, result.out / "sources.json")


def _rel(path: Path, out: Path) -> str:
    return Path(os.path.relpath(path, out)).as_posix()


def _write_skeleton(
    result: FetchResult, request: FetchRequest, *, iso: str, name: str | None
) -> Path:
    out, o = result.out, result.outputs
    (spin0, spin1), (warm0, warm1) = split_periods(request.years)
    w, s, e, n = request.bbox
    lines = [
        "# Written by socseq fetch: inputs from public sources (see sources.json for the URLs,",
        "# licences and citations). Check it with `socseq validate socseq.toml`, then edit.",
        "",
        "[run]",
        f'name = "{name or f"socseq fetch {w:g},{s:g},{e:g},{n:g}"}"',
        f'iso = "{iso}"',
        'output_dir = "socseq-out"',
        "",
        "[periods]",
        f"spinup = [{spin0}, {spin1}]",
        f"warmup = [{warm0}, {warm1}]",
        "",
        "[inputs]",
    ]
    missing = []
    for role, units in (("soc", "t/ha"), ("clay", "%"), ("sand", "%")):
        if role in o:
            lines.append(f'{role} = {{ path = "{_rel(o[role], out)}", units = "{units}" }}')
        elif role != "sand":
            missing.append(role)
    if "land_use" in o:
        lines.append(f'land_use = {{ path = "{_rel(o["land_use"], out)}" }}')
    else:
        missing.append("land_use")
    if "soc" not in o:
        lines.insert(lines.index("[inputs]"), '[grid]\ntemplate = "clay"\n')
    lines += [
        "",
        "[land_use]",
        'source_classes = "fao"',
        "",
        "[climate]",
        'evaporation_kind = "pet"',
    ]
    series = {_role_var(k): v for k, v in o.items() if k.startswith("series:")}
    if {"tas", "pr", "pet"} <= set(series):
        if any(str(p.name).startswith("normals_") for p in series.values()):
            lines += [
                "# The series repeats the WorldClim normals every year, so the warm-up sees no",
                "# year-to-year change and BAU is about 0 by construction.",
            ]
        lines += [
            "",
            "[climate.series]",
            f'temperature = {{ path = "{_rel(series["tas"], out)}", variable = "tas", '
            'units = "degC" }',
            f'precipitation = {{ path = "{_rel(series["pr"], out)}", variable = "pr", '
            'units = "mm" }',
            f'evaporation = {{ path = "{_rel(series["pet"], out)}", variable = "pet", '
            'units = "mm" }',
        ]
    else:
        missing.append("climate series")
    normals = {_role_var(k): v for k, v in o.items() if k.startswith("normals:")}
    if normals:
        lines += ["", "# Monthly normals fetched (one file per month):"]
        lines += [f'#   {var}: "{_rel(p, out)}"' for var, p in sorted(normals.items())]
    if missing:
        lines.insert(
            2,
            f"# INCOMPLETE: no fetched source gave {', '.join(missing)}; add them (--source "
            "NAME) or fill the keys by hand before socseq validate.",
        )
    result.incomplete = missing
    text = "\n".join(lines) + "\n"
    return write_text_atomic(text, out / "socseq.toml")


def _role_var(key: str) -> str:
    return key.split(":", 1)[1]
