"""Read a finished run folder: the manifest, the tables and the maps the report shows.

A run folder is what ``socseq run`` publishes (``docs/configuration.md``): ``run.json`` (written
last, so its presence means the run finished), ``summary.csv``, ``timeseries.csv``,
``exclusions.csv``, the GSOCseq GeoTIFFs in ``maps/``, the CF cube ``soc_stocks.nc`` and, when
the run mapped its own SOC baseline, ``dsm/``. Only ``run.json``, ``summary.csv`` and the maps
(as GeoTIFFs, or else the cube) are required; everything else adds a section when present.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from pyproj import CRS

from socseq.exceptions import RunFolderError

__all__ = ["MapLayer", "RunFolder", "read_run_folder"]

#: ``exclusion_reason`` code of cells without land-use data (outside the land) in the cube.
_NO_LAND_USE = 255

#: Product kind → (cube variable, whether it has a scenario dimension). The report reads the
#: products the run wrote (float64 in the cube), never re-derives them from stocks.
_CUBE_PRODUCTS = {
    "T0": ("soc_t0_t_ha", False),
    "ASR": ("asr_t_ha_yr", True),
    "RSR": ("rsr_t_ha_yr", True),
    "4p1000": ("reaches_4p1000", True),
    "finalSOC": ("soc_t_ha", True),
}

_RERUN = "run `socseq run CONFIG.toml` again"


@dataclass(frozen=True)
class MapLayer:
    """One map on the run grid.

    Attributes
    ----------
    values : numpy.ndarray
        ``(y, x)`` float64, NaN where the file has no data.
    extent : tuple of float
        ``(left, right, bottom, top)`` in the CRS units.
    crs : pyproj.CRS or None
        Coordinate reference system of the grid.
    source : str
        File the values came from, relative to the run folder.
    """

    values: np.ndarray
    extent: tuple[float, float, float, float]
    crs: CRS | None
    source: str


def _extent(transform: Any, width: int, height: int) -> tuple[float, float, float, float]:
    a, b, c, d, e, f = (float(v) for v in list(transform)[:6])
    if b != 0 or d != 0:
        raise RunFolderError(
            f"grid transform {list(transform)[:6]} is rotated; the report draws north-up grids "
            "only (warp the inputs to a north-up grid)"
        )
    xs = (c, c + a * width)
    ys = (f, f + e * height)
    return min(xs), max(xs), min(ys), max(ys)


def read_geotiff(path: Path, root: Path) -> MapLayer:
    """Read band 1 of a GeoTIFF as float64 with the file's nodata (and NaN) set to NaN."""
    try:
        with rasterio.open(path) as src:
            values = src.read(1).astype(np.float64)
            nodata = src.nodata
            crs = CRS.from_user_input(src.crs.to_wkt()) if src.crs is not None else None
            extent = _extent(src.transform, src.width, src.height)
    except rasterio.errors.RasterioIOError as exc:
        raise RunFolderError(f"{path}: cannot be read as a GeoTIFF ({exc}); {_RERUN}") from exc
    if nodata is not None and not math.isnan(nodata):
        values[values == nodata] = np.nan
    values[~np.isfinite(values)] = np.nan
    return MapLayer(values, extent, crs, os.path.relpath(path, root))


def _read_table(path: Path, what: str, *, required: bool) -> pd.DataFrame | None:
    if not path.is_file():
        if required:
            raise RunFolderError(
                f"{path}: is missing; the report needs the {what} that `socseq run` writes "
                f"beside run.json ({_RERUN})"
            )
        return None
    try:
        return pd.read_csv(path, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path}: is not a readable CSV table ({exc}); {_RERUN}") from exc


def _require_columns(table: pd.DataFrame, path: Path, columns: list[str]) -> None:
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise RunFolderError(
            f"{path}: lacks the column(s) {', '.join(absent)}; it was not written by this "
            f"socseq version ({_RERUN})"
        )


@dataclass(frozen=True)
class _CubeFields:
    """What the report reads of the cube besides the products.

    Attributes
    ----------
    extent : tuple of float
        ``(left, right, bottom, top)`` of the grid in the CRS units.
    crs : pyproj.CRS or None
        Coordinate reference system of the grid.
    south_up : bool
        Whether the rows run south to north.
    arrays : dict of str to numpy.ndarray
        2-D variables as stored (float64, NaN for the fill value): ``exclusion_reason`` and
        ``cropland``, or ``area_ha`` when the reasons are missing.
    meanings : dict of int to str
        Text of each exclusion code (``flag_meanings``).
    """

    extent: tuple[float, float, float, float]
    crs: CRS | None
    south_up: bool
    arrays: dict[str, np.ndarray]
    meanings: dict[int, str]


class RunFolder:
    """A finished run folder, read lazily.

    Parameters
    ----------
    path : path-like
        The folder holding ``run.json``.

    Raises
    ------
    RunFolderError
        When the folder, ``run.json`` or ``summary.csv`` is missing or unreadable.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise RunFolderError(
                f"{self.path}: is not a folder; give the output folder of a finished run "
                "(the one holding run.json)"
            )
        manifest_path = self.path / "run.json"
        if not manifest_path.is_file():
            raise RunFolderError(
                f"{manifest_path}: is missing, so the run did not finish (run.json is written "
                f"last); {_RERUN}, or give the folder that holds run.json"
            )
        try:
            self.manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunFolderError(f"{manifest_path}: is not valid JSON ({exc}); {_RERUN}") from exc
        for key in ("iso", "scenarios", "periods"):
            if key not in self.manifest:
                raise RunFolderError(
                    f"{manifest_path}: has no '{key}' entry; it was not written by "
                    f"`socseq run` of this version ({_RERUN})"
                )
        path = self.path / "summary.csv"
        summary = _read_table(path, "scenario summary table", required=True)
        assert summary is not None
        _require_columns(
            summary, path, ["zone", "scenario", "mean_asr_t_ha_yr", "share_4p1000_pct"]
        )
        summary["zone"] = summary["zone"].astype(str)
        summary["scenario"] = summary["scenario"].astype(str)
        self.summary = summary
        # Maps read once: the figures, their shared colour scales and the interactive map all
        # ask for the same products. The arrays are read-only, so no reader changes another's.
        self._products: dict[tuple[str, str | None], MapLayer] = {}
        self._dsm_maps: dict[str, MapLayer | None] = {}

    # -- manifest --------------------------------------------------------------------------

    @property
    def iso(self) -> str:
        """Product name prefix (ISO 3166-1 alpha-3 code)."""
        return str(self.manifest["iso"])

    @property
    def scenarios(self) -> list[str]:
        """Scenario names in run order."""
        return [str(s["name"]) for s in self.manifest["scenarios"]]

    @property
    def baseline(self) -> str:
        """The reference scenario of the relative rates."""
        for s in self.manifest["scenarios"]:
            if s.get("baseline"):
                return str(s["name"])
        return self.scenarios[0]

    @property
    def forward_years(self) -> int:
        """Length of the forward run in years."""
        first, last = self.manifest["periods"]["forward"]
        return int(last) - int(first) + 1

    @property
    def notes(self) -> list[str]:
        """Free-text notes of the run (e.g. which inputs are synthetic)."""
        return [str(n) for n in self.manifest.get("notes") or []]

    # -- tables ----------------------------------------------------------------------------

    @cached_property
    def timeseries(self) -> pd.DataFrame | None:
        """``timeseries.csv`` (scenario empty for warm-up rows), or None when absent."""
        path = self.path / "timeseries.csv"
        table = _read_table(path, "yearly SOC table", required=False)
        if table is None:
            return None
        _require_columns(table, path, ["phase", "scenario", "year", "mean_soc_t_ha"])
        table["scenario"] = table["scenario"].fillna("").astype(str)
        return table

    @cached_property
    def exclusions(self) -> pd.DataFrame | None:
        """``exclusions.csv`` (reason, cells, area_ha), or None when absent."""
        path = self.path / "exclusions.csv"
        table = _read_table(path, "exclusion table", required=False)
        if table is not None:
            _require_columns(table, path, ["reason", "cells"])
        return table

    @property
    def zones(self) -> list[str]:
        """Zone names of the per-zone summary rows (empty without zones)."""
        return [z for z in dict.fromkeys(self.summary["zone"]) if z != "all"]

    # -- maps ------------------------------------------------------------------------------

    def map_file(self, kind: str, scenario: str | None = None) -> Path:
        """Path of a GSOCseq product map (``kind`` T0, finalSOC, AbsDiff, ASR, RelDiff, RSR)."""
        middle = kind if scenario is None else f"{kind}_{scenario}"
        return self.path / "maps" / f"{self.iso}_GSOCseq_{middle}_Map030.tif"

    def four_per_1000_file(self, scenario: str) -> Path:
        """Path of the 4-per-1000 map of a scenario."""
        return self.path / "maps" / f"{self.iso}_socseq_4p1000_{scenario}_Map030.tif"

    @property
    def cube_file(self) -> Path | None:
        """The CF cube ``soc_stocks.nc``, or None when the run did not write it."""
        path = self.path / "soc_stocks.nc"
        return path if path.is_file() else None

    def _read_cube(self, selector: Any) -> Any:
        """Open the cube, apply ``selector(ds)`` and return its loaded result."""
        path = self.cube_file
        assert path is not None
        try:
            with xr.open_dataset(path, decode_coords="all") as ds:
                return selector(ds)
        except (OSError, ValueError, KeyError) as exc:
            raise RunFolderError(
                f"{path}: cannot be read as the run's NetCDF cube ({exc}); {_RERUN}"
            ) from exc

    @cached_property
    def _cube(self) -> _CubeFields | None:
        """The cube's grid, 2-D fields and exclusion meanings, or None without a cube.

        Read in one opening: reasons, cropland, land and the interactive map's labels all come
        from here, and each opening of the file costs as much as reading these small fields.
        """
        if self.cube_file is None:
            return None

        def read(ds: xr.Dataset) -> _CubeFields:
            x, y = ds["x"].values, ds["y"].values
            dx = float(x[1] - x[0]) if x.size > 1 else 1.0
            dy = float(y[1] - y[0]) if y.size > 1 else -1.0
            xs = (float(x[0]) - dx / 2, float(x[-1]) + dx / 2)
            ys = (float(y[0]) - dy / 2, float(y[-1]) + dy / 2)
            crs = ds.rio.crs
            crs = CRS.from_user_input(crs.to_wkt()) if crs is not None else None
            # The cell area stands in for the land only when the reasons are missing.
            names = ["exclusion_reason", "cropland"] if "exclusion_reason" in ds else ["area_ha"]
            arrays = {n: np.asarray(ds[n].values, np.float64) for n in names if n in ds}
            attrs = ds["exclusion_reason"].attrs if "exclusion_reason" in ds else {}
            values = np.atleast_1d(attrs.get("flag_values", []))
            words = str(attrs.get("flag_meanings", "")).split()
            meanings = {int(v): w.replace("_", " ") for v, w in zip(values, words, strict=False)}
            extent = (min(xs), max(xs), min(ys), max(ys))
            return _CubeFields(extent, crs, dy > 0, arrays, meanings)

        fields: _CubeFields = self._read_cube(read)
        return fields

    @property
    def _cube_grid(self) -> tuple[tuple[float, float, float, float], CRS | None, bool]:
        """Extent, CRS and whether rows run south to north, read from the cube."""
        fields = self._cube
        assert fields is not None
        return fields.extent, fields.crs, fields.south_up

    def _north_up(self, values: np.ndarray) -> np.ndarray:
        return values[::-1] if self._cube_grid[2] else values

    def _scenario_index(self, ds: xr.Dataset, scenario: str) -> int | None:
        """Position of a scenario along the cube's ``scenario`` dimension (None if absent)."""
        labels = ds["scenario_name"] if "scenario_name" in ds.variables else ds.get("scenario")
        if labels is None:
            return None
        names = [str(v) for v in labels.values]
        return names.index(scenario) if scenario in names else None

    def _from_cube(self, kind: str, scenario: str | None) -> MapLayer | None:
        """Read a product map from the cube (when the GeoTIFFs are off)."""
        if self.cube_file is None or kind not in _CUBE_PRODUCTS:
            return None
        name, per_scenario = _CUBE_PRODUCTS[kind]

        def read(ds: xr.Dataset) -> np.ndarray | None:
            if name not in ds:
                return None
            da = ds[name]
            if per_scenario:
                index = self._scenario_index(ds, scenario or "")
                if index is None:
                    return None
                da = da.isel(scenario=index)
            if "year" in da.dims:
                da = da.isel(year=-1)
            return np.asarray(da.values, dtype=np.float64)

        values = self._read_cube(read)
        if values is None:
            return None
        extent, crs, _ = self._cube_grid
        return MapLayer(self._north_up(values), extent, crs, "soc_stocks.nc")

    def product(self, kind: str, scenario: str | None = None) -> MapLayer:
        """Read a product map from ``maps/``, or derive it from ``soc_stocks.nc``.

        Parameters
        ----------
        kind : {"T0", "finalSOC", "ASR", "RSR", "4p1000"}
            Product.
        scenario : str, optional
            Scenario name (not for T0).

        Raises
        ------
        RunFolderError
            When neither the GeoTIFF nor the cube exists.
        """
        if (kind, scenario) in self._products:
            return self._products[kind, scenario]
        path = (
            self.four_per_1000_file(scenario)
            if kind == "4p1000" and scenario is not None
            else self.map_file(kind, scenario)
        )
        layer = read_geotiff(path, self.path) if path.is_file() else self._from_cube(kind, scenario)
        if layer is None:
            raise RunFolderError(
                f"{path}: is missing and soc_stocks.nc cannot stand in for it; the report needs "
                f"the product maps (outputs.geotiff = true, or outputs.netcdf = true), so "
                f"{_RERUN}"
            )
        layer.values.flags.writeable = False
        self._products[kind, scenario] = layer
        return layer

    def _cube_array(self, name: str) -> np.ndarray | None:
        """Return a 2-D cube variable north up, float64 with NaN for its fill value, or None."""
        fields = self._cube
        if fields is None or name not in fields.arrays:
            return None
        return self._north_up(fields.arrays[name])

    @cached_property
    def reasons(self) -> np.ndarray | None:
        """Exclusion code per cell (0 simulated; 255 no land-use data), or None without cube."""
        codes = self._cube_array("exclusion_reason")
        return None if codes is None else np.where(np.isnan(codes), _NO_LAND_USE, codes)

    @cached_property
    def reason_labels(self) -> dict[int, str]:
        """Text of each exclusion code, from the cube's ``flag_meanings`` (or exclusions.csv)."""
        labels: dict[int, str] = {}
        table = self.exclusions
        if table is not None and "code" in table.columns:
            labels = {int(c): str(r) for c, r in zip(table["code"], table["reason"], strict=True)}
        if self._cube is not None:
            for code, text in self._cube.meanings.items():
                labels.setdefault(code, text)
        return labels

    @cached_property
    def land(self) -> np.ndarray | None:
        """Cells on land (drawn as a grey background), or None when the cube is absent."""
        if self.reasons is not None:
            return self.reasons != _NO_LAND_USE
        area = self._cube_array("area_ha")
        return None if area is None else np.isfinite(area)

    @cached_property
    def cropland(self) -> np.ndarray | None:
        """Cells whose class counts as cropland (the 4-per-1000 denominator), or None."""
        flag = self._cube_array("cropland")
        return None if flag is None else flag == 1

    # -- DSM -------------------------------------------------------------------------------

    @property
    def dsm_dir(self) -> Path | None:
        """The ``dsm/`` folder when the run mapped its own SOC baseline."""
        path = self.path / "dsm"
        return path if path.is_dir() else None

    def dsm_map(self, variable: str) -> MapLayer | None:
        """Read a DSM prediction map (``soc_mean_t_ha``, ``soc_sd_t_ha``, ``aoa``...) if written."""
        if self.dsm_dir is None:
            return None
        if variable not in self._dsm_maps:
            hits = sorted(self.dsm_dir.glob(f"*_{variable}.tif"))
            layer = read_geotiff(hits[0], self.path) if hits else None
            if layer is not None:
                layer.values.flags.writeable = False
            self._dsm_maps[variable] = layer
        return self._dsm_maps[variable]

    @cached_property
    def dsm_metrics(self) -> dict[str, dict[str, float]]:
        """Validation metrics by method (``spatial``, ``random``...) and ``test``."""
        out: dict[str, dict[str, float]] = {}
        path = self.dsm_dir / "validation_metrics.json" if self.dsm_dir is not None else None
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise RunFolderError(f"{path}: is not valid JSON ({exc}); {_RERUN}") from exc
            for key, value in data.items():
                if key.startswith("cv_") and isinstance(value, dict):
                    out[key[3:]] = dict(value.get("pooled", value))
            if isinstance(data.get("test"), dict):
                out["test"] = dict(data["test"])
        if not out and isinstance(self.manifest.get("dsm"), dict):
            for key, value in (self.manifest["dsm"].get("metrics") or {}).items():
                if isinstance(value, dict):
                    out[str(key)] = dict(value)
        return out

    @cached_property
    def dsm_predictions(self) -> tuple[str, pd.DataFrame] | None:
        """Out-of-fold predictions (method, table) of the first CV method, spatial first."""
        if self.dsm_dir is None:
            return None
        files = sorted(
            self.dsm_dir.glob("cv_*_predictions.csv"),
            key=lambda p: (p.name != "cv_spatial_predictions.csv", p.name),
        )
        for path in files:
            table = _read_table(path, "cross-validation predictions", required=False)
            if table is not None and {"observed_t_ha", "mean_t_ha"} <= set(table.columns):
                return path.name[3 : -len("_predictions.csv")], table
        return None


def read_run_folder(path: str | os.PathLike[str]) -> RunFolder:
    """Open a finished run folder (see :class:`RunFolder`)."""
    return RunFolder(path)
