"""``socseq validate``, and the checks every run makes before it computes anything.

Three levels, each fast:

1. **Metadata** (:func:`socseq.pipeline.plan.plan_inputs`): every file opens, has a CRS,
   overlaps the grid, has the bands and the months the periods need; the resampling rule of
   each layer is fixed for the whole grid.
2. **Sampled values** (:func:`check_values`): each layer's values over the grid (a regular
   sample of at most :data:`SAMPLE_CELLS` source cells, one year of each climate series) go
   through the unit traps of :mod:`socseq.io.units`; land-use codes must belong to the
   declared legend (up to ``[checks] unknown_code_share_max``); shares, cover factors and
   NDVI must be in range.
3. **A survey of the grid** (:func:`socseq.pipeline.survey.survey`): the static layers, the
   ``[domain]`` and the first month of each climate series aligned to the whole grid give the
   cells of each class and the cells that each exclusion rule would remove (climate is known
   in every month only once a run reads it), so a configuration that would simulate nothing
   stops here, and so does a SOC map whose median stock over the agricultural cells is
   implausible (:mod:`socseq.pipeline.guards`).

Nothing of the climate is staged: ``validate`` takes seconds, whatever the series' length.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from socseq.exceptions import ConfigError, InputValidationError
from socseq.io.grid import GridSpec, clip_to_grid
from socseq.io.raster import load_block
from socseq.io.tables import read_zone_names
from socseq.io.units import check_and_convert
from socseq.pipeline.config import ChecksConfig, RunConfig
from socseq.pipeline.guards import (
    SocSource,
    check_class_names,
    check_soc_median,
    require_cells,
    soc_median,
)
from socseq.pipeline.landuse import esa_cci_codes, legend_fixes, legend_summary, read_class_table
from socseq.pipeline.plan import InputPlan, plan_inputs, resolve_grid
from socseq.pipeline.run_notes import cited_sources
from socseq.pipeline.sources import LayerSpec, open_layer
from socseq.pipeline.survey import agricultural_cells, survey

if TYPE_CHECKING:
    from socseq.dsm.covariates import CovariateStack
    from socseq.dsm.qa import SampleReport

__all__ = [
    "SAMPLE_CELLS",
    "check_baseline",
    "check_dsm_samples",
    "check_grid",
    "check_tables",
    "check_values",
    "dsm_grid",
    "run_grid",
    "survey",
    "validate_config",
]

#: Source cells per layer that the value checks read at most (per month of a series).
SAMPLE_CELLS = 250_000

#: Default share of land-use cells with codes outside the declared legend that is an error
#: (``[checks] unknown_code_share_max`` sets it per run).
UNKNOWN_CODE_SHARE = ChecksConfig().unknown_code_share_max


def _sample(da: xr.DataArray, grid: GridSpec) -> xr.DataArray | None:
    """Read the source cells over the grid, thinned to about :data:`SAMPLE_CELLS` a slice."""
    clipped = clip_to_grid(da, grid)
    if clipped is None:
        return None
    ny, nx = clipped.sizes["y"], clipped.sizes["x"]
    step = max(1, math.ceil(math.sqrt(ny * nx / SAMPLE_CELLS)))
    if step > 1:
        clipped = clipped.isel(y=slice(None, None, step), x=slice(None, None, step))
    return load_block(clipped)


def check_tables(config: RunConfig) -> None:
    """Read the class table, the zone names and ``[run] sources`` now, before any work.

    The classes of ``land_use.simulate`` and ``land_use.cropland`` must be in the class table.
    """
    check_class_names(config.land_use, read_class_table(config.land_use.table))
    if config.inputs.zone_names is not None:
        read_zone_names(config.inputs.zone_names)
    cited_sources(config)


def check_values(plan: InputPlan, checks: ChecksConfig | None = None) -> None:
    """Check the values of every layer on a sample (units, legend, ranges); raise on the first.

    Parameters
    ----------
    plan : InputPlan
    checks : ChecksConfig, optional
        The run's ``[checks]`` (default: the defaults).

    Raises
    ------
    UnitsError, InputValidationError
        One line naming the layer, the values seen and the fix.
    """
    _check_climate(plan)
    grid = plan.grid
    share_max = (checks or ChecksConfig()).unknown_code_share_max
    for name, spec in plan.static.items():
        block = _sample(open_layer(spec), grid)
        if name == "land_use":
            _check_legend(spec, block, plan, share_max)
        elif name == "area_fraction":
            _check_share(spec, block)
        else:
            _check_quantity(spec, block)
    for spec in plan.uncertainty.values():
        _check_quantity(spec, _sample(open_layer(spec), grid))
    if plan.cover is not None:
        block = _sample(open_layer(plan.cover), grid)
        check = _check_cover if plan.cover_source == "raster" else _check_quantity
        check(plan.cover, block)
    if plan.yearly is not None:
        _check_legend(plan.yearly, _sample(open_layer(plan.yearly), grid), plan, share_max)


def _check_climate(plan: InputPlan) -> None:
    """Apply the unit traps to the first year of each climate series (each file once)."""
    checked: set[tuple[str, int]] = set()
    for cp in [plan.spin, plan.warm] + ([plan.forward] if plan.forward else []):
        for short, spec in cp.layers.items():
            key = (spec.path + str(spec.variable), cp.first[short])
            if key not in checked:
                checked.add(key)
                da = open_layer(spec).isel(time=slice(cp.first[short], cp.first[short] + 12))
                _check_quantity(spec, _sample(da, plan.grid))


def _check_quantity(spec: LayerSpec, block: xr.DataArray | None) -> None:
    if block is None or spec.quantity is None or spec.units is None:
        return
    check_and_convert(block, variable=spec.quantity, units=spec.units, name=spec.name)


def _check_share(spec: LayerSpec, block: xr.DataArray | None) -> None:
    scale = {"1": 1.0, "": 1.0, "-": 1.0, "fraction": 1.0, "%": 0.01}.get(
        (spec.units or "1").strip().lower()
    )
    if scale is None:
        raise ConfigError(
            f"configuration: [{spec.name}.units] '{spec.units}' is not a share; give \"1\" "
            '(0–1) or "%"'
        )
    if block is None:
        return
    values = np.asarray(block.values, dtype=np.float64) * scale
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < 0 or finite.max() > 1 + 1e-9):
        raise InputValidationError(
            f"layer '{spec.name}' (file {spec.path}): values {finite.min():.3g}…"
            f"{finite.max():.3g} are not shares 0–1 in the declared units '{spec.units}'; "
            'declare units = "%" for percentages'
        )


def _check_cover(spec: LayerSpec, block: xr.DataArray | None) -> None:
    values = np.asarray(block.values) if block is not None else np.array([])
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.min() < 0.6 - 1e-6 or finite.max() > 1 + 1e-6:
        seen = f"{finite.min():.3g}…{finite.max():.3g}" if finite.size else "no value"
        raise InputValidationError(
            f"layer '{spec.name}' (file {spec.path}): cover factors must lie in 0.6 (covered)"
            f"…1 (bare), found {seen}; give the RothC cover factor"
        )


def _legend_codes(spec: LayerSpec, block: xr.DataArray) -> np.ndarray:
    """Return a sample's valid land-use codes as integers; raise if none or not integers."""
    raw = np.asarray(block.values)
    valid = np.isfinite(raw) if raw.dtype.kind == "f" else np.ones(raw.shape, bool)
    nodata = block.rio.nodata
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        valid &= raw != nodata
    codes = raw[valid]
    where = f"layer '{spec.name}' (file {spec.path})"
    if codes.size == 0:
        raise InputValidationError(
            f"{where}: has no land-use code over the grid; check its nodata value and extent"
        )
    if raw.dtype.kind == "f" and np.any(codes != np.round(codes)):
        raise InputValidationError(
            f"{where}: holds fractional values, not class codes; give a class raster "
            "(resampled with mode or nearest)"
        )
    return codes.astype(np.int64)


def _check_legend(
    spec: LayerSpec, block: xr.DataArray | None, plan: InputPlan, share_max: float
) -> None:
    """Land-use codes must be of the declared legend; up to ``share_max`` of strays pass.

    Codes outside the legend count as no land use in a run. The message names the most
    frequent ones and the legend they fit (ESA CCI codes declared as FAO classes, ...).
    """
    if block is None:
        return
    codes = _legend_codes(spec, block)
    esa = plan.source_classes == "esa_cci"
    legend = esa_cci_codes() if esa else plan.table.codes
    unknown = ~(np.isin(codes, legend) | (codes == 0))
    share = float(unknown.mean())
    if share <= share_max:
        return
    values, counts = np.unique(codes[unknown], return_counts=True)
    top = ", ".join(f"{values[i]} ({counts[i]:,})" for i in np.argsort(-counts, kind="stable")[:6])
    declared = "the ESA CCI legend" if esa else f"the class table {plan.table.source}"
    fixes = legend_fixes(codes, plan.source_classes, plan.table)
    hint = (
        "they look like " + " or like ".join(fixes)
        if fixes
        else "map them to the legend or declare the right land_use.source_classes / table"
    )
    raise InputValidationError(
        f"layer '{spec.name}' (file {spec.path}): {100 * share:.3g} % of {codes.size:,} "
        f"sampled cells carry codes outside {declared} (land_use.source_classes = "
        f'"{plan.source_classes}"), most often (cells): {top}; {hint}; if they really mean no '
        f"land use, relax with [checks] unknown_code_share_max (now {share_max:g})"
    )


def _grid_of_covariates(config: RunConfig) -> bool:
    """Tell whether the run's grid is the ``[dsm]`` covariates' (nothing else sets one)."""
    return (
        config.dsm is not None
        and config.grid.crs is None
        and config.grid.template is None
        and config.inputs.soc is None
    )


def run_grid(config: RunConfig) -> tuple[GridSpec, CovariateStack | None]:
    """Return the template grid without running the DSM (the covariates' grid for [dsm]).

    Returns
    -------
    grid : GridSpec
    covariates : CovariateStack or None
        The ``[dsm]`` covariates when they were opened to find the grid (pass them on to
        :func:`check_dsm_samples`, which would open them again on the same grid), else None.
    """
    if _grid_of_covariates(config):
        from socseq.dsm.sampling import open_covariates

        assert config.dsm is not None
        stack = open_covariates(config.dsm, None)
        return stack.grid, stack
    return resolve_grid(config), None


def dsm_grid(config: RunConfig, grid: GridSpec) -> GridSpec | None:
    """Return the grid on which a run's ``[dsm]`` section maps: the run's grid, ``grid``.

    None when that grid is the DSM's own (its ``[dsm.grid] template`` or first covariate),
    which the DSM then finds itself. A run whose grid is set otherwise (``[grid] crs`` or
    ``template``, or the grid of ``inputs.soc``) has the DSM map on it, so the baseline of a
    run cell is the DSM's prediction for that cell.
    """
    return None if _grid_of_covariates(config) else grid


def validate_config(config: RunConfig) -> dict[str, Any]:
    """Check every input (files, CRS, units, ranges, legend, overlap) without running.

    Returns
    -------
    dict
        ``grid`` (CRS, size, resolution), ``periods``, ``resampling`` per layer, ``baseline``,
        ``land_use`` (how codes become classes, and paddy), ``samples`` (the
        :class:`~socseq.dsm.qa.SampleReport` of the ``[dsm]`` samples, or None) and the
        :func:`survey` of the grid.

    Raises
    ------
    SocseqError
        The first problem found, as one line that names the layer and the fix.
    """
    check_tables(config)
    grid, covariates = run_grid(config)
    baseline = "dsm" if config.dsm is not None and config.inputs.soc is None else None
    plan = plan_inputs(config, grid, baseline=baseline)
    samples = check_dsm_samples(config, grid, covariates)
    check_values(plan, config.checks)
    report = check_grid(plan, config)
    layers = {spec.name: spec.method for spec in _all_layers(plan)}
    lu = config.land_use
    return {
        "grid": {
            "crs": grid.crs.to_string(),
            "width": grid.width,
            "height": grid.height,
            "resolution": list(grid.res),
        },
        "periods": config.periods.model_dump(),
        "resampling": layers,
        "baseline": "the [dsm] map" if baseline is not None else "inputs.soc",
        "land_use": legend_summary(lu.source_classes, str(lu.table), lu.paddy),
        "samples": samples,
        **report,
        "warnings": _sample_warnings(samples) + report["warnings"],
    }


def _sample_warnings(report: SampleReport | None) -> list[str]:
    """One warning line when checks will drop ``[dsm]`` samples (docs/dsm.md, sample QA).

    Rows with an impossible value (negative SOC, bottom not below top...) are valid input for
    the DSM, which drops and lists them in ``samples_qa.csv``; ``socseq validate`` says so
    before any training.
    """
    if report is None:
        return []
    counts = report.counts()
    dropped = counts[counts["action"] == "dropped"]
    if dropped.empty:
        return []
    reasons = ", ".join(f"{int(r.samples)} {r.issue}" for r in dropped.itertuples())
    first = report.issues[report.issues["action"] == "dropped"].iloc[0]
    return [
        f"samples file {report.source}: {int(dropped['samples'].sum())} of "
        f"{report.n_read} rows are dropped ({reasons}; first: data row {first['row']}, "
        f"{first['column']} {first['value']:g}); socseq dsm cv lists them in samples_qa.csv"
    ]


def check_dsm_samples(
    config: RunConfig, grid: GridSpec, covariates: CovariateStack | None = None
) -> SampleReport | None:
    """Read the ``[dsm]`` samples as the DSM will, and check their median stock (if any).

    Parameters
    ----------
    config : RunConfig
    grid : GridSpec
        The run's grid (:func:`run_grid`).
    covariates : CovariateStack, optional
        The covariates :func:`run_grid` opened, if it did; else they are opened here.

    Returns
    -------
    SampleReport or None
        What happened to the sample rows (read, dropped and why), without ``[dsm]`` None.

    Raises
    ------
    SocseqError
        The samples cannot be read or placed on the covariates, or their median stock is
        outside ``[checks] soc_median_range_t_ha``.
    """
    if config.dsm is None:
        return None
    # Not socseq.dsm.api: that imports the learners (scikit-learn, joblib), which take longer
    # to import than validate takes to run; reading the samples needs none of them.
    from socseq.dsm.sampling import open_covariates, prepare_samples

    stack = (
        covariates
        if covariates is not None
        else open_covariates(config.dsm, dsm_grid(config, grid))
    )
    samples = prepare_samples(config.dsm, stack)
    median, n = soc_median(samples.samples["stock_t_ha"].to_numpy())
    check_soc_median(median, n, config.checks, _samples_source(config))
    return samples.report


def check_grid(plan: InputPlan, config: RunConfig) -> dict[str, Any]:
    """Survey the grid and stop when nothing would be simulated or the SOC map is implausible.

    With ``[dsm]`` the baseline is not known yet: the survey stands 50 t C/ha in for it, and
    :func:`check_baseline` checks the map once it is predicted.

    Returns
    -------
    dict
        The :func:`survey`.

    Raises
    ------
    InputValidationError
        No cell left to simulate (cells per exclusion reason), or a median SOC stock of the
        agricultural cells outside ``[checks] soc_median_range_t_ha``.
    """
    stand_in = np.full(plan.grid.shape, 50.0) if "soc" not in plan.static else None
    report = survey(plan, config, soc=stand_in)
    if stand_in is None:
        # Before the masks: stocks in the wrong units would otherwise show as masked cells.
        layer = config.inputs.soc
        assert layer is not None  # a run without [dsm] has inputs.soc
        source = SocSource(
            f"(inputs.soc, file {layer.path}, units '{layer.units}')",
            _CELLS,
            "inputs.soc.units",
        )
        median = report["soc_median_t_ha"]
        median = math.nan if median is None else median
        check_soc_median(median, report["soc_median_cells"], config.checks, source)
    require_cells(report, config.inputs.land_use.path, plan.candidate_classes)
    return report


#: The cells the SOC guard takes the median of (docs/configuration.md, [checks]).
_CELLS = "agricultural cells (land_use.simulate and cropland classes, in the domain)"


def check_baseline(plan: InputPlan, config: RunConfig, soc: np.ndarray) -> float:
    """Check the ``[dsm]`` baseline map on the grid's agricultural cells, before any phase.

    Parameters
    ----------
    plan : InputPlan
    config : RunConfig
    soc : numpy.ndarray
        The predicted mean SOC stock on the grid [t C/ha].

    Returns
    -------
    float
        The median stock of the agricultural cells [t C/ha].

    Raises
    ------
    InputValidationError
        The median is outside ``[checks] soc_median_range_t_ha``.
    """
    median, n = soc_median(np.asarray(soc)[agricultural_cells(plan)])
    check_soc_median(median, n, config.checks, _samples_source(config, mapped=True))
    return median


def _samples_source(config: RunConfig, *, mapped: bool = False) -> SocSource:
    """Name the ``[dsm]`` samples (or the map predicted from them) for the SOC guard."""
    assert config.dsm is not None
    samples = config.dsm.samples
    column = samples.stock if samples.stock is not None else samples.soc
    assert column is not None  # the DSM configuration requires stock or soc
    key = "stock" if samples.stock is not None else "soc"
    fix = f"dsm.samples.{key}.units ('{column.units}')" + (
        "" if key == "stock" else ", the bulk density and depth units"
    )
    what = (
        f"(the [dsm] map of the samples in {samples.path})"
        if mapped
        else f"(the [dsm] samples in {samples.path}, column {column.column})"
    )
    return SocSource(
        what, _CELLS if mapped else "samples", fix, "stock" if key == "stock" else "concentration"
    )


def _all_layers(plan: InputPlan) -> list[LayerSpec]:
    specs = list(plan.static.values())
    for cp in [plan.spin, plan.warm] + ([plan.forward] if plan.forward else []):
        specs += list(cp.layers.values())
    specs += [s for s in (plan.cover, plan.yearly) if s is not None]
    specs += list(plan.uncertainty.values())
    unique: dict[str, LayerSpec] = {}
    for spec in specs:
        unique.setdefault(spec.name, spec)
    return list(unique.values())
