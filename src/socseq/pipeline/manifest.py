"""What a run records (``run.json``) and what it needs of the disk.

One home for the manifest, the stage timings (the window tasks' wall time split by their
seconds per stage), the coastal-fill counts and the rough bytes a run writes before it writes
them (:func:`space_needs`, checked against the free space by :mod:`socseq.outputs`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from socseq import __version__
from socseq.io.grid import GridSpec
from socseq.pipeline.config import RunConfig
from socseq.pipeline.exclusions import (
    EXCLUSION_REASONS,
    NO_LAND_USE,
    NOT_AGRICULTURAL,
    SIMULATED,
)
from socseq.pipeline.phases import STAGES
from socseq.pipeline.run_notes import cited_sources, climate_method

__all__ = ["apportion", "filled_cells", "run_manifest", "space_needs"]


def filled_cells(parts: list[dict[str, Any]]) -> dict[str, int]:
    """Candidate cells filled from the nearest climate cell, per layer (largest over months)."""
    out: dict[str, int] = {}
    for part in parts:
        for name, cells in part["filled"].items():
            out[name] = out.get(name, 0) + cells
    return out


def apportion(timings: dict[str, float], parts: list[dict[str, Any]], wall: float) -> None:
    """Split the wall time of the window tasks over their stages, by their task-seconds.

    The tasks run concurrently, each through every stage, so a stage's wall time is its share
    of the summed task-seconds; the stages then add up to the wall time of the tasks.
    """
    spent = {stage: sum(p["seconds"][stage] for p in parts) for stage in STAGES}
    total = sum(spent.values())
    for stage in STAGES:
        if stage != "uncertainty" or spent[stage] > 0:
            timings[stage] = timings.get(stage, 0.0) + (
                wall * spent[stage] / total if total > 0 else 0.0
            )


def run_manifest(
    config: RunConfig,
    grid: GridSpec,
    inputs_info: dict[str, Any],
    reason: np.ndarray,
    timings: dict[str, float],
    written: list[str],
    dsm_info: dict[str, Any] | None,
    scheduler: str,
) -> dict[str, Any]:
    """Build the ``run.json`` manifest: provenance, grid, periods, method, timings and counts.

    Parameters
    ----------
    config
        The validated run configuration (its digest and full dump are recorded).
    grid
        The run grid (CRS, affine transform, shape).
    inputs_info
        What the input stage saw (coastal fills, units, sources).
    reason
        Per-cell exclusion code (``SIMULATED`` or one of ``EXCLUSION_REASONS``).
    timings
        Wall seconds per phase.
    written
        Product file names relative to the output folder.
    dsm_info
        The DSM run summary when the baseline map was made in this run, else ``None``.
    scheduler
        ``"threads"`` or the address of the dask.distributed scheduler.

    Returns
    -------
    dict
        JSON-serialisable manifest.
    """
    excluded = {EXCLUSION_REASONS[c]: int((reason == c).sum()) for c in EXCLUSION_REASONS}
    periods = config.periods
    inputs = {
        name: str(getattr(config.inputs, name).path)
        for name in type(config.inputs).model_fields
        if getattr(config.inputs, name) is not None and name != "zone_names"
    }
    for section, cset in config.climate.sets().items():
        for var, layer in cset.layers().items():
            inputs[f"climate.{section}.{var}"] = str(layer.source)
    return {
        "socseq_version": __version__,
        "config_digest": config.digest(),
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "name": config.run.name,
        "iso": config.run.iso,
        "config": config.model_dump(mode="json"),
        "grid": {
            "crs": grid.crs.to_string(),
            "transform": list(grid.transform)[:6],
            "width": grid.width,
            "height": grid.height,
        },
        "periods": {
            "spinup": list(periods.spinup),
            "warmup": list(periods.warmup),
            "forward": list(periods.forward),
        },
        "scenarios": [
            {
                "name": s.name,
                "input_multiplier": s.input_multiplier,
                "fym_t_ha": s.fym_t_ha,
                "cover_factor": s.cover_factor,
                "baseline": s.is_baseline,
            }
            for s in config.scenarios
        ],
        "method": {
            "spinup": config.model.spinup,
            "carbon_fraction": config.model.carbon_fraction,
            "evaporation_kind": config.climate.evaporation_kind,
            "cover_source": config.cover.source,
            "paddy": config.land_use.paddy,
            "paddy_rate_factor": config.land_use.paddy_rate_factor,
            "constants": config.model.constants,
            "depth_cm": config.model.depth_cm,
            "land_use_table": config.land_use.table,
            "land_use_codes": config.land_use.source_classes,
            "domain": None if config.domain is None else str(config.domain.path),
            "checks_relaxed": config.checks.relaxed(),
            **climate_method(config),
        },
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "scheduler": scheduler,
        "cells": {
            "grid": int(reason.size),
            "candidate": int(((reason != NOT_AGRICULTURAL) & (reason != NO_LAND_USE)).sum()),
            "simulated": int((reason == SIMULATED).sum()),
            "excluded": excluded,
            "not_agricultural": int((reason == NOT_AGRICULTURAL).sum()),
            "no_land_use": int((reason == NO_LAND_USE).sum()),
        },
        "staging": inputs_info,
        "inputs": inputs,
        "products": sorted(written),
        "dsm": dsm_info,
        "notes": [],
        "sources": cited_sources(config),
    }


def space_needs(config: RunConfig, grid: GridSpec) -> dict[str, int]:
    """Return rough bytes a run writes: ``{"scratch": ..., "products": ...}`` (uncompressed).

    Products: the cube ``soc_t_ha`` (cells x scenarios x (forward years + 1) x 4 B), the
    warm-up stocks, the float64 layers of ``soc_stocks.nc``, the GeoTIFFs, the uncertainty
    layers and the DSM maps, plus 2 MB for tables, report and figures. Scratch: the window
    results (float64 stocks per scenario and year, warm-up stocks, inputs the products need)
    and the ``[dsm]`` baseline maps; no input is staged (the climate series a run rewrites,
    :mod:`socseq.pipeline.rechunk`, are counted when it decides to, as ``"sources"``).
    """
    cells = int(grid.width) * int(grid.height)
    n_scen = len(config.scenarios)
    fwd = int(config.periods.forward_years)
    warm = config.periods.warmup[1] - config.periods.warmup[0] + 1
    out = config.outputs
    per_cell = 0
    if out.netcdf:
        per_cell += n_scen * (fwd + 1) * 4 + (warm * 4 if out.warmup_stocks else 0)
        per_cell += (3 * n_scen + 8) * 8
    if out.geotiff:
        per_cell += (5 * n_scen - 1) * 4 + n_scen
    if config.uncertainty is not None:
        per_cell += n_scen * 10 * 8
    if config.dsm is not None:
        per_cell += 7 * 4 * 2
    products = cells * per_cell + 2 * 1024**2
    results = (1 + 8 + 2 + 8 + 4) + 2 * 8 + warm * 8 + n_scen * (fwd + 1) * 8
    if config.uncertainty is not None:
        results += n_scen * 4 * 4 * 8 + 4 * 8
    baseline = 4 * 8 if config.dsm is not None else 0
    return {"scratch": int(cells * (results + baseline)), "products": int(products)}
