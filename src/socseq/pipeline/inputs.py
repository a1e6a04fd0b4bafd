"""Inputs read where they are used: each window task reads its part of every source.

Before a run, :func:`plan_inputs` opens every configured layer lazily and checks what its
metadata can tell (the file, CRS, overlap with the grid, bands, time axes covering the
periods) and decides each layer's resampling rule for the whole grid. The plan is small and
picklable; every window task then calls :func:`read_window`, which reads the window's part of
each source (cropped in the source's CRS with a resampling margin), converts its units once,
aligns it to the window's cells with the layer's rule and fills coastal cells from the nearest
cell with climate. There is no staged copy of the inputs and no 1 km monthly climate cube: the
work runs where the window runs, on the threads of this process or on cluster workers.

Climate per window:

- **Spin-up**: the 12 monthly means of the spin-up years, and each year's annual mean
  temperature and precipitation for MIAMI NPP, are computed on the source grid and then
  resampled: bilinear and average resampling are linear (weights that sum to one), so the
  resampled means equal the means of the resampled months to rounding, at a twentieth of the
  cost. A ``[climate.spinup]`` file of 12 monthly means is read as it is.
- **Warm-up**: year by year, 12 months at a time; NPP of each year from the cell's months.
- **Forward**: the mean of the warm-up years month by month, or a future series year by year.

Coastal fill (:func:`socseq.pipeline.sources.read_filled`) reads a margin around the window as
wide as the fill distance when the window has candidate cells without climate, so a window
fills exactly as the whole grid would.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec

from socseq.climate.gridded import cell_latitude_deg, monthly_pet
from socseq.climate.pet import thornthwaite_heat_index
from socseq.exceptions import ConfigError, InputValidationError
from socseq.io.grid import GridSpec, cell_area_ha, choose_resampling, clip_to_grid
from socseq.io.raster import open_raster
from socseq.pipeline.config import CLIMATE_KEYS, ClimateLayer, ClimateSet, InputLayer, RunConfig
from socseq.pipeline.landuse import ClassTable, esa_cci_to_fao, read_class_table
from socseq.pipeline.npp import miami_npp_g_dm_m2
from socseq.pipeline.sources import LayerSpec, open_spec, read_block, read_filled, source_path

__all__ = [
    "CLIMATE_VARIABLES",
    "NO_CLASS",
    "SCRATCH_CODEC",
    "BASELINE_MAPS",
    "InputPlan",
    "Window",
    "WindowData",
    "plan_inputs",
    "read_window",
    "resolve_grid",
    "windows",
]

#: Short name → (configuration key, canonical variable of socseq.io.units) of the three
#: variables the phases run on.
CLIMATE_VARIABLES = {
    "tas": ("temperature", "tas_degC"),
    "pr": ("precipitation", "pr_mm"),
    "pet": ("evaporation", "pet_mm"),
}

#: Canonical variable of socseq.io.units of every climate layer (minimum and maximum
#: temperature are temperatures, with the same units and traps).
CLIMATE_QUANTITY = {
    "tas": "tas_degC",
    "pr": "pr_mm",
    "pet": "pet_mm",
    "tasmin": "tas_degC",
    "tasmax": "tas_degC",
}

#: Compression of the scratch stores, which live for one run: LZ4 with byte shuffle wrote a
#: smooth 12-month float32 slab of 10^6 cells 1.8x faster than zarr's default zstd, 20 % smaller.
SCRATCH_CODEC = BloscCodec(cname="lz4", clevel=1, shuffle="shuffle")

#: No class (outside the land-use map or a code missing from the class table).
NO_CLASS = -1

#: Maps of the ``[dsm]`` baseline that a run keeps in scratch for its windows.
BASELINE_MAPS = ("soc_mean_t_ha", "soc_sd_t_ha", "soc_q05_t_ha", "soc_q95_t_ha")


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

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1)."""
        return self.y0, self.y1, self.x0, self.x1


def windows(grid: GridSpec, chunk: int) -> list[Window]:
    """Split the grid into ``chunk × chunk`` windows, row by row (edge windows are smaller)."""
    return [
        Window(y, min(y + chunk, grid.height), x, min(x + chunk, grid.width))
        for y in range(0, grid.height, chunk)
        for x in range(0, grid.width, chunk)
    ]


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
        lazy=True,
    )
    if da.ndim != 2:
        raise InputValidationError(
            f"layer 'inputs.{name}' (file {layer.path}): has {da.shape[0]} bands; give "
            "band = N to pick the one whose grid is the template"
        )
    return GridSpec.from_raster(da)


# --------------------------------------------------------------------------------------------
# The plan: every layer checked on its metadata, resampling decided once


@dataclass(frozen=True)
class ClimatePlan:
    """Temperature, precipitation and evaporation of one period.

    Attributes
    ----------
    layers : dict
        ``tas``, ``pr``, ``pet`` → LayerSpec.
    first : dict
        Position of the period's first month in each source.
    months : int
        Months read from each source (12 for a climatology).
    repeat : int
        Times the months read are repeated: the number of warm-up years when the warm-up
        runs on ``[climate.normals]`` (the same 12 months every year), else 1.
    """

    layers: dict[str, LayerSpec]
    first: dict[str, int]
    months: int
    repeat: int = 1


@dataclass(frozen=True)
class InputPlan:
    """Everything a window task needs to read its inputs (picklable, for process workers)."""

    grid: GridSpec
    static: dict[str, LayerSpec]
    baseline: str | None
    source_classes: str
    table: ClassTable
    candidate_classes: tuple[int, ...]
    spin: ClimatePlan
    spin_from_series: bool
    warm: ClimatePlan
    forward: ClimatePlan | None
    fill_distance_m: float
    yearly: LayerSpec | None = None
    yearly_first_band: int = 0
    cover_source: str = "class"
    cover: LayerSpec | None = None
    ndvi_threshold: float = 0.6
    uncertainty: dict[str, LayerSpec] = field(default_factory=dict)
    uncertainty_baseline: tuple[str, ...] = ()
    pet_method: str | None = None

    @property
    def n_spin_years(self) -> int:
        """Spin-up years of the series (the climatology counts as one)."""
        return self.spin.months // 12

    @property
    def n_warmup_years(self) -> int:
        """Warm-up years."""
        return self.warm.months * self.warm.repeat // 12


def _layer_spec(
    layer: InputLayer | ClimateLayer,
    name: str,
    grid: GridSpec,
    *,
    quantity: str | None,
    kind: str = "continuous",
    monthly: bool = False,
    start: str | None = None,
    require_units: bool = True,
) -> tuple[LayerSpec, xr.DataArray]:
    """Open ``layer`` lazily, check its metadata, and return its spec and the opened array."""
    if quantity is not None and require_units and layer.units is None:
        raise ConfigError(
            f"configuration: [{name}.units] is required; declare the units the file stores "
            '(e.g. "%", "t/ha")'
        )
    pattern = isinstance(layer, ClimateLayer) and layer.pattern is not None
    path = layer.source if isinstance(layer, ClimateLayer) else layer.path
    spec = LayerSpec(
        name=name,
        path=source_path(path),
        variable=layer.variable,
        band=layer.band,
        units=layer.units,
        quantity=quantity,
        kind=kind,  # type: ignore[arg-type]
        method="",
        monthly=monthly,
        start=start,
        pattern=pattern,
        years=layer.years if isinstance(layer, ClimateLayer) else None,
    )
    da = open_spec(spec)
    method = choose_resampling(
        da,
        grid,
        kind=kind,  # type: ignore[arg-type]
        resampling=layer.resampling,
        name=name,
    )
    if clip_to_grid(da, grid) is None:
        from socseq.exceptions import GridMismatchError

        raise GridMismatchError(
            f"layer '{name}' (file {path}): covers 0 % of the template grid; check the "
            "layer's CRS and that it covers the study region"
        )
    return dataclasses.replace(spec, method=method), da


def _single_band(spec: LayerSpec, da: xr.DataArray) -> None:
    if da.ndim != 2:
        raise InputValidationError(
            f"layer '{spec.name}' (file {spec.path}): has {da.shape[0]} bands but one layer is "
            "expected; give band = N (or variable) to pick it"
        )


def _year_index(da: xr.DataArray, years: tuple[int, int], name: str, path: Any, fix: str) -> int:
    """Index of January of ``years[0]``; raise unless the series covers the years."""
    first = da["time"].values[0].astype("datetime64[M]").astype(int)
    start = (years[0] - 1970) * 12 - first
    end = start + (years[1] - years[0] + 1) * 12
    if start < 0 or end > da.sizes["time"]:
        have = f"{str(da['time'].values[0])[:7]}…{str(da['time'].values[-1])[:7]}"
        raise InputValidationError(
            f"layer '{name}' (file {path}): covers {have} but {years[0]}-01…{years[1]}-12 is "
            f"needed; {fix}"
        )
    return int(start)


def _climate_plan(
    cset: ClimateSet, section: str, grid: GridSpec, years: tuple[int, int] | None, fix: str
) -> ClimatePlan:
    layers, first = {}, {}
    for key, layer in cset.layers().items():
        short = CLIMATE_KEYS[key]
        name = f"climate.{section}.{key}"
        spec, da = _layer_spec(
            layer, name, grid, quantity=CLIMATE_QUANTITY[short], monthly=True, start=layer.start
        )
        if years is None:
            if da.sizes["time"] != 12:
                raise InputValidationError(
                    f"layer '{name}' (file {layer.source}): has {da.sizes['time']} months; "
                    f"[climate.{section}] takes the 12 monthly means January…December"
                )
            first[short] = 0
        else:
            first[short] = _year_index(da, years, name, layer.source, fix)
        layers[short] = spec
    months = 12 if years is None else (years[1] - years[0] + 1) * 12
    return ClimatePlan(layers=layers, first=first, months=months)


def plan_inputs(
    config: RunConfig,
    grid: GridSpec,
    *,
    baseline: str | Path | None = None,
) -> InputPlan:
    """Open every layer lazily and check its metadata; decide each layer's resampling.

    Parameters
    ----------
    config : RunConfig
        The run configuration (paths absolute).
    grid : GridSpec
        Template grid.
    baseline : path-like, optional
        Zarr store holding the ``[dsm]`` baseline maps (:data:`BASELINE_MAPS`) on ``grid``,
        which replace ``inputs.soc``.

    Returns
    -------
    InputPlan

    Raises
    ------
    InputValidationError, UnitsError, GridMismatchError, ConfigError
        One line naming the layer, file, what is wrong and the fix.
    """
    inp = config.inputs
    static: dict[str, LayerSpec] = {}
    spec, da = _layer_spec(inp.land_use, "inputs.land_use", grid, quantity=None, kind="categorical")
    _single_band(spec, da)
    static["land_use"] = spec
    if baseline is None:
        assert inp.soc is not None  # the configuration guarantees one of the two
        spec, da = _layer_spec(inp.soc, "inputs.soc", grid, quantity="soc_t_ha")
        _single_band(spec, da)
        static["soc"] = spec
    for name, quantity in (("clay", "clay_pct"), ("sand", "sand_pct"), ("ec", "ec_dS_m")):
        layer = getattr(inp, name)
        if layer is not None:
            spec, da = _layer_spec(layer, f"inputs.{name}", grid, quantity=quantity)
            _single_band(spec, da)
            static[name] = spec
    if inp.area_fraction is not None:
        spec, da = _layer_spec(inp.area_fraction, "inputs.area_fraction", grid, quantity=None)
        _single_band(spec, da)
        static["area_fraction"] = spec
    if inp.zones is not None:
        spec, da = _layer_spec(inp.zones, "inputs.zones", grid, quantity=None, kind="categorical")
        _single_band(spec, da)
        static["zones"] = spec

    cl, periods = config.climate, config.periods
    n_warm = periods.warmup[1] - periods.warmup[0] + 1
    if cl.normals is not None:
        # The 12 monthly means serve the spin-up and, repeated, every warm-up year.
        spin = _climate_plan(cl.normals, "normals", grid, None, "")
        warm = dataclasses.replace(spin, repeat=n_warm)
    else:
        assert cl.series is not None  # the configuration guarantees series or normals
        if cl.spinup is not None:
            spin = _climate_plan(cl.spinup, "spinup", grid, None, "")
        else:
            spin = _climate_plan(
                cl.series,
                "series",
                grid,
                periods.spinup,
                "give a series that covers the spin-up years, or 12 monthly means in "
                "[climate.spinup]",
            )
        warm = _climate_plan(
            cl.series, "series", grid, periods.warmup, "give a series that covers the warm-up years"
        )
    forward = None
    if cl.forward is not None:
        forward = _climate_plan(
            cl.forward,
            "forward",
            grid,
            periods.forward,
            "give a future series of forward_years years",
        )

    table = read_class_table(config.land_use.table)
    plan = InputPlan(
        grid=grid,
        static=static,
        baseline=None if baseline is None else str(baseline),
        source_classes=config.land_use.source_classes,
        table=table,
        candidate_classes=tuple(sorted({*config.land_use.simulate, *config.land_use.cropland})),
        spin=spin,
        spin_from_series=cl.spinup is None and cl.normals is None,
        warm=warm,
        forward=forward,
        fill_distance_m=cl.fill_distance_m,
        pet_method=cl.computed_pet,
    )
    return _plan_optional(config, grid, plan)


def _plan_optional(config: RunConfig, grid: GridSpec, plan: InputPlan) -> InputPlan:
    """Add yearly land use, the cover layer and the uncertainty layers to the plan."""
    lu = config.land_use
    changes: dict[str, Any] = {}
    if lu.yearly is not None:
        assert lu.yearly_first_year is not None
        spec, da = _layer_spec(
            lu.yearly, "land_use.yearly", grid, quantity=None, kind="categorical"
        )
        n_warm = plan.n_warmup_years
        first = config.periods.warmup[0] - lu.yearly_first_year
        n_bands = da.shape[0] if da.ndim == 3 else 1
        if first < 0 or first + n_warm > n_bands:
            raise InputValidationError(
                f"layer 'land_use.yearly' (file {lu.yearly.path}): has {n_bands} yearly "
                f"band(s) from {lu.yearly_first_year}, but the warm-up needs "
                f"{config.periods.warmup[0]}–{config.periods.warmup[1]}; give one band per "
                "warm-up year"
            )
        changes.update(yearly=spec, yearly_first_band=first)
    cover = config.cover
    if cover.source != "class":
        assert cover.layer is not None
        if cover.source == "raster":
            spec, da = _layer_spec(cover.layer, "cover.layer", grid, quantity=None)
            if da.ndim != 3 or da.shape[0] != 12:
                raise InputValidationError(
                    f"layer 'cover.layer' (file {cover.layer.path}): a cover raster needs 12 "
                    f"monthly bands, got {1 if da.ndim == 2 else da.shape[0]}; give "
                    "January…December"
                )
        else:
            spec, da = _layer_spec(
                cover.layer.model_copy(update={"units": cover.layer.units or "1"}),
                "cover.layer",
                grid,
                quantity="ndvi",
                monthly=True,
                start=cover.ndvi_start,
            )
            months = set(da["time"].dt.month.values.tolist())
            missing = [m for m in range(1, 13) if m not in months]
            if missing:
                raise InputValidationError(
                    f"layer 'cover.layer' (file {cover.layer.path}): no NDVI image in month "
                    f"{missing[0]}; give a series covering every calendar month"
                )
        changes.update(cover_source=cover.source, cover=spec, ndvi_threshold=cover.ndvi_threshold)
    unc = config.uncertainty
    if unc is not None:
        layers: dict[str, LayerSpec] = {}
        source = unc.soc.source
        if source == "auto":
            source = "dsm_quantiles" if config.dsm is not None else "relative"
        from_baseline: tuple[str, ...] = ()
        if source == "dsm_sd":
            from_baseline = ("soc_sd",)
        elif source == "dsm_quantiles":
            from_baseline = ("soc_q05", "soc_q95")
        elif source == "sd_layer":
            assert unc.soc.sd is not None
            layers["soc_sd"] = _layer_spec(
                unc.soc.sd, "uncertainty.soc.sd", grid, quantity="soc_t_ha"
            )[0]
        elif source == "quantile_layers":
            assert unc.soc.q05 is not None and unc.soc.q95 is not None
            for key, layer in (("soc_q05", unc.soc.q05), ("soc_q95", unc.soc.q95)):
                layers[key] = _layer_spec(
                    layer, f"uncertainty.soc.{key[4:]}", grid, quantity="soc_t_ha"
                )[0]
        if unc.mode == "montecarlo" and unc.clay.sd is not None:
            layers["clay_sd"] = _layer_spec(
                unc.clay.sd, "uncertainty.clay.sd", grid, quantity="clay_pct"
            )[0]
        changes.update(uncertainty=layers, uncertainty_baseline=from_baseline)
    return dataclasses.replace(plan, **changes) if changes else plan


def uncertainty_soc_kind(plan: InputPlan) -> str:
    """``"sd"``, ``"quantiles"`` or ``"relative"``: what the SOC uncertainty layers hold."""
    names = set(plan.uncertainty) | set(plan.uncertainty_baseline)
    if "soc_sd" in names:
        return "sd"
    if "soc_q05" in names:
        return "quantiles"
    return "relative"


# --------------------------------------------------------------------------------------------
# A window's inputs


@dataclass
class WindowData:
    """A window's inputs: per-cell layers and the candidate cells' climate.

    Attributes
    ----------
    layers : dict of str to numpy.ndarray
        ``(rows, cols)``: ``land_use`` (FAO class, ``NO_CLASS`` without one), ``soc`` [t C/ha],
        ``clay`` [%], ``sand``, ``ec`` (if configured), ``area_ha``, ``zones`` (−1 without),
        ``npp_spin`` [g DM/m2/yr], ``climate_ok`` (every month of every phase has climate),
        ``cold`` (every spin-up month below −5 °C).
    candidate : numpy.ndarray
        ``(rows, cols)`` bool: cells of an agricultural class.
    climate : dict of str to numpy.ndarray
        Over the candidate cells: ``spin_tas`` … ``(n, 12)``, ``warm_tas`` … ``(n, 12·years)``,
        ``fwd_tas`` … ``(n, period)``, ``npp_warm`` ``(n, years)``.
    cover : numpy.ndarray or None
        ``(n, 12)`` cover factor of the candidate cells (cover raster or NDVI).
    yearly : numpy.ndarray or None
        ``(n, years)`` class of each warm-up year (``NO_CLASS`` where unknown).
    uncertainty : dict of str to numpy.ndarray
        ``(n,)`` SOC/clay uncertainty layers of the candidate cells.
    filled : dict of str to int
        Candidate cells filled from the nearest climate cell, per layer.
    """

    layers: dict[str, np.ndarray]
    candidate: np.ndarray
    climate: dict[str, np.ndarray]
    cover: np.ndarray | None
    yearly: np.ndarray | None
    uncertainty: dict[str, np.ndarray]
    filled: dict[str, int]


def class_codes(
    values: np.ndarray, nodata: Any, source_classes: str, table: ClassTable
) -> np.ndarray:
    """FAO class codes of a land-use block (``NO_CLASS`` for nodata and unknown codes)."""
    raw = np.asarray(values)
    valid = np.isfinite(raw) if raw.dtype.kind == "f" else np.ones(raw.shape, bool)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        valid &= raw != nodata
    # Codes outside 0–255 belong to no legend (validation reports them); they count as none.
    valid &= (raw >= 0) & (raw <= 255)
    codes = np.where(valid, raw, 0)
    if source_classes == "esa_cci":
        codes = esa_cci_to_fao(codes)
    codes = codes.astype(np.int16)
    known = np.isin(codes, table.codes)
    return np.where(valid & known, codes, NO_CLASS).astype(np.int16)


def _read_static(
    plan: InputPlan, window: Window, own: GridSpec, threads: int
) -> dict[str, np.ndarray]:
    layers: dict[str, np.ndarray] = {}
    lu = read_block(plan.static["land_use"], own, threads=threads)
    layers["land_use"] = class_codes(
        lu.values, lu.rio.nodata, plan.source_classes, plan.table
    ).astype(np.int64)
    if plan.baseline is not None:
        layers["soc"] = _baseline_window(plan.baseline, "soc_mean_t_ha", window)
    for name in ("soc", "clay", "sand", "ec"):
        if name in plan.static:
            layers[name] = np.asarray(read_block(plan.static[name], own, threads=threads).values)
    fraction = np.ones(own.shape)
    if "area_fraction" in plan.static:
        spec = plan.static["area_fraction"]
        scale = {"1": 1.0, "": 1.0, "-": 1.0, "fraction": 1.0, "%": 0.01}[
            (spec.units or "1").strip().lower()
        ]
        fraction = np.asarray(read_block(spec, own, threads=threads).values) * scale
    layers["area_ha"] = np.asarray(cell_area_ha(own).values) * np.nan_to_num(fraction)
    if "zones" in plan.static:
        zones = read_block(plan.static["zones"], own, threads=threads)
        values = np.asarray(zones.values, dtype=np.float64)
        if zones.rio.nodata is not None:
            values[values == zones.rio.nodata] = np.nan
        layers["zones"] = np.where(np.isfinite(values), values, -1).astype(np.int32)
    else:
        layers["zones"] = np.full(own.shape, -1, np.int32)
    return layers


def _spin_reduce(n_years: int, annual: bool) -> Any:
    """Source-grid reduction of the spin-up months: 12 monthly means, then n annual totals.

    The annual totals (12-month sums; temperature is divided by 12 later) feed MIAMI NPP,
    which is computed per cell from the resampled annual fields; evaporation needs none.
    """

    def reduce(block: xr.DataArray) -> xr.DataArray:
        values = np.asarray(block.values, dtype=np.float64)
        by_year = values.reshape(n_years, 12, *values.shape[1:])
        fields = [by_year.mean(axis=0)] + ([by_year.sum(axis=1)] if annual else [])
        out = xr.DataArray(
            np.concatenate(fields, axis=0),
            dims=("time", "y", "x"),
            coords={"y": block["y"].values, "x": block["x"].values},
        )
        out.rio.write_crs(block.rio.crs, inplace=True)
        out.rio.write_transform(block.rio.transform(), inplace=True)
        return out

    return reduce


def _mean_temperature(values: dict[str, np.ndarray]) -> None:
    """Add ``tas`` = (tmin + tmax)/2 (FAO-56) when only minimum and maximum are given.

    Linear, so it holds for monthly means and annual sums alike.
    """
    if "tas" not in values:
        values["tas"] = (values["tasmin"] + values["tasmax"]) / 2.0


@dataclass
class _PetInputs:
    """What computing PET in a window needs: the method, cell latitudes, the heat index.

    The Thornthwaite heat index I of a cell comes from its spin-up climatology (the 12
    monthly means of the spin-up years, the ``[climate.spinup]`` means or the
    ``[climate.normals]``), computed per cell once and used for every phase, so PET does
    not depend on the windows or on which months are computed together.
    """

    method: str | None
    lat: np.ndarray | None = None
    heat: np.ndarray | None = None

    @classmethod
    def of(cls, plan: InputPlan, own: GridSpec) -> _PetInputs:
        if plan.pet_method is None:
            return cls(None)
        return cls(plan.pet_method, cell_latitude_deg(own))

    def add_heat_index(self, spin_tas: np.ndarray) -> None:
        """Heat index of every cell of the window from its 12 spin-up monthly means."""
        if self.method == "thornthwaite":
            self.heat = thornthwaite_heat_index(spin_tas)

    def add(self, values: dict[str, np.ndarray], years: int, cells: Any = None) -> None:
        """Add ``pet`` [mm/month] to a phase's values, shape ``(12·years, ...)``.

        ``cells`` picks the window's cells that the values hold (None: the whole window).
        """
        if self.method is None:
            return
        assert self.lat is not None
        pick = (lambda a: a) if cells is None else (lambda a: a[cells])
        heat = None if self.heat is None else pick(self.heat)
        values["pet"] = monthly_pet(
            self.method,  # type: ignore[arg-type]
            np.tile(np.arange(1, 13), years),
            pick(self.lat),
            tas_degC=values["tas"],
            heat_index=heat,
            tmin_degC=values.get("tasmin"),
            tmax_degC=values.get("tasmax"),
        )


def read_window(plan: InputPlan, window: Window, threads: int = 1) -> WindowData:
    """Read, convert and align every input of one window.

    Parameters
    ----------
    plan : InputPlan
    window : Window
    threads : int
        Threads this task may use (GDAL warper).

    Returns
    -------
    WindowData
    """
    grid = plan.grid
    own = grid.window(*window.bounds)
    layers = _read_static(plan, window, own, threads)
    candidate = np.isin(layers["land_use"], plan.candidate_classes)
    n = int(candidate.sum())
    climate: dict[str, np.ndarray] = {}
    filled: dict[str, int] = {}
    if n == 0:
        layers["npp_spin"] = np.full(own.shape, np.nan)
        layers["climate_ok"] = np.zeros(own.shape, bool)
        layers["cold"] = np.zeros(own.shape, bool)
        return WindowData(layers, candidate, climate, None, None, {}, filled)

    read: dict[tuple[LayerSpec, int, int], np.ndarray] = {}

    def aligned(
        spec: LayerSpec, months: slice, reduce: Any = None, group: int | None = None
    ) -> np.ndarray:
        # [climate.normals] serve the spin-up and the warm-up: their 12 months are read once
        # (one group of 12 fills as group=None does).
        key = (spec, months.start, months.stop)
        if reduce is None and key in read:
            return read[key]

        def read_grid(target: GridSpec) -> xr.DataArray:
            return read_block(spec, target, months=months, reduce=reduce, threads=threads)

        values, count = read_filled(
            read_grid, grid, window.bounds, candidate, plan.fill_distance_m, spec.name, group
        )
        filled[spec.name] = max(filled.get(spec.name, 0), count)
        if reduce is None and months.stop - months.start == 12:
            read[key] = values
        return values

    ok = np.ones(own.shape, bool)
    pet = _PetInputs.of(plan, own)

    # Spin-up: monthly means (and annual fields for NPP) on the source grid, then resampled.
    sp = plan.spin
    spin: dict[str, np.ndarray] = {}
    if plan.spin_from_series:
        n_spin = plan.n_spin_years
        annual: dict[str, np.ndarray] = {}
        for short, spec in sp.layers.items():
            months = slice(sp.first[short], sp.first[short] + sp.months)
            values = aligned(spec, months, _spin_reduce(n_spin, short != "pet"))
            spin[short], annual[short] = values[:12], values[12:]
        _mean_temperature(annual)
        _mean_temperature(spin)
        npp_years = miami_npp_g_dm_m2(annual["tas"] / 12.0, annual["pr"])
        npp_spin = npp_years.sum(axis=0) / n_spin
    else:
        for short, spec in sp.layers.items():
            spin[short] = aligned(spec, slice(sp.first[short], sp.first[short] + 12))
        _mean_temperature(spin)
        npp_spin = miami_npp_g_dm_m2(spin["tas"].mean(axis=0), spin["pr"].sum(axis=0))
    pet.add_heat_index(spin["tas"])
    pet.add(spin, 1)
    for short, values in spin.items():
        ok &= np.isfinite(values).all(axis=0)
        if short in CLIMATE_VARIABLES:
            climate[f"spin_{short}"] = np.ascontiguousarray(values[:, candidate].T)
    layers["npp_spin"] = npp_spin
    layers["cold"] = np.all(spin["tas"] < -5.0, axis=0)

    # Warm-up: every month, filled year by year; the forward climatology is the mean of the
    # warm-up years month by month (summed in year order, as a year-by-year reader would).
    wp = plan.warm
    n_warm = plan.n_warmup_years
    warm: dict[str, np.ndarray] = {}
    for short, spec in wp.layers.items():
        values = aligned(spec, slice(wp.first[short], wp.first[short] + wp.months), group=12)
        ok &= np.isfinite(values).all(axis=0)
        warm[short] = np.tile(values[:, candidate], (wp.repeat, 1))
        del values
    _mean_temperature(warm)
    pet.add(warm, n_warm, candidate)
    fwd_means = {k: np.zeros((12, n)) for k in CLIMATE_VARIABLES}
    for short in CLIMATE_VARIABLES:
        cells = warm.pop(short)
        for year in range(n_warm):
            fwd_means[short] += cells[12 * year : 12 * year + 12] / n_warm
        warm[short] = np.ascontiguousarray(cells.T)
        del cells
    npp_warm = np.empty((n, n_warm))
    for year in range(n_warm):
        months = slice(12 * year, 12 * year + 12)
        npp_warm[:, year] = miami_npp_g_dm_m2(
            warm["tas"][:, months].T.sum(axis=0) / 12.0, warm["pr"][:, months].T.sum(axis=0)
        )
    for short in CLIMATE_VARIABLES:
        climate[f"warm_{short}"] = warm[short]
    climate["npp_warm"] = npp_warm
    if plan.forward is None:
        for short in CLIMATE_VARIABLES:
            climate[f"fwd_{short}"] = np.ascontiguousarray(fwd_means[short].T)
    else:
        fp = plan.forward
        fwd: dict[str, np.ndarray] = {}
        for short, spec in fp.layers.items():
            values = aligned(spec, slice(fp.first[short], fp.first[short] + fp.months), group=12)
            ok &= np.isfinite(values).all(axis=0)
            fwd[short] = values[:, candidate]
        _mean_temperature(fwd)
        pet.add(fwd, fp.months // 12, candidate)
        for short in CLIMATE_VARIABLES:
            climate[f"fwd_{short}"] = np.ascontiguousarray(fwd[short].T)
    layers["climate_ok"] = ok

    return WindowData(
        layers=layers,
        candidate=candidate,
        climate=climate,
        cover=_read_cover(plan, own, candidate, threads),
        yearly=_read_yearly(plan, own, candidate, threads),
        uncertainty=_read_uncertainty(plan, window, own, candidate, threads),
        filled=filled,
    )


def _read_cover(
    plan: InputPlan, own: GridSpec, candidate: np.ndarray, threads: int
) -> np.ndarray | None:
    """``(n, 12)`` cover factor of the candidate cells from a cover raster or NDVI."""
    if plan.cover is None:
        return None
    block = read_block(plan.cover, own, threads=threads)
    values = np.asarray(block.values, dtype=np.float64)
    if plan.cover_source == "raster":
        factor = np.where(np.isfinite(values), values, 1.0)
    else:
        months = block["time"].dt.month.values
        factor = np.ones((12, *own.shape))
        for m in range(12):
            sel = values[months == m + 1]
            # GSOCseq: NA counts as not green; p = share of images above the threshold.
            share = (np.nan_to_num(sel, nan=-np.inf) > plan.ndvi_threshold).mean(axis=0)
            factor[m] = 1.0 - 0.4 * share
    return np.ascontiguousarray(factor[:, candidate].T)


def _read_yearly(
    plan: InputPlan, own: GridSpec, candidate: np.ndarray, threads: int
) -> np.ndarray | None:
    """``(n, years)`` FAO class of each warm-up year for the candidate cells."""
    if plan.yearly is None:
        return None
    n_warm = plan.n_warmup_years
    out = np.empty((int(candidate.sum()), n_warm), np.int64)
    for year in range(n_warm):
        spec = LayerSpec(**{**plan.yearly.__dict__, "band": plan.yearly_first_band + year + 1})
        block = read_block(spec, own, threads=threads)
        codes = class_codes(block.values, block.rio.nodata, plan.source_classes, plan.table)
        out[:, year] = codes[candidate]
    return out


def _read_uncertainty(
    plan: InputPlan, window: Window, own: GridSpec, candidate: np.ndarray, threads: int
) -> dict[str, np.ndarray]:
    """SOC/clay uncertainty layers of the candidate cells."""
    out = {
        name: np.asarray(read_block(spec, own, threads=threads).values)[candidate]
        for name, spec in plan.uncertainty.items()
    }
    if plan.uncertainty_baseline:
        assert plan.baseline is not None
        for name in plan.uncertainty_baseline:
            out[name] = _baseline_window(plan.baseline, f"{name}_t_ha", window)[candidate]
    return out


def _baseline_window(store: str, name: str, window: Window) -> np.ndarray:
    """Read a window of one of the ``[dsm]`` baseline maps kept in scratch."""
    array = zarr.open_group(store, mode="r")[name]
    assert isinstance(array, zarr.Array)
    ys, xs = window.slices
    return np.asarray(array[ys, xs], dtype=np.float64)
