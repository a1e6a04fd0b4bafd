"""``socseq run`` and ``socseq validate``: configuration → DSM → inputs → phases → products.

A run holds the output folder's lock, works in a private ``OUTPUT/.socseq-run-<id>/work``
(staged inputs and phase results, chunked Zarr) and writes every product, ``run.json`` and the
report included, into ``OUTPUT/.socseq-run-<id>/stage``; only when everything succeeded is the
staged set published, all at once (:mod:`socseq.outputs`). An interrupted or failed run
therefore leaves the previous products byte-identical.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from socseq import __version__
from socseq.atomic import write_json_atomic
from socseq.io.grid import GridSpec
from socseq.io.tables import read_zone_names
from socseq.outputs import (
    KEPT_WORK,
    RUN_PRODUCTS,
    Staging,
    disk_full_guard,
    output_transaction,
    require_free_space,
    run_space_needs,
)
from socseq.pipeline.config import RunConfig
from socseq.pipeline.execute import Executor
from socseq.pipeline.inputs import StagedInputs, resolve_grid, stage_inputs, windows
from socseq.pipeline.landuse import read_class_table
from socseq.pipeline.phases import (
    EXCLUSION_REASONS,
    NO_LAND_USE,
    NOT_AGRICULTURAL,
    SIMULATED,
    PhaseSettings,
    ScenarioSpec,
    create_results,
    forward_window,
    spinup_window,
    warmup_window,
)
from socseq.pipeline.products import compute_products
from socseq.progress import Progress

__all__ = ["RunSummary", "check_tables", "run_pipeline", "validate_config"]

#: Where ``keep_work`` leaves the scratch of the last successful run.
WORK = KEPT_WORK
MANIFEST = "run.json"


@dataclass
class RunSummary:
    """What a run did (the content of ``run.json``)."""

    output_dir: Path
    manifest: dict[str, Any]
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def summary_csv(self) -> Path:
        """The scenario summary table."""
        return self.output_dir / "summary.csv"


def phase_settings(config: RunConfig, staged: StagedInputs, results: Path) -> PhaseSettings:
    """Collect what the window tasks need from the configuration and the staged inputs."""
    shares = config.model.input_monthly_shares or tuple([1.0 / 12.0] * 12)
    scenarios = tuple(
        ScenarioSpec(
            name=s.name,
            input_multiplier=s.input_multiplier,
            fym_t_ha=s.fym_t_ha,
            cover_factor=(
                None
                if s.cover_factor is None
                else tuple(np.resize(np.atleast_1d(s.cover_factor), 12))
            ),
        )
        for s in config.scenarios
    )
    masks = config.masks
    return PhaseSettings(
        inputs=str(staged.path),
        results=str(results),
        table=read_class_table(config.land_use.table),
        simulate=config.land_use.simulate,
        cropland=config.land_use.cropland,
        paddy=config.land_use.paddy,
        paddy_rate_factor=config.land_use.paddy_rate_factor,
        max_soc=masks.max_soc_t_ha,
        max_sand=masks.max_sand_pct,
        max_ec=masks.max_ec_dS_m,
        evap_coefficient=1.0 if config.climate.evaporation_kind == "pet" else 0.75,
        spinup_method=config.model.spinup,
        monthly_shares=tuple(shares),
        constants=config.model.constants,
        depth_cm=config.model.depth_cm,
        bare_threshold=config.cover.bare_threshold,
        scenarios=scenarios,
        n_warmup_years=staged.n_warmup_years,
        forward_years=config.periods.forward_years,
        has_yearly_land_use=staged.has_yearly_land_use,
        has_cover=staged.has_cover,
    )


def check_tables(config: RunConfig) -> None:
    """Read the class table and the zone names now, so a bad CSV fails before any work."""
    read_class_table(config.land_use.table)
    if config.inputs.zone_names is not None:
        read_zone_names(config.inputs.zone_names)


def _dsm_baseline(
    config: RunConfig, output_dir: Path, stage: Path, progress: Progress | None
) -> Any:
    """Map the SOC baseline with the ``[dsm]`` section; outputs go to ``OUTPUT/dsm``.

    They are written into ``stage/dsm`` and published with the run's other products; the DSM
    configuration keeps ``OUTPUT/dsm`` as its folder, so its hash does not depend on the stage.
    """
    from socseq.dsm import api as dsm_api

    assert config.dsm is not None
    dsm_config = config.dsm.model_copy(
        update={"output": config.dsm.output.model_copy(update={"dir": output_dir / "dsm"})}
    )

    def notify(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(f"dsm: {stage}", done, total)

    explicit = (
        GridSpec.from_bounds(config.grid.crs, config.grid.resolution, config.grid.bounds)  # type: ignore[arg-type]
        if config.grid.crs is not None
        else None
    )
    # into: the run holds the folder and publishes dsm/ with its other products (issue 13).
    into = stage / "dsm"
    validation = dsm_api.run_cv(dsm_config, grid=explicit, progress=notify, into=into)
    trained = dsm_api.train(dsm_config, grid=explicit, progress=notify, into=into)
    prediction = dsm_api.predict(
        dsm_config, trained=trained, grid=explicit, progress=notify, into=into
    )
    return prediction, validation


def _metrics(validation: Any) -> dict[str, Any]:
    """Cross-validation (and test-set) metrics as plain JSON values."""
    out: dict[str, Any] = {method: dict(result.metrics) for method, result in validation.cv.items()}
    if validation.test_metrics is not None:
        out["test"] = dict(validation.test_metrics)
    return out


def _prepare(
    config: RunConfig,
    staging: Staging,
    progress: Progress | None,
    timings: dict[str, float],
    needs: dict[str, int],
) -> tuple[GridSpec, StagedInputs, dict[str, Any] | None, Any]:
    started = time.perf_counter()
    soc = None
    dsm_info = None
    prediction = None
    if config.dsm is not None:
        prediction, validation = _dsm_baseline(config, staging.folder, staging.stage, progress)
        soc = prediction["soc_mean_t_ha"]
        dsm_info = {"metrics": _metrics(validation), "output_dir": "dsm"}
        timings["dsm"] = time.perf_counter() - started
        started = time.perf_counter()
    grid = resolve_grid(config, soc)
    # --- issue 13: refuse before the big writes when the disk cannot hold them.
    needs.update(run_space_needs(config, grid))
    require_free_space(staging.folder, sum(needs.values()), "scratch and products of this run")
    # --- end issue 13
    staged = stage_inputs(config, grid, staging.work, soc=soc, progress=progress)
    timings["inputs"] = time.perf_counter() - started
    return grid, staged, dsm_info, prediction


def run_pipeline(
    config: RunConfig,
    *,
    output_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    keep_work: bool = False,
    notes: list[str] | None = None,
    before_publish: Callable[[Path], Any] | None = None,
) -> RunSummary:
    """Run the whole chain and publish the products.

    Parameters
    ----------
    config : RunConfig
        Validated configuration with absolute paths (:func:`load_run_config`).
    output_dir : path-like, optional
        Overrides ``run.output_dir``.
    workers : int, optional
        Run the window tasks on a dask.distributed LocalCluster with this many processes.
    scheduler : str, optional
        Address of an existing dask.distributed scheduler.
    progress : callable, optional
        ``progress(phase, done, total)``.
    keep_work : bool
        Keep the staged inputs and phase results (``OUTPUT/.socseq-work``) for inspection.
    notes : list of str, optional
        Remarks for the report (e.g. which inputs are synthetic), kept in ``run.json``.
    before_publish : callable, optional
        Called with the staged folder (holding every product and ``run.json``) just before it
        is published, to add derived products that must be published with them (the CLI
        builds the HTML report here).

    Returns
    -------
    RunSummary

    Raises
    ------
    socseq.outputs.OutputBusyError
        Another socseq command writes into the output folder.
    socseq.outputs.DiskFullError
        The output folder's file system cannot hold the run (checked before the big writes)
        or filled up during it.
    """
    out = Path(output_dir) if output_dir is not None else config.run.output_dir
    check_tables(config)  # issue 13: the CSV tables read at the end, checked first
    # --- issue 13: one writer per output folder, private scratch, all-or-nothing publish.
    # Order: disk-full guard, transaction (lock, recover, private staging), compute into
    # staging.work and staging.stage, run.json into the stage, before_publish, publish.
    needs: dict[str, int] = {}
    with (
        disk_full_guard(out, need=lambda: sum(needs.values())),
        output_transaction(out, "run", keep_work=keep_work) as staging,
    ):
        return _run(
            config, staging, workers, scheduler, progress, notes or [], needs, before_publish
        )


def _run(
    config: RunConfig,
    staging: Staging,
    workers: int | None,
    scheduler: str | None,
    progress: Progress | None,
    notes: list[str],
    needs: dict[str, int],
    before_publish: Callable[[Path], Any] | None,
) -> RunSummary:
    out = staging.folder
    started_all = time.perf_counter()
    timings: dict[str, float] = {}
    grid, staged, dsm_info, _prediction = _prepare(config, staging, progress, timings, needs)
    results_path = staging.work / "results.zarr"
    settings = phase_settings(config, staged, results_path)
    create_results(results_path, grid.shape, staged.chunk, settings)
    tiles = windows(grid, staged.chunk)

    with Executor(workers=workers, scheduler=scheduler) as executor:
        sums: dict[str, Any] = {}
        for phase, fn in (
            ("spin-up", spinup_window),
            ("warm-up", warmup_window),
            ("forward", forward_window),
        ):
            started = time.perf_counter()
            report = None if progress is None else (lambda d, t, p=phase: progress(p, d, t))
            sums[phase] = executor.map(fn, settings, tiles, report)
            timings[phase] = time.perf_counter() - started
        uncertainty = None
        if config.uncertainty is not None:
            # Members through every phase on the same windows and executor (issue 7).
            from socseq.pipeline.uncertainty import run_uncertainty

            started = time.perf_counter()
            uncertainty = run_uncertainty(
                config, grid, staged, settings, tiles, executor, staging.work, _prediction, progress
            )
            timings["uncertainty"] = time.perf_counter() - started
        scheduler_name = executor.description

    started = time.perf_counter()
    stage = staging.stage
    require_free_space(out, needs["products"], "products")  # issue 13
    warm = {
        "area_soc": np.sum([s["area_soc"] for s in sums["warm-up"]], axis=0),
        "area": float(sum(s["area"] for s in sums["warm-up"])),
    }
    fwd = np.sum([s["area_soc"] for s in sums["forward"]], axis=0)
    inputs_group = staged.open()
    results_group = zarr.open_group(str(results_path), mode="r")
    written = compute_products(
        config, grid, inputs_group, results_group, stage, warmup_sums=warm, forward_sums=fwd
    )
    if uncertainty is not None:
        written += uncertainty.write(config, grid, inputs_group, results_group, stage)
    if progress is not None:
        progress("products", 1, 1)
    timings["products"] = time.perf_counter() - started
    timings["total"] = time.perf_counter() - started_all

    reason = np.asarray(results_group["reason"][:])
    manifest = _manifest(config, grid, staged, reason, timings, written, dsm_info, scheduler_name)
    manifest["notes"] = notes
    if uncertainty is not None:
        manifest["uncertainty"] = uncertainty.info
    # --- issue 13: the whole set, run.json and report included, is published at once.
    write_json_atomic(manifest, stage / MANIFEST)
    if before_publish is not None:
        before_publish(stage)
    staging.publish(replaces=RUN_PRODUCTS)
    # --- end issue 13
    return RunSummary(output_dir=out, manifest=manifest, timings_s=timings)


def _manifest(
    config: RunConfig,
    grid: GridSpec,
    staged: StagedInputs,
    reason: np.ndarray,
    timings: dict[str, float],
    written: list[str],
    dsm_info: dict[str, Any] | None,
    scheduler: str,
) -> dict[str, Any]:
    excluded = {EXCLUSION_REASONS[c]: int((reason == c).sum()) for c in EXCLUSION_REASONS}
    periods = config.periods
    inputs = {
        name: str(getattr(config.inputs, name).path)
        for name in type(config.inputs).model_fields
        if getattr(config.inputs, name) is not None and name != "zone_names"
    }
    for section in ("series", "spinup", "forward"):
        cset = getattr(config.climate, section)
        if cset is not None:
            for var in ("temperature", "precipitation", "evaporation"):
                inputs[f"climate.{section}.{var}"] = str(getattr(cset, var).path)
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
        "staging": staged.summary,
        "inputs": inputs,
        "products": sorted(written),
        "dsm": dsm_info,
        "notes": [],
    }


def validate_config(config: RunConfig, *, progress: Progress | None = None) -> dict[str, Any]:
    """Check every input (files, CRS, units, ranges, overlap) without running the model.

    Stages the inputs into a temporary folder (so every value is checked exactly as a run
    would), counts candidate cells, and deletes the folder.

    Returns
    -------
    dict
        Grid, candidate cells and staging notes.
    """
    import tempfile

    check_tables(config)
    with tempfile.TemporaryDirectory(prefix="socseq-validate-") as tmp:
        tmp_path = Path(tmp)
        if config.dsm is not None:
            # The samples and covariates are read and checked; whether a model fits them well
            # is `socseq dsm cv`'s question. The covariate grid is the template.
            from socseq.dsm import api as dsm_api

            dsm_config = config.dsm.model_copy(
                update={"output": config.dsm.output.model_copy(update={"dir": tmp_path / "dsm"})}
            )
            stack = dsm_api.open_covariates(dsm_config, None)
            dsm_api.prepare_samples(dsm_config, stack)
            # A placeholder baseline on the DSM grid: validation checks the other inputs.
            soc = stack.grid.template(name="soc") + 50.0
        else:
            soc = None
        grid = resolve_grid(config, soc)
        staged = stage_inputs(config, grid, tmp_path, soc=soc, progress=progress)
        return {
            "grid": repr(grid),
            "cells": grid.width * grid.height,
            "candidate_cells": staged.summary["candidate_cells"],
            "coastal_filled_cells": staged.summary["coastal_filled_cells"],
            "resampling": staged.summary["resampling"],
        }
