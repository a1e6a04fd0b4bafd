"""Area of applicability: where the model has seen similar covariates (Meyer & Pebesma 2021).

A model learnt from samples can only be trusted where the covariates resemble those at the
samples; elsewhere it extrapolates and its cross-validated accuracy does not hold. Meyer &
Pebesma's dissimilarity index (DI) measures this in the space of the predictors:

1. standardise every predictor with the training mean and standard deviation, and weight it
   by its importance in the model (unimportant predictors should not make a location look
   unfamiliar);
2. d̄ = mean distance between all pairs of training samples in that space;
3. DI of a location = distance to the nearest training sample / d̄;
4. the training DI of sample *i* is its distance to the nearest sample of the *other*
   cross-validation folds (the samples its CV prediction did not use) / d̄;
5. threshold = the outlier-removed maximum of the training DI: the largest value not above
   Q₃ + 1.5·IQR (the upper whisker of a boxplot, ``boxplot.stats`` in R's CAST package);
6. the area of applicability (AOA) is where DI ≤ threshold.

Categorical predictors enter as their 0/1 indicator columns (the model's encoding). Weights
are the model's impurity importances per encoded column.

Reference: Meyer, H., Pebesma, E. (2021) Predicting into unknown space? Estimating the area of
applicability of spatial prediction models. Methods in Ecology and Evolution 12, 1620–1633.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from socseq.exceptions import InputValidationError

__all__ = ["AreaOfApplicability"]


class AreaOfApplicability(BaseEstimator):
    """Dissimilarity index and its threshold, fitted on the training predictors.

    Parameters
    ----------
    max_pairs_samples : int, default 5000
        d̄ is computed exactly from all pairs up to this many training samples, and from a
        seeded random subset of this size above it.
    random_state : int, optional
        Seed of that subset.

    Attributes
    ----------
    center_, scale_ : numpy.ndarray
        Training mean and standard deviation per predictor (scale 1 for constant ones).
    weights_ : numpy.ndarray
        Importance weight per predictor.
    mean_distance_ : float
        d̄.
    training_di_ : numpy.ndarray
        DI of each training sample (step 4).
    threshold_ : float
        The AOA threshold (step 5).
    """

    def __init__(self, max_pairs_samples: int = 5000, random_state: int | None = None):
        self.max_pairs_samples = max_pairs_samples
        self.random_state = random_state

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, float) - self.center_) / self.scale_ * self.weights_

    def fit(
        self, X: np.ndarray, *, weights: np.ndarray | None = None, folds: np.ndarray | None = None
    ) -> AreaOfApplicability:
        """Fit on the encoded training predictors.

        Parameters
        ----------
        X : array-like (n_samples, n_predictors)
            Training predictors as the model sees them (encoded, finite).
        weights : array-like (n_predictors,), optional
            Importance of each predictor; equal weights by default.
        folds : array-like (n_samples,), optional
            Cross-validation fold of each sample; without it the training DI uses the nearest
            *other* sample.

        Returns
        -------
        AreaOfApplicability
            ``self``.
        """
        X = np.asarray(X, float)
        if X.ndim != 2 or len(X) < 2 or not np.isfinite(X).all():
            raise InputValidationError(
                "area of applicability: needs at least 2 training samples with finite "
                f"predictors, got shape {X.shape}"
            )
        self.center_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        self.weights_ = np.ones(X.shape[1]) if weights is None else np.asarray(weights, float)
        if self.weights_.shape != (X.shape[1],) or np.any(self.weights_ < 0):
            raise InputValidationError(
                f"area of applicability: weights must be {X.shape[1]} non-negative values"
            )
        train = self._scaled(X)
        sample = train
        if len(train) > self.max_pairs_samples:
            rng = np.random.default_rng(self.random_state)
            sample = train[rng.choice(len(train), self.max_pairs_samples, replace=False)]
        total, count = 0.0, 0
        for start in range(0, len(sample), 1024):
            block = cdist(sample[start : start + 1024], sample)
            total += block.sum()
            count += block.size
        # The zero self-distances are in the sum but not in the count of pairs.
        self.mean_distance_ = total / (count - len(sample))
        if self.mean_distance_ <= 0:
            raise InputValidationError(
                "area of applicability: all training samples have identical predictors"
            )

        if folds is None:
            dist, _ = cKDTree(train).query(train, k=2)
            nearest = dist[:, 1]
        else:
            folds = np.asarray(folds)
            nearest = np.empty(len(train))
            for fold in np.unique(folds):
                inside = folds == fold
                if inside.all():
                    raise InputValidationError(
                        "area of applicability: folds must split the samples into at least 2 groups"
                    )
                nearest[inside], _ = cKDTree(train[~inside]).query(train[inside], k=1)
        self.training_di_ = nearest / self.mean_distance_
        q1, q3 = np.percentile(self.training_di_, [25, 75])
        whisker = q3 + 1.5 * (q3 - q1)
        self.threshold_ = float(self.training_di_[self.training_di_ <= whisker].max())
        self.tree_ = cKDTree(train)
        return self

    def dissimilarity(self, X: np.ndarray) -> np.ndarray:
        """DI of new locations (dimensionless; NaN where a predictor is missing)."""
        check_is_fitted(self, "tree_")
        X = np.asarray(X, float)
        out = np.full(len(X), np.nan)
        finite = np.isfinite(X).all(axis=1)
        if finite.any():
            dist, _ = self.tree_.query(self._scaled(X[finite]), k=1)
            out[finite] = dist / self.mean_distance_
        return out

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (DI, inside AOA as 1.0/0.0, NaN where DI is NaN)."""
        di = self.dissimilarity(X)
        inside = np.where(np.isnan(di), np.nan, (di <= self.threshold_).astype(float))
        return di, inside
