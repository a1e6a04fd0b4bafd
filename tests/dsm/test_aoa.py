"""Area of applicability (Meyer & Pebesma 2021) on cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from socseq.dsm.aoa import AreaOfApplicability


def _corner(n=200, seed=0):
    """Training predictors filling the unit square in one corner of a 10 × 10 space."""
    return np.random.default_rng(seed).uniform(0, 1, (n, 2))


def test_far_corner_is_outside_and_the_training_corner_inside():
    train = _corner()
    aoa = AreaOfApplicability().fit(train)
    near = np.array([[0.5, 0.5], [0.2, 0.8]])
    far = np.array([[9.5, 9.5], [5.0, 5.0], [0.5, 9.0]])
    di, inside = aoa.predict(np.vstack([near, far]))
    assert inside.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert di[2] > di[3] > aoa.threshold_ > di[0]


def test_di_definition_and_threshold_by_hand():
    # Four training points on a line at 0, 1, 2, 10: pairwise mean distance d̄ = (1+2+10+1+9+8)/6.
    train = np.array([[0.0], [1.0], [2.0], [10.0]])
    aoa = AreaOfApplicability().fit(train * 3.0 + 7.0)  # standardisation removes scale/shift
    mean_d = 31 / 6
    # Nearest other training point: 1, 1, 1, 8 → training DI = d / d̄.
    np.testing.assert_allclose(aoa.training_di_, np.array([1, 1, 1, 8]) / mean_d)
    # Q1 = Q3 = 1/d̄, IQR = 0: the 8/d̄ outlier is dropped and the threshold is 1/d̄.
    assert aoa.threshold_ == pytest.approx(1 / mean_d)
    di, inside = aoa.predict(np.array([[5.0 * 3 + 7], [1.5 * 3 + 7]]))
    np.testing.assert_allclose(di, [3 / mean_d, 0.5 / mean_d])
    assert inside.tolist() == [0.0, 1.0]


def test_cv_folds_measure_distance_to_other_folds():
    # Two tight clusters, each its own fold: a sample's nearest *other-fold* sample lies in the
    # other cluster, so training DI is large and the threshold accepts the gap between them.
    a = np.random.default_rng(1).normal(0, 0.01, (20, 2))
    train = np.vstack([a, a + [5.0, 0.0]])
    folds = np.repeat([0, 1], 20)
    with_folds = AreaOfApplicability().fit(train, folds=folds)
    without = AreaOfApplicability().fit(train)
    assert with_folds.threshold_ > 5 * without.threshold_
    _, inside = with_folds.predict(np.array([[2.5, 0.0]]))
    assert inside[0] == 1.0


def test_unimportant_predictors_do_not_make_a_place_unfamiliar():
    train = np.column_stack([_corner()[:, 0], np.zeros(200) + np.linspace(0, 1, 200)])
    new = np.array([[0.5, 50.0]])  # familiar in predictor 1, far out in predictor 2
    _, equal = AreaOfApplicability().fit(train).predict(new)
    _, weighted = AreaOfApplicability().fit(train, weights=np.array([1.0, 0.0])).predict(new)
    assert equal[0] == 0.0 and weighted[0] == 1.0


def test_missing_predictors_give_nan():
    aoa = AreaOfApplicability().fit(_corner())
    di, inside = aoa.predict(np.array([[np.nan, 0.5]]))
    assert np.isnan(di[0]) and np.isnan(inside[0])
