"""Digital soil mapping of the baseline SOC stock: samples and covariates in, maps out.

- :mod:`socseq.dsm.stocks`: SOC stocks from concentrations, bulk density (measured or by
  pedotransfer function) and coarse fragments; depth harmonisation (weighted, equal-area
  spline).
- :mod:`socseq.dsm.covariates`: covariate rasters aligned on the template grid, values at
  points.
- :mod:`socseq.dsm.sampling`: :func:`prepare_samples`, the samples read, harmonised to stocks
  and placed on the covariates (what ``socseq validate`` checks, without scikit-learn).
- :mod:`socseq.dsm.encoding`: :class:`FeatureEncoder`, one-hot encoding of class layers.
- :mod:`socseq.dsm.model`: :class:`SOCStockModel`, a scikit-learn regressor (quantile
  regression forest, random forest, gradient boosting; optional residual kriging).
- :mod:`socseq.dsm.validation`: spatially blocked and k-fold cross-validation, metrics.
- :mod:`socseq.dsm.aoa`: the area of applicability (Meyer & Pebesma 2021).
- :mod:`socseq.dsm.prediction`: windowed prediction over the grid and COG/NetCDF outputs.
- :mod:`socseq.dsm.api`: :func:`run_cv`, :func:`train`, :func:`predict` from a
  :class:`DSMConfig` (the ``[dsm]`` section of the run configuration).
- :mod:`socseq.dsm.keys`: the keys of what shapes the model and the outputs (settings, input
  files by content, grid, software versions), which decide when a result may be reused.

The names are imported on first use, so that the run configuration (which embeds
:class:`DSMConfig`) does not pull in scikit-learn and scipy for commands that map nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "AreaOfApplicability",
    "BD_PTFS",
    "CVResult",
    "CovariateLayer",
    "CovariateStack",
    "DSMConfig",
    "EqualAreaSpline",
    "FeatureEncoder",
    "METRICS",
    "ResidualKriging",
    "SOCStockModel",
    "SampleReport",
    "SpatialBlockKFold",
    "TrainedDSM",
    "ValidationResult",
    "bulk_density_ptf",
    "compute_stocks",
    "cross_validate",
    "evaluate",
    "load_config",
    "load_trained",
    "parse_config",
    "predict",
    "predict_grid",
    "prepare_samples",
    "run_cv",
    "soc_stock_t_ha",
    "train",
    "write_prediction",
]

_HOMES = {
    "AreaOfApplicability": "socseq.dsm.aoa",
    "BD_PTFS": "socseq.dsm.ptf",
    "CVResult": "socseq.dsm.validation",
    "CovariateLayer": "socseq.dsm.covariates",
    "CovariateStack": "socseq.dsm.covariates",
    "DSMConfig": "socseq.dsm.config",
    "EqualAreaSpline": "socseq.dsm.spline",
    "FeatureEncoder": "socseq.dsm.encoding",
    "METRICS": "socseq.dsm.validation",
    "ResidualKriging": "socseq.dsm.kriging",
    "SOCStockModel": "socseq.dsm.model",
    "SampleReport": "socseq.dsm.qa",
    "SpatialBlockKFold": "socseq.dsm.validation",
    "TrainedDSM": "socseq.dsm.api",
    "ValidationResult": "socseq.dsm.api",
    "bulk_density_ptf": "socseq.dsm.ptf",
    "compute_stocks": "socseq.dsm.stocks",
    "cross_validate": "socseq.dsm.validation",
    "evaluate": "socseq.dsm.validation",
    "load_config": "socseq.dsm.config",
    "load_trained": "socseq.dsm.api",
    "parse_config": "socseq.dsm.config",
    "predict": "socseq.dsm.api",
    "predict_grid": "socseq.dsm.prediction",
    "prepare_samples": "socseq.dsm.sampling",
    "run_cv": "socseq.dsm.api",
    "soc_stock_t_ha": "socseq.dsm.stocks",
    "train": "socseq.dsm.api",
    "write_prediction": "socseq.dsm.prediction",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'socseq.dsm' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
