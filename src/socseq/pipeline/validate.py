"""``socseq validate``, and the checks every run makes before it computes anything.

Three levels, each fast:

1. **Metadata** (:func:`socseq.pipeline.plan.plan_inputs`): every file opens, has a CRS,
   overlaps the grid, has the bands and the months the periods need; the resampling rule of
   each layer is fixed for the whole grid.
2. **Sampled values** (:func:`check_values`): each layer's values over the grid (a regular
   sample of at most :data:`SAMPLE_CELLS` source cells, one year of each climate series) go
   through the unit traps of :mod:`socseq.io.units`; land-use codes must belong to the
   declared legend; shares, cover factors and NDVI must be in range.
3. **A survey of the grid** (:func:`survey`): the static layers and the first month of each
   climate series aligned to the whole grid give the cells of each class and the cells that
   each exclusion rule would remove (climate is known in every month only once a run reads
   it), so a configuration that would simulate nothing stops here.

Nothing of the climate is staged: ``validate`` takes seconds, whatever the series' length.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from socseq.exceptions import ConfigError, InputValidationError
from socseq.io.grid import GridSpec, cell_area_ha, clip_to_grid
from socseq.io.raster import load_block
from socseq.io.tables import check_zone_codes, read_zone_names
from socseq.io.units import check_and_convert
from socseq.pipeline.config import RunConfig
from socseq.pipeline.inputs import NO_CLASS, class_codes
from socseq.pipeline.landuse import esa_cci_codes, read_class_table
from socseq.pipeline.plan import InputPlan, plan_inputs, resolve_grid
from socseq.pipeline.run_notes import cited_sources
from socseq.pipeline.sources import LayerSpec, open_layer, read_block, read_filled

__all__ = [
    "SAMPLE_CELLS",
    "check_tables",
    "check_values",
    "run_grid",
    "survey",
    "validate_config",
]

#: Source cells per layer that the value checks read at most (per month of a series).
SAMPLE_CELLS = 250_000

#: Share of land-use cells with codes outside the declared legend that is an error.
UNKNOWN_CODE_SHARE = 0.01


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
    """Read the class table, the zone names and ``[run] sources`` now, before any work."""
    read_class_table(config.land_use.table)
    if config.inputs.zone_names is not None:
        read_zone_names(config.inputs.zone_names)
    cited_sources(config)


def check_values(plan: InputPlan) -> None:
    """Check the values of every layer on a sample (units, legend, ranges); raise on the first.

    Raises
    ------
    UnitsError, InputValidationError
        One line naming the layer, the values seen and the fix.
    """
    _check_climate(plan)
    grid = plan.grid
    for name, spec in plan.static.items():
        block = _sample(open_layer(spec), grid)
        if name == "land_use":
            _check_legend(spec, block, plan)
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
        _check_legend(plan.yearly, _sample(open_layer(plan.yearly), grid), plan)


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


def _check_legend(spec: LayerSpec, block: xr.DataArray | None, plan: InputPlan) -> None:
    """Land-use codes must be integers of the declared legend (a few strays are tolerated)."""
    if block is None:
        return
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
    codes = codes.astype(np.int64)
    if plan.source_classes == "esa_cci":
        known = np.isin(codes, esa_cci_codes()) | (codes == 0)
        legend, other = "ESA CCI", 'the FAO classes: set land_use.source_classes = "fao"'
        looks_other = np.all(codes[~known] <= 13) if (~known).any() else False
    else:
        known = np.isin(codes, plan.table.codes) | (codes == 0)
        legend = f"the class table ({plan.table.source})"
        other = 'ESA CCI codes: set land_use.source_classes = "esa_cci"'
        looks_other = (
            bool(np.isin(codes[~known], esa_cci_codes()).mean() > 0.5) if (~known).any() else False
        )
    share = float((~known).mean())
    if share > UNKNOWN_CODE_SHARE:
        values, counts = np.unique(codes[~known], return_counts=True)
        top = ", ".join(
            f"{v} ({c:,})"
            for v, c in sorted(zip(values, counts, strict=True), key=lambda vc: -vc[1])[:6]
        )
        hint = (
            f"they look like {other}"
            if looks_other
            else ("map them to the legend or declare the right land_use.source_classes / table")
        )
        raise InputValidationError(
            f"{where}: {share:.0%} of the sampled cells carry codes outside {legend}: {top}; {hint}"
        )


def survey(plan: InputPlan, config: RunConfig, soc: np.ndarray | None = None) -> dict[str, Any]:
    """Classify the whole grid from the static layers and each climate series' first month.

    Parameters
    ----------
    plan : InputPlan
    config : RunConfig
    soc : numpy.ndarray, optional
        The baseline SOC on the grid when a ``[dsm]`` section maps it.

    Returns
    -------
    dict
        ``cells`` of the grid, ``candidate_cells``, ``by_class`` (cells and hectares per
        class), ``excluded`` (cells per exclusion rule that the survey can test) and
        ``survey_cells`` (cells that pass every tested rule).
    """
    from socseq.pipeline.phases import EXCLUSION_REASONS

    grid = plan.grid
    whole = (0, grid.height, 0, grid.width)
    lu = read_block(plan.static["land_use"], grid)
    classes = class_codes(lu.values, lu.rio.nodata, plan.source_classes, plan.table)
    candidate = np.isin(classes, plan.candidate_classes)
    _check_zone_names(plan, config, grid, candidate)
    area = np.asarray(cell_area_ha(grid).values)
    by_class = {
        int(c): {
            "name": plan.table.names.get(int(c), str(c)),
            "cells": int((classes == c).sum()),
            "area_ha": float(area[classes == c].sum()),
        }
        for c in np.unique(classes[classes != NO_CLASS])
    }
    layers = {
        name: np.asarray(read_block(spec, grid).values)
        for name, spec in plan.static.items()
        if name in ("soc", "clay", "sand", "ec")
    }
    if soc is not None:
        layers["soc"] = soc
    climate_ok = np.ones(grid.shape, bool)
    filled: dict[str, int] = {}
    for cp in [plan.spin, plan.warm] + ([plan.forward] if plan.forward else []):
        for short, spec in cp.layers.items():

            def read(target: GridSpec, s: LayerSpec = spec, m: int = cp.first[short]) -> Any:
                return read_block(s, target, months=slice(m, m + 1))

            values, count = read_filled(
                read, grid, whole, candidate, plan.fill_distance_m, spec.name
            )
            filled[spec.name] = max(filled.get(spec.name, 0), count)
            climate_ok &= np.isfinite(values).all(axis=0)
    lu_config = config.land_use
    masks = config.masks
    simulate = np.isin(classes, lu_config.simulate)
    paddy = plan.table.paddy[np.clip(classes, 0, 255)] & (lu_config.paddy == "exclude")
    soc_v, clay_v = layers["soc"], layers["clay"]
    tests = [
        (1, ~simulate),
        (2, paddy),
        (3, ~np.isfinite(soc_v)),
        (4, ~np.isfinite(clay_v)),
        (5, ~climate_ok),
    ]
    with np.errstate(invalid="ignore"):
        if masks.max_soc_t_ha is not None:
            tests.append((6, soc_v > masks.max_soc_t_ha))
        for code, name, limit in ((7, "sand", masks.max_sand_pct), (8, "ec", masks.max_ec_dS_m)):
            if limit is not None and name in layers:
                tests.append((code, layers[name] > limit))
        tests.append((9, (soc_v <= 0) | (clay_v < 0) | (clay_v > 100)))
    undecided = candidate.copy()
    excluded = {}
    for code, failed in tests:
        hit = undecided & failed
        excluded[EXCLUSION_REASONS[code]] = int(hit.sum())
        undecided &= ~hit
    return {
        "cells": int(grid.width * grid.height),
        "candidate_cells": int(candidate.sum()),
        "by_class": by_class,
        "excluded": excluded,
        "survey_cells": int(undecided.sum()),
        "survey_area_ha": float(area[undecided].sum()),
        "coastal_filled_cells": filled,
        "soc_median_t_ha": float(np.nanmedian(soc_v[undecided])) if undecided.any() else None,
    }


def _check_zone_names(
    plan: InputPlan, config: RunConfig, grid: GridSpec, cells: np.ndarray
) -> None:
    """Every zone code of the agricultural cells must have a row in ``inputs.zone_names``."""
    path = config.inputs.zone_names
    if path is None or "zones" not in plan.static:
        return
    zones = read_block(plan.static["zones"], grid)
    values = np.asarray(zones.values, dtype=np.float64)
    valid = cells & np.isfinite(values)
    if zones.rio.nodata is not None:
        valid &= values != zones.rio.nodata
    check_zone_codes(values[valid], read_zone_names(path), path)


def run_grid(config: RunConfig) -> GridSpec:
    """Return the template grid without running the DSM (the covariates' grid for [dsm])."""
    if config.dsm is not None and config.grid.crs is None and config.inputs.soc is None:
        if config.grid.template is None:
            from socseq.dsm import api as dsm_api

            return dsm_api.open_covariates(config.dsm, None).grid
    return resolve_grid(config)


def validate_config(config: RunConfig) -> dict[str, Any]:
    """Check every input (files, CRS, units, ranges, legend, overlap) without running.

    Returns
    -------
    dict
        ``grid`` (CRS, size, resolution), ``periods``, ``resampling`` per layer, ``samples``
        (the :class:`~socseq.dsm.qa.SampleReport` of the ``[dsm]`` samples, or None) and the
        :func:`survey` of the grid.

    Raises
    ------
    SocseqError
        The first problem found, as one line that names the layer and the fix.
    """
    check_tables(config)
    grid = run_grid(config)
    baseline = "dsm" if config.dsm is not None and config.inputs.soc is None else None
    plan = plan_inputs(config, grid, baseline=baseline)
    samples = None
    if config.dsm is not None:
        from socseq.dsm import api as dsm_api

        stack = dsm_api.open_covariates(
            config.dsm, grid if config.grid.crs is not None or config.inputs.soc else None
        )
        samples = dsm_api.prepare_samples(config.dsm, stack).report
    check_values(plan)
    soc = np.full(grid.shape, 50.0) if baseline is not None else None
    report = survey(plan, config, soc=soc)
    if report["candidate_cells"] == 0:
        raise InputValidationError(
            f"layer 'inputs.land_use' (file {config.inputs.land_use.path}): no cell of the "
            f"classes {list(plan.candidate_classes)} on the grid; check land_use.simulate and "
            "land_use.source_classes"
        )
    layers = {spec.name: spec.method for spec in _all_layers(plan)}
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
        "samples": samples,
        **report,
    }


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
