"""Read soil sample points (CSV, GeoPackage, Shapefile) with declared column units.

A sample table names its columns and their units in the configuration; :func:`read_samples`
reads the file, checks that every named column exists and is numeric, converts each declared
unit to the canonical one that the column name carries (``soc_g_kg``, ``bd_g_cm3``,
``cf_frac``, ``top_cm``, ``bottom_cm``, ``stock_t_ha``) and refuses units that are unknown or
whose values betray another unit (SOC in g/kg declared as %, bulk density in kg/m³ declared as
g/cm³, coarse fragments in % declared as a fraction, ...). Spellings, factors and traps are
those of the one units table, :data:`socseq.io.units.VARIABLES`, which rasters use too.
Locations come from x/y columns (CSV, with a declared CRS) or from point geometries
(GeoPackage, Shapefile, GeoJSON, which carry their CRS).

Values are converted, never filtered: rows with missing or impossible values are reported and
dropped later by :mod:`socseq.dsm.stocks`, which knows the soil physics.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from socseq.exceptions import ConfigError, InputFormatError, InputValidationError
from socseq.io.units import VARIABLES, find_trap, summarise_values, unit_key

__all__ = [
    "QUANTITIES",
    "ColumnSpec",
    "SampleTable",
    "read_samples",
]

_TABLE_SUFFIXES = {".csv", ".txt", ".tsv"}
_VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml"}


#: Quantities a sample table may declare: canonical column name → variable of the one units
#: table, :data:`socseq.io.units.VARIABLES` (accepted spellings, factors to canonical, traps).
QUANTITIES: dict[str, str] = {
    "soc_g_kg": "soc_g_kg",
    "bd_g_cm3": "bulk_density_g_cm3",
    "cf_frac": "cf_frac",
    "stock_t_ha": "soc_t_ha",
    "top_cm": "depth_cm",
    "bottom_cm": "depth_cm",
}


@dataclass(frozen=True)
class ColumnSpec:
    """A column of the sample file and the units its values are stored in."""

    column: str
    units: str


@dataclass(frozen=True)
class SampleTable:
    """Soil samples with canonical, unit-suffixed columns and a CRS.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per sample (or per horizon of a profile table): ``sample_id`` (str), ``row``
        (1-based data row in the file, for messages), ``x``, ``y`` (in ``crs``), optionally
        ``profile_id``, and the declared quantities under their canonical names
        (:data:`QUANTITIES`), converted to canonical units. Columns listed in ``keep`` follow
        unchanged.
    crs : pyproj.CRS
        Coordinate reference system of ``x``/``y``.
    source : pathlib.Path
        The file read.
    """

    data: pd.DataFrame
    crs: CRS
    source: Path

    def to_crs(self, crs: CRS | str) -> SampleTable:
        """Return the table with ``x``/``y`` transformed to another CRS."""
        target = CRS.from_user_input(crs)
        if target == self.crs:
            return self
        transformer = Transformer.from_crs(self.crs, target, always_xy=True)
        x, y = transformer.transform(self.data["x"].to_numpy(), self.data["y"].to_numpy())
        data = self.data.assign(x=np.asarray(x, dtype=float), y=np.asarray(y, dtype=float))
        return SampleTable(data=data, crs=target, source=self.source)


def _what(path: Path) -> str:
    return f"samples file {path}"


def _read_table(path: Path) -> pd.DataFrame:
    sep = "\t" if path.suffix.lower() == ".tsv" else None
    if path.is_file() and path.stat().st_size <= 4096 and not path.read_bytes().strip():
        raise InputFormatError(
            f"{_what(path)}: is empty; give a header row and one row per sample (UTF-8 CSV)"
        )
    try:
        # sep=None sniffs "," or ";" (European spreadsheets export ";").
        return pd.read_csv(path, sep=sep, engine="python")
    except (
        pd.errors.ParserError,
        UnicodeDecodeError,
        pd.errors.EmptyDataError,
        csv.Error,  # the sniffer finds no delimiter
    ) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFormatError(
            f"{_what(path)}: cannot be read as a table ({first}); save it as UTF-8 CSV with "
            "one header row"
        ) from exc


def _read_vector(path: Path, layer: str | None) -> tuple[pd.DataFrame, CRS | None]:
    try:
        import geopandas as gpd  # only vector formats need it: the optional "vector" extra
    except ImportError as exc:
        raise ConfigError(
            f"{_what(path)}: reading GeoPackage, Shapefile or GeoJSON needs geopandas; install "
            "it with pip install 'socseq[vector]', or give the samples as CSV with x, y and crs"
        ) from exc

    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises its own DataSourceError/DataLayerError types
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFormatError(
            f"{_what(path)}: cannot be read as a vector file ({first}); check the path and, "
            "for a GeoPackage with several layers, set layer"
        ) from exc
    geom = gdf.geometry
    kinds = set(geom.geom_type.dropna().unique())
    if not kinds <= {"Point", "MultiPoint"}:
        raise InputFormatError(
            f"{_what(path)}: holds {', '.join(sorted(kinds))} geometries; soil samples must "
            "be points (convert polygons to centroids first)"
        )
    multi = geom.geom_type == "MultiPoint"
    if multi.any():
        n_parts = geom[multi].apply(lambda g: len(g.geoms))
        if (n_parts > 1).any():
            raise InputFormatError(
                f"{_what(path)}: row {int(np.flatnonzero(multi)[0]) + 1} is a MultiPoint of "
                "several points; give one point per sample (explode the MultiPoints)"
            )
        geom = geom.where(~multi, geom[multi].apply(lambda g: g.geoms[0]))
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    table["__x"] = geom.x.to_numpy()
    table["__y"] = geom.y.to_numpy()
    return table, (CRS.from_user_input(gdf.crs) if gdf.crs is not None else None)


def _parse_crs(crs: CRS | str | int, path: Path) -> CRS:
    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        raise ConfigError(
            f"{_what(path)}: crs '{crs}' is not a coordinate reference system; give e.g. "
            "'EPSG:4326' for longitude/latitude"
        ) from exc


def _require_columns(table: pd.DataFrame, wanted: Sequence[str], path: Path) -> None:
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise InputValidationError(
            f"{_what(path)}: has no column '{missing[0]}' (columns: "
            f"{', '.join(map(str, table.columns))}); correct the column name in the "
            "configuration"
        )


def _numeric(table: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """Return a column as float, refusing text that is not a number or a missing-value mark."""
    raw = table[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputValidationError(
            f"{_what(path)}: column '{column}' row {first + 1} holds '{raw.iloc[first]}', not a "
            "number; use a decimal point and leave missing values empty or NA"
        )
    return values.to_numpy(dtype=float)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _convert(
    values: np.ndarray, name: str, spec: ColumnSpec, path: Path, check_units: bool
) -> np.ndarray:
    """Convert a column from its declared units to the canonical ones, checking for traps."""
    variable = QUANTITIES[name]
    table = VARIABLES[variable]
    key = unit_key(variable, spec.units)
    if key is None:
        raise ConfigError(
            f"{_what(path)}: column '{spec.column}' ({table.label}) has units "
            f'"{spec.units}", not known; use one of ' + ", ".join(f'"{k}"' for k in table.units)
        )
    seen = summarise_values(values)
    trap = find_trap(variable, key, seen) if check_units else None
    if trap is not None:
        raise InputValidationError(
            f"{_what(path)}: column '{spec.column}' ({table.label}) values "
            f"{_fmt(seen.min)}–{_fmt(seen.max)} (median {_fmt(seen.median)}) look like "
            f'{trap.looks_like}, but units are declared "{spec.units}"; set units = '
            f'"{trap.fix}" (or check_units = false if the values really are so)'
        )
    conversion = table.units[key]
    return values * conversion.scale + conversion.offset


_Located = tuple[pd.DataFrame, CRS, np.ndarray, np.ndarray]


def _located_table(
    path: Path, x: str | None, y: str | None, crs: CRS | str | int | None
) -> _Located:
    """Read a CSV/TSV table; return it with its CRS and the x/y coordinates of its rows."""
    if x is None or y is None or crs is None:
        raise ConfigError(
            f"{_what(path)}: a table needs x, y and crs (the coordinate columns and their "
            'CRS, e.g. crs = "EPSG:4326" for longitude/latitude)'
        )
    table = _read_table(path)
    _require_columns(table, [x, y], path)
    return table, _parse_crs(crs, path), _numeric(table, x, path), _numeric(table, y, path)


def _located_vector(
    path: Path, x: str | None, y: str | None, crs: CRS | str | int | None, layer: str | None
) -> _Located:
    """Read a vector file; return its attribute table, its CRS and its points' x/y."""
    if x is not None or y is not None:
        raise ConfigError(
            f"{_what(path)}: is a vector file whose point geometries give the locations; "
            "remove x and y from the configuration"
        )
    table, file_crs = _read_vector(path, layer)
    if file_crs is None:
        if crs is None:
            raise ConfigError(
                f"{_what(path)}: has no CRS; set crs in the configuration or write one into "
                "the file (ogr2ogr -a_srs EPSG:XXXX)"
            )
        file_crs = _parse_crs(crs, path)
    elif crs is not None and _parse_crs(crs, path) != file_crs:
        raise ConfigError(
            f"{_what(path)}: crs '{crs}' disagrees with the file's CRS "
            f"{file_crs.to_string()}; remove crs from the configuration"
        )
    xs, ys = table.pop("__x").to_numpy(float), table.pop("__y").to_numpy(float)
    return table, file_crs, xs, ys


def _check_coordinates(x: np.ndarray, y: np.ndarray, crs: CRS, path: Path) -> None:
    """Refuse coordinates that cannot be in the declared CRS (lon/lat vs metres)."""
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise InputValidationError(
            f"{_what(path)}: row {first + 1} has no coordinates (x={x[first]}, y={y[first]}); "
            "give coordinates for every sample or remove the row"
        )
    if x.size == 0:
        raise InputValidationError(f"{_what(path)}: holds no samples; check the file and layer")
    looks_lonlat = bool(np.all(np.abs(x) <= 360) and np.all(np.abs(y) <= 90))
    if crs.is_geographic and not looks_lonlat:
        raise InputValidationError(
            f"{_what(path)}: coordinates x {_fmt(x.min())}–{_fmt(x.max())}, y "
            f"{_fmt(y.min())}–{_fmt(y.max())} are not degrees, but crs {crs.to_string()} is "
            "geographic; declare the projected CRS of the coordinates"
        )
    extent = max(np.ptp(x), np.ptp(y))
    if not crs.is_geographic and looks_lonlat and extent < 10:
        raise InputValidationError(
            f"{_what(path)}: coordinates x {_fmt(x.min())}–{_fmt(x.max())}, y "
            f"{_fmt(y.min())}–{_fmt(y.max())} look like longitude/latitude degrees, but crs "
            f'{crs.to_string()} is projected; set crs = "EPSG:4326"'
        )


def read_samples(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, ColumnSpec | tuple[str, str]],
    x: str | None = None,
    y: str | None = None,
    crs: CRS | str | int | None = None,
    layer: str | None = None,
    id_column: str | None = None,
    profile_column: str | None = None,
    keep: Sequence[str] = (),
    check_units: bool = True,
) -> SampleTable:
    """Read soil samples and convert their declared columns to canonical units.

    Parameters
    ----------
    path : path-like
        ``.csv``/``.txt`` (comma or semicolon separated) or ``.tsv`` tables, or vector files
        readable by GDAL (``.gpkg``, ``.shp``, ``.geojson``, ...) holding point geometries.
    columns : mapping
        Canonical quantity → (column in the file, declared units), e.g.
        ``{"soc_g_kg": ("SOC", "%"), "bd_g_cm3": ("BLD", "g/cm3")}``. Quantities and units are
        listed in :data:`QUANTITIES`: ``soc_g_kg`` (g/kg, %, kg/kg), ``bd_g_cm3`` (g/cm3,
        kg/m3, cg/cm3), ``cf_frac`` (volumetric coarse fragments: %, fraction), ``stock_t_ha``
        (t/ha, kg/m2, g/m2), ``top_cm``/``bottom_cm`` (cm, m, mm).
    x, y : str, optional
        Coordinate columns; required for tables, not allowed for vector files (their point
        geometry gives the location).
    crs : pyproj.CRS, str or int, optional
        CRS of ``x``/``y`` (``"EPSG:4326"`` for longitude/latitude); required for tables.
        For vector files, it must agree with the file's CRS if both are given.
    layer : str, optional
        Layer of a multi-layer vector file (GeoPackage).
    id_column : str, optional
        Sample identifier; default ``"row<N>"`` from the data row number.
    profile_column : str, optional
        Profile identifier of a horizon table (several rows per profile), kept as
        ``profile_id`` for depth harmonisation.
    keep : sequence of str
        Further columns to carry along unchanged (e.g. land use for stratified checks).
    check_units : bool, default True
        Refuse columns whose values betray another unit than the declared one. Turn off only
        for data that really are extreme (desert soils with < 0.2 % SOC).

    Returns
    -------
    SampleTable
        Canonical columns, coordinates in ``crs``.

    Raises
    ------
    InputFormatError
        The file cannot be read, or its geometries are not points.
    InputValidationError
        A named column is missing or not numeric, coordinates are missing or do not fit the
        CRS, or values betray another unit than declared.
    ConfigError
        Unknown quantity or units, missing x/y/crs for a table, or a CRS that disagrees with
        the file's.
    """
    path = Path(path)
    if not path.exists():
        raise InputValidationError(
            f"{_what(path)}: does not exist; check the samples path in the configuration"
        )
    specs = {
        name: spec if isinstance(spec, ColumnSpec) else ColumnSpec(*spec)
        for name, spec in columns.items()
    }
    unknown = [name for name in specs if name not in QUANTITIES]
    if unknown:
        raise ConfigError(
            f"{_what(path)}: quantity '{unknown[0]}' is not known; use one of "
            f"{', '.join(QUANTITIES)}"
        )
    suffix = path.suffix.lower()
    if suffix in _TABLE_SUFFIXES:
        table, src_crs, xs, ys = _located_table(path, x, y, crs)
    elif suffix in _VECTOR_SUFFIXES or path.is_dir():
        table, src_crs, xs, ys = _located_vector(path, x, y, crs, layer)
    else:
        raise InputFormatError(
            f"{_what(path)}: suffix '{path.suffix}' is not a known table (.csv, .tsv) or vector "
            "format (.gpkg, .shp, .geojson)"
        )

    named = [s.column for s in specs.values()] + [c for c in (id_column, profile_column) if c]
    _require_columns(table, [*named, *keep], path)
    _check_coordinates(xs, ys, src_crs, path)

    n = len(table)
    data = pd.DataFrame(
        {
            "sample_id": (
                table[id_column].astype(str).to_numpy()
                if id_column
                else np.array([f"row{i + 1}" for i in range(n)])
            ),
            "row": np.arange(1, n + 1),
            "x": xs,
            "y": ys,
        }
    )
    if profile_column:
        data["profile_id"] = table[profile_column].astype(str).to_numpy()
    for name, spec in specs.items():
        data[name] = _convert(_numeric(table, spec.column, path), name, spec, path, check_units)
    for column in keep:
        data[column] = table[column].to_numpy()
    return SampleTable(data=data, crs=src_crs, source=path)
