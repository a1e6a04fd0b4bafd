"""One-hot encoding of the class covariates, as the SOC stock model sees its features.

Class layers (land cover, soil map units) keep their codes in the covariate stack
(:mod:`socseq.dsm.covariates`); :class:`FeatureEncoder` turns each into indicator columns, since
a tree split on a code number would otherwise order land-cover classes as if they were
quantities. It is a scikit-learn transformer, so it lives apart from the covariate stack, which
``socseq validate`` uses without scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from socseq.exceptions import InputValidationError

__all__ = ["FeatureEncoder"]


class FeatureEncoder(TransformerMixin, BaseEstimator):
    """Pass continuous covariates through and one-hot encode categorical ones.

    Parameters
    ----------
    categorical : sequence of str or int, default ()
        Categorical columns: names (for DataFrames) or positions (for arrays).

    Attributes
    ----------
    columns_ : list
        Input columns seen in ``fit`` (names, or positions for arrays).
    categories_ : dict
        Category codes seen in ``fit`` per categorical column, sorted.
    feature_names_out_ : list of str
        Encoded column names (``"LCEE10=2"`` for indicators).
    source_ : numpy.ndarray of int
        For every encoded column, the index of the input column it comes from (to add up
        importances per covariate).

    Notes
    -----
    A class code not seen in ``fit``, or missing (NaN), sets all indicators of its layer to 0,
    i.e. "none of the known classes"; the model then predicts from the other covariates.
    """

    def __init__(self, categorical: Sequence[str | int] = ()):
        self.categorical = categorical

    def _columns(self, X: pd.DataFrame | np.ndarray) -> list[str | int]:
        if isinstance(X, pd.DataFrame):
            return list(X.columns)
        return list(range(np.asarray(X).shape[1]))

    @staticmethod
    def _column(X: pd.DataFrame | np.ndarray, key: str | int) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            return X[key].to_numpy(dtype=float)
        return np.asarray(X, dtype=float)[:, int(key)]

    def fit(self, X: pd.DataFrame | np.ndarray, y: object = None) -> FeatureEncoder:
        """Learn the columns and the categories of the categorical ones."""
        columns = self._columns(X)
        unknown = [c for c in self.categorical if c not in columns]
        if unknown:
            raise InputValidationError(
                f"categorical covariate '{unknown[0]}' is not among the covariates "
                f"({', '.join(map(str, columns))}); check the names"
            )
        self.columns_ = columns
        self.categories_ = {}
        names, source = [], []
        for i, col in enumerate(columns):
            if col in self.categorical:
                values = self._column(X, col)
                codes = np.unique(values[np.isfinite(values)])
                self.categories_[col] = codes
                names += [f"{col}={code:g}" for code in codes]
                source += [i] * len(codes)
            else:
                names.append(str(col))
                source.append(i)
        self.feature_names_out_ = names
        self.source_ = np.asarray(source, dtype=int)
        return self

    def transform(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Return the encoded float64 matrix (n_samples, len(feature_names_out_))."""
        check_is_fitted(self, "columns_")
        columns = self._columns(X)
        if columns != self.columns_:
            raise InputValidationError(
                f"covariates ({', '.join(map(str, columns))}) differ from those the model was "
                f"fitted with ({', '.join(map(str, self.columns_))}); give the same covariates "
                "in the same order"
            )
        parts = []
        for col in self.columns_:
            values = self._column(X, col)
            if col in self.categories_:
                parts.append((values[:, None] == self.categories_[col][None, :]).astype(float))
            else:
                parts.append(values[:, None])
        return np.hstack(parts) if parts else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Return the encoded column names (scikit-learn's feature-name protocol)."""
        check_is_fitted(self, "columns_")
        return np.asarray(self.feature_names_out_, dtype=object)
