"""``socseq run``: check every input → DSM → window tasks (inputs, phases) → products.

A run first checks every input (:mod:`socseq.pipeline.validate`: metadata, sampled values,
a survey of the grid), so a wrong path or unit fails in seconds, before the DSM or any phase.
It then works in ``OUTPUT/.socseq-work`` (the DSM baseline maps and the window tasks'
results, chunked Zarr; no copy of the inputs) and writes its products into
``OUTPUT/.socseq-partial``; only when everything succeeded are the products moved into
``OUTPUT`` and ``run.json`` written last. An interrupted or failed run therefore leaves the
previous products untouched and nothing that looks complete.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from socseq import __version__
from socseq.atomic import write_json_atomic
from socseq.exceptions import InputValidationError
from socseq.io.grid import GridSpec
from socseq.pipeline.config import RunConfig
from socseq.pipeline.engine import EngineSettings, ScenarioSpec
from socseq.pipeline.execute import Executor
from socseq.pipeline.inputs import (
    BASELINE_MAPS,
    SCRATCH_CODEC,
    InputPlan,
    plan_inputs,
    windows,
)
from socseq.pipeline.landuse import read_class_table
from socseq.pipeline.phases import (
    EXCLUSION_REASONS,
    NO_LAND_USE,
    NOT_AGRICULTURAL,
    SIMULATED,
    STAGES,
    PhaseSettings,
    create_results,
    window_task,
)
from socseq.pipeline.products import compute_products
from socseq.pipeline.run_notes import cited_sources, climate_method, run_notes
from socseq.pipeline.validate import check_values, run_grid, survey, validate_config
from socseq.progress import Progress

__all__ = ["RunSummary", "run_pipeline", "validate_config"]  # validate_config: re-export

WORK = ".socseq-work"
PARTIAL = ".socseq-partial"
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


def _dsm_baseline(config: RunConfig, output_dir: Path, progress: Progress | None) -> Any:
    """Map the SOC baseline with the ``[dsm]`` section; outputs go to ``OUTPUT/dsm``."""
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
    validation = dsm_api.run_cv(dsm_config, grid=explicit, progress=notify)
    trained = dsm_api.train(dsm_config, grid=explicit, progress=notify)
    prediction = dsm_api.predict(dsm_config, trained=trained, grid=explicit, progress=notify)
    return prediction, validation


def _metrics(validation: Any) -> dict[str, Any]:
    """Cross-validation (and test-set) metrics as plain JSON values."""
    out: dict[str, Any] = {method: dict(result.metrics) for method, result in validation.cv.items()}
    if validation.test_metrics is not None:
        out["test"] = dict(validation.test_metrics)
    return out


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
        Keep the scratch stores (``OUTPUT/.socseq-work``: DSM maps, results) for inspection.
    notes : list of str, optional
        Remarks for the report (e.g. which inputs are synthetic), kept in ``run.json`` after
        those of :func:`~socseq.pipeline.run_notes.run_notes` (climate normals, computed
        PET, ``[run] notes``).
    threads : int, optional
        Cores the run may use (default: all of this machine's, or the workers' own): window
        tasks × threads per task (numba kernel, GDAL warper) never exceed it.

    Returns
    -------
    RunSummary
    """
    out = Path(output_dir) if output_dir is not None else config.run.output_dir
    out.mkdir(parents=True, exist_ok=True)
    try:
        notes = [*run_notes(config), *(notes or [])]
        return _run(config, out, workers, scheduler, progress, keep_work, notes, threads)
    except BaseException:
        # Scratch and half-staged products go; the previous run's products stay untouched.
        shutil.rmtree(out / PARTIAL, ignore_errors=True)
        if not keep_work:
            shutil.rmtree(out / WORK, ignore_errors=True)
        raise


def _run(
    config: RunConfig,
    out: Path,
    workers: int | None,
    scheduler: str | None,
    progress: Progress | None,
    keep_work: bool,
    notes: list[str],
    threads: int | None,
) -> RunSummary:
    started_all = time.perf_counter()
    timings: dict[str, float] = {}
    work = out / WORK
    work.mkdir(parents=True, exist_ok=True)

    # Every input is checked before anything is computed: metadata, sampled values, survey.
    started = time.perf_counter()
    grid = run_grid(config)
    uses_dsm = config.dsm is not None and config.inputs.soc is None
    plan = plan_inputs(config, grid, baseline=work / "baseline.zarr" if uses_dsm else None)
    check_values(plan)
    checked = survey(plan, config, soc=np.full(grid.shape, 50.0) if uses_dsm else None)
    _require_cells(checked, config)
    timings["validate"] = time.perf_counter() - started

    dsm_info = None
    if config.dsm is not None:
        started = time.perf_counter()
        prediction, validation = _dsm_baseline(config, out, progress)
        dsm_info = {"metrics": _metrics(validation), "output_dir": "dsm"}
        if uses_dsm:
            _write_baseline(prediction, grid, work / "baseline.zarr", config.run.chunk_size)
        timings["dsm"] = time.perf_counter() - started

    results_path = work / "results.zarr"
    tiles = windows(grid, config.run.chunk_size)
    with Executor(workers=workers, scheduler=scheduler, threads=threads) as executor:
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
        _apportion(timings, parts, time.perf_counter() - started)
        scheduler_name = executor.description

    simulated = sum(p["cells"] for p in parts)
    if simulated == 0:
        raise InputValidationError(
            f"no cell to simulate: of {checked['candidate_cells']:,} agricultural cells, "
            f"every one is excluded ({_top_reasons(results_path)}); see docs/pipeline.md "
            "(exclusion reasons) and check the masks, units and land_use settings"
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

    started = time.perf_counter()
    if progress is not None:
        progress("products", 0, 1)
    stage = out / PARTIAL
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir()
    warm = {
        "area_soc": np.sum([p["warm_area_soc"] for p in parts], axis=0),
        "area": float(sum(p["area"] for p in parts)),
    }
    fwd = np.sum([p["forward_area_soc"] for p in parts], axis=0)
    results_group = zarr.open_group(str(results_path), mode="r")
    written = compute_products(
        config, grid, results_group, results_group, stage, warmup_sums=warm, forward_sums=fwd
    )
    if uncertainty is not None:
        from socseq.pipeline.uncertainty_products import write_uncertainty_products

        written += write_uncertainty_products(
            uncertainty, config, grid, results_group, results_group, stage
        )
    if progress is not None:
        progress("products", 1, 1)
    timings["products"] = time.perf_counter() - started
    timings["total"] = time.perf_counter() - started_all

    reason = np.asarray(results_group["reason"][:])
    inputs_info = {
        "resampling": {
            spec.name: spec.method for spec in [*plan.static.values(), *plan.warm.layers.values()]
        },
        "coastal_filled_cells": _filled(parts),
        "threads_per_task": settings.threads,
    }
    manifest = _manifest(
        config, grid, inputs_info, reason, timings, written, dsm_info, scheduler_name
    )
    manifest["notes"] = notes
    if uncertainty is not None:
        manifest["uncertainty"] = uncertainty.info
    _publish(stage, out, written, manifest)
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return RunSummary(output_dir=out, manifest=manifest, timings_s=timings)


def _require_cells(checked: dict[str, Any], config: RunConfig) -> None:
    """Stop before computing when the survey leaves no cell to simulate."""
    if checked["candidate_cells"] == 0:
        raise InputValidationError(
            f"layer 'inputs.land_use' (file {config.inputs.land_use.path}): no cell of the "
            f"classes {sorted({*config.land_use.simulate, *config.land_use.cropland})} on the "
            "grid; check land_use.simulate and land_use.source_classes"
        )
    if checked["survey_cells"] == 0:
        reasons = ", ".join(f"{k}: {v:,}" for k, v in checked["excluded"].items() if v)
        raise InputValidationError(
            f"no cell to simulate: all {checked['candidate_cells']:,} agricultural cells are "
            f"excluded ({reasons}); check the masks, the units of the SOC and clay layers, "
            "the climate's extent and land_use.simulate"
        )


def _top_reasons(results_path: Path) -> str:
    reason = np.asarray(zarr.open_group(str(results_path), mode="r")["reason"][:])
    counts = {EXCLUSION_REASONS[c]: int((reason == c).sum()) for c in EXCLUSION_REASONS}
    return ", ".join(f"{k}: {v:,}" for k, v in counts.items() if v) or "none"


def _filled(parts: list[dict[str, Any]]) -> dict[str, int]:
    """Candidate cells filled from the nearest climate cell, per layer (largest over months)."""
    out: dict[str, int] = {}
    for part in parts:
        for name, cells in part["filled"].items():
            out[name] = out.get(name, 0) + cells
    return out


def _apportion(timings: dict[str, float], parts: list[dict[str, Any]], wall: float) -> None:
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


def _manifest(
    config: RunConfig,
    grid: GridSpec,
    inputs_info: dict[str, Any],
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


def _publish(stage: Path, out: Path, written: list[str], manifest: dict[str, Any]) -> None:
    """Move the staged products into the output folder; write ``run.json`` last."""
    (out / MANIFEST).unlink(missing_ok=True)
    for rel in written:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, target)
    shutil.rmtree(stage, ignore_errors=True)
    write_json_atomic(manifest, out / MANIFEST)
