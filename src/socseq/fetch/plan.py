"""What a fetch needs: the output grid of a box, and the list of files to fetch per source."""

from __future__ import annotations

import math
import os
import urllib.parse
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from pyproj import CRS

from socseq.exceptions import ConfigError, SourceFormatError
from socseq.fetch.cache import Cache
from socseq.fetch.sources import Source
from socseq.io.grid import GridSpec

__all__ = [
    "FetchRequest",
    "Item",
    "parse_bbox",
    "parse_years",
    "plan_items",
    "target_grid",
    "worldcover_tiles",
]

#: Default output cell: 30 arc-seconds, the GSOCseq master grid.
DEFAULT_RESOLUTION_DEG = 1 / 120
#: Years per NCSS request: a failed request repeats at most this much.
NCSS_BLOCK_YEARS = 10
_DEGREE_M = 111_320.0


def parse_bbox(text: str | tuple[float, ...]) -> tuple[float, float, float, float]:
    """``"WEST,SOUTH,EAST,NORTH"`` in degrees → a checked tuple."""
    try:
        values = (
            tuple(float(v) for v in text.split(","))
            if isinstance(text, str)
            else tuple(float(v) for v in text)
        )
    except ValueError as exc:
        raise ConfigError(f"--bbox {text}: give WEST,SOUTH,EAST,NORTH in degrees") from exc
    if len(values) != 4:
        raise ConfigError(f"--bbox {text}: give four numbers WEST,SOUTH,EAST,NORTH in degrees")
    west, south, east, north = values
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ConfigError(
            f"--bbox {text}: needs -180 <= WEST < EAST <= 180 and -90 <= SOUTH < NORTH <= 90"
        )
    return west, south, east, north


def parse_years(text: str | tuple[int, int]) -> tuple[int, int]:
    """``"1991-2020"`` → (1991, 2020)."""
    try:
        first, last = (
            (int(v) for v in text.split("-")) if isinstance(text, str) else (int(v) for v in text)
        )
    except ValueError as exc:
        raise ConfigError(f"--years {text}: give FIRST-LAST, e.g. 1991-2020") from exc
    if last <= first:
        raise ConfigError(
            f"--years {text}: give at least two years (FIRST-LAST): the spin-up and the "
            "warm-up each need some"
        )
    return first, last


def target_grid(
    bbox: tuple[float, float, float, float], resolution: float = DEFAULT_RESOLUTION_DEG
) -> GridSpec:
    """EPSG:4326 grid of ``resolution`` degrees covering the box, aligned to multiples of it."""
    eps = 1e-9
    west = math.floor(bbox[0] / resolution + eps) * resolution
    south = math.floor(bbox[1] / resolution + eps) * resolution
    east = math.ceil(bbox[2] / resolution - eps) * resolution
    north = math.ceil(bbox[3] / resolution - eps) * resolution
    width = round((east - west) / resolution)
    height = round((north - south) / resolution)
    return GridSpec(
        CRS.from_epsg(4326), Affine(resolution, 0, west, 0, -resolution, north), width, height
    )


def _grid_bbox(grid: GridSpec, margin: float) -> tuple[float, float, float, float]:
    t = grid.transform
    west, north = t.c, t.f
    east, south = west + t.a * grid.width, north + t.e * grid.height
    return (
        max(-180.0, west - margin),
        max(-90.0, south - margin),
        min(180.0, east + margin),
        min(90.0, north + margin),
    )


@dataclass(frozen=True)
class FetchRequest:
    """One fetch: the box (or boundary), years, output folder and grid."""

    bbox: tuple[float, float, float, float]
    years: tuple[int, int]
    out: Path
    resolution: float = DEFAULT_RESOLUTION_DEG
    boundary: Path | None = None

    @property
    def grid(self) -> GridSpec:
        """The output grid of the static layers."""
        return target_grid(self.bbox, self.resolution)

    def source_bbox(self, native_res_deg: float) -> tuple[float, float, float, float]:
        """Return the grid's box plus a margin of two source cells (for resampling at edges)."""
        margin = max(2 * native_res_deg, 2 * self.resolution)
        return _grid_bbox(self.grid, margin)


@dataclass
class Item:
    """One file (or remote window) to fetch into the cache."""

    source: Source
    label: str
    url: str
    path: Path
    method: str  # "http" (whole file) or "window" (range requests through GDAL)
    size: int | None = None
    size_exact: bool = False
    bbox: tuple[float, float, float, float] | None = None
    checksum: str | None = None
    validate: Callable[[Path], None] | None = None
    missing_ok: bool = False
    overview_res: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _native_deg(source: Source) -> float:
    """Source cell size in degrees (metres converted at the equator)."""
    return source.native_res if source.native_res < 1 else source.native_res / _DEGREE_M


def _validate_netcdf(variable: str, months: int, url: str) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        import xarray as xr

        errors = []
        for engine in ("scipy", "h5netcdf"):
            try:
                with xr.open_dataset(path, engine=engine, decode_times=False) as ds:
                    if variable not in ds.data_vars:
                        raise SourceFormatError(
                            f"{url}: the response has no variable '{variable}' (it has "
                            f"{', '.join(map(str, ds.data_vars)) or 'none'}); check the source"
                        )
                    n = ds.sizes.get("time", 0)
                    if n != months:
                        raise SourceFormatError(
                            f"{url}: the response holds {n} months, not {months}; choose "
                            "--years within the years the provider has"
                        )
                return
            except SourceFormatError:
                raise
            except Exception as exc:  # each engine fails its own way
                errors.append(f"{engine}: {str(exc).splitlines()[0] if str(exc) else exc}")
        with open(path, "rb") as handle:
            start = handle.read(200)
        hint = " (the server sent an error page)" if start.lstrip()[:1] in (b"<", b"{") else ""
        raise SourceFormatError(
            f"{url}: the response is not NetCDF{hint} ({'; '.join(errors)}); run again, or "
            "check the request in the source table"
        )

    return check


def _validate_zip(members: list[str], url: str) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                missing = [m for m in members if m not in names]
                if missing:
                    raise SourceFormatError(
                        f"{url}: the zip lacks {missing[0]} ({len(missing)} of "
                        f"{len(members)} monthly files missing); check the source table"
                    )
                bad = archive.testzip()
                if bad is not None:
                    raise SourceFormatError(f"{url}: {bad} in the zip is corrupt; run again")
        except zipfile.BadZipFile as exc:
            raise SourceFormatError(f"{url}: not a valid zip ({exc}); run again") from exc

    return check


def worldcover_tiles(bbox: tuple[float, float, float, float], step: int = 3) -> list[str]:
    """Names (south-west corner) of the ``step``-degree tiles that meet the box."""
    west, south, east, north = bbox
    tiles = []
    lat = math.floor(south / step) * step
    while lat < north:
        lon = math.floor(west / step) * step
        while lon < east:
            ns = "N" if lat >= 0 else "S"
            ew = "E" if lon >= 0 else "W"
            tiles.append(f"{ns}{abs(lat):02d}{ew}{abs(lon):03d}")
            lon += step
        lat += step
    return tiles


def _box_cells(bbox: tuple[float, float, float, float], res_deg: float) -> int:
    return max(1, round((bbox[2] - bbox[0]) / res_deg)) * max(
        1, round((bbox[3] - bbox[1]) / res_deg)
    )


def _plan_ncss(source: Source, request: FetchRequest, cache: Cache) -> list[Item]:
    """THREDDS NetCDF Subset Service: one request per variable and block of years."""
    native = _native_deg(source)
    first, last = request.years
    if source.first_year and first < source.first_year:
        raise ConfigError(
            f"--years {first}-{last}: {source.name} starts in {source.first_year}; choose "
            "later years"
        )
    bbox = request.source_bbox(native)
    items: list[Item] = []
    for var in source.variables:
        for y0 in range(first, last + 1, NCSS_BLOCK_YEARS):
            y1 = min(last, y0 + NCSS_BLOCK_YEARS - 1)
            query = {
                "var": var,
                "north": f"{bbox[3]:.6f}",
                "west": f"{bbox[0]:.6f}",
                "east": f"{bbox[2]:.6f}",
                "south": f"{bbox[1]:.6f}",
                "disableProjSubset": "on",
                "horizStride": "1",
                "time_start": f"{y0}-01-01T00:00:00Z",
                "time_end": f"{y1}-12-31T23:59:59Z",
                "timeStride": "1",
                "accept": "netcdf",
            }
            url = source.url(var=var) + "?" + urllib.parse.urlencode(query)
            months = 12 * (y1 - y0 + 1)
            items.append(
                Item(
                    source=source,
                    label=f"{source.name} {var} {y0}-{y1}",
                    url=url,
                    path=cache.path(
                        source.name, source.version, var, f"{y0}-{y1}", bbox, f"{var}.nc"
                    ),
                    method="http",
                    size=_box_cells(bbox, native) * months * 4,
                    bbox=bbox,
                    checksum=source.checksums.get(url),
                    validate=_validate_netcdf(var, months, url),
                    meta={"variable": var, "years": (y0, y1)},
                )
            )
    return items


def _plan_zip_monthly(source: Source, request: FetchRequest, cache: Cache) -> list[Item]:
    """One zip of 12 monthly GeoTIFFs per variable (WorldClim normals); the box is cut later."""
    items: list[Item] = []
    for var in source.variables:
        url = source.url(var=var, res=source.resolution)
        members = [
            source.member.format(res=source.resolution, var=var, month=m) for m in range(1, 13)
        ]
        items.append(
            Item(
                source=source,
                label=f"{source.name} {var} {source.resolution}",
                url=url,
                path=cache.path(
                    source.name,
                    source.version,
                    f"{var}-{source.resolution}",
                    "normals",
                    None,
                    os.path.basename(url),
                ),
                method="http",
                checksum=source.checksums.get(url),
                validate=_validate_zip(members, url),
                meta={"variable": var, "members": members},
            )
        )
    return items


def _plan_cog_window(source: Source, request: FetchRequest, cache: Cache) -> list[Item]:
    """Plan a window of one cloud-optimised file per variable and depth (SoilGrids)."""
    native = _native_deg(source)
    bbox = request.source_bbox(native)
    items: list[Item] = []
    for var in source.variables:
        for depth in source.depths or ("",):
            url = source.url(var=var, depth=depth)
            items.append(
                Item(
                    source=source,
                    label=f"{source.name} {depth}".strip(),
                    url=url,
                    path=cache.path(
                        source.name,
                        source.version,
                        f"{var}-{depth}" if depth else var,
                        "static",
                        bbox,
                        f"{var}_{depth or 'layer'}.tif",
                    ),
                    method="window",
                    size=_box_cells(bbox, native) * 2,
                    bbox=bbox,
                    meta={"variable": var, "depth": depth},
                )
            )
    return items


def _plan_cog_tiles(source: Source, request: FetchRequest, cache: Cache) -> list[Item]:
    """Plan a window of each 3-degree tile meeting the box, read at an overview (WorldCover)."""
    native = _native_deg(source)
    bbox = request.source_bbox(request.resolution)
    overview = request.resolution / 10
    read_res = max(native, overview / 2)
    items: list[Item] = []
    for tile in worldcover_tiles(bbox):
        tile_box = (
            max(bbox[0], _tile_lon(tile)),
            max(bbox[1], _tile_lat(tile)),
            min(bbox[2], _tile_lon(tile) + 3),
            min(bbox[3], _tile_lat(tile) + 3),
        )
        items.append(
            Item(
                source=source,
                label=f"{source.name} {tile}",
                url=source.url(tile=tile),
                path=cache.path(
                    source.name, source.version, source.variables[0], "static", bbox, tile + ".tif"
                ),
                method="window",
                size=_box_cells(tile_box, read_res),
                bbox=tile_box,
                missing_ok=True,  # no tiles are published over open sea
                overview_res=overview,
                meta={"tile": tile},
            )
        )
    return items


#: The planner of each source kind (the source table's ``kind``).
_PLANNERS: dict[str, Callable[[Source, FetchRequest, Cache], list[Item]]] = {
    "ncss": _plan_ncss,
    "zip_monthly": _plan_zip_monthly,
    "cog_window": _plan_cog_window,
    "cog_tiles": _plan_cog_tiles,
}


def plan_items(source: Source, request: FetchRequest, cache: Cache) -> list[Item]:
    """List the files one source needs for a request, with cache paths and sizes."""
    planner = _PLANNERS.get(source.kind)
    if planner is None:  # pragma: no cover - the table loader checks kinds
        raise ConfigError(f"source {source.name}: unknown kind {source.kind}")
    return planner(source, request, cache)


def _tile_lat(tile: str) -> int:
    value = int(tile[1:3])
    return value if tile[0] == "N" else -value


def _tile_lon(tile: str) -> int:
    value = int(tile[4:7])
    return value if tile[3] == "E" else -value


def split_periods(years: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Spin-up and warm-up years from the fetched years.

    The warm-up takes the last years (at most 20, the GSOCseq length, and at most half the
    record); the spin-up the years before it (at most 20): 1981-2020 gives 1981-2000 and
    2001-2020 as GSOCseq, 1991-2020 gives 1991-2000 and 2001-2020.
    """
    first, last = years
    n = last - first + 1
    warm = min(20, math.ceil(n / 2))
    warm_first = last - warm + 1
    spin_first = max(first, warm_first - 20)
    return (spin_first, warm_first - 1), (warm_first, last)


def thickness_weights(depths: tuple[str, ...]) -> np.ndarray:
    """Weights of depth intervals ``"0-5cm"`` … by their thickness (they sum to 1)."""
    spans = []
    for depth in depths:
        top, _, bottom = depth.removesuffix("cm").partition("-")
        try:
            spans.append(float(bottom) - float(top))
        except ValueError as exc:
            raise ConfigError(f"depth '{depth}': give intervals as 'TOP-BOTTOMcm'") from exc
    weights = np.asarray(spans, dtype=np.float64)
    return weights / weights.sum()
