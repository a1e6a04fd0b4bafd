"""The equal-area quadratic smoothing spline of soil depth functions (Bishop et al. 1999).

Harmonises the horizon means of a profile to any depth interval, as programmed by Malone et al.
(2009); :mod:`socseq.dsm.stocks` applies it to the carbon density of each horizon.

References
----------
Bishop, T.F.A., McBratney, A.B., Laslett, G.M. (1999) Modelling soil attribute depth functions
with equal-area quadratic smoothing splines. Geoderma 91, 27–45. Malone, B.P., McBratney, A.B.,
Minasny, B., Laslett, G.M. (2009) Mapping continuous depth functions of soil carbon storage and
available water capacity. Geoderma 154, 138–152.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from socseq.exceptions import InputValidationError

__all__ = ["EqualAreaSpline"]


def _positive_integral(c0: float, c1: float, c2: float, t0: float, t1: float) -> float:
    """∫ max(0, c0 + c1·t + c2·t²) dt over [t0, t1], exactly."""

    def antiderivative(t: float) -> float:
        return c0 * t + c1 * t**2 / 2 + c2 * t**3 / 3

    coeffs = [c2, c1, c0] if c2 != 0 else [c1, c0]
    roots = np.roots(coeffs) if any(coeffs[:-1]) else np.array([])
    cuts = sorted(float(r.real) for r in roots if abs(r.imag) < 1e-12 and t0 < r.real < t1)
    edges = [t0, *cuts, t1]
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mid = (lo + hi) / 2
        if c0 + c1 * mid + c2 * mid**2 > 0:
            total += antiderivative(hi) - antiderivative(lo)
    return total


@dataclass(frozen=True)
class EqualAreaSpline:
    """Equal-area quadratic smoothing spline through horizon means (Bishop et al. 1999).

    Build it with :meth:`fit`. Within horizon *i* the spline is
    f(x) = αᵢ + βᵢ (x − uᵢ) + γᵢ (x − uᵢ)²; between horizons (gaps) it is linear; f and f′
    are continuous, and f′ = 0 at the top of the first and the bottom of the last horizon.

    Attributes
    ----------
    top, bottom : numpy.ndarray
        Horizon limits uᵢ, vᵢ (cm), sorted by depth.
    fitted : numpy.ndarray
        Fitted horizon means f̄ᵢ (the spline's mean over each horizon).
    alpha, beta, gamma : numpy.ndarray
        Coefficients of each horizon's quadratic.
    knot_slopes : numpy.ndarray
        f′ at the n − 1 inner knots, which is also the slope across each gap.
    """

    top: np.ndarray
    bottom: np.ndarray
    fitted: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    knot_slopes: np.ndarray

    @classmethod
    def fit(
        cls, top: np.ndarray, bottom: np.ndarray, values: np.ndarray, lam: float = 0.1
    ) -> EqualAreaSpline:
        """Fit the spline to horizon values.

        Parameters
        ----------
        top, bottom : array-like
            Horizon limits (cm); horizons must not overlap (gaps are allowed).
        values : array-like
            The property's mean over each horizon.
        lam : float, default 0.1
            Smoothing parameter λ for depths in cm (0.1 is the usual choice, Malone et al.
            2009). λ → 0 reproduces the horizon means exactly.

        Returns
        -------
        EqualAreaSpline

        Notes
        -----
        The spline minimises (1/n) Σ (yᵢ − f̄ᵢ)² + λ ∫ f′(x)² dx. With hᵢ the thicknesses,
        gᵢ the gaps, Q the (n−1)×n difference matrix and R the (n−1)×(n−1) tridiagonal matrix
        Rₖₖ = 2hₖ + 2hₖ₊₁ + 6gₖ, Rₖ,ₖ₊₁ = Rₖ₊₁,ₖ = hₖ₊₁, the fitted means solve
        (I + 6nλ QᵀR⁻¹Q) f̄ = y, the knot slopes are b = 6 R⁻¹ Q f̄, and per horizon
        γᵢ = (bᵢ − bᵢ₋₁)/(2hᵢ), αᵢ = f̄ᵢ − bᵢ₋₁hᵢ/2 − γᵢhᵢ²/3 (b₀ = bₙ = 0), which are
        Bishop et al. (1999, appendix) and the R code of Malone et al. (2009). Because
        1ᵀQᵀ = 0, the fitted means keep the plain sum of the data, Σ f̄ᵢ = Σ yᵢ, so the
        depth integral is preserved exactly when λ → 0 or horizons are equally thick.
        """
        order = np.argsort(np.asarray(top, float), kind="stable")
        u = np.asarray(top, float)[order]
        v = np.asarray(bottom, float)[order]
        y = np.asarray(values, float)[order]
        h = v - u
        if np.any(h <= 0) or np.any(u[1:] < v[:-1]):
            raise InputValidationError(
                "equal-area spline: horizons must have bottom > top and must not overlap "
                f"(top {u.tolist()}, bottom {v.tolist()}); correct the horizon depths"
            )
        n = y.size
        if n == 1:
            zero = np.zeros(1)
            return cls(u, v, y.copy(), y.copy(), zero, zero, np.zeros(0))
        gaps = u[1:] - v[:-1]
        r = np.diag(2 * h[:-1] + 2 * h[1:] + 6 * gaps)
        r += np.diag(h[1:-1], 1) + np.diag(h[1:-1], -1)
        q = np.zeros((n - 1, n))
        q[np.arange(n - 1), np.arange(n - 1)] = -1.0
        q[np.arange(n - 1), np.arange(1, n)] = 1.0
        r_inv_q = np.linalg.solve(r, q)
        z = np.eye(n) + 6 * n * lam * q.T @ r_inv_q
        fitted = np.linalg.solve(z, y)
        slopes = 6 * r_inv_q @ fitted
        b_top = np.concatenate([[0.0], slopes])
        b_bottom = np.concatenate([slopes, [0.0]])
        gamma = (b_bottom - b_top) / (2 * h)
        alpha = fitted - b_top * h / 2 - gamma * h**2 / 3
        return cls(u, v, fitted, alpha, b_top, gamma, slopes)

    def _pieces(self) -> list[tuple[float, float, float, float, float, float]]:
        """(start, end, origin, c0, c1, c2): f = c0 + c1 t + c2 t², t = x − origin."""
        pieces = []
        for i in range(self.top.size):
            u, v = self.top[i], self.bottom[i]
            pieces.append((u, v, u, self.alpha[i], self.beta[i], self.gamma[i]))
            if i + 1 < self.top.size and self.top[i + 1] > v:
                h = v - u
                f_v = self.alpha[i] + self.beta[i] * h + self.gamma[i] * h**2
                pieces.append((v, self.top[i + 1], v, f_v, self.knot_slopes[i], 0.0))
        return pieces

    def __call__(self, depth_cm: np.ndarray | float) -> np.ndarray:
        """Evaluate the spline (NaN above the first and below the last horizon)."""
        x = np.atleast_1d(np.asarray(depth_cm, float))
        out = np.full(x.shape, np.nan)
        for start, end, origin, c0, c1, c2 in self._pieces():
            inside = (x >= start) & (x <= end)
            t = x[inside] - origin
            out[inside] = c0 + c1 * t + c2 * t**2
        return out

    def mean(self, upper_cm: float, lower_cm: float) -> tuple[float, float]:
        """Mean of max(f, 0) over the part of [upper, lower] the profile covers.

        Negative stretches of the spline (possible below a sharp drop) count as zero, as the
        0 lower bound of Malone et al. (2009) does for 1-cm values.

        Returns
        -------
        (mean, covered_cm) : (float, float)
            NaN and 0 when the profile does not reach into the interval.
        """
        lo, hi = max(upper_cm, self.top[0]), min(lower_cm, self.bottom[-1])
        if hi <= lo:
            return float("nan"), 0.0
        total = 0.0
        for start, end, origin, c0, c1, c2 in self._pieces():
            a, b = max(start, lo), min(end, hi)
            if b > a:
                total += _positive_integral(c0, c1, c2, a - origin, b - origin)
        return total / (hi - lo), hi - lo
