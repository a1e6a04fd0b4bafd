"""Ordinary kriging of model residuals (the "regression kriging" option).

Regression kriging adds to the machine-learning prediction a kriged map of its residuals, so that
spatially correlated errors the covariates miss are corrected near the samples (Hengl et al.
2004). The residuals must be out-of-sample: in-sample residuals of a random forest are far too
small and would show no spatial structure. :class:`~socseq.dsm.model.SOCStockModel` passes
out-of-bag (forests) or out-of-fold (boosting) residuals.

Implementation: an empirical semivariogram with gstat's defaults (cut-off one third of the
diagonal of the sample extent, 15 equal lags; Pebesma 2004), an exponential or spherical model
fitted by weighted least squares with weights Nⱼ/hⱼ² (gstat ``fit.method = 7``), and ordinary
kriging in a local neighbourhood of the nearest samples, solved in batches so memory is bounded
by the batch size. The nugget is treated as measurement error and micro-scale variation and is
not reproduced at the sample locations (the kriged residual is smooth), but it is part of the
prediction variance.

References
----------
Hengl, T., Heuvelink, G.B.M., Stein, A. (2004) A generic framework for spatial prediction of
soil variables based on regression-kriging. Geoderma 120, 75–93. Pebesma, E.J. (2004)
Multivariable geostatistics in S: the gstat package. Computers & Geosciences 30, 683–691.
Webster, R., Oliver, M.A. (2007) Geostatistics for Environmental Scientists, 2nd ed., Wiley.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from socseq.exceptions import InputValidationError

__all__ = ["ResidualKriging"]

VariogramModel = Literal["exponential", "spherical"]


def _correlation(h: np.ndarray, range_m: float, model: VariogramModel) -> np.ndarray:
    """Correlation ρ(h) of the structured part; γ(h) = c₀ + c₁(1 − ρ(h)) for h > 0."""
    if model == "exponential":
        return np.exp(-h / range_m)
    ratio = np.minimum(h / range_m, 1.0)
    return 1.0 - 1.5 * ratio + 0.5 * ratio**3


class ResidualKriging(BaseEstimator):
    """Ordinary kriging of residuals in a local neighbourhood.

    Parameters
    ----------
    model : {"exponential", "spherical"}, default "exponential"
        Variogram model; for the exponential model the fitted range parameter *a* gives a
        practical range of 3a.
    n_neighbours : int, default 32
        Samples used for each prediction (the nearest ones).
    n_lags : int, default 15
        Lag classes of the empirical variogram.
    max_lag : float, optional
        Cut-off distance (m); default one third of the diagonal of the sample extent.
    max_points : int, default 5000
        Larger sample sets are subsampled (with ``random_state``) for the empirical variogram
        only, to bound the number of pairs.
    random_state : int, optional
        Seed of that subsample.

    Attributes
    ----------
    nugget_, psill_, range_ : float
        Fitted nugget c₀, partial sill c₁ (residual units²) and range parameter *a* (m).
    lags_, semivariance_, pair_counts_ : numpy.ndarray
        The empirical variogram (mean lag distance, semivariance, number of pairs per lag).
    """

    def __init__(
        self,
        model: VariogramModel = "exponential",
        n_neighbours: int = 32,
        n_lags: int = 15,
        max_lag: float | None = None,
        max_points: int = 5000,
        random_state: int | None = None,
    ):
        self.model = model
        self.n_neighbours = n_neighbours
        self.n_lags = n_lags
        self.max_lag = max_lag
        self.max_points = max_points
        self.random_state = random_state

    def _empirical(self, coords: np.ndarray, values: np.ndarray) -> None:
        if len(values) > self.max_points:
            rng = np.random.default_rng(self.random_state)
            keep = rng.choice(len(values), self.max_points, replace=False)
            coords, values = coords[keep], values[keep]
        extent = np.ptp(coords, axis=0)
        cutoff = self.max_lag if self.max_lag is not None else float(np.hypot(*extent[:2])) / 3
        pairs = cKDTree(coords).query_pairs(cutoff, output_type="ndarray")
        if len(pairs) == 0:
            raise InputValidationError(
                f"residual kriging: no pair of samples is closer than the cut-off {cutoff:g} m; "
                "increase max_lag or turn kriging off"
            )
        dist = np.linalg.norm(coords[pairs[:, 0]] - coords[pairs[:, 1]], axis=1)
        half_sq = 0.5 * (values[pairs[:, 0]] - values[pairs[:, 1]]) ** 2
        which = np.minimum((dist / cutoff * self.n_lags).astype(int), self.n_lags - 1)
        counts = np.bincount(which, minlength=self.n_lags)
        used = counts > 0
        self.pair_counts_ = counts[used]
        self.lags_ = np.bincount(which, dist, self.n_lags)[used] / self.pair_counts_
        self.semivariance_ = np.bincount(which, half_sq, self.n_lags)[used] / self.pair_counts_
        self.cutoff_ = cutoff

    def variogram(self, h: np.ndarray) -> np.ndarray:
        """Fitted semivariance γ(h) (0 at h = 0)."""
        check_is_fitted(self, "range_")
        h = np.asarray(h, float)
        gamma = self.nugget_ + self.psill_ * (1 - _correlation(h, self.range_, self.model))
        return np.where(h > 0, gamma, 0.0)

    def fit(self, coords: np.ndarray, residuals: np.ndarray) -> ResidualKriging:
        """Fit the variogram of ``residuals`` at planar ``coords`` (n, 2) in metres."""
        if self.model not in ("exponential", "spherical"):
            raise InputValidationError(
                f"residual kriging: variogram model '{self.model}' is not known; use "
                "exponential or spherical"
            )
        coords = np.asarray(coords, float)
        values = np.asarray(residuals, float)
        if len(values) < 3:
            raise InputValidationError(
                f"residual kriging: needs at least 3 samples, got {len(values)}; turn kriging off"
            )
        self._empirical(coords, values)
        variance = float(np.var(values))
        weights = np.sqrt(self.pair_counts_) / self.lags_  # least_squares squares them

        def residual(params: np.ndarray) -> np.ndarray:
            nugget, psill, range_m = params
            model = nugget + psill * (1 - _correlation(self.lags_, range_m, self.model))
            return weights * (model - self.semivariance_)

        upper_sill = max(2 * variance, float(self.semivariance_.max()), 1e-12)
        start = np.array(
            [
                min(float(self.semivariance_[0]), upper_sill),
                max(float(self.semivariance_.max() - self.semivariance_[0]), 1e-9 * upper_sill),
                self.cutoff_ / 3,
            ]
        )
        lower = np.array([0.0, 0.0, self.cutoff_ / 100])
        upper = np.array([upper_sill, upper_sill, 3 * self.cutoff_])
        fit = least_squares(residual, np.clip(start, lower, upper), bounds=(lower, upper))
        self.nugget_, self.psill_, self.range_ = (float(v) for v in fit.x)
        self.coords_ = coords
        self.values_ = values
        self.tree_ = cKDTree(coords)
        return self

    def predict(
        self, coords: np.ndarray, *, return_variance: bool = False, batch_size: int = 4096
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Krige the residual at planar ``coords`` (m, 2).

        Returns
        -------
        numpy.ndarray or (numpy.ndarray, numpy.ndarray)
            Kriged residual, and with ``return_variance`` the ordinary kriging variance of a
            new observation, σ² = c₀ + c₁ − Σ wᵢ cᵢ − μ (residual units²).
        """
        check_is_fitted(self, "tree_")
        coords = np.asarray(coords, float)
        k = min(self.n_neighbours, len(self.values_))
        estimate = np.empty(len(coords))
        variance = np.empty(len(coords))
        sill = self.nugget_ + self.psill_
        if self.psill_ <= 1e-12 * max(sill, 1e-300):
            # Pure nugget: no spatial structure, the best estimate is the mean residual.
            estimate[:] = self.values_.mean()
            variance[:] = sill * (1 + 1 / len(self.values_))
            return (estimate, variance) if return_variance else estimate
        for start in range(0, len(coords), batch_size):
            stop = min(start + batch_size, len(coords))
            dist, idx = self.tree_.query(coords[start:stop], k=k)
            dist, idx = dist.reshape(stop - start, k), idx.reshape(stop - start, k)
            near = self.coords_[idx]
            pair = np.linalg.norm(near[:, :, None, :] - near[:, None, :, :], axis=-1)
            system = np.ones((stop - start, k + 1, k + 1))
            system[:, :k, :k] = self.psill_ * _correlation(pair, self.range_, self.model)
            # The nugget sits on the diagonal only; a tiny ridge keeps coincident samples solvable.
            system[:, np.arange(k), np.arange(k)] += self.nugget_ + 1e-10 * sill
            system[:, k, k] = 0.0
            rhs = np.ones((stop - start, k + 1))
            rhs[:, :k] = self.psill_ * _correlation(dist, self.range_, self.model)
            solution = np.linalg.solve(system, rhs[..., None])[..., 0]
            weights, lagrange = solution[:, :k], solution[:, k]
            estimate[start:stop] = np.sum(weights * self.values_[idx], axis=1)
            variance[start:stop] = sill - np.sum(weights * rhs[:, :k], axis=1) - lagrange
        return (estimate, variance) if return_variance else estimate
