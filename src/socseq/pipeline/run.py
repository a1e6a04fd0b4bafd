"""``socseq run``: check every input → DSM → window tasks (inputs, phases) → products.

A run first checks every input (:mod:`socseq.pipeline.validate`: metadata, sampled values,
a survey of the grid), so a wrong path or unit fails in seconds, before the DSM or any phase.
It holds the output folder's lock, works in a private ``OUTPUT/.socseq-run-<id>/work`` (the
DSM baseline maps and the window tasks' results, chunked Zarr; no copy of the inputs on the
grid, only the climate series whose chunks the windows would decompress many times over,
rewritten once on their own grid: :mod:`socseq.pipeline.rechunk`) and
writes every product, ``run.json`` and the report included, into
``OUTPUT/.socseq-run-<id>/stage``; only when everything succeeded is the staged set published,
all at once (:mod:`socseq.outputs`). An interrupted or failed run therefore leaves the
previous products byte-identical. With ``[dsm]``, the folder's previous ``dsm/`` is published
again instead of recomputed when it was made from the same inputs, settings and software and
its files are intact (:mod:`socseq.pipeline.dsm_baseline`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from socseq._heap import collect_cycles, long_lived_objects_frozen, release_free_heap
from socseq.atomic import write_json_atomic
from socseq.exceptions import InputValidationError
from socseq.io.grid import GridSpec
from socseq.io.stores import read_stored
from socseq.outputs import (
    KEPT_WORK,
    RUN_PRODUCTS,
    Staging,
    disk_full_guard,
    output_transaction,
    require_free_space,
)
from socseq.pipeline.config import RunConfig
from socseq.pipeline.dsm_baseline import dsm_baseline
from socseq.pipeline.engine import EngineSettings, ScenarioSpec
from socseq.pipeline.exclusions import EXCLUSION_REASONS
from socseq.pipeline.execute import Executor
from socseq.pipeline.inputs import SCRATCH_CODEC
from socseq.pipeline.landuse import read_class_table
from socseq.pipeline.manifest import apportion, filled_cells, run_manifest, space_needs
from socseq.pipeline.phases import PhaseSettings, create_results, window_task
from socseq.pipeline.plan import BASELINE_MAPS, InputPlan, plan_inputs, windows
from socseq.pipeline.products import compute_products
from socseq.pipeline.rechunk import rechunk_for_windows
from socseq.pipeline.run_notes import run_notes
from socseq.pipeline.validate import (
    check_baseline,
    check_dsm_samples,
    check_grid,
    check_tables,
    check_values,
    dsm_grid,
    run_grid,
    validate_config,
)
from socseq.progress import Progress

__all__ = ["RunSummary", "check_tables", "run_pipeline", "validate_config"]  # re-exports

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


def engine_settings(config: RunConfig, n_warmup_years: int) -> EngineSettings:
    """Return the model choices and scenarios of a run, as the phase engine needs them."""
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
    return EngineSettings(
        table=read_class_table(config.land_use.table),
        paddy_rate_factor=config.land_use.paddy_rate_factor,
        evap_coefficient=1.0 if config.climate.evaporation_kind == "pet" else 0.75,
        spinup_method=config.model.spinup,
        monthly_shares=tuple(shares),
        constants=config.model.constants,
        depth_cm=config.model.depth_cm,
        bare_threshold=config.cover.bare_threshold,
        scenarios=scenarios,
        n_warmup_years=n_warmup_years,
        forward_years=config.periods.forward_years,
    )


def phase_settings(
    config: RunConfig,
    plan: InputPlan,
    results: Path,
    threads: int = 1,
    uncertainty: Any = None,
) -> PhaseSettings:
    """Collect what the window tasks need from the configuration and the input plan."""
    masks = config.masks
    return PhaseSettings(
        plan=plan,
        results=str(results),
        engine=engine_settings(config, plan.n_warmup_years),
        simulate=config.land_use.simulate,
        cropland=config.land_use.cropland,
        paddy=config.land_use.paddy,
        max_soc=masks.max_soc_t_ha,
        max_sand=masks.max_sand_pct,
        max_ec=masks.max_ec_dS_m,
        threads=threads,
        uncertainty=uncertainty,
    )


def _write_baseline(prediction: Any, grid: GridSpec, path: Path, chunk: int) -> None:
    """Keep the DSM baseline maps on the grid in scratch, chunked like the windows."""
    store = zarr.open_group(str(path), mode="w")
    for name in BASELINE_MAPS:
        if name in prediction:
            values = np.asarray(prediction[name].values, dtype=np.float64)
            if values.shape != grid.shape:
                raise ValueError(f"DSM map {name} has shape {values.shape}, not {grid.shape}")
            store.create_array(
                name,
                shape=grid.shape,
                chunks=(chunk, chunk),
                dtype="float64",
                fill_value=np.nan,
                compressors=SCRATCH_CODEC,
            )[:] = values


def run_pipeline(
    config: RunConfig,
    *,
    output_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    keep_work: bool = False,
    notes: list[str] | None = None,
    threads: int | None = None,
    before_publish: Callable[[Path], Any] | None = None,
    reuse_dsm: bool = True,
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
        Keep the scratch stores (DSM maps, results) in ``OUTPUT/.socseq-work`` for inspection.
    notes : list of str, optional
        Remarks for the report (e.g. which inputs are synthetic), kept in ``run.json`` after
        those of :func:`~socseq.pipeline.run_notes.run_notes` (climate normals, computed
        PET, ``[run] notes``).
    threads : int, optional
        Cores the run may use (default: all of this machine's, or the workers' own): window
        tasks × threads per task (numba kernel, GDAL warper) never exceed it.
    before_publish : callable, optional
        Called with the staged folder (holding every product and ``run.json``) just before it
        is published, to add derived products that must be published with them (the CLI
        builds the HTML report here).
    reuse_dsm : bool, default True
        Publish the previous run's ``dsm/`` again instead of recomputing it when it was made
        from the same inputs, settings and software and its files are intact
        (:mod:`socseq.pipeline.dsm_baseline`); False always recomputes.

    Returns
    -------
    RunSummary

    Raises
    ------
    socseq.exceptions.OutputBusyError
        Another socseq command writes into the output folder.
    socseq.exceptions.DiskFullError
        The output folder's file system cannot hold the run (checked before the big writes)
        or filled up during it.
    """
    out = Path(output_dir) if output_dir is not None else config.run.output_dir
    check_tables(config)
    # One writer per output folder, private scratch, all-or-nothing publish (socseq.outputs).
    needs: dict[str, int] = {}
    with (
        disk_full_guard(out, need=lambda: sum(needs.values())),
        output_transaction(out, "run", keep_work=keep_work) as staging,
        long_lived_objects_frozen(),
    ):
        return _run(
            config,
            staging,
            workers,
            scheduler,
            progress,
            [*run_notes(config), *(notes or [])],
            threads,
            needs,
            before_publish,
            reuse_dsm,
        )


def _run(
    config: RunConfig,
    staging: Staging,
    workers: int | None,
    scheduler: str | None,
    progress: Progress | None,
    notes: list[str],
    threads: int | None,
    needs: dict[str, int],
    before_publish: Callable[[Path], Any] | None,
    reuse_dsm: bool,
) -> RunSummary:
    out, work, stage = staging.folder, staging.work, staging.stage
    started_all = time.perf_counter()
    timings: dict[str, float] = {}
    grid, plan, checked = _check_inputs(config, work, needs, out, timings)
    dsm_info = _map_baseline(config, grid, plan, staging, progress, timings, reuse_dsm)
    settings, parts, scheduler_name, rechunked = _simulate_windows(
        config, grid, plan, work, workers, scheduler, threads, progress, timings, needs
    )
    if sum(p["cells"] for p in parts) == 0:
        raise InputValidationError(
            f"no cell to simulate: of {checked['candidate_cells']:,} agricultural cells, "
            f"every one is excluded ({_top_reasons(Path(settings.results))}); see "
            "docs/pipeline.md (exclusion reasons) and check the masks, units and land_use settings"
        )
    uncertainty = None
    if settings.uncertainty is not None:
        from socseq.pipeline.uncertainty import finish_uncertainty

        uncertainty = finish_uncertainty(
            settings.uncertainty,
            [p["members"] for p in parts if p["members"] is not None],
            timings.get("uncertainty", 0.0),
            scheduler_name,
        )
    written = _write_products(
        config, grid, settings, parts, uncertainty, stage, progress, needs, threads
    )
    timings["products"] = time.perf_counter() - written.pop("started")
    timings["total"] = time.perf_counter() - started_all

    results_group = zarr.open_group(settings.results, mode="r")
    inputs_info = {
        "resampling": {
            spec.name: spec.method for spec in [*plan.static.values(), *plan.warm.layers.values()]
        },
        "coastal_filled_cells": filled_cells(parts),
        "threads_per_task": settings.threads,
        "rechunked_sources": rechunked,
    }
    manifest = run_manifest(
        config,
        grid,
        inputs_info,
        read_stored(results_group, "reason"),
        timings,
        written["files"],
        dsm_info,
        scheduler_name,
    )
    manifest["notes"] = notes
    if uncertainty is not None:
        manifest["uncertainty"] = uncertainty.info
    # The whole set, run.json and the report included, is published at once.
    write_json_atomic(manifest, stage / MANIFEST)
    if before_publish is not None:
        before_publish(stage)
    staging.publish(replaces=RUN_PRODUCTS)
    return RunSummary(output_dir=out, manifest=manifest, timings_s=timings)


def _check_inputs(
    config: RunConfig, work: Path, needs: dict[str, int], out: Path, timings: dict[str, float]
) -> tuple[GridSpec, InputPlan, dict[str, Any]]:
    """Check every input before anything is computed: metadata, sampled values, survey, disk.

    The guards stop a run whose ``[dsm]`` samples
    (:func:`~socseq.pipeline.validate.check_dsm_samples`) or SOC map
    (:func:`~socseq.pipeline.validate.check_grid`) have an implausible median stock, or that
    would simulate no cell.
    """
    started = time.perf_counter()
    grid, covariates = run_grid(config)
    uses_dsm = config.dsm is not None and config.inputs.soc is None
    plan = plan_inputs(config, grid, baseline=work / "baseline.zarr" if uses_dsm else None)
    check_dsm_samples(config, grid, covariates)
    check_values(plan, config.checks)
    checked = check_grid(plan, config)
    needs.update(space_needs(config, grid))
    require_free_space(out, sum(needs.values()), "scratch and products of this run")
    timings["validate"] = time.perf_counter() - started
    return grid, plan, checked


def _map_baseline(
    config: RunConfig,
    grid: GridSpec,
    plan: InputPlan,
    staging: Staging,
    progress: Progress | None,
    timings: dict[str, float],
    reuse: bool,
) -> dict[str, Any] | None:
    """Run the ``[dsm]`` section, if any; keep its maps in scratch when they are the baseline.

    The DSM outputs of the folder's previous run are reused when they were made from the same
    inputs (:func:`~socseq.pipeline.dsm_baseline.dsm_baseline`). The baseline map's median
    stock on the agricultural cells is checked before any phase
    (:func:`~socseq.pipeline.validate.check_baseline`).
    """
    if config.dsm is None:
        return None
    started = time.perf_counter()
    baseline = dsm_baseline(
        config,
        staging.folder,
        staging.stage,
        progress,
        grid=dsm_grid(config, grid),
        previous=_previous_dsm(staging.folder),
        reuse=reuse,
    )
    prediction = baseline.prediction
    if config.inputs.soc is None:
        path = staging.work / "baseline.zarr"
        _write_baseline(prediction, grid, path, config.run.chunk_size)
        check_baseline(plan, config, np.asarray(prediction["soc_mean_t_ha"].values))
    timings["dsm"] = time.perf_counter() - started
    return baseline.info


def _previous_dsm(folder: Path) -> dict[str, Any] | None:
    """Return the ``dsm`` entry of the folder's ``run.json`` (None: none readable, or no DSM).

    The caller holds the folder's lock and has recovered it, so a ``run.json`` present
    describes the complete set beside it.
    """
    try:
        entry = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("dsm")
    except (OSError, ValueError, AttributeError):
        return None
    return entry if isinstance(entry, dict) else None


def _simulate_windows(
    config: RunConfig,
    grid: GridSpec,
    plan: InputPlan,
    work: Path,
    workers: int | None,
    scheduler: str | None,
    threads: int | None,
    progress: Progress | None,
    timings: dict[str, float],
    needs: dict[str, int],
) -> tuple[PhaseSettings, list[dict[str, Any]], str, dict[str, Any]]:
    """Run every window task (inputs, phases, members) on the executor.

    Climate sources whose chunks the windows would decompress many times over are first
    rewritten into ``work/sources`` (:mod:`socseq.pipeline.rechunk`); that time is part of the
    ``inputs`` phase.
    """
    results_path = work / "results.zarr"
    tiles = windows(grid, config.run.chunk_size)
    with Executor(workers=workers, scheduler=scheduler, threads=threads) as executor:
        started = time.perf_counter()
        plan, rechunked = rechunk_for_windows(plan, tiles, work, executor, progress, needs)
        timings["inputs"] = time.perf_counter() - started
        settings = phase_settings(
            config, plan, results_path, threads=executor.threads_per_task(len(tiles))
        )
        if config.uncertainty is not None:
            from socseq.pipeline.uncertainty import prepare_uncertainty

            members = prepare_uncertainty(
                config, grid, plan, settings.engine, work, config.run.chunk_size
            )
            settings = dataclasses.replace(settings, uncertainty=members)
        create_results(
            results_path,
            grid.shape,
            config.run.chunk_size,
            settings.engine,
            zones="zones" in plan.static,
        )
        started = time.perf_counter()
        report = None if progress is None else (lambda d, t: progress("windows", d, t))
        if report is not None:
            report(0, len(tiles))  # the bar's clock starts with the windows
        parts = executor.map(window_task, settings, tiles, report)
        apportion(timings, parts, time.perf_counter() - started)
        return settings, parts, executor.description, rechunked


def _write_products(
    config: RunConfig,
    grid: GridSpec,
    settings: PhaseSettings,
    parts: list[dict[str, Any]],
    uncertainty: Any,
    stage: Path,
    progress: Progress | None,
    needs: dict[str, int],
    threads: int | None,
) -> dict[str, Any]:
    """Write every product into the stage; return their paths and when this step started.

    The products run after the windows, in this process, on the run's thread budget (the
    files' compression); the memory the windows freed is given back first, so that the
    products' peak does not stack on it.
    """
    started = time.perf_counter()
    collect_cycles()
    release_free_heap()
    if progress is not None:
        progress("products", 0, 1)
    require_free_space(stage.parent.parent, needs["products"], "products")
    warm = {
        "area_soc": np.sum([p["warm_area_soc"] for p in parts], axis=0),
        "area": float(sum(p["area"] for p in parts)),
    }
    fwd = np.sum([p["forward_area_soc"] for p in parts], axis=0)
    results = zarr.open_group(settings.results, mode="r")
    budget = threads or os.cpu_count() or 1
    written = compute_products(
        config, grid, results, stage, warmup_sums=warm, forward_sums=fwd, threads=budget
    )
    if uncertainty is not None:
        from socseq.pipeline.uncertainty_products import write_uncertainty_products

        written += write_uncertainty_products(uncertainty, config, grid, results, stage, budget)
    if progress is not None:
        progress("products", 1, 1)
    return {"files": written, "started": started}


def _top_reasons(results_path: Path) -> str:
    reason = read_stored(zarr.open_group(str(results_path), mode="r"), "reason")
    counts = {EXCLUSION_REASONS[c]: int((reason == c).sum()) for c in EXCLUSION_REASONS}
    return ", ".join(f"{k}: {v:,}" for k, v in counts.items() if v) or "none"
