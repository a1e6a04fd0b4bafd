"""Numba kernel: the month-by-month mean of a climate series, summed in year order.

Private to :func:`socseq.pipeline.inputs.read_window`: the forward climatology of a window
is the mean of its warm-up years, and numpy, on ``(cells, years, 12)`` rows of twelve
values, spent more time starting its inner loops than adding (about 0.07 s per layer of a
62,500-cell window, for a 0.01 s pass here).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def monthly_means(by_cell: np.ndarray, n_years: int) -> np.ndarray:  # pragma: no cover - compiled
    """Return ``(cells, 12)`` means of ``by_cell`` ``(cells, 12·n_years)``, year after year.

    Each mean is ``x₀/n + x₁/n + … + x₍ₙ₋₁₎/n`` summed left to right, the order in which a
    reader taking one year at a time adds them, so the result does not depend on how the
    years were read.
    """
    n_cells = by_cell.shape[0]
    out = np.empty((n_cells, 12))
    for i in range(n_cells):
        for month in range(12):
            total = by_cell[i, month] / n_years
            for year in range(1, n_years):
                total += by_cell[i, 12 * year + month] / n_years
            out[i, month] = total
    return out
