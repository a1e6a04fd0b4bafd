"""Numba kernel: bilinear interpolation of many bands at source coordinates found once.

Private to :func:`socseq.io.grid.resample_to`, which computes each target cell's fractional
source column and row once (PROJ), so the
coordinates are exact, as GDAL's exact transformer computes them; this kernel then applies
GDAL's bilinear formula to every band of the cells whose neighbours are valid, and leaves
the cells next to missing values to GDAL.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def bilinear_bands(
    values: np.ndarray, fx: np.ndarray, fy: np.ndarray, out: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """Interpolate ``values`` ``(n, sy, sx)`` at ``(fx, fy)`` ``(m,)`` into ``out`` ``(n, m)``.

    ``fx``/``fy`` are source pixel coordinates with integer values at pixel centres. A cell
    whose centre falls outside the block gets NaN, as GDAL leaves it. Otherwise, with
    ``rx``/``ry`` the weights of the upper-left pixel, the value is
    ``(v00·rx + v01·(1 − rx))·ry + (v10·rx + v11·(1 − rx))·(1 − ry)`` (GDAL's bilinear), where a
    neighbour beyond the block's edge is replaced by the edge pixel: GDAL drops such a
    neighbour and reweighs the others, which gives the same value. A cell with a missing
    neighbour is not interpolated here (GDAL's rules for no-data neighbours apply).

    Returns
    -------
    numpy.ndarray
        ``(m,)`` bool, the cells done here (the others need GDAL).
    """
    n, sy, sx = values.shape
    m = fx.shape[0]
    done = np.zeros(m, np.bool_)
    for k in range(m):
        x, y = fx[k], fy[k]
        if not (x == x and y == y):
            continue
        if x + 0.5 < 0.0 or y + 0.5 < 0.0 or x + 0.5 >= sx or y + 0.5 >= sy:
            done[k] = True  # outside the source: no data, as GDAL
            continue
        j0 = int(np.floor(x))
        i0 = int(np.floor(y))
        ja, jb = max(j0, 0), min(j0 + 1, sx - 1)
        ia, ib = max(i0, 0), min(i0 + 1, sy - 1)
        ok = True
        for b in range(n):
            v00 = values[b, ia, ja]
            v01 = values[b, ia, jb]
            v10 = values[b, ib, ja]
            v11 = values[b, ib, jb]
            if not (v00 == v00 and v01 == v01 and v10 == v10 and v11 == v11):
                ok = False
                break
        if not ok:
            continue
        rx = 1.0 - (x - j0)
        ry = 1.0 - (y - i0)
        for b in range(n):
            out[b, k] = (values[b, ia, ja] * rx + values[b, ia, jb] * (1.0 - rx)) * ry + (
                values[b, ib, ja] * rx + values[b, ib, jb] * (1.0 - rx)
            ) * (1.0 - ry)
        done[k] = True
    return done
