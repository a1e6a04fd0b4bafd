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

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socseq.exceptions import ConfigError, DownloadError
from socseq.fetch.cache import Cache, default_cache_dir
from socseq.fetch.download import HttpOptions, download, head
from socseq.fetch.plan import (
    DEFAULT_RESOLUTION_DEG,
    FetchRequest,
    Item,
    parse_bbox,
    parse_years,
    plan_items,
)
from socseq.fetch.prepare import boundary_mask, prepare_source
from socseq.fetch.records import write_provenance, write_skeleton
from socseq.fetch.remote import read_window
from socseq.fetch.sources import Source, load_sources
from socseq.progress import Progress

__all__ = ["FetchPlan", "FetchResult", "fetch", "plan_fetch"]


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
    mask = boundary_mask(request)
    for source in plan.sources.values():
        items = [i for i in plan.items if i.source.name == source.name]
        result.outputs.update(prepare_source(source, items, got, request, mask))
    write_provenance(plan, result)
    result.config = write_skeleton(result, request, iso=iso, name=name)
    return result
