"""Equal-area quadratic spline (Bishop et al. 1999): hand case, constancy, mass, continuity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from socseq.dsm.spline import EqualAreaSpline
from socseq.exceptions import InputValidationError


def test_two_horizons_by_hand():
    # Horizons 0–38 (5.90) and 38–59 (3.68), λ = 0.1. With n = 2 the system is scalar:
    # R = 2·38 + 2·21 = 118, z = I + 6·2·0.1/118 · QᵀQ, so the fitted means move towards each
    # other by c·d with c = 1.2/118 and d = (f̄₁ − f̄₂) = 2.22 / (1 + 2c); the knot slope is
    # b = 6 (f̄₂ − f̄₁)/118 and on the first horizon f(x) = α₁ + γ₁x² with γ₁ = b/76 and
    # α₁ = f̄₁ − γ₁·38²/3.
    c = 1.2 / 118
    d = 2.22 / (1 + 2 * c)
    f1 = 5.90 - c * d
    b = -6 * d / 118
    g1 = b / 76
    a1 = f1 - g1 * 38**2 / 3
    spline = EqualAreaSpline.fit([0, 38], [38, 59], [5.90, 3.68], lam=0.1)
    assert spline.fitted == pytest.approx([f1, 3.68 + c * d])
    assert spline(np.array([0.0, 10.0, 30.0])) == pytest.approx(a1 + g1 * np.array([0, 100, 900]))
    mean, covered = spline.mean(0, 30)
    assert covered == 30
    assert mean == pytest.approx(a1 + g1 * 30**2 / 3)  # (1/30)∫₀³⁰ (α + γx²) dx


def test_constant_profile_stays_constant():
    spline = EqualAreaSpline.fit([0, 5, 20, 45], [5, 20, 45, 100], [12.0] * 4, lam=0.1)
    depths = np.linspace(0, 100, 101)
    assert spline(depths) == pytest.approx(np.full(101, 12.0))
    assert spline.mean(0, 30) == pytest.approx((12.0, 30.0))


def test_small_lambda_preserves_every_horizons_mass():
    top, bottom = [0, 7, 22, 40], [7, 22, 40, 75]
    values = [30.0, 18.0, 9.0, 4.0]
    spline = EqualAreaSpline.fit(top, bottom, values, lam=1e-9)
    for u, v, y in zip(top, bottom, values, strict=True):
        mass, _ = quad(lambda x: spline(x)[0], u, v)
        assert mass == pytest.approx(y * (v - u), rel=1e-6)


def test_equal_thickness_preserves_total_mass_with_smoothing():
    # Σ f̄ᵢ = Σ yᵢ for any λ (1ᵀQᵀ = 0), so the profile's total is kept when hᵢ are equal.
    values = [30.0, 12.0, 9.0, 2.0]
    spline = EqualAreaSpline.fit([0, 10, 20, 30], [10, 20, 30, 40], values, lam=1.0)
    total, _ = quad(lambda x: spline(x)[0], 0, 40, points=[10, 20, 30])
    assert total == pytest.approx(10 * sum(values))
    assert not np.allclose(spline.fitted, values)  # it did smooth


def test_spline_and_slope_are_continuous_across_horizons_and_gaps():
    spline = EqualAreaSpline.fit([0, 10, 30], [10, 25, 50], [20.0, 8.0, 5.0], lam=0.1)
    eps = 1e-7
    for knot in (10.0, 25.0, 30.0):
        left, right = spline(np.array([knot - eps, knot + eps]))
        assert left == pytest.approx(right, abs=1e-5)
        slope_left = (spline(knot - eps)[0] - spline(knot - 2 * eps)[0]) / eps
        slope_right = (spline(knot + 2 * eps)[0] - spline(knot + eps)[0]) / eps
        assert slope_left == pytest.approx(slope_right, abs=1e-3)
    gap = spline(np.array([25.0, 27.5, 30.0]))
    assert gap[1] == pytest.approx((gap[0] + gap[2]) / 2)  # linear in the gap


def test_mean_counts_negative_stretches_as_zero():
    # A sharp drop makes the unclipped spline dip below zero in the second horizon.
    spline = EqualAreaSpline.fit([0, 10], [10, 100], [100.0, 0.5], lam=1e-6)
    assert np.nanmin(spline(np.linspace(10, 100, 901))) < 0
    clipped, _ = spline.mean(10, 100)
    raw, _ = quad(lambda x: spline(x)[0], 10, 100, limit=200)
    positive, _ = quad(lambda x: max(spline(x)[0], 0.0), 10, 100, limit=200)
    assert clipped == pytest.approx(positive / 90, rel=1e-6)
    assert clipped > raw / 90


def test_mean_covers_only_the_profile():
    spline = EqualAreaSpline.fit([0, 10], [10, 20], [5.0, 3.0])
    mean, covered = spline.mean(0, 30)
    assert covered == 20
    assert np.isnan(spline(25.0)[0])
    assert spline.mean(40, 60) == (pytest.approx(np.nan, nan_ok=True), 0.0)


def test_overlapping_horizons_are_refused():
    with pytest.raises(InputValidationError, match="must not overlap"):
        EqualAreaSpline.fit([0, 5], [10, 20], [1.0, 2.0])
