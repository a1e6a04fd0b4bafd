"""GeoTIFFs written straight with rasterio, so tests control what socseq's readers meet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine

#: A 30″ grid over Taiwan.
GEO = Affine(1 / 120, 0, 120.0, 0, -1 / 120, 24.0)


def write_tif(
    path: Path,
    data: Any,
    *,
    crs: str | None = "EPSG:4326",
    transform: Affine = GEO,
    nodata: float | None = None,
    scale: float | None = None,
    desc: tuple[str, ...] | None = None,
) -> Path:
    """Write ``data`` (rows × columns, or bands × rows × columns) as a GeoTIFF at ``path``.

    ``scale`` is every band's scale factor and ``desc`` the band descriptions. An existing
    file is overwritten in place.
    """
    data = np.asarray(data)
    bands = data if data.ndim == 3 else data[None]
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=bands.shape[2],
        height=bands.shape[1],
        count=bands.shape[0],
        dtype=bands.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(bands)
        if scale is not None:
            dst.scales = (scale,) * bands.shape[0]
        if desc is not None:
            dst.descriptions = desc
    return path
