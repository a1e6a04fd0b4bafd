"""Windows of cloud-optimised rasters read over HTTP range requests (GDAL ``/vsicurl/``).

Only the blocks that cover the box travel. The window is written to the cache as a GeoTIFF in
the source's own CRS and resolution (``NAME.part`` first, renamed when complete, then a
``NAME.json`` record), so it is reused by later fetches of the same box and re-projected
locally. GDAL's own retries are off: the same retry, backoff and one-line errors as
:mod:`socseq.fetch.download` apply.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from socseq.atomic import write_json_atomic
from socseq.exceptions import DownloadError, OfflineError, SourceFormatError
from socseq.fetch.download import HttpOptions, file_digest, is_complete
from socseq.progress import Progress

__all__ = ["gdal_env", "outer_window", "read_window", "vsicurl"]

_ROWS = 256
_OFFLINE_MARKS = (
    "resolve host",
    "could not resolve",
    "connection refused",
    "couldn't connect",
    "could not connect",
    "network is unreachable",
    "no route to host",
)


def vsicurl(url: str) -> str:
    """GDAL path of a remote file."""
    return f"/vsicurl/{url}"


def gdal_env(options: HttpOptions, url: str) -> dict[str, str]:
    """GDAL configuration for one remote read."""
    prefix = url.rsplit("/", 1)[0]
    return {
        "GDAL_HTTP_TIMEOUT": str(max(1, round(options.timeout_s))),
        "GDAL_HTTP_CONNECTTIMEOUT": str(max(1, round(options.timeout_s))),
        "GDAL_HTTP_MAX_RETRY": "0",  # retried here, with the same rules as downloads
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no directory listing requests
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.vrt,.ovr",
        # A failed attempt must not be remembered by GDAL's cache of file sizes/blocks.
        "CPL_VSIL_CURL_NON_CACHED": vsicurl(prefix),
        "GDAL_HTTP_USERAGENT": "socseq-fetch",
    }


def _classify(url: str, exc: Exception, options: HttpOptions) -> tuple[Exception, bool]:
    """(error to raise, whether to retry) for a GDAL failure on ``url``."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    low = text.lower()
    if any(mark in low for mark in _OFFLINE_MARKS):
        return (
            OfflineError(
                f"{url}: cannot reach the server ({text}); check the network connection "
                "(files already in the cache are used without it: see --offline)"
            ),
            False,
        )
    if "404" in low or "not recognized as" in low or "does not exist" in low:
        return (
            DownloadError(
                f"{url}: HTTP 404 or not a raster ({text}); check the source's base URL "
                "(--base-url NAME=URL) and path in the source table"
            ),
            False,
        )
    if "timed out" in low or "timeout" in low:
        return (
            DownloadError(
                f"{url}: no answer within {options.timeout_s:g} s; try again later or raise "
                "--timeout"
            ),
            True,
        )
    return DownloadError(f"{url}: reading failed ({text}); try again later"), True


def outer_window(window: Window) -> Window:
    """Return the smallest whole-pixel window that contains ``window``."""
    col0, row0 = math.floor(window.col_off), math.floor(window.row_off)
    col1 = math.ceil(window.col_off + window.width)
    row1 = math.ceil(window.row_off + window.height)
    return Window(col0, row0, col1 - col0, row1 - row0)


def _meta(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def read_window(
    url: str,
    bbox_lonlat: tuple[float, float, float, float],
    dest: Path,
    *,
    options: HttpOptions,
    nodata: float | None = None,
    min_overview_res: float | None = None,
    missing_ok: bool = False,
    progress: Progress | None = None,
    label: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Path | None:
    """Read the part of a remote raster covering a lon/lat box into a local GeoTIFF.

    Parameters
    ----------
    url : str
        HTTP(S) address of a COG, GeoTIFF or VRT (the VRT's tiles are fetched relative to it).
    bbox_lonlat : (west, south, east, north)
        Box in degrees (EPSG:4326), margin included.
    dest : pathlib.Path
        Cache path of the window (GeoTIFF); returned at once when already complete.
    options : HttpOptions
        Timeout, retries, backoff, offline.
    nodata : float, optional
        No-data value to declare when the source declares none.
    min_overview_res : float, optional
        Read the coarsest overview whose cell is at most this size (source CRS units)
        instead of full resolution.
    missing_ok : bool
        A missing file (HTTP 404) returns None instead of raising (tile grids with gaps).
    progress : callable, optional
        ``progress(label, rows_done, rows_total)``.

    Returns
    -------
    pathlib.Path or None
        ``dest``, or None when the file is missing and ``missing_ok``.
    """
    if is_complete(dest):
        return dest
    if _meta(dest).with_suffix(".missing").exists() and missing_ok:
        return None
    if options.offline:
        raise OfflineError(
            f"{url}: not in the cache ({dest}) and --offline given; run once with a network "
            "connection"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    label = label or dest.name
    last: Exception | None = None
    for attempt in range(options.retries + 1):
        if attempt:
            sleep(options.delay(attempt))
        try:
            return _read_once(
                url, bbox_lonlat, dest, options, nodata, min_overview_res, progress, label
            )
        except SourceFormatError:
            raise
        except (RasterioError, OSError) as exc:
            error, retry = _classify(url, exc, options)
            if not retry:
                if missing_ok and not isinstance(error, OfflineError):
                    write_json_atomic(
                        {"url": url, "missing": True}, _meta(dest).with_suffix(".missing")
                    )
                    return None
                raise error from exc
            last = error
    raise DownloadError(f"{last} (gave up after {options.retries + 1} attempts)")


def _read_once(
    url: str,
    bbox_lonlat: tuple[float, float, float, float],
    dest: Path,
    options: HttpOptions,
    nodata: float | None,
    min_overview_res: float | None,
    progress: Progress | None,
    label: str,
) -> Path:
    part = dest.with_name(dest.name + ".part")
    with rasterio.Env(**gdal_env(options, url)):
        level = None
        if min_overview_res is not None:
            with rasterio.open(vsicurl(url)) as full:
                factors = full.overviews(1)
                usable = [
                    i for i, f in enumerate(factors) if abs(full.res[0]) * f <= min_overview_res
                ]
                level = usable[-1] if usable else None
        kwargs = {} if level is None else {"overview_level": level}
        with rasterio.open(vsicurl(url), **kwargs) as src:
            if src.crs is None:
                raise SourceFormatError(f"{url}: has no CRS; check the source table entry")
            bounds = transform_bounds("EPSG:4326", src.crs, *bbox_lonlat, densify_pts=21)
            window = from_bounds(*bounds, transform=src.transform)
            window = outer_window(window)
            full_window = Window(0, 0, src.width, src.height)
            try:
                window = window.intersection(full_window)
            except Exception as exc:  # rasterio raises WindowError when disjoint
                raise SourceFormatError(
                    f"{url}: does not cover the box {bbox_lonlat}; check the bbox and the source"
                ) from exc
            height, width = int(window.height), int(window.width)
            data = np.empty((height, width), dtype=src.dtypes[0])
            for row in range(0, height, _ROWS):
                rows = min(_ROWS, height - row)
                sub = Window(window.col_off, window.row_off + row, width, rows)
                data[row : row + rows] = src.read(1, window=sub)
                if progress is not None:
                    progress(label, row + rows, height)
            profile = {
                "driver": "GTiff",
                "height": height,
                "width": width,
                "count": 1,
                "dtype": src.dtypes[0],
                "crs": src.crs,
                "transform": src.window_transform(window),
                "nodata": src.nodata if src.nodata is not None else nodata,
                "compress": "deflate",
                "tiled": height >= 256 and width >= 256,
            }
    try:
        with rasterio.open(part, "w", **profile) as out:
            out.write(data, 1)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    write_json_atomic(
        {
            "url": url,
            "bbox_lonlat": list(bbox_lonlat),
            "window": [int(window.col_off), int(window.row_off), width, height],
            "size": dest.stat().st_size,
            "sha256": file_digest(dest, "sha256"),
            "fetched": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        _meta(dest),
    )
    return dest
