"""The ``[dsm]`` baseline of a run: mapped, or carried over from the folder's previous run.

A run maps the SOC baseline with its ``[dsm]`` section into ``stage/dsm``, published with the
other products as ``OUTPUT/dsm``. Cross-validation, training and prediction take seconds on
the demo and hours on a country, and give the same files for the same inputs, so a run first
asks whether the folder's previous run (its ``run.json``) made ``dsm/`` from the same inputs:

1. reuse is on (``socseq run|demo --no-reuse`` turns it off), the NetCDF is written (the maps
   are read back from it: float64, as predicted; the GeoTIFFs are float32), and every input
   file can be read;
2. the previous ``run.json`` records DSM outputs whose key
   (:func:`socseq.dsm.keys.outputs_key`: the ``[dsm]`` settings, the grid, the software
   versions, and the content of the samples, covariates, template, mask and test samples)
   equals this run's;
3. every file it recorded is still there with the digest it recorded: each is hard-linked
   into the stage (:func:`socseq.outputs.link_verified`; the previous files are only read,
   so a kill leaves the previous folder whole) and checked after linking.

Then the run publishes those files again and reads the maps and the metrics from them, and
``run.json`` says ``"reused": true`` with the key and when the files were computed. If any
step fails — a first run, a changed input, a missing or damaged file — the DSM is computed
from scratch, and ``run.json`` says why. Either way the products are the same: the reused
files are those a recomputation writes, but for the times they carry (``created``,
``mapped``), which stay those of the computation that made them.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from socseq.dsm.config import DSMConfig
from socseq.dsm.keys import outputs_key
from socseq.io.grid import GridSpec
from socseq.outputs import folder_digests, link_verified
from socseq.pipeline.config import RunConfig
from socseq.progress import Progress

__all__ = ["DSMBaseline", "dsm_baseline"]

#: The DSM's validation file, from which a run takes its metrics (computed or reused).
METRICS_FILE = "validation_metrics.json"


@dataclass
class DSMBaseline:
    """The baseline maps of a run and what ``run.json`` records about them.

    Attributes
    ----------
    prediction : xarray.Dataset
        The maps of :func:`socseq.dsm.api.predict` on the grid (float64).
    info : dict
        ``run.json``'s ``dsm`` entry: ``metrics``, ``output_dir``, ``reused``, ``key`` (None
        when an input cannot be read), ``note`` (reused, or why it was computed),
        ``computed_utc`` (when the files of ``dsm/`` were computed), ``key_parts`` (what the key
        covers, one digest each) and ``files`` (the digest of each file of ``dsm/``).
    """

    prediction: xr.Dataset
    info: dict[str, Any]


def _why_not(
    reuse: bool,
    key: str | None,
    parts: dict[str, str],
    config: DSMConfig,
    previous: dict[str, Any] | None,
) -> str | None:
    """Why the previous DSM outputs cannot be reused before looking at their files (None: go on)."""
    if not reuse:
        return "reuse switched off"
    if key is None:
        unreadable = ", ".join(name for name, value in parts.items() if value == "unreadable")
        return f"{unreadable}: not a local file that can be read, so its content has no key"
    if not config.output.netcdf:
        return "[dsm.output] netcdf = false, and a reuse reads the maps back from the NetCDF"
    if previous is None:
        return "no earlier run in this folder"
    if not previous.get("key") or not isinstance(previous.get("files"), dict):
        return "the earlier run recorded no DSM key"
    if previous["key"] != key:
        old = previous.get("key_parts") or {}
        changed = sorted(n for n in parts.keys() | old.keys() if parts.get(n) != old.get(n))
        return (
            f"{', '.join(changed) or 'the key'} changed since the earlier run "
            f"(key {previous['key']})"
        )
    return None


def _metrics(config: DSMConfig, out: Path) -> dict[str, Any]:
    """Pooled cross-validation (and test-set) metrics, read from the DSM's validation file.

    Read from the file in both cases, so that a reused DSM and a computed one give the same
    ``run.json``.
    """
    data = json.loads((out / METRICS_FILE).read_text(encoding="utf-8"))
    metrics: dict[str, Any] = {m: dict(data[f"cv_{m}"]["pooled"]) for m in config.cv.methods}
    if isinstance(data.get("test"), dict):
        metrics["test"] = dict(data["test"])
    return metrics


def _read_maps(config: DSMConfig, out: Path) -> xr.Dataset:
    """Read the maps as :func:`~socseq.dsm.api.predict` returned them from the NetCDF it wrote."""
    with xr.open_dataset(out / f"{config.output.prefix}.nc", engine="h5netcdf") as ds:
        return ds.load()


def _reuse(
    config: DSMConfig, previous: Path, out: Path, files: dict[str, str]
) -> tuple[tuple[xr.Dataset, dict[str, Any]] | None, str | None]:
    """Link the previous outputs into ``out`` and read them: (maps, metrics), or why not."""
    why = link_verified(previous, out, files)
    if why is not None:
        return None, why
    try:
        return (_read_maps(config, out), _metrics(config, out)), None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # checked, yet unreadable
        shutil.rmtree(out, ignore_errors=True)
        return None, f"the earlier run's dsm/ cannot be read back ({exc})"


def dsm_baseline(
    config: RunConfig,
    output_dir: Path,
    stage: Path,
    progress: Progress | None,
    *,
    grid: GridSpec | None = None,
    previous: dict[str, Any] | None = None,
    reuse: bool = True,
) -> DSMBaseline:
    """Map the SOC baseline with the ``[dsm]`` section, or reuse the previous run's maps.

    Parameters
    ----------
    config : RunConfig
        The run configuration (with its ``[dsm]`` section).
    output_dir : pathlib.Path
        The output folder: the DSM configuration keeps ``OUTPUT/dsm`` as its folder, so its
        hash does not depend on the stage, and the previous outputs are read there.
    stage : pathlib.Path
        The run's stage; the outputs go to ``stage/dsm``.
    progress : callable, optional
        ``progress(stage, done, total)``; the DSM's stages are prefixed ``dsm:``.
    grid : GridSpec, optional
        The grid to map on (:func:`socseq.pipeline.validate.dsm_grid`: the run's grid); None:
        the DSM's own template or first covariate.
    previous : dict, optional
        The ``dsm`` entry of the folder's ``run.json`` before this run.
    reuse : bool, default True
        Reuse the previous outputs when their key and files hold (see the module docstring).

    Returns
    -------
    DSMBaseline
    """
    from socseq.dsm import api as dsm_api

    assert config.dsm is not None
    dsm_config = config.dsm.model_copy(
        update={"output": config.dsm.output.model_copy(update={"dir": output_dir / "dsm"})}
    )

    def notify(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(f"dsm: {stage}", done, total)

    out = stage / "dsm"
    key, parts = outputs_key(dsm_config, grid)
    why = _why_not(reuse, key, parts, dsm_config, previous)
    reused = None
    if why is None:
        assert previous is not None
        reused, why = _reuse(dsm_config, output_dir / "dsm", out, previous["files"])
    if reused is not None:
        assert previous is not None
        prediction, metrics = reused
        computed, files = previous.get("computed_utc"), dict(previous["files"])
        note = f"reused dsm/ computed {computed} (key {key}): same inputs, settings and software"
        notify(f"reused (key {key})", 1, 1)
    else:
        computed = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        dsm_api.run_cv(dsm_config, grid=grid, progress=notify, into=out)
        trained = dsm_api.train(dsm_config, grid=grid, progress=notify, into=out)
        prediction = dsm_api.predict(
            dsm_config, trained=trained, grid=grid, progress=notify, into=out
        )
        metrics, files, note = _metrics(dsm_config, out), folder_digests(out), f"computed: {why}"
    return DSMBaseline(
        prediction,
        {
            "metrics": metrics,
            "output_dir": "dsm",
            "key": key,
            "key_parts": parts,
            "reused": reused is not None,
            "note": note,
            "computed_utc": computed,
            "files": files,
        },
    )
