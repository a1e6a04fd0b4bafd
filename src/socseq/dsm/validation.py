"""Validation: spatially blocked and plain k-fold cross-validation, metrics, importance.

Samples close together are alike, so random k-fold cross-validation of a map model tests it
mostly on near-copies of its training data and overstates its accuracy wherever the map lies far
from samples. :class:`SpatialBlockKFold` therefore holds out whole square blocks of the region
(Roberts et al. 2017), like verde's ``BlockKFold``; plain k-fold and an independent test set
are available too and reported beside it.

Metrics (:data:`METRICS`), with o observed and p predicted values over n samples:

- ME = mean(p − o), the bias (positive: the map overestimates);
- MAE = mean(|p − o|); RMSE = √mean((p − o)²);
- R² = squared Pearson correlation of o and p (how much of o's variation p follows, ignoring
  bias and scale);
- MEC = 1 − Σ(p − o)² / Σ(o − ō)², the modelling efficiency coefficient (Nash & Sutcliffe 1970;
  also "amount of variance explained", AVE, in the FAO Cookbook): 1 is perfect, 0 no better
  than the mean of the observations;
- CCC = 2 s_op / (s_o² + s_p² + (ō − p̄)²), Lin's (1989) concordance correlation coefficient
  with 1/n moments: agreement with the 1:1 line;
- PICP90 = share of observations inside their 90 % prediction interval [q05, q95]; 0.90 when
  the intervals are honest (Shrestha & Solomatine 2006).

References
----------
Lin, L.I. (1989) A concordance correlation coefficient to evaluate reproducibility. Biometrics
45, 255–268. Nash, J.E., Sutcliffe, J.V. (1970) River flow forecasting through conceptual models
part I. J. Hydrol. 10, 282–290. Roberts, D.R. et al. (2017) Cross-validation strategies for data
with temporal, spatial, hierarchical, or phylogenetic structure. Ecography 40, 913–929.
Shrestha, D.L., Solomatine, D.P. (2006) Machine learning approaches for estimation of prediction
interval for the model output. Neural Networks 19, 225–235.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import BaseCrossValidator, KFold

from socseq.dsm.model import SOCStockModel
from socseq.exceptions import InputValidationError

__all__ = [
    "METRICS",
    "CVResult",
    "SpatialBlockKFold",
    "concordance_correlation",
    "cross_validate",
    "evaluate",
    "mean_absolute_error",
    "mean_error",
    "model_efficiency",
    "picp",
    "r_squared",
    "root_mean_squared_error",
]


def _pair(observed: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    o, p = np.asarray(observed, float).ravel(), np.asarray(predicted, float).ravel()
    if o.shape != p.shape or o.size == 0:
        raise InputValidationError(
            f"metrics: observed ({o.size}) and predicted ({p.size}) must be non-empty and of "
            "equal length"
        )
    return o, p


def mean_error(observed: np.ndarray, predicted: np.ndarray) -> float:
    """ME = mean(p − o), same units as the data (positive: overestimation)."""
    o, p = _pair(observed, predicted)
    return float(np.mean(p - o))


def mean_absolute_error(observed: np.ndarray, predicted: np.ndarray) -> float:
    """MAE = mean(|p − o|), same units as the data."""
    o, p = _pair(observed, predicted)
    return float(np.mean(np.abs(p - o)))


def root_mean_squared_error(observed: np.ndarray, predicted: np.ndarray) -> float:
    """RMSE = √mean((p − o)²), same units as the data."""
    o, p = _pair(observed, predicted)
    return float(np.sqrt(np.mean((p - o) ** 2)))


def r_squared(observed: np.ndarray, predicted: np.ndarray) -> float:
    """R² = squared Pearson correlation coefficient of o and p (dimensionless)."""
    o, p = _pair(observed, predicted)
    if np.std(o) == 0 or np.std(p) == 0:
        return float("nan")
    return float(np.corrcoef(o, p)[0, 1] ** 2)


def model_efficiency(observed: np.ndarray, predicted: np.ndarray) -> float:
    """MEC = 1 − Σ(p − o)² / Σ(o − ō)² (Nash–Sutcliffe efficiency, dimensionless)."""
    o, p = _pair(observed, predicted)
    total = np.sum((o - o.mean()) ** 2)
    return float(1 - np.sum((p - o) ** 2) / total) if total > 0 else float("nan")


def concordance_correlation(observed: np.ndarray, predicted: np.ndarray) -> float:
    """Lin's CCC = 2 s_op / (s_o² + s_p² + (ō − p̄)²) with 1/n moments (dimensionless)."""
    o, p = _pair(observed, predicted)
    cov = np.mean((o - o.mean()) * (p - p.mean()))
    denominator = o.var() + p.var() + (o.mean() - p.mean()) ** 2
    return float(2 * cov / denominator) if denominator > 0 else float("nan")


def picp(observed: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Prediction interval coverage probability: share of o with lower ≤ o ≤ upper."""
    o, lo = _pair(observed, lower)
    _, hi = _pair(observed, upper)
    return float(np.mean((o >= lo) & (o <= hi)))


#: Point-prediction metrics by name.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "ME": mean_error,
    "MAE": mean_absolute_error,
    "RMSE": root_mean_squared_error,
    "R2": r_squared,
    "MEC": model_efficiency,
    "CCC": concordance_correlation,
}


def evaluate(
    observed: np.ndarray,
    predicted: np.ndarray,
    *,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    scale: float = 1.0,
) -> dict[str, float]:
    """All :data:`METRICS`, plus ``PICP90`` when the 90 % interval bounds are given.

    Parameters
    ----------
    observed, predicted : array-like
        Observed and predicted values.
    lower, upper : array-like, optional
        Bounds of the 90 % prediction interval (q05, q95).
    scale : float, default 1
        Factor applied to the data before ME, MAE and RMSE (e.g. 0.1 for t/ha → kg/m²);
        the other metrics do not depend on it.

    Returns
    -------
    dict
        ``n`` and the metrics by name.
    """
    o, p = _pair(observed, predicted)
    out: dict[str, float] = {"n": int(o.size)}
    for name, metric in METRICS.items():
        factor = scale if name in ("ME", "MAE", "RMSE") else 1.0
        out[name] = metric(o * factor, p * factor)
    if lower is not None and upper is not None:
        out["PICP90"] = picp(o, np.asarray(lower, float), np.asarray(upper, float))
    return out


class SpatialBlockKFold(BaseCrossValidator):
    """K-fold cross-validation over square spatial blocks.

    The region is cut into squares of ``block_size``; whole blocks are dealt to the folds, so
    no block is split between training and validation. Blocks are shuffled and then dealt
    largest first, each to the fold with the fewest samples so far, which keeps the folds of
    similar size.

    Parameters
    ----------
    n_splits : int, default 5
        Number of folds.
    block_size : float, default 10000
        Side of the blocks, in the units of the coordinates (metres for the planar
        coordinates of :class:`~socseq.dsm.geometry.PlanarFrame`).
    random_state : int, optional
        Seed of the shuffle.

    Notes
    -----
    ``split`` takes the (n, 2) *coordinates* of the samples as ``X``, like verde's
    ``BlockKFold``; pass ``cv=list(splitter.split(coords))`` to scikit-learn's
    ``cross_validate`` or ``GridSearchCV``.
    """

    def __init__(
        self, n_splits: int = 5, block_size: float = 10_000.0, random_state: int | None = None
    ):
        self.n_splits = n_splits
        self.block_size = block_size
        self.random_state = random_state

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        """Return the number of folds."""
        return self.n_splits

    def block_ids(self, coords: np.ndarray) -> np.ndarray:
        """Label of the block holding each point (integers, consecutive from 0)."""
        xy = np.asarray(coords, float)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise InputValidationError(
                f"SpatialBlockKFold: coordinates must have shape (n, 2), got {xy.shape}"
            )
        if self.block_size <= 0:
            raise InputValidationError(
                f"SpatialBlockKFold: block_size {self.block_size} must be positive"
            )
        cells = np.floor((xy - xy.min(axis=0)) / self.block_size).astype(np.int64)
        _, labels = np.unique(cells, axis=0, return_inverse=True)
        return labels.ravel()

    def fold_ids(self, coords: np.ndarray) -> np.ndarray:
        """Fold (0 … n_splits − 1) of each point."""
        labels = self.block_ids(coords)
        n_blocks = int(labels.max()) + 1
        if n_blocks < self.n_splits:
            raise InputValidationError(
                f"SpatialBlockKFold: only {n_blocks} block(s) of {self.block_size:g} hold "
                f"samples, fewer than the {self.n_splits} folds; use a smaller block_size"
            )
        sizes = np.bincount(labels, minlength=n_blocks)
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(n_blocks)
        order = order[np.argsort(-sizes[order], kind="stable")]
        fold_of_block = np.empty(n_blocks, dtype=int)
        load = np.zeros(self.n_splits, dtype=int)
        for block in order:
            fold = int(np.argmin(load))
            fold_of_block[block] = fold
            load[fold] += sizes[block]
        return fold_of_block[labels]

    def _iter_test_indices(
        self, X: np.ndarray, y: object = None, groups: object = None
    ) -> Iterator[np.ndarray]:
        folds = self.fold_ids(np.asarray(X))
        for fold in range(self.n_splits):
            yield np.flatnonzero(folds == fold)


@dataclass
class CVResult:
    """Cross-validation results.

    Attributes
    ----------
    predictions : pandas.DataFrame
        Out-of-fold predictions: ``sample_id``, ``fold``, ``observed_t_ha``, ``mean_t_ha``,
        ``median_t_ha``, ``q05_t_ha``, ``q95_t_ha``, ``sd_t_ha``.
    metrics : dict
        Metrics of all out-of-fold predictions pooled (:func:`evaluate`).
    fold_metrics : pandas.DataFrame
        The same per fold.
    importance : pandas.DataFrame
        Per covariate: ``permutation_rmse_increase_t_ha`` (mean over folds of the increase of
        the held-out RMSE when the covariate is shuffled) and its standard deviation, and
        ``impurity`` (mean impurity importance of the fold models).
    method : str
        ``"spatial"`` or ``"kfold"``.
    """

    predictions: pd.DataFrame
    metrics: dict[str, float]
    fold_metrics: pd.DataFrame
    importance: pd.DataFrame
    method: str


def _rows(X: pd.DataFrame | np.ndarray, index: np.ndarray) -> pd.DataFrame | np.ndarray:
    return X.iloc[index] if isinstance(X, pd.DataFrame) else np.asarray(X)[index]


def _permuted(
    X: pd.DataFrame | np.ndarray, column: int, rng: np.random.Generator
) -> pd.DataFrame | np.ndarray:
    if isinstance(X, pd.DataFrame):
        out = X.copy()
        out.iloc[:, column] = rng.permutation(out.iloc[:, column].to_numpy())
        return out
    out = np.array(X, dtype=float, copy=True)
    out[:, column] = rng.permutation(out[:, column])
    return out


def cross_validate(
    model: SOCStockModel,
    X: pd.DataFrame | np.ndarray,
    y: np.ndarray,
    *,
    coords: np.ndarray,
    method: str = "spatial",
    n_splits: int = 5,
    block_size: float = 10_000.0,
    random_state: int | None = None,
    sample_ids: Sequence[str] | None = None,
    importance: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> CVResult:
    """Cross-validate a model: out-of-fold predictions, metrics and covariate importance.

    Parameters
    ----------
    model : SOCStockModel
        An unfitted template (cloned for every fold).
    X : pandas.DataFrame or array-like
        Covariates at the samples.
    y : array-like
        Observed stocks (t C/ha).
    coords : array-like (n, 2)
        Planar coordinates (m) of the samples, for the blocks and for kriging.
    method : {"spatial", "kfold"}, default "spatial"
        Spatially blocked (:class:`SpatialBlockKFold`) or plain shuffled k-fold.
    n_splits : int, default 5
        Number of folds.
    block_size : float, default 10000
        Block side (m) for ``"spatial"``.
    random_state : int, optional
        Seed of the fold assignment and of the permutations.
    sample_ids : sequence of str, optional
        Identifiers carried into the predictions table.
    importance : bool, default True
        Compute permutation importance on the held-out folds (one extra mean prediction per
        covariate and fold).
    progress : callable, optional
        Called as ``progress(done, total)`` after each fold.

    Returns
    -------
    CVResult
    """
    y = np.asarray(y, float)
    coords = np.asarray(coords, float)
    n = len(y)
    if method == "spatial":
        splitter: BaseCrossValidator = SpatialBlockKFold(n_splits, block_size, random_state)
        splits = list(splitter.split(coords))
    elif method == "kfold":
        splits = list(KFold(n_splits, shuffle=True, random_state=random_state).split(coords))
    else:
        raise InputValidationError(
            f"cross-validation: method '{method}' is not known; use spatial or kfold"
        )
    columns = list(X.columns) if isinstance(X, pd.DataFrame) else list(range(np.shape(X)[1]))
    rng = np.random.default_rng(random_state)
    fold = np.empty(n, dtype=int)
    mean, sd = np.empty(n), np.empty(n)
    qs = np.empty((n, 3))
    fold_rows, perm_rows, impurity = [], [], []
    for k, (train, test) in enumerate(splits):
        fitted = clone(model).fit(_rows(X, train), y[train], coords=coords[train])
        held = _rows(X, test)
        dist = fitted.predict_distribution(held, coords=coords[test])
        fold[test] = k
        mean[test], sd[test], qs[test] = dist["mean"], dist["sd"], dist["quantiles"]
        fold_rows.append(
            {"fold": k, **evaluate(y[test], mean[test], lower=qs[test, 0], upper=qs[test, 2])}
        )
        impurity.append(fitted.feature_importances_)
        if importance:
            base = root_mean_squared_error(y[test], mean[test])
            # One prediction call over all shuffled copies: the forest's per-call overhead
            # exceeds its per-row cost at these sizes.
            copies = [_permuted(held, j, rng) for j in range(len(columns))]
            stacked = (
                pd.concat(copies, ignore_index=True)
                if isinstance(held, pd.DataFrame)
                else np.vstack(copies)
            )
            shuffled = fitted.predict(stacked, coords=np.tile(coords[test], (len(columns), 1)))
            for j, column in enumerate(columns):
                part = shuffled[j * len(test) : (j + 1) * len(test)]
                perm_rows.append(
                    {
                        "covariate": str(column),
                        "fold": k,
                        "increase": root_mean_squared_error(y[test], part) - base,
                    }
                )
        if progress is not None:
            progress(k + 1, len(splits))

    predictions = pd.DataFrame(
        {
            "sample_id": list(sample_ids) if sample_ids is not None else np.arange(n).astype(str),
            "fold": fold,
            "observed_t_ha": y,
            "mean_t_ha": mean,
            "median_t_ha": qs[:, 1],
            "q05_t_ha": qs[:, 0],
            "q95_t_ha": qs[:, 2],
            "sd_t_ha": sd,
        }
    )
    table = pd.DataFrame(
        {"covariate": [str(c) for c in columns], "impurity": np.mean(impurity, axis=0)}
    )
    if perm_rows:
        perm = pd.DataFrame(perm_rows).groupby("covariate", sort=False)["increase"]
        table["permutation_rmse_increase_t_ha"] = table["covariate"].map(perm.mean())
        table["permutation_sd_t_ha"] = table["covariate"].map(perm.std(ddof=0))
        table = table.sort_values("permutation_rmse_increase_t_ha", ascending=False)
    else:
        table = table.sort_values("impurity", ascending=False)
    return CVResult(
        predictions=predictions,
        metrics=evaluate(y, mean, lower=qs[:, 0], upper=qs[:, 2]),
        fold_metrics=pd.DataFrame(fold_rows),
        importance=table.reset_index(drop=True),
        method=method,
    )
