"""SOCStockModel: scikit-learn contract, seeds, quantiles, categorical covariates, kriging."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from socseq.dsm.kriging import ResidualKriging
from socseq.dsm.model import SOCStockModel
from socseq.exceptions import InputValidationError


@parametrize_with_checks(
    [
        SOCStockModel(n_estimators=10, min_samples_leaf=1, random_state=0),
        SOCStockModel("rf", n_estimators=10, min_samples_leaf=1, random_state=0),
    ]
)
def test_scikit_learn_estimator_contract(estimator, check):
    name = repr(check)
    if (
        estimator.method == "qrf"
        and "check_estimators_pickle" in name
        and "readonly_memmap=True" in name
    ):
        pytest.skip("quantile-forest cannot unpickle into a read-only memory map (upstream)")
    check(estimator)


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.uniform(0, 10, n),
            "b": rng.uniform(0, 10, n),
            "lc": rng.integers(1, 4, n).astype(float),
        }
    )
    # heteroscedastic: the noise grows with a
    y = 30 + 4 * X["a"] + np.where(X["lc"] == 2, 20, 0) + rng.normal(0, 0.5 + 2 * X["a"], n)
    return X, y.to_numpy()


@pytest.mark.parametrize("method", ["qrf", "rf", "gbm"])
def test_same_seed_same_model_other_seed_other_model(method):
    X, y = _data()
    a = SOCStockModel(method, n_estimators=30, random_state=5, categorical=["lc"]).fit(X, y)
    b = SOCStockModel(method, n_estimators=30, random_state=5, categorical=["lc"]).fit(X, y)
    c = SOCStockModel(method, n_estimators=30, random_state=6, categorical=["lc"]).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(
        a.predict_quantiles(X, [0.05, 0.95]), b.predict_quantiles(X, [0.05, 0.95])
    )
    assert not np.array_equal(a.predict(X), c.predict(X))


@pytest.mark.parametrize("method", ["qrf", "rf", "gbm"])
def test_intervals_cover_about_ninety_percent_of_new_data(method):
    X, y = _data(1200, seed=1)
    model = SOCStockModel(
        method, n_estimators=100, min_samples_leaf=10, random_state=0, categorical=["lc"]
    ).fit(X.iloc[:800], y[:800])
    dist = model.predict_distribution(X.iloc[800:], quantiles=(0.05, 0.5, 0.95))
    q = dist["quantiles"]
    assert np.all(q[:, 0] <= q[:, 1]) and np.all(q[:, 1] <= q[:, 2])
    coverage = np.mean((y[800:] >= q[:, 0]) & (y[800:] <= q[:, 2]))
    assert 0.82 <= coverage <= 0.97
    assert np.all(dist["sd"] > 0)
    if method == "qrf":
        # QRF intervals follow the noise: wider where a (and the noise) is large.
        width = q[:, 2] - q[:, 0]
        a = X["a"].to_numpy()[800:]
        assert width[a > 7].mean() > 1.5 * width[a < 3].mean()
        assert np.corrcoef(dist["sd"], width)[0, 1] > 0.9


def test_categorical_covariate_is_one_hot_encoded_and_importance_adds_up():
    X, y = _data()
    model = SOCStockModel(n_estimators=30, random_state=0, categorical=["lc"]).fit(X, y)
    assert model.encoder_.feature_names_out_ == ["a", "b", "lc=1", "lc=2", "lc=3"]
    assert model.feature_importances_.shape == (3,)
    assert model.feature_importances_.sum() == pytest.approx(1.0)
    # An unseen or missing class predicts from the other covariates ("no known class").
    unseen = X.iloc[:2].assign(lc=[9.0, np.nan])
    assert np.isfinite(model.predict(unseen)).all()


def test_missing_continuous_covariate_is_refused():
    X, y = _data()
    model = SOCStockModel(n_estimators=10, random_state=0, categorical=["lc"]).fit(X, y)
    with pytest.raises(InputValidationError, match="continuous covariate"):
        model.predict(X.iloc[:3].assign(a=[1.0, np.nan, 2.0]))


def _spatial(n=500, seed=0):
    """A covariate signal plus a smooth spatial field the covariate cannot see."""
    rng = np.random.default_rng(seed)
    coords = rng.uniform(0, 50_000, (n, 2))
    field = 15 * np.sin(coords[:, 0] / 8000) * np.cos(coords[:, 1] / 9000)
    X = pd.DataFrame({"a": rng.uniform(0, 10, n)})
    y = 50 + 5 * X["a"].to_numpy() + field + rng.normal(0, 2, n)
    return X, y, coords


def test_residual_kriging_recovers_the_spatial_field():
    X, y, coords = _spatial(800)
    train, test = slice(0, 600), slice(600, None)
    plain = SOCStockModel(n_estimators=100, random_state=0).fit(X[train], y[train])
    rk = clone(plain).set_params(kriging=True).fit(X[train], y[train], coords=coords[train])
    rmse_plain = np.sqrt(np.mean((plain.predict(X[test]) - y[test]) ** 2))
    rmse_rk = np.sqrt(np.mean((rk.predict(X[test], coords=coords[test]) - y[test]) ** 2))
    assert rmse_rk < 0.6 * rmse_plain
    with pytest.raises(InputValidationError, match="needs coords"):
        rk.predict(X[test])


def test_variogram_fit_finds_a_known_exponential_structure():
    # Simulate a Gaussian field with an exponential covariance (sill 4, range a = 5 km) plus
    # nugget 1 by Cholesky factorisation.
    rng = np.random.default_rng(0)
    coords = rng.uniform(0, 60_000, (700, 2))
    h = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    cov = 4 * np.exp(-h / 5000) + 1e-8 * np.eye(700)
    values = np.linalg.cholesky(cov) @ rng.normal(size=700) + rng.normal(0, 1, 700)
    kriging = ResidualKriging(random_state=0).fit(coords, values)
    assert 0.3 < kriging.nugget_ < 2.0
    assert 2.0 < kriging.psill_ < 7.0
    assert 2000 < kriging.range_ < 12_000
    estimate, variance = kriging.predict(coords[:5], return_variance=True)
    assert np.all(variance > 0) and np.all(variance < kriging.nugget_ + kriging.psill_)


def test_pure_nugget_residuals_krige_to_their_mean():
    rng = np.random.default_rng(0)
    coords = rng.uniform(0, 10_000, (300, 2))
    kriging = ResidualKriging().fit(coords, np.full(300, 2.5))
    np.testing.assert_allclose(kriging.predict(coords[:4]), 2.5)
