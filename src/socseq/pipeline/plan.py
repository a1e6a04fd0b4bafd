"""The input plan: every layer checked on its metadata before any cell is computed.

:func:`plan_inputs` opens every configured layer lazily and checks what its metadata can tell
(the file, CRS, overlap with the grid, bands, time axes covering the periods) and decides each
layer's resampling rule for the whole grid once. The plan is small and picklable, so it travels
to process and cluster workers; :func:`socseq.pipeline.inputs.read_window` reads a window of
every layer from it. :func:`windows` cuts the grid into the blocks the tasks work on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from socseq.exceptions import ConfigError, GridMismatchError, InputValidationError
from socseq.io.grid import GridSpec, choose_resampling, clip_to_grid
from socseq.io.raster import open_raster
from socseq.pipeline.config import CLIMATE_KEYS, ClimateLayer, ClimateSet, InputLayer, RunConfig
from socseq.pipeline.domain import DOMAIN_KEY, DomainSpec, polygon_domain
from socseq.pipeline.landuse import ClassTable, read_class_table
from socseq.pipeline.sources import LayerSpec, open_layer, source_path

__all__ = [
    "BASELINE_MAPS",
    "CLIMATE_QUANTITY",
    "CLIMATE_VARIABLES",
    "ClimatePlan",
    "InputPlan",
    "Window",
    "plan_inputs",
    "resolve_grid",
    "uncertainty_soc_kind",
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
    domain: DomainSpec | None = None

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
    da = open_layer(spec)
    method = choose_resampling(
        da,
        grid,
        kind=kind,  # type: ignore[arg-type]
        resampling=layer.resampling,
        name=name,
    )
    if clip_to_grid(da, grid) is None:
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
    """Add yearly land use, the cover layer, the uncertainty layers and the domain."""
    changes: dict[str, Any] = {
        **_plan_yearly(config, grid, plan.n_warmup_years),
        **_plan_cover(config, grid),
        **_plan_uncertainty(config, grid),
        **_plan_domain(config, grid),
    }
    return dataclasses.replace(plan, **changes) if changes else plan


def _plan_yearly(config: RunConfig, grid: GridSpec, n_warm: int) -> dict[str, Any]:
    """Plan the yearly land-use layer: one band per warm-up year."""
    lu = config.land_use
    if lu.yearly is None:
        return {}
    assert lu.yearly_first_year is not None
    spec, da = _layer_spec(lu.yearly, "land_use.yearly", grid, quantity=None, kind="categorical")
    first = config.periods.warmup[0] - lu.yearly_first_year
    n_bands = da.shape[0] if da.ndim == 3 else 1
    if first < 0 or first + n_warm > n_bands:
        raise InputValidationError(
            f"layer 'land_use.yearly' (file {lu.yearly.path}): has {n_bands} yearly "
            f"band(s) from {lu.yearly_first_year}, but the warm-up needs "
            f"{config.periods.warmup[0]}–{config.periods.warmup[1]}; give one band per "
            "warm-up year"
        )
    return {"yearly": spec, "yearly_first_band": first}


def _plan_cover(config: RunConfig, grid: GridSpec) -> dict[str, Any]:
    """Plan the cover layer: 12 monthly cover factors, or NDVI images in every month."""
    cover = config.cover
    if cover.source == "class":
        return {}
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
    return {"cover_source": cover.source, "cover": spec, "ndvi_threshold": cover.ndvi_threshold}


def _plan_domain(config: RunConfig, grid: GridSpec) -> dict[str, Any]:
    """Plan the ``[domain]``: a class raster (mode or nearest), or polygons over the grid."""
    domain = config.domain
    if domain is None:
        return {}
    if domain.is_vector:
        return {"domain": polygon_domain(domain.path, domain.layer, grid)}
    layer = InputLayer(
        path=domain.path, band=domain.band, variable=domain.variable, resampling=domain.resampling
    )
    spec, da = _layer_spec(layer, DOMAIN_KEY, grid, quantity=None, kind="categorical")
    _single_band(spec, da)
    return {"domain": DomainSpec(path=spec.path, raster=spec)}


#: SOC uncertainty source → the ``[dsm]`` baseline maps it reads.
_FROM_BASELINE = {"dsm_sd": ("soc_sd",), "dsm_quantiles": ("soc_q05", "soc_q95")}


def _plan_uncertainty(config: RunConfig, grid: GridSpec) -> dict[str, Any]:
    """Plan the SOC and clay uncertainty layers (files, or the ``[dsm]`` baseline maps)."""
    unc = config.uncertainty
    if unc is None:
        return {}
    source = unc.soc.source
    if source == "auto":
        source = "dsm_quantiles" if config.dsm is not None else "relative"
    files: dict[str, InputLayer | None] = {}
    if source == "sd_layer":
        files = {"soc_sd": unc.soc.sd}
    elif source == "quantile_layers":
        files = {"soc_q05": unc.soc.q05, "soc_q95": unc.soc.q95}
    layers: dict[str, LayerSpec] = {}
    for key, layer in files.items():
        assert layer is not None  # the configuration requires the files of its source
        layers[key] = _layer_spec(layer, f"uncertainty.soc.{key[4:]}", grid, quantity="soc_t_ha")[0]
    if unc.mode == "montecarlo" and unc.clay.sd is not None:
        layers["clay_sd"] = _layer_spec(
            unc.clay.sd, "uncertainty.clay.sd", grid, quantity="clay_pct"
        )[0]
    return {"uncertainty": layers, "uncertainty_baseline": _FROM_BASELINE.get(source, ())}


def uncertainty_soc_kind(plan: InputPlan) -> str:
    """``"sd"``, ``"quantiles"`` or ``"relative"``: what the SOC uncertainty layers hold."""
    names = set(plan.uncertainty) | set(plan.uncertainty_baseline)
    if "soc_sd" in names:
        return "sd"
    if "soc_q05" in names:
        return "quantiles"
    return "relative"
