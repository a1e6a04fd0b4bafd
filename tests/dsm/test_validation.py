"""Metrics against hand values; spatial blocks stay intact; cross-validation outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import cross_val_score

from socseq.dsm.model import SOCStockModel
from socseq.dsm.validation import (
    SpatialBlockKFold,
    concordance_correlation,
    cross_validate,
    evaluate,
    mean_absolute_error,
    mean_error,
    model_efficiency,
    picp,
    r_squared,
    root_mean_squared_error,
)
from socseq.exceptions import InputValidationError

OBS = np.array([1.0, 2.0, 3.0, 4.0])
PRED = np.array([2.0, 2.0, 2.0, 6.0])


def test_metrics_by_hand():
    # errors p − o: +1, 0, −1, +2
    assert mean_error(OBS, PRED) == pytest.approx(0.5)
    assert mean_absolute_error(OBS, PRED) == pytest.approx(1.0)
    assert root_mean_squared_error(OBS, PRED) == pytest.approx(np.sqrt(6 / 4))
    # Σ(o − ō)² = 5, Σ(p − o)² = 6: MEC = 1 − 6/5
    assert model_efficiency(OBS, PRED) == pytest.approx(-0.2)
    # cov(o,p) = mean((o−2.5)(p−3)) = (1.5 + 0.5 − 0.5 + 4.5)/4 = 1.5; var o = 1.25, var p = 3
    assert r_squared(OBS, PRED) == pytest.approx(1.5**2 / (1.25 * 3))
    assert concordance_correlation(OBS, PRED) == pytest.approx(2 * 1.5 / (1.25 + 3 + 0.25))
    assert picp(OBS, PRED - 1, PRED + 0.5) == pytest.approx(0.5)  # o=1 and o=3 fall outside
    assert model_efficiency(OBS, OBS) == 1.0 and concordance_correlation(OBS, OBS) == 1.0


def test_evaluate_scales_only_the_error_metrics():
    plain = evaluate(OBS, PRED, lower=PRED - 1, upper=PRED + 1)
    scaled = evaluate(OBS, PRED, lower=PRED - 1, upper=PRED + 1, scale=0.1)
    assert scaled["RMSE"] == pytest.approx(plain["RMSE"] / 10)
    assert scaled["MEC"] == plain["MEC"] and scaled["PICP90"] == plain["PICP90"] == 0.75
    assert plain["n"] == 4


def _scatter(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 100_000, (n, 2))


def test_spatial_blocks_stay_intact_and_folds_are_balanced():
    coords = _scatter()
    splitter = SpatialBlockKFold(n_splits=4, block_size=20_000, random_state=1)
    blocks = splitter.block_ids(coords)
    assert len(np.unique(blocks)) == 25
    seen = np.zeros(len(coords), int)
    for train, test in splitter.split(coords):
        assert not set(blocks[train]) & set(blocks[test])
        seen[test] += 1
        assert 0.7 * len(coords) / 4 < len(test) < 1.3 * len(coords) / 4
    assert (seen == 1).all()
    again = [t.tolist() for _, t in SpatialBlockKFold(4, 20_000, random_state=1).split(coords)]
    assert again == [t.tolist() for _, t in splitter.split(coords)]


def test_block_size_too_large_is_refused():
    with pytest.raises(InputValidationError, match="smaller block_size"):
        list(SpatialBlockKFold(5, 1e6).split(_scatter()))


def test_splitter_works_with_scikit_learn():
    coords = _scatter(200)
    y = coords[:, 0] / 1000 + np.random.default_rng(0).normal(0, 1, 200)
    cv = list(SpatialBlockKFold(3, 25_000, random_state=0).split(coords))
    scores = cross_val_score(RandomForestRegressor(20, random_state=0), coords, y, cv=cv)
    assert len(scores) == 3


def test_cross_validate_returns_out_of_fold_predictions_and_importance():
    rng = np.random.default_rng(3)
    coords = _scatter(300, seed=3)
    X = pd.DataFrame({"signal": rng.uniform(0, 10, 300), "noise": rng.uniform(0, 10, 300)})
    y = 5 * X["signal"].to_numpy() + rng.normal(0, 2, 300)
    model = SOCStockModel(n_estimators=30, random_state=0, n_jobs=1)
    result = cross_validate(
        model,
        X,
        y,
        coords=coords,
        method="spatial",
        n_splits=3,
        block_size=20_000,
        random_state=0,
        sample_ids=[f"s{i}" for i in range(300)],
    )
    p = result.predictions
    assert list(p["sample_id"][:2]) == ["s0", "s1"] and set(p["fold"]) == {0, 1, 2}
    assert (p["q05_t_ha"] <= p["median_t_ha"]).all() and (p["median_t_ha"] <= p["q95_t_ha"]).all()
    assert result.metrics["MEC"] > 0.8 and len(result.fold_metrics) == 3
    imp = result.importance.set_index("covariate")
    assert imp.loc["signal", "permutation_rmse_increase_t_ha"] > 5
    assert abs(imp.loc["noise", "permutation_rmse_increase_t_ha"]) < 1
    assert result.importance["covariate"].iloc[0] == "signal"
    kfold = cross_validate(
        model, X, y, coords=coords, method="kfold", n_splits=3, random_state=0, importance=False
    )
    assert "permutation_rmse_increase_t_ha" not in kfold.importance
