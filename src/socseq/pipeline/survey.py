"""The survey of the grid: which cells a run would simulate, and why the others would not.

:func:`survey` aligns the static layers, the ``[domain]`` and the first month of each climate
series to the whole grid and applies the exclusion rules a run applies (climate is known in
every month only once a run reads it), in the same order
(:data:`socseq.pipeline.exclusions.EXCLUSION_REASONS`). ``socseq validate`` prints it, and every
run surveys the grid before it computes anything (:mod:`socseq.pipeline.validate`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from socseq.io.grid import GridSpec, cell_area_ha
from socseq.io.tables import check_zone_codes, read_zone_names
from socseq.pipeline.config import RunConfig
from socseq.pipeline.domain import domain_cells
from socseq.pipeline.exclusions import EXCLUSION_REASONS, OUTSIDE_DOMAIN
from socseq.pipeline.guards import soc_median
from socseq.pipeline.landuse import NO_CLASS, class_codes
from socseq.pipeline.plan import InputPlan
from socseq.pipeline.sources import BlockReader, read_block, read_filled

__all__ = ["agricultural_cells", "grid_classes", "survey"]


def grid_classes(plan: InputPlan) -> np.ndarray:
    """FAO class of every cell of the grid (``NO_CLASS`` without one)."""
    lu = read_block(plan.static["land_use"], plan.grid)
    return class_codes(lu.values, lu.rio.nodata, plan.source_classes, plan.table)


def agricultural_cells(plan: InputPlan) -> np.ndarray:
    """Cells of the agricultural classes inside the domain (those the SOC guard looks at)."""
    return np.isin(grid_classes(plan), plan.candidate_classes) & domain_cells(
        plan.domain, plan.grid
    )


def survey(plan: InputPlan, config: RunConfig, soc: np.ndarray | None = None) -> dict[str, Any]:
    """Classify the whole grid from the static layers and each climate series' first month.

    Parameters
    ----------
    plan : InputPlan
    config : RunConfig
    soc : numpy.ndarray, optional
        The baseline SOC on the grid when a ``[dsm]`` section maps it (before the DSM: a
        stand-in value, so nothing is said about SOC).

    Returns
    -------
    dict
        ``cells`` of the grid, ``candidate_cells`` (of the agricultural classes),
        ``by_class`` (cells and hectares per class), ``excluded`` (cells per exclusion rule
        that the survey can test), ``survey_cells`` and ``survey_area_ha`` (cells that pass
        every tested rule), ``coastal_filled_cells``, ``domain`` (cells and cropland inside
        the ``[domain]``, or None), and, for ``inputs.soc``, ``soc_median_t_ha`` and
        ``soc_median_cells`` (median over the agricultural cells inside the domain) and
        ``warnings`` (lines for the summary: cropland without SOC data).
    """
    grid = plan.grid
    classes = grid_classes(plan)
    area = np.asarray(cell_area_ha(grid).values)
    inside = domain_cells(plan.domain, grid)
    candidate = np.isin(classes, plan.candidate_classes)
    _check_zone_names(plan, config, grid, candidate & inside)
    layers = {
        name: np.asarray(read_block(spec, grid).values)
        for name, spec in plan.static.items()
        if name in ("soc", "clay", "sand", "ec")
    }
    if soc is not None:
        layers["soc"] = soc
    climate_ok, filled = _survey_climate(plan, candidate & inside)
    undecided, excluded = _survey_exclusions(
        config, plan, classes, candidate, layers, inside, climate_ok
    )
    cropland = np.isin(classes, config.land_use.cropland) & inside
    report: dict[str, Any] = {
        "cells": int(grid.width * grid.height),
        "candidate_cells": int(candidate.sum()),
        "by_class": _by_class(plan, classes, area),
        "excluded": excluded,
        "survey_cells": int(undecided.sum()),
        "survey_area_ha": float(area[undecided].sum()),
        "coastal_filled_cells": filled,
        "domain": _domain_shares(plan, config, inside, classes, area),
        "warnings": [],
    }
    if soc is None:
        median, n = soc_median(layers["soc"][candidate & inside])
        report.update(soc_median_t_ha=median if n else None, soc_median_cells=n)
        report["warnings"] += _soc_coverage(config, layers["soc"], cropland, area)
    return report


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


def _by_class(plan: InputPlan, classes: np.ndarray, area: np.ndarray) -> dict[int, Any]:
    """Cells and hectares of each class on the grid."""
    return {
        int(c): {
            "name": plan.table.names.get(int(c), str(c)),
            "cells": int((classes == c).sum()),
            "area_ha": float(area[classes == c].sum()),
        }
        for c in np.unique(classes[classes != NO_CLASS])
    }


def _survey_climate(plan: InputPlan, target: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """Cells with climate in the first month of every climate layer, and the cells filled."""
    grid = plan.grid
    whole = (0, grid.height, 0, grid.width)
    climate_ok = np.ones(grid.shape, bool)
    filled: dict[str, int] = {}
    for cp in [plan.spin, plan.warm] + ([plan.forward] if plan.forward else []):
        for short, spec in cp.layers.items():
            first = slice(cp.first[short], cp.first[short] + 1)
            values, count = read_filled(
                BlockReader(spec, first), grid, whole, target, plan.fill_distance_m, spec.name
            )
            filled[spec.name] = max(filled.get(spec.name, 0), count)
            climate_ok &= np.isfinite(values).all(axis=0)
    return climate_ok, filled


def _survey_exclusions(
    config: RunConfig,
    plan: InputPlan,
    classes: np.ndarray,
    candidate: np.ndarray,
    layers: dict[str, np.ndarray],
    inside: np.ndarray,
    climate_ok: np.ndarray,
) -> tuple[np.ndarray, dict[str, int]]:
    """Apply the exclusion rules a survey can test, in a run's order: cells left, per rule."""
    lu_config, masks = config.land_use, config.masks
    paddy = plan.table.paddy[np.clip(classes, 0, 255)] & (lu_config.paddy == "exclude")
    soc_v, clay_v = layers["soc"], layers["clay"]
    tests = [
        (OUTSIDE_DOMAIN, ~inside),
        (1, ~np.isin(classes, lu_config.simulate)),
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
    return undecided, excluded


def _domain_shares(
    plan: InputPlan, config: RunConfig, inside: np.ndarray, classes: np.ndarray, area: np.ndarray
) -> dict[str, Any] | None:
    """Cells of the grid, and cells and hectares of cropland, inside the ``[domain]``."""
    if plan.domain is None or config.domain is None:
        return None
    cropland = np.isin(classes, config.land_use.cropland)
    return {
        "path": str(config.domain.path),
        "cells": int(inside.sum()),
        "grid_cells": int(inside.size),
        "cropland_cells": int((cropland & inside).sum()),
        "cropland_cells_all": int(cropland.sum()),
        "cropland_area_ha": float(area[cropland & inside].sum()),
        "cropland_area_ha_all": float(area[cropland].sum()),
    }


def _soc_coverage(
    config: RunConfig, soc: np.ndarray, cropland: np.ndarray, area: np.ndarray
) -> list[str]:
    """Warn when the land-use map reaches beyond the SOC data over the cropland."""
    missing = cropland & ~np.isfinite(soc)
    total = float(area[cropland].sum())
    if not missing.any() or total <= 0:
        return []
    lost = float(area[missing].sum())
    where = "in the domain" if config.domain is not None else "on the grid"
    return [
        f"{100 * lost / total:.3g} % of the cropland {where} ({int(missing.sum()):,} of "
        f"{int(cropland.sum()):,} cells, {lost:,.0f} ha) lies outside the SOC data "
        f"(inputs.soc has no value there): those cells are excluded as 'no SOC baseline'; "
        "extend the SOC map, or bound the run with [domain]"
    ]
