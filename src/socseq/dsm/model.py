"""The SOC stock model: a scikit-learn regressor with prediction quantiles and optional kriging.

:class:`SOCStockModel` follows the scikit-learn estimator contract (``__init__`` only stores
hyper-parameters, ``fit`` validates and returns ``self``, fitted attributes end in ``_``), so it
works with ``clone``, ``GridSearchCV`` and the spatial splitters of
:mod:`socseq.dsm.validation`. Three learners are available:

``"qrf"`` (default)
    Quantile regression forest (Meinshausen 2006, package ``quantile-forest``): the forest's
    leaves keep all their training values, so each prediction is a whole conditional
    distribution; mean, quantiles and standard deviation all come from it, and the
    prediction interval widens where the data are noisier.
``"rf"``
    Random forest (Breiman 2001). Prediction intervals are the mean plus the empirical
    quantiles of the out-of-bag residuals (constant width, as in split-conformal
    prediction, Lei et al. 2018).
``"gbm"``
    Gradient boosting (Friedman 2001). Intervals as for ``"rf"``, from 5-fold out-of-fold
    residuals.

With ``kriging=True`` the out-of-sample residuals are kriged (:class:`ResidualKriging`) and the
kriged residual is added to the mean and, as a shift, to every quantile (regression kriging).

References
----------
Breiman, L. (2001) Random forests. Machine Learning 45, 5–32. Friedman, J.H. (2001) Greedy
function approximation: a gradient boosting machine. Ann. Stat. 29, 1189–1232. Lei, J.,
G'Sell, M., Rinaldo, A., Tibshirani, R.J., Wasserman, L. (2018) Distribution-free predictive
inference for regression. JASA 113, 1094–1111. Meinshausen, N. (2006) Quantile regression
forests. JMLR 7, 983–999.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from quantile_forest import RandomForestQuantileRegressor
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.utils.validation import check_is_fitted, validate_data

from socseq.dsm.encoding import FeatureEncoder
from socseq.dsm.kriging import ResidualKriging
from socseq.exceptions import InputValidationError

__all__ = ["METHODS", "SOCStockModel"]

#: The learners :class:`SOCStockModel` can wrap.
METHODS = ("qrf", "rf", "gbm")

#: Probability levels (k + ½)/K, K = 50, whose quantiles approximate the QRF's conditional
#: distribution for its standard deviation: Var = ∫₀¹ (F⁻¹(p) − μ)² dp by the midpoint rule.
_SD_LEVELS = (np.arange(50) + 0.5) / 50


class SOCStockModel(RegressorMixin, BaseEstimator):
    """Predict SOC stocks with their uncertainty from covariates.

    ``RegressorMixin`` comes before ``BaseEstimator``, the order scikit-learn requires for
    its mixins to take effect.

    Parameters
    ----------
    method : {"qrf", "rf", "gbm"}, default "qrf"
        Learner (see the module docstring).
    n_estimators : int, default 500
        Trees (forests) or boosting stages (gbm).
    max_features : float, int, "sqrt" or None, default 1/3
        Covariates tried at each split (forests; a fraction, a count, or all with None);
        1/3 is Breiman's default for regression.
    min_samples_leaf : int, default 5
        Smallest leaf. For QRF it also sets how many values make up each leaf's share of the
        conditional distribution: too small and the intervals are too narrow.
    max_depth : int, optional
        Tree depth limit; ``None`` grows forests fully and uses depth 3 for gbm.
    learning_rate : float, default 0.05
        Shrinkage (gbm only).
    subsample : float, default 0.8
        Fraction of samples per boosting stage (gbm only; stochastic gradient boosting).
    categorical : sequence of str or int, default ()
        Categorical covariates, one-hot encoded (:class:`~socseq.dsm.encoding.FeatureEncoder`).
    kriging : bool, default False
        Add ordinary kriging of the out-of-sample residuals; ``fit`` and every prediction
        then need ``coords``.
    kriging_neighbours : int, default 32
        Neighbourhood size of the kriging.
    variogram : {"exponential", "spherical"}, default "exponential"
        Variogram model of the residuals.
    random_state : int, optional
        Seed; the same seed and data give the same model.
    n_jobs : int, optional
        Parallel jobs for the forests (``None``: 1, ``-1``: all cores).

    Attributes
    ----------
    encoder_ : FeatureEncoder
        The fitted covariate encoding.
    regressor_ : estimator
        The fitted learner.
    oos_residuals_ : numpy.ndarray or None
        Out-of-bag (forests) or out-of-fold (gbm) residuals, observed − predicted; NaN for a
        sample that no tree left out. ``None`` for qrf without kriging, which needs none.
    kriging_ : ResidualKriging or None
        The fitted residual kriging.
    feature_importances_ : numpy.ndarray
        Impurity importance per input covariate (indicator columns of a categorical covariate
        added up), summing to 1.
    n_features_in_ : int
        Number of input covariates; ``feature_names_in_`` when fitted on a DataFrame.
    """

    def __init__(
        self,
        method: Literal["qrf", "rf", "gbm"] = "qrf",
        *,
        n_estimators: int = 500,
        max_features: float | int | str | None = 1 / 3,
        min_samples_leaf: int = 5,
        max_depth: int | None = None,
        learning_rate: float = 0.05,
        subsample: float = 0.8,
        categorical: Sequence[str | int] = (),
        kriging: bool = False,
        kriging_neighbours: int = 32,
        variogram: Literal["exponential", "spherical"] = "exponential",
        random_state: int | None = None,
        n_jobs: int | None = None,
    ):
        self.method = method
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.categorical = categorical
        self.kriging = kriging
        self.kriging_neighbours = kriging_neighbours
        self.variogram = variogram
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- construction ------------------------------------------------------------------------

    def _make_regressor(self) -> BaseEstimator:
        if self.method == "qrf":
            # One randomly chosen training value per leaf, as R's quantregForest has done
            # since version 1.0: the same conditional distribution in expectation as keeping
            # all of them (Meinshausen 2006), at a fraction of the memory and about a fifth
            # of the prediction time with min_samples_leaf = 10.
            return RandomForestQuantileRegressor(
                n_estimators=self.n_estimators,
                max_features=self.max_features,
                min_samples_leaf=self.min_samples_leaf,
                max_depth=self.max_depth,
                max_samples_leaf=1,
                random_state=self.random_state,
                n_jobs=self.n_jobs,
            )
        if self.method == "rf":
            return RandomForestRegressor(
                n_estimators=self.n_estimators,
                max_features=self.max_features,
                min_samples_leaf=self.min_samples_leaf,
                max_depth=self.max_depth,
                oob_score=True,
                random_state=self.random_state,
                n_jobs=self.n_jobs,
            )
        if self.method == "gbm":
            return GradientBoostingRegressor(
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                max_depth=self.max_depth if self.max_depth is not None else 3,
                min_samples_leaf=self.min_samples_leaf,
                subsample=self.subsample,
                max_features=self.max_features,
                random_state=self.random_state,
            )
        raise InputValidationError(
            f"SOCStockModel: method '{self.method}' is not known; use one of {', '.join(METHODS)}"
        )

    def _encode(
        self, X: pd.DataFrame | np.ndarray, y: np.ndarray | None = None, *, reset: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Validate X (and y) with scikit-learn's checks and encode X.

        Only class codes may be missing (encoded as "no class"); without categorical
        covariates scikit-learn's own check refuses NaN.
        """
        finite = "allow-nan" if len(self.categorical) else True
        if y is None:
            checked = validate_data(self, X, reset=reset, ensure_all_finite=finite)
            target = None
        else:
            checked, target = validate_data(
                self, X, y, reset=reset, ensure_all_finite=finite, y_numeric=True
            )
        array = X if isinstance(X, pd.DataFrame) else checked
        if reset:
            self.encoder_ = FeatureEncoder(self.categorical).fit(array)
        encoded = self.encoder_.transform(array)
        if not np.isfinite(encoded).all():
            bad = int(np.flatnonzero(~np.isfinite(encoded).all(axis=1))[0])
            raise InputValidationError(
                f"SOCStockModel: row {bad} has a missing value in a continuous covariate; "
                "drop samples or cells without covariate values first"
            )
        return encoded, target

    def _check_coords(self, coords: np.ndarray | None, n: int) -> np.ndarray:
        if coords is None:
            raise InputValidationError(
                "SOCStockModel: kriging=True needs coords (planar x, y in metres of every "
                "sample or cell); pass coords= or set kriging=False"
            )
        coords = np.asarray(coords, float)
        if coords.shape != (n, 2):
            raise InputValidationError(
                f"SOCStockModel: coords has shape {coords.shape}, expected ({n}, 2)"
            )
        return coords

    # -- fitting -----------------------------------------------------------------------------

    def fit(
        self, X: pd.DataFrame | np.ndarray, y: np.ndarray, *, coords: np.ndarray | None = None
    ) -> SOCStockModel:
        """Fit the learner (and the residual kriging).

        Parameters
        ----------
        X : pandas.DataFrame or array-like (n_samples, n_covariates)
            Covariates at the samples; categorical columns hold class codes.
        y : array-like (n_samples,)
            SOC stocks (t C/ha).
        coords : array-like (n_samples, 2), optional
            Planar coordinates in metres (:class:`~socseq.dsm.geometry.PlanarFrame`); needed
            when ``kriging``.

        Returns
        -------
        SOCStockModel
            ``self``.
        """
        if y is None:  # scikit-learn's message for this misuse of the API
            raise ValueError("SOCStockModel requires y to be passed, but the target y is None")
        encoded, checked_y = self._encode(X, y, reset=True)
        target = np.asarray(checked_y, dtype=float).ravel()
        points = self._check_coords(coords, len(target)) if self.kriging else None
        self.regressor_ = self._make_regressor()
        self.regressor_.fit(encoded, target)

        self.oos_residuals_ = None
        if self.method == "qrf" and self.kriging:
            oos = self.regressor_.predict(encoded, quantiles="mean", oob_score=True)
            self.oos_residuals_ = target - np.asarray(oos, float)
        elif self.method == "rf":
            self.oos_residuals_ = target - np.asarray(self.regressor_.oob_prediction_, float)
        elif self.method == "gbm":
            folds = KFold(5, shuffle=True, random_state=self.random_state)
            oos = cross_val_predict(self._make_regressor(), encoded, target, cv=folds)
            self.oos_residuals_ = target - np.asarray(oos, float)

        self.kriging_ = None
        if points is not None and self.oos_residuals_ is not None:
            known = np.isfinite(self.oos_residuals_)
            self.kriging_ = ResidualKriging(
                model=self.variogram,
                n_neighbours=self.kriging_neighbours,
                random_state=self.random_state,
            ).fit(points[known], self.oos_residuals_[known])

        importances = np.asarray(self.regressor_.feature_importances_, float)
        per_input = np.bincount(self.encoder_.source_, importances, self.n_features_in_)
        self.feature_importances_ = per_input / per_input.sum() if per_input.sum() else per_input
        return self

    # -- prediction --------------------------------------------------------------------------

    def _kriged(self, coords: np.ndarray | None, n: int) -> np.ndarray:
        if self.kriging_ is None:
            return np.zeros(n)
        return np.asarray(self.kriging_.predict(self._check_coords(coords, n)))

    def predict(
        self, X: pd.DataFrame | np.ndarray, *, coords: np.ndarray | None = None
    ) -> np.ndarray:
        """Mean SOC stock (t C/ha) at each row of ``X``."""
        check_is_fitted(self, "regressor_")
        encoded, _ = self._encode(X, reset=False)
        if self.method == "qrf":
            mean = self.regressor_.predict(encoded, quantiles="mean")
        else:
            mean = self.regressor_.predict(encoded)
        return np.asarray(mean, float) + self._kriged(coords, len(encoded))

    def predict_quantiles(
        self,
        X: pd.DataFrame | np.ndarray,
        quantiles: Sequence[float],
        *,
        coords: np.ndarray | None = None,
    ) -> np.ndarray:
        """Quantiles of the predictive distribution (t C/ha), shape (n_samples, n_quantiles)."""
        return self.predict_distribution(X, quantiles=quantiles, coords=coords)["quantiles"]

    def predict_distribution(
        self,
        X: pd.DataFrame | np.ndarray,
        *,
        quantiles: Sequence[float] = (0.05, 0.5, 0.95),
        coords: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Mean, standard deviation and quantiles of the predictive distribution in one pass.

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            Covariates.
        quantiles : sequence of float, default (0.05, 0.5, 0.95)
            Probability levels in (0, 1).
        coords : array-like (n, 2), optional
            Planar coordinates (m), needed when the model kriges residuals.

        Returns
        -------
        dict
            ``"mean"`` (n,), ``"sd"`` (n,) and ``"quantiles"`` (n, len(quantiles)), all in
            t C/ha. QRF: the SD is that of the forest's conditional distribution, from 50 of
            its quantiles; rf/gbm: the SD of the out-of-sample residuals.
        """
        check_is_fitted(self, "regressor_")
        levels = np.asarray(quantiles, float)
        if levels.ndim != 1 or np.any((levels <= 0) | (levels >= 1)):
            raise InputValidationError(
                f"SOCStockModel: quantiles {list(quantiles)} must lie strictly between 0 and 1"
            )
        encoded, _ = self._encode(X, reset=False)
        n = len(encoded)
        if self.method == "qrf":
            mean = np.asarray(self.regressor_.predict(encoded, quantiles="mean"), float)
            # One call for both sets of levels: the forest's leaves are visited once.
            wanted = np.unique(np.concatenate([levels, _SD_LEVELS]))
            values = np.asarray(self.regressor_.predict(encoded, quantiles=list(wanted)), float)
            values = values.reshape(n, len(wanted))
            grid = values[:, np.searchsorted(wanted, _SD_LEVELS)]
            sd = np.sqrt(np.maximum(np.mean(grid**2, axis=1) - np.mean(grid, axis=1) ** 2, 0))
            qs = values[:, np.searchsorted(wanted, levels)]
        else:
            mean = np.asarray(self.regressor_.predict(encoded), float)
            assert self.oos_residuals_ is not None  # rf and gbm always keep them
            residuals = self.oos_residuals_[np.isfinite(self.oos_residuals_)]
            qs = mean[:, None] + np.quantile(residuals, levels)[None, :]
            sd = np.full(n, float(np.std(residuals)))
        shift = self._kriged(coords, n)
        return {"mean": mean + shift, "sd": sd, "quantiles": qs + shift[:, None]}
