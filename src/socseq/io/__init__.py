"""Input/output: rasters, grids, units, soil samples.

- :mod:`socseq.io.raster`: open GeoTIFF/COG, NetCDF and Zarr layers with one set of conventions
  (dims ``(y, x)``/``(time, y, x)``, NaN for no data, CRS set); write GeoTIFF/COG, NetCDF, Zarr.
- :mod:`socseq.io.grid`: the template :class:`GridSpec`, alignment with a resampling rule per
  variable type, coastal filling from the nearest cell, true cell areas.
- :mod:`socseq.io.units`: canonical units per variable, conversion once at the edge, and
  recognition of the common unit traps.
- :mod:`socseq.atomic`: atomic writes (temporary name, then rename).
"""

from socseq.atomic import atomic_path, write_csv_atomic, write_json_atomic, write_text_atomic
from socseq.io.grid import (
    GridSpec,
    align_to_template,
    cell_area_ha,
    fill_from_nearest,
)
from socseq.io.raster import (
    open_monthly,
    open_raster,
    write_geotiff,
    write_netcdf,
    write_zarr,
)
from socseq.io.units import canonical_units, check_and_convert

__all__ = [
    "GridSpec",
    "align_to_template",
    "atomic_path",
    "canonical_units",
    "cell_area_ha",
    "check_and_convert",
    "fill_from_nearest",
    "open_monthly",
    "open_raster",
    "write_csv_atomic",
    "write_geotiff",
    "write_json_atomic",
    "write_netcdf",
    "write_text_atomic",
    "write_zarr",
]
