"""Digital soil mapping of the baseline SOC stock: samples and covariates in, maps out.

- :mod:`socseq.dsm.stocks`: SOC stocks from concentrations, bulk density (measured or by
  pedotransfer function) and coarse fragments; depth harmonisation (weighted, equal-area
  spline).
- :mod:`socseq.dsm.covariates`: covariate rasters aligned on the template grid, values at
  points, one-hot encoding of class layers.
- :mod:`socseq.dsm.model`: :class:`SOCStockModel`, a scikit-learn regressor (quantile
  regression forest, random forest, gradient boosting; optional residual kriging).
- :mod:`socseq.dsm.validation`: spatially blocked and k-fold cross-validation, metrics.
- :mod:`socseq.dsm.aoa`: the area of applicability (Meyer & Pebesma 2021).
- :mod:`socseq.dsm.predict`: windowed prediction over the grid and COG/NetCDF outputs.
- :mod:`socseq.dsm.api`: :func:`run_cv`, :func:`train`, :func:`predict` from a
  :class:`DSMConfig` (the ``[dsm]`` section of the run configuration).
"""

from socseq.dsm.aoa import AreaOfApplicability
from socseq.dsm.api import (
    TrainedDSM,
    ValidationResult,
    load_trained,
    predict,
    prepare_samples,
    run_cv,
    train,
)
from socseq.dsm.config import DSMConfig, load_config, parse_config
from socseq.dsm.covariates import CovariateLayer, CovariateStack, FeatureEncoder
from socseq.dsm.kriging import ResidualKriging
from socseq.dsm.model import SOCStockModel
from socseq.dsm.predict import predict_grid, write_prediction
from socseq.dsm.ptf import BD_PTFS, bulk_density_ptf
from socseq.dsm.qa import SampleReport
from socseq.dsm.spline import EqualAreaSpline
from socseq.dsm.stocks import compute_stocks, soc_stock_t_ha
from socseq.dsm.validation import (
    METRICS,
    CVResult,
    SpatialBlockKFold,
    cross_validate,
    evaluate,
)

__all__ = [
    "BD_PTFS",
    "METRICS",
    "AreaOfApplicability",
    "CVResult",
    "CovariateLayer",
    "CovariateStack",
    "DSMConfig",
    "EqualAreaSpline",
    "FeatureEncoder",
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
