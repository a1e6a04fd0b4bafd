"""The DSM workflow behind ``socseq dsm cv|train|predict`` and the ``[dsm]`` run section.

Each function takes a :class:`~socseq.dsm.config.DSMConfig`, returns Python objects, and
(unless ``write=False``) writes its outputs atomically under ``config.output.dir``:

- :func:`run_cv`: sample QA, spatially blocked and plain k-fold cross-validation, and the
  independent test set when configured: metrics, out-of-fold predictions, importance;
- :func:`train`: the final model on all samples and its area of applicability, saved for
  :func:`predict`;
- :func:`predict`: mean, median, 5 %/95 % quantiles, SD, DI and AOA maps (COG + NetCDF);
  :func:`predict` trains first when no saved model is found.

The samples and covariates they model are read by :mod:`socseq.dsm.sampling`
(:func:`open_covariates`, :func:`prepare_samples`, :class:`SampleData`, re-exported here),
which ``socseq validate`` uses without importing the learners.

The DSM writes data only. Its figures are drawn by the report layer
(:mod:`socseq.report.dsm_figures`): by ``socseq dsm`` after each command when
``[dsm.output] plots`` is on, and by the run report from the files written here.

Each command holds the output folder's lock while it runs and publishes its files all at once
(:func:`socseq.outputs.output_transaction`): a failure or a kill leaves the previous files as
they were. ``socseq run`` passes ``into`` (its own staging folder) instead, and publishes the
DSM outputs with the run's other products. :func:`predict` reuses a saved model only when it
was fitted with the current settings (:func:`model_key`, from :mod:`socseq.dsm.keys`).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import xarray as xr

from socseq import __version__
from socseq.atomic import atomic_path, write_csv_atomic, write_json_atomic
from socseq.dsm.aoa import AreaOfApplicability
from socseq.dsm.config import DSMConfig
from socseq.dsm.geometry import PlanarFrame
from socseq.dsm.keys import model_key
from socseq.dsm.model import SOCStockModel
from socseq.dsm.prediction import predict_grid, write_prediction
from socseq.dsm.qa import SampleReport
from socseq.dsm.sampling import SampleData, open_covariates, prepare_samples
from socseq.dsm.validation import CVResult, SpatialBlockKFold, cross_validate, evaluate
from socseq.exceptions import ConfigError, InputValidationError
from socseq.io.grid import GridSpec, align_to_template
from socseq.io.metadata import provenance
from socseq.io.raster import open_raster
from socseq.outputs import disk_full_guard, output_transaction
from socseq.progress import Progress

__all__ = [
    "MODEL_FILE",
    "SampleData",
    "TrainedDSM",
    "ValidationResult",
    "build_model",
    "load_trained",
    "model_key",
    "open_covariates",
    "predict",
    "prediction_mask",
    "prepare_samples",
    "run_cv",
    "train",
]

#: Name of the saved model in the output folder.
MODEL_FILE = "dsm_model.joblib"


@dataclass
class TrainedDSM:
    """A fitted DSM: the model, its area of applicability and what is needed to map with it."""

    model: SOCStockModel
    aoa: AreaOfApplicability | None
    frame: PlanarFrame
    covariate_names: list[str]
    categorical: list[str]
    grid: GridSpec
    provenance: dict[str, str]
    training: pd.DataFrame


@dataclass
class ValidationResult:
    """Cross-validation results per method, and the independent test set when configured."""

    cv: dict[str, CVResult]
    test_predictions: pd.DataFrame | None
    test_metrics: dict[str, float] | None
    report: SampleReport


def _notify(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _provenance(config: DSMConfig) -> dict[str, str]:
    """Provenance of the DSM outputs: the pipeline's vocabulary (:mod:`socseq.io.metadata`)."""
    return {
        **provenance(config.digest()),
        "model": config.model.method + (" + residual kriging" if config.model.kriging else ""),
        "seed": str(config.model.seed),
        "method_reference": "socseq docs/dsm.md",
    }


def build_model(config: DSMConfig) -> SOCStockModel:
    """Return the configured, unfitted :class:`SOCStockModel`."""
    m = config.model
    return SOCStockModel(
        m.method,
        n_estimators=m.n_estimators,
        max_features=m.max_features,
        min_samples_leaf=m.min_samples_leaf,
        max_depth=m.max_depth,
        learning_rate=m.learning_rate,
        subsample=m.subsample,
        categorical=[c.name for c in config.covariates if c.categorical],
        kriging=m.kriging,
        kriging_neighbours=m.kriging_neighbours,
        variogram=m.variogram,
        random_state=m.seed,
        n_jobs=m.n_jobs,
    )


@contextmanager
def _writing(
    config: DSMConfig, command: str, write: bool, into: str | os.PathLike[str] | None
) -> Iterator[Path]:
    """Yield the folder a command writes into, and publish it when the command succeeded.

    Without ``into`` the command locks ``config.output.dir``, writes into a private staging
    folder and publishes its files at once; with ``into`` the caller (``socseq run``) holds
    the output folder and publishes. Nothing is locked when nothing is written.
    """
    if not write:
        yield Path(config.output.dir)
    elif into is not None:
        Path(into).mkdir(parents=True, exist_ok=True)
        yield Path(into)
    else:
        with (
            disk_full_guard(config.output.dir),
            output_transaction(config.output.dir, f"dsm {command}", marker=None) as staging,
        ):
            yield staging.stage
            staging.publish()


def _write_qa(out: Path, report: SampleReport, name: str = "samples_qa.csv") -> None:
    write_csv_atomic(report.issues, out / name)


def run_cv(
    config: DSMConfig,
    *,
    grid: GridSpec | None = None,
    progress: Progress | None = None,
    write: bool = True,
    into: str | os.PathLike[str] | None = None,
) -> ValidationResult:
    """Validate the configured model: cross-validation and, if configured, the test set.

    Writes ``samples_qa.csv``, ``cv_<method>_predictions.csv``, ``validation_metrics.json`` and
    ``importance.csv`` (plus ``test_predictions.csv`` with a test set); the figures are drawn
    from them by :func:`socseq.report.dsm_figures.write_validation_figures`.
    ``grid`` overrides the template grid (see :func:`open_covariates`). ``into``: write there
    instead of ``config.output.dir``, for a caller that holds the output folder and publishes.
    """
    with _writing(config, "cv", write, into) as out:
        return _run_cv(config, grid, progress, write, out)


def _run_cv(
    config: DSMConfig,
    grid: GridSpec | None,
    progress: Progress | None,
    write: bool,
    out: Path,
) -> ValidationResult:
    stack = open_covariates(config, grid)
    data = prepare_samples(config, stack)
    model = build_model(config)
    cv: dict[str, CVResult] = {}
    for method in config.cv.methods:
        cv[method] = cross_validate(
            model,
            data.covariates,
            data.samples["stock_t_ha"].to_numpy(),
            coords=data.coords,
            method=method,
            n_splits=config.cv.n_splits,
            block_size=config.cv.block_size_m,
            random_state=config.model.seed,
            sample_ids=data.samples["sample_id"],
            importance=config.cv.importance and method == config.cv.methods[0],
            progress=partial(_notify, progress, f"cv {method}"),
        )
    test_predictions = test_metrics = None
    if config.test is not None:
        _notify(progress, "test set", 0, 1)
        fitted = model.fit(data.covariates, data.samples["stock_t_ha"], coords=data.coords)
        test = prepare_samples(config, stack, test=True)
        coords = data.frame.transform(test.samples["x"], test.samples["y"], test.crs)
        dist = fitted.predict_distribution(test.covariates, coords=coords)
        observed = test.samples["stock_t_ha"].to_numpy()
        q = dist["quantiles"]
        test_predictions = pd.DataFrame(
            {
                "sample_id": test.samples["sample_id"],
                "observed_t_ha": observed,
                "mean_t_ha": dist["mean"],
                "median_t_ha": q[:, 1],
                "q05_t_ha": q[:, 0],
                "q95_t_ha": q[:, 2],
                "sd_t_ha": dist["sd"],
            }
        )
        test_metrics = evaluate(observed, dist["mean"], lower=q[:, 0], upper=q[:, 2])
        _notify(progress, "test set", 1, 1)
        if write:
            _write_qa(out, test.report, "test_samples_qa.csv")
    result = ValidationResult(cv, test_predictions, test_metrics, data.report)
    if write:
        _write_validation(config, result, out)
    return result


def _write_validation(config: DSMConfig, result: ValidationResult, out: Path) -> None:
    _write_qa(out, result.report)
    metrics: dict[str, Any] = {
        "units": "t C/ha for ME, MAE, RMSE",
        **_provenance(config),
        "samples": {"read": result.report.n_read, "used": result.report.n_used},
    }
    for method, res in result.cv.items():
        write_csv_atomic(res.predictions, out / f"cv_{method}_predictions.csv")
        metrics[f"cv_{method}"] = {
            "pooled": res.metrics,
            "folds": res.fold_metrics.to_dict(orient="records"),
        }
        if method == config.cv.methods[0]:
            write_csv_atomic(res.importance, out / "importance.csv")
    if result.test_predictions is not None:
        write_csv_atomic(result.test_predictions, out / "test_predictions.csv")
        metrics["test"] = result.test_metrics
    write_json_atomic(metrics, out / "validation_metrics.json")


def train(
    config: DSMConfig,
    *,
    grid: GridSpec | None = None,
    progress: Progress | None = None,
    write: bool = True,
    into: str | os.PathLike[str] | None = None,
) -> TrainedDSM:
    """Fit the final model on all samples and its area of applicability; save it.

    Writes ``samples_qa.csv``, ``training_samples.csv`` (stocks and covariates at the samples)
    and the model (``dsm_model.joblib``, a pickle: load only files you wrote yourself), keyed by
    :func:`model_key`. ``grid`` overrides the template grid (see :func:`open_covariates`).
    ``into``: write there instead of ``config.output.dir`` (see :func:`run_cv`).
    """
    with _writing(config, "train", write, into) as out:
        return _train(config, grid, progress, write, out)


def _train(
    config: DSMConfig,
    grid: GridSpec | None,
    progress: Progress | None,
    write: bool,
    out: Path,
) -> TrainedDSM:
    stack = open_covariates(config, grid)
    data = prepare_samples(config, stack)
    _notify(progress, "fit model", 0, 1)
    model = build_model(config).fit(data.covariates, data.samples["stock_t_ha"], coords=data.coords)
    _notify(progress, "fit model", 1, 1)
    aoa = None
    if config.aoa.enabled:
        if config.aoa.folds == "spatial":
            folds = SpatialBlockKFold(
                config.cv.n_splits, config.cv.block_size_m, config.model.seed
            ).fold_ids(data.coords)
        else:
            folds = np.random.default_rng(config.model.seed).permutation(
                np.arange(len(data.coords)) % config.cv.n_splits
            )
        weights = np.asarray(model.regressor_.feature_importances_, float)
        aoa = AreaOfApplicability(random_state=config.model.seed).fit(
            model.encoder_.transform(data.covariates), weights=weights, folds=folds
        )
    training = pd.concat([data.samples, data.covariates], axis=1)
    trained = TrainedDSM(
        model=model,
        aoa=aoa,
        frame=data.frame,
        covariate_names=stack.names,
        categorical=list(stack.categorical),
        grid=stack.grid,
        provenance={**_provenance(config), "model_key": model_key(config)},
        training=training,
    )
    if write:
        _write_qa(out, data.report)
        write_csv_atomic(training, out / "training_samples.csv")
        with atomic_path(out / MODEL_FILE) as tmp:
            joblib.dump(trained, tmp)
    return trained


def load_trained(path: str | Path) -> TrainedDSM:
    """Load a model saved by :func:`train` (a pickle: only load files you wrote yourself)."""
    path = Path(path)
    if not path.exists():
        raise InputValidationError(
            f"trained model {path}: does not exist; run `socseq dsm train` first"
        )
    try:
        trained = joblib.load(path)
    except (
        EOFError,
        OSError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
        KeyError,
        pickle.UnpicklingError,
    ) as exc:
        # A truncated or damaged file, or classes renamed by another version of scikit-learn,
        # quantile-forest or socseq: the model cannot be rebuilt, only fitted again.
        raise InputValidationError(
            f"trained model {path}: cannot be loaded ({type(exc).__name__}: {_first_line(exc)}); "
            "it is damaged "
            "or was saved by other versions of socseq or scikit-learn; fit it again with "
            "`socseq dsm train`"
        ) from exc
    if not isinstance(trained, TrainedDSM):
        raise InputValidationError(f"trained model {path}: is not a socseq DSM model")
    return trained


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else "no message"


def prediction_mask(config: DSMConfig, grid: GridSpec) -> np.ndarray | None:
    """Cells to map: non-zero, non-missing cells of the configured mask (None: all cells)."""
    if config.grid.mask is None:
        return None
    da = open_raster(config.grid.mask, name="mask", categorical=True)
    aligned = align_to_template(da, grid, kind="categorical", resampling="nearest", name="mask")
    values = np.asarray(aligned.values, float)
    nodata = aligned.rio.nodata
    valid = np.isfinite(values) & (values != 0)
    if nodata is not None:
        valid &= values != nodata
    return valid


def _saved_model(config: DSMConfig) -> tuple[TrainedDSM | None, str]:
    """Return the saved model if it was fitted with the current settings, and why (not)."""
    saved = Path(config.output.dir) / MODEL_FILE
    if not saved.exists():
        return None, f"trained: no saved model in {saved.parent}"
    try:
        candidate = load_trained(saved)
    except InputValidationError as exc:
        return None, f"retrained: the saved {MODEL_FILE} cannot be loaded ({exc.__cause__!r})"
    old, new = candidate.provenance.get("model_key"), model_key(config)
    if old != new:
        return None, (
            f"retrained: the saved {MODEL_FILE} was fitted with other [dsm] settings or "
            f"input files (model key {old or 'none'}, now {new})"
        )
    return candidate, f"reused the saved {MODEL_FILE} (model key {new})"


def predict(
    config: DSMConfig,
    *,
    trained: TrainedDSM | None = None,
    grid: GridSpec | None = None,
    progress: Progress | None = None,
    write: bool = True,
    into: str | os.PathLike[str] | None = None,
) -> xr.Dataset:
    """Map the SOC stock, its quantiles, SD, DI and AOA over the grid.

    Uses ``trained``, else the model saved in the output folder when its :func:`model_key`
    equals the current settings', else trains one (and saves it with the maps), and maps on
    ``grid`` (default: the grid the model was trained on; the pipeline passes its template).
    Writes one COG per variable (``<prefix>_<variable>.tif``) and ``<prefix>.nc`` (the map
    figure is :func:`socseq.report.dsm_figures.plot_dsm_maps`). ``into``: write there instead
    of ``config.output.dir`` (see :func:`run_cv`).

    Returns
    -------
    xarray.Dataset
        Variables ``soc_mean_t_ha``, ``soc_median_t_ha``, ``soc_q05_t_ha``, ``soc_q95_t_ha``,
        ``soc_sd_t_ha`` (t C/ha), ``di`` and ``aoa``, on the template grid; provenance in
        ``attrs``, with ``model_origin`` saying whether a saved model was reused or why one
        was trained. The pipeline takes the quantiles from here for its uncertainty runs.
    """
    with _writing(config, "predict", write, into) as out:
        return _predict(config, trained, grid, progress, write, out)


def _predict(
    config: DSMConfig,
    trained: TrainedDSM | None,
    grid: GridSpec | None,
    progress: Progress | None,
    write: bool,
    out: Path,
) -> xr.Dataset:
    origin = "given"
    if trained is None:
        trained, origin = _saved_model(config)
        if trained is None:
            trained = _train(config, grid, progress, write, out)
    stack = open_covariates(config, grid if grid is not None else trained.grid)
    if stack.names != trained.covariate_names:
        raise ConfigError(
            f"configuration: covariates ({', '.join(stack.names)}) differ from the trained "
            f"model's ({', '.join(trained.covariate_names)}); retrain with `socseq dsm train`"
        )
    ds = predict_grid(
        trained.model,
        stack,
        mask=prediction_mask(config, stack.grid),
        aoa=trained.aoa,
        frame=trained.frame if trained.model.kriging else None,
        progress=lambda done, total: _notify(progress, "predict grid", done, total),
    )
    mapped = _provenance(config)["created"]
    ds.attrs.update(
        {
            "title": "SOC stock 0-30 cm by digital soil mapping (socseq)",
            **trained.provenance,
            "model_key": trained.provenance.get("model_key", "none"),
            "model_origin": origin,
            "mapped": mapped,
            "history": f"{mapped}: mapped by socseq {__version__}",
        }
    )
    if write:
        write_prediction(
            ds,
            out,
            prefix=config.output.prefix,
            geotiff=config.output.geotiff,
            netcdf=config.output.netcdf,
            attrs=ds.attrs,
        )
    return ds
