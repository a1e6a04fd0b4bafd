"""Inputs on one grid: every configured layer aligned, unit-checked and staged in a Zarr store.

Staging reads each source once, in slabs of months whose size is bounded by a memory budget,
aligns it to the template grid with the rule of its variable type (continuous: bilinear or
average; classes: mode or nearest), converts its units once (:mod:`socseq.io.units`), fills
coastal cells from the nearest climate cell, and writes it into ``inputs.zarr`` chunked over
``(y, x)`` with whole years along time. The phases then read one spatial window at a time, so
memory follows the chunk size, not the domain size.

Every layer is aligned and stored in float64, the kernel's precision.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
from affine import Affine
from zarr.codecs import BloscCodec

from socseq.exceptions import ConfigError, InputValidationError
from socseq.io.grid import (
    GridSpec,
    _on_grid,
    align_to_template,
    cell_area_ha,
    fill_from_nearest,
)
from socseq.io.raster import open_monthly, open_raster
from socseq.io.units import check_and_convert
from socseq.pipeline.config import ClimateLayer, ClimateSet, InputLayer, RunConfig
from socseq.pipeline.landuse import ClassTable, esa_cci_to_fao, read_class_table
from socseq.pipeline.npp import miami_npp_g_dm_m2
from socseq.progress import Progress

__all__ = ["CLIMATE_VARIABLES", "StagedInputs", "Window", "resolve_grid", "stage_inputs", "windows"]

#: Staged name → (configuration key, canonical variable of socseq.io.units).
CLIMATE_VARIABLES = {
    "tas": ("temperature", "tas_degC"),
    "pr": ("precipitation", "pr_mm"),
    "pet": ("evaporation", "pet_mm"),
}

#: Cells × months held in memory at once while staging a monthly series (≈128 MB of float64).
SLAB_BUDGET = 16_000_000

#: Compression of the scratch stores, which live for one run: LZ4 with byte shuffle wrote a
#: smooth 12-month float32 slab of 10^6 cells 1.8x faster than zarr's default zstd, 20 % smaller.
SCRATCH_CODEC = BloscCodec(cname="lz4", clevel=1, shuffle="shuffle")

#: Cells of one row band of climate staging (its monthly means take 2 × 3 × 12 × 8 B per cell).
BAND_CELLS = 1_000_000

#: No class (outside the land-use map or a code missing from the class table).
NO_CLASS = -1


@dataclass(frozen=True)
class Window:
    """A rectangular block of the grid: rows ``y0:y1`` and columns ``x0:x1``."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.y1 - self.y0, self.x1 - self.x0


def windows(grid: GridSpec, chunk: int) -> list[Window]:
    """Split the grid into ``chunk × chunk`` windows, row by row (edge windows are smaller)."""
    return [
        Window(y, min(y + chunk, grid.height), x, min(x + chunk, grid.width))
        for y in range(0, grid.height, chunk)
        for x in range(0, grid.width, chunk)
    ]


@dataclass(frozen=True)
class StagedInputs:
    """The staged inputs: where they are and what they hold.

    Attributes
    ----------
    path : pathlib.Path
        The ``inputs.zarr`` store.
    grid : GridSpec
        Template grid.
    chunk : int
        Window size in cells.
    n_warmup_years : int
        Warm-up years staged.
    has_yearly_land_use, has_cover : bool
        Optional layers present.
    summary : dict
        What staging did (resampling per layer, filled cells, counts), for the run manifest.
    """

    path: Path
    grid: GridSpec
    chunk: int
    n_warmup_years: int
    has_yearly_land_use: bool
    has_cover: bool
    summary: dict[str, Any]

    def open(self) -> zarr.Group:
        """Open the store read-only."""
        return zarr.open_group(str(self.path), mode="r")


def resolve_grid(config: RunConfig, soc: xr.DataArray | None = None) -> GridSpec:
    """Return the template grid: explicit CRS/resolution/bounds, an input's grid, or SOC's.

    ``soc`` is the DSM baseline when the run maps it (its grid is the DSM template grid).
    """
    g = config.grid
    if g.crs is not None:
        return GridSpec.from_bounds(g.crs, g.resolution, g.bounds)  # type: ignore[arg-type]
    name = g.template or ("soc" if config.inputs.soc is not None else None)
    if name is None:
        if soc is None:
            raise ConfigError("configuration: [grid] the DSM baseline is needed to take its grid")
        return GridSpec.from_raster(soc)
    layer: InputLayer = getattr(config.inputs, name)
    da = open_raster(
        layer.path,
        name=f"inputs.{name}",
        variable=layer.variable,
        band=layer.band,
        categorical=name == "land_use",
    )
    if da.ndim != 2:
        raise InputValidationError(
            f"layer 'inputs.{name}' (file {layer.path}): has {da.shape[0]} bands; give "
            "band = N to pick the one whose grid is the template"
        )
    return GridSpec.from_raster(da)


def _slab_months(n_cells: int) -> int:
    """Months per slab: the largest divisor of 12 that keeps a slab within the budget."""
    for k in (12, 6, 4, 3, 2):
        if k * n_cells <= SLAB_BUDGET:
            return k
    return 1


class _Store:
    """Thin writer over the Zarr group: arrays chunked over (y, x), one year along time."""

    def __init__(self, path: Path, grid: GridSpec, chunk: int) -> None:
        self.group = zarr.open_group(str(path), mode="w")
        self.grid = grid
        self.chunk = chunk

    def create(
        self, name: str, lead: int | None, dtype: str, fill: Any = np.nan, lead_chunk: int = 12
    ) -> Any:
        shape = self.grid.shape if lead is None else (lead, *self.grid.shape)
        chunks = (
            (self.chunk,) * 2 if lead is None else (min(lead_chunk, lead), self.chunk, self.chunk)
        )
        return self.group.create_array(
            name,
            shape=shape,
            chunks=chunks,
            dtype=dtype,
            fill_value=fill,
            compressors=SCRATCH_CODEC,
        )


def _open_2d(
    layer: InputLayer,
    name: str,
    grid: GridSpec,
    *,
    categorical: bool = False,
    resampling: str | None = None,
) -> xr.DataArray:
    da = open_raster(
        layer.path, name=name, variable=layer.variable, band=layer.band, categorical=categorical
    )
    if da.ndim != 2:
        raise InputValidationError(
            f"layer '{name}' (file {layer.path}): "
            f"has {da.shape[0]} bands but one layer is expected; give "
            "band = N (or variable) to pick it"
        )
    return align_to_template(
        da,
        grid,
        kind="categorical" if categorical else "continuous",
        resampling=layer.resampling or resampling,
        name=name,
    )


def _physical(layer: InputLayer, name: str, variable: str, grid: GridSpec) -> np.ndarray:
    if layer.units is None:
        raise ConfigError(
            f"configuration: [{name}.units] is required; declare the units the "
            'file stores (e.g. "%", "t/ha")'
        )
    da = _open_2d(layer, name, grid)
    return np.asarray(
        check_and_convert(da, variable=variable, units=layer.units, name=name).values,
        dtype=np.float64,
    )


def _fraction(layer: InputLayer, name: str, grid: GridSpec) -> np.ndarray:
    """Read a share 0–1 (units "1") or a percentage (units "%") as 0–1."""
    scale = {"1": 1.0, "": 1.0, "-": 1.0, "fraction": 1.0, "%": 0.01}.get(
        (layer.units or "1").strip().lower()
    )
    if scale is None:
        raise ConfigError(
            f'configuration: [{name}.units] \'{layer.units}\' is not a share; give "1" (0–1) or "%"'
        )
    values = np.asarray(_open_2d(layer, name, grid).values, dtype=np.float64) * scale
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < 0 or finite.max() > 1 + 1e-9):
        raise InputValidationError(
            f"layer '{name}' (file {layer.path}): "
            f"values {finite.min():.3g}…{finite.max():.3g} are not shares "
            f"0–1 in the declared units '{layer.units}'; declare units = \"%\" for percentages"
        )
    return values


def _classes(
    layer: InputLayer, name: str, grid: GridSpec, source_classes: str, table: ClassTable
) -> np.ndarray:
    da = _open_2d(layer, name, grid, categorical=True)
    raw = np.asarray(da.values)
    nodata = da.rio.nodata
    valid = np.isfinite(raw) if raw.dtype.kind == "f" else np.ones(raw.shape, bool)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        valid &= raw != nodata
    if raw.dtype.kind == "f" and np.any(raw[valid] != np.round(raw[valid])):
        raise InputValidationError(
            f"layer '{name}' (file {layer.path}): "
            "holds fractional values, not class codes; give a class "
            "raster (resampled with mode or nearest)"
        )
    codes = np.where(valid, raw, 0)
    if source_classes == "esa_cci":
        codes = esa_cci_to_fao(codes)
    elif np.any((codes < 0) | (codes > 255)):
        raise InputValidationError(
            f"layer '{name}' (file {layer.path}): "
            "values outside 0–255 are not FAO class codes; check "
            'land_use.source_classes ("fao" or "esa_cci")'
        )
    codes = codes.astype(np.int16)
    known = np.isin(codes, table.codes)
    return np.where(valid & known, codes, NO_CLASS).astype(np.int16)


def _open_series(layer: ClimateLayer, name: str) -> xr.DataArray:
    # Dask-backed on the file's own blocks: a continental series is never read whole (its
    # float64 view alone would be 8 bytes × cells × months); each slab reads only its blocks.
    return open_monthly(
        layer.path, name=name, variable=layer.variable, start=layer.start, chunks="native"
    )


def _year_index(
    da: xr.DataArray, years: tuple[int, int], name: str, layer: ClimateLayer, fix: str
) -> int:
    """Index of January of ``years[0]``; raise unless the series covers the years."""
    first = da["time"].values[0].astype("datetime64[M]").astype(int)
    start = (years[0] - 1970) * 12 - first
    end = start + (years[1] - years[0] + 1) * 12
    if start < 0 or end > da.sizes["time"]:
        have = f"{str(da['time'].values[0])[:7]}…{str(da['time'].values[-1])[:7]}"
        raise InputValidationError(
            f"layer '{name}' (file {layer.path}): "
            f"covers {have} but {years[0]}-01…{years[1]}-12 is needed; "
            f"{fix}"
        )
    return int(start)


class _Stager:
    """Stages monthly climate one row band at a time, each band slab by slab.

    A band is a run of whole chunk rows holding at most :data:`BAND_CELLS` cells; it is aligned
    with a halo of rows wide enough for the coastal fill, so filling never depends on where
    a band ends. Memory therefore follows the band, not the domain.
    """

    def __init__(
        self, config: RunConfig, grid: GridSpec, target: np.ndarray, progress: Progress | None
    ) -> None:
        self.config = config
        self.grid = grid
        self.target_full = target
        self.progress = progress
        self._filled: dict[tuple[str, int], int] = {}
        self.resampling: dict[str, str] = {}
        self.sources: dict[tuple[str, str], xr.DataArray] = {}
        chunk = config.run.chunk_size
        rows = max(chunk, (BAND_CELLS // grid.width) // chunk * chunk)
        self.bands = [(r, min(r + rows, grid.height)) for r in range(0, grid.height, rows)]
        row_m = grid.res[1] * (111_320.0 if grid.is_geographic else 1.0)
        self.halo = min(grid.height, math.ceil(config.climate.fill_distance_m / row_m) + 1)
        self.band = 0

    def set_band(self, index: int) -> tuple[int, int]:
        """Select band ``index``; return its first and last + 1 row."""
        self.band = index
        r0, r1 = self.bands[index]
        h0, h1 = max(0, r0 - self.halo), min(self.grid.height, r1 + self.halo)
        t = self.grid.transform
        self.sub = GridSpec(
            self.grid.crs, Affine(t.a, 0.0, t.c, 0.0, t.e, t.f + h0 * t.e), self.grid.width, h1 - h0
        )
        self.target = self.target_full[h0:h1]
        self.crop = slice(r0 - h0, r1 - h0)
        self.rows = (h0, h1)
        self.slab = _slab_months(self.sub.width * self.sub.height)
        return r0, r1

    def _source(self, layer: ClimateLayer, name: str) -> xr.DataArray:
        key = (name, str(layer.path))
        if key not in self.sources:
            self.sources[key] = _open_series(layer, name)
        return self.sources[key]

    def months(
        self, cset: ClimateSet, key: str, section: str, years: tuple[int, int] | None, fix: str
    ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Yield (month offset, {tas, pr, pet} slabs of the band, canonical units).

        ``years`` None: the set holds exactly 12 monthly means.
        """
        sources = {}
        offsets = {}
        for short, (attr, _variable) in CLIMATE_VARIABLES.items():
            layer: ClimateLayer = getattr(cset, attr)
            name = f"climate.{section}.{attr}"
            da = self._source(layer, name)
            sources[short] = (da, layer, name)
            if years is None:
                if da.sizes["time"] != 12:
                    raise InputValidationError(
                        f"layer '{name}' (file {layer.path}): has {da.sizes['time']} months; "
                        "[climate.spinup] takes the 12 monthly means January…December"
                    )
                offsets[short] = 0
            else:
                offsets[short] = _year_index(da, years, name, layer, fix)
        n_months = 12 if years is None else (years[1] - years[0] + 1) * 12
        total = n_months * len(self.bands)
        for offset in range(0, n_months, self.slab):
            out = {}
            for short, (da, layer, name) in sources.items():
                i = offsets[short] + offset
                out[short] = self._slab(
                    da.isel(time=slice(i, i + self.slab)), layer, name, CLIMATE_VARIABLES[short][1]
                )
            yield offset, out
            if self.progress is not None:
                self.progress(f"inputs: {key}", self.band * n_months + offset + self.slab, total)

    def _slab(self, da: xr.DataArray, layer: ClimateLayer, name: str, variable: str) -> np.ndarray:
        if _on_grid(da, self.grid):
            # Already on the template grid: take the band's rows, no resampling.
            h0, h1 = self.rows
            y, x = self.sub.coords()
            aligned = da.isel(y=slice(h0, h1)).load().assign_coords(y=y, x=x)
            aligned.attrs["resampling"] = "none (already on grid)"
        else:
            aligned = align_to_template(
                da.load(), self.sub, kind="continuous", resampling=layer.resampling, name=name
            )
        self.resampling[name] = str(aligned.attrs.get("resampling"))
        converted = check_and_convert(aligned, variable=variable, units=layer.units, name=name)
        distance = self.config.climate.fill_distance_m
        missing = np.isnan(np.asarray(converted.values)).any(axis=0) & self.target
        if distance > 0 and missing.any():
            converted = fill_from_nearest(
                converted, max_distance_m=distance, mask=self.target, name=name
            )
            before = np.isnan(np.asarray(aligned.values)[:, self.crop]).any(axis=0)
            after = np.isnan(np.asarray(converted.values)[:, self.crop]).any(axis=0)
            key = (name, self.band)
            self._filled[key] = max(self._filled.get(key, 0), int((before & ~after).sum()))
        return np.asarray(converted.values[:, self.crop], dtype=np.float64)

    @property
    def filled(self) -> dict[str, int]:
        """Cells filled from the nearest climate cell, per layer (over all bands)."""
        totals: dict[str, int] = {}
        for (name, _band), cells in self._filled.items():
            totals[name] = totals.get(name, 0) + cells
        return totals


def stage_inputs(
    config: RunConfig,
    grid: GridSpec,
    work_dir: Path,
    *,
    soc: xr.DataArray | None = None,
    progress: Progress | None = None,
) -> StagedInputs:
    """Align, check and stage every input of the run on ``grid`` into ``work_dir/inputs.zarr``.

    Parameters
    ----------
    config : RunConfig
        The run configuration (paths absolute).
    grid : GridSpec
        Template grid.
    work_dir : pathlib.Path
        Scratch folder of the run.
    soc : xarray.DataArray, optional
        The SOC baseline mapped by DSM [t C/ha], on ``grid`` (instead of ``inputs.soc``).
    progress : callable, optional
        ``progress(stage, done, total)``.

    Returns
    -------
    StagedInputs

    Raises
    ------
    InputValidationError, UnitsError, GridMismatchError, ConfigError
        One line naming the layer, file, what is wrong and the fix.
    """
    path = work_dir / "inputs.zarr"
    if path.exists():
        shutil.rmtree(path)
    store = _Store(path, grid, config.run.chunk_size)
    table = read_class_table(config.land_use.table)
    inp = config.inputs
    summary: dict[str, Any] = {"grid": repr(grid), "resampling": {}}

    land_use = _classes(
        inp.land_use, "inputs.land_use", grid, config.land_use.source_classes, table
    )
    candidate = np.isin(land_use, list({*config.land_use.simulate, *config.land_use.cropland}))
    if not candidate.any():
        raise InputValidationError(
            f"layer 'inputs.land_use' (file {inp.land_use.path}): no cell of the classes "
            f"{sorted({*config.land_use.simulate, *config.land_use.cropland})} on the grid; "
            "check land_use.simulate and land_use.source_classes"
        )
    store.create("land_use", None, "int16", NO_CLASS)[:] = land_use

    if soc is None:
        assert inp.soc is not None  # the configuration guarantees one of the two
        soc_values = _physical(inp.soc, "inputs.soc", "soc_t_ha", grid)
    else:
        soc_values = np.asarray(soc.values, dtype=np.float64)
    store.create("soc", None, "float64")[:] = soc_values
    store.create("clay", None, "float64")[:] = _physical(inp.clay, "inputs.clay", "clay_pct", grid)
    for name, variable in (("sand", "sand_pct"), ("ec", "ec_dS_m")):
        layer = getattr(inp, name)
        if layer is not None:
            store.create(name, None, "float64")[:] = _physical(
                layer, f"inputs.{name}", variable, grid
            )
    fraction = (
        np.ones(grid.shape)
        if inp.area_fraction is None
        else _fraction(inp.area_fraction, "inputs.area_fraction", grid)
    )
    store.create("area_ha", None, "float64")[:] = np.asarray(
        cell_area_ha(grid).values
    ) * np.nan_to_num(fraction)
    if inp.zones is not None:
        zones = _open_2d(inp.zones, "inputs.zones", grid, categorical=True)
        values = np.asarray(zones.values, dtype=np.float64)
        if zones.rio.nodata is not None:
            values[values == zones.rio.nodata] = np.nan
        store.create("zones", None, "int32", -1)[:] = np.where(
            np.isfinite(values), values, -1
        ).astype(np.int32)

    stager = _Stager(config, grid, candidate, progress)
    n_warm = config.periods.warmup[1] - config.periods.warmup[0] + 1
    n_spin = config.periods.spinup[1] - config.periods.spinup[0] + 1
    n_forward = 12 * config.periods.forward_years
    cl = config.climate
    spin = {k: store.create(f"spin_{k}", 12, "float64") for k in CLIMATE_VARIABLES}
    npp_spin_arr = store.create("npp_spin", None, "float64")
    warm = {k: store.create(f"warm_{k}", 12 * n_warm, "float64") for k in CLIMATE_VARIABLES}
    npp_warm = store.create("npp_warm", n_warm, "float64", lead_chunk=1)
    fwd = {
        k: store.create(
            f"fwd_{k}",
            n_forward if cl.forward is not None else 12,
            "float64",
        )
        for k in CLIMATE_VARIABLES
    }
    for band in range(len(stager.bands)):
        r0, r1 = stager.set_band(band)
        shape = (r1 - r0, grid.width)
        # Spin-up: 12 monthly means and the mean annual MIAMI NPP over the spin-up years.
        spin_means = {k: np.zeros((12, *shape)) for k in CLIMATE_VARIABLES}
        if cl.spinup is not None:
            for _, slab in stager.months(cl.spinup, "spin-up climate", "spinup", None, ""):
                spin_means = slab
            npp_spin = miami_npp_g_dm_m2(
                spin_means["tas"].mean(axis=0), spin_means["pr"].sum(axis=0)
            )
        else:
            npp_sum = np.zeros(shape)
            annual = _Annual(shape)
            for offset, slab in stager.months(
                cl.series,
                "spin-up climate",
                "series",
                config.periods.spinup,
                "give a series that covers the spin-up years, or 12 monthly means in "
                "[climate.spinup]",
            ):
                for k in CLIMATE_VARIABLES:
                    for j in range(slab[k].shape[0]):
                        spin_means[k][(offset + j) % 12] += slab[k][j] / n_spin
                npp_sum += annual.add(offset, slab)
            npp_spin = npp_sum / n_spin
        for k in CLIMATE_VARIABLES:
            spin[k][:, r0:r1] = spin_means[k]
        npp_spin_arr[r0:r1] = npp_spin
        del spin_means

        # Warm-up: the series itself, the yearly NPP, and the monthly means for forward.
        fwd_means = {k: np.zeros((12, *shape)) for k in CLIMATE_VARIABLES}
        annual = _Annual(shape)
        for offset, slab in stager.months(
            cl.series,
            "warm-up climate",
            "series",
            config.periods.warmup,
            "give a series that covers the warm-up years",
        ):
            n = slab["tas"].shape[0]
            for k in CLIMATE_VARIABLES:
                warm[k][offset : offset + n, r0:r1] = slab[k]
                for j in range(n):
                    fwd_means[k][(offset + j) % 12] += slab[k][j] / n_warm
            year_npp = annual.add(offset, slab, total=False)
            if year_npp is not None:
                npp_warm[(offset + n) // 12 - 1, r0:r1] = year_npp

        if cl.forward is not None:
            for offset, slab in stager.months(
                cl.forward,
                "forward climate",
                "forward",
                config.periods.forward,
                "give a future series of forward_years years",
            ):
                for k in CLIMATE_VARIABLES:
                    fwd[k][offset : offset + slab[k].shape[0], r0:r1] = slab[k]
        else:
            for k in CLIMATE_VARIABLES:
                fwd[k][:, r0:r1] = fwd_means[k]

    has_yearly = config.land_use.yearly is not None
    if has_yearly:
        _stage_yearly_land_use(config, grid, store, table, n_warm)
    has_cover = config.cover.source != "class"
    if has_cover:
        store.create("cover", 12, "float64")[:] = _cover_factor(config, grid, candidate)

    summary["resampling"].update(stager.resampling)
    summary["coastal_filled_cells"] = stager.filled
    summary["candidate_cells"] = int(candidate.sum())
    return StagedInputs(
        path=path,
        grid=grid,
        chunk=config.run.chunk_size,
        n_warmup_years=n_warm,
        has_yearly_land_use=has_yearly,
        has_cover=has_cover,
        summary=summary,
    )


class _Annual:
    """Accumulates a year's mean temperature and rain over slabs; returns MIAMI NPP per year."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.tas = np.zeros(shape)
        self.pr = np.zeros(shape)

    def add(self, offset: int, slab: dict[str, np.ndarray], total: bool = True) -> Any:
        n = slab["tas"].shape[0]
        self.tas += slab["tas"].sum(axis=0)
        self.pr += slab["pr"].sum(axis=0)
        if (offset + n) % 12:
            return 0.0 if total else None
        npp = miami_npp_g_dm_m2(self.tas / 12.0, self.pr)
        self.tas[:] = 0.0
        self.pr[:] = 0.0
        return npp


def _stage_yearly_land_use(
    config: RunConfig, grid: GridSpec, store: _Store, table: ClassTable, n_warm: int
) -> None:
    lu = config.land_use
    layer = lu.yearly
    assert layer is not None and lu.yearly_first_year is not None
    first = config.periods.warmup[0] - lu.yearly_first_year
    da = open_raster(layer.path, name="land_use.yearly", variable=layer.variable, categorical=True)
    n_bands = da.shape[0] if da.ndim == 3 else 1
    if first < 0 or first + n_warm > n_bands:
        raise InputValidationError(
            f"layer 'land_use.yearly' (file {layer.path}): has {n_bands} yearly band(s) from "
            f"{lu.yearly_first_year}, but the warm-up needs {config.periods.warmup[0]}–"
            f"{config.periods.warmup[1]}; give one band per warm-up year"
        )
    out = store.create("land_use_yearly", n_warm, "int16", NO_CLASS, lead_chunk=1)
    for year in range(n_warm):
        band = InputLayer(
            path=layer.path,
            variable=layer.variable,
            band=first + year + 1,
            resampling=layer.resampling,
        )
        out[year] = _classes(band, "land_use.yearly", grid, lu.source_classes, table)


def _cover_factor(config: RunConfig, grid: GridSpec, target: np.ndarray) -> np.ndarray:
    """``(12, y, x)`` cover factor from a cover raster or an NDVI series (GSOCseq rule)."""
    cover = config.cover
    layer = cover.layer
    assert layer is not None
    if cover.source == "raster":
        da = open_raster(layer.path, name="cover.layer", variable=layer.variable)
        if da.ndim != 3 or da.shape[0] != 12:
            raise InputValidationError(
                f"layer 'cover.layer' (file {layer.path}): "
                "a cover raster needs 12 monthly bands, got "
                f"{1 if da.ndim == 2 else da.shape[0]}; give January…December"
            )
        values = np.asarray(
            align_to_template(
                da, grid, kind="continuous", name="cover.layer", resampling=layer.resampling
            ).values
        )
        finite = values[np.isfinite(values)]
        if finite.size == 0 or finite.min() < 0.6 - 1e-6 or finite.max() > 1 + 1e-6:
            raise InputValidationError(
                f"layer 'cover.layer' (file {layer.path}): "
                "cover factors must lie in 0.6 (covered)…1 (bare), "
                f"found {finite.min() if finite.size else 'none'}…"
                f"{finite.max() if finite.size else ''}; give the RothC cover factor"
            )
        return np.where(np.isfinite(values), values, 1.0)
    da = open_monthly(
        layer.path, name="cover.layer", variable=layer.variable, start=cover.ndvi_start
    )
    aligned = align_to_template(
        da.load(), grid, kind="continuous", name="cover.layer", resampling=layer.resampling
    )
    ndvi = check_and_convert(aligned, variable="ndvi", units=layer.units or "1", name="cover.layer")
    months = ndvi["time"].dt.month.values
    factor = np.ones((12, *grid.shape))
    values = np.asarray(ndvi.values)
    for m in range(12):
        sel = values[months == m + 1]
        if sel.shape[0] == 0:
            raise InputValidationError(
                f"layer 'cover.layer' (file {layer.path}): "
                f"no NDVI image in month {m + 1}; give a series "
                "covering every calendar month"
            )
        # GSOCseq: NA counts as not green; p = share of images above the threshold.
        share = (np.nan_to_num(sel, nan=-np.inf) > cover.ndvi_threshold).mean(axis=0)
        factor[m] = 1.0 - 0.4 * share
    return factor
