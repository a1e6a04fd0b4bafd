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


@njit(cache=True, nogil=True)
def bilinear_bands(
    values: np.ndarray, fx: np.ndarray, fy: np.ndarray, out: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """Interpolate ``values`` ``(n, sy, sx)`` at ``(fx, fy)`` ``(m,)`` into ``out`` ``(n, m)``.

    ``fx``/``fy`` are source pixel coordinates with integer values at pixel centres. A cell
    whose centre falls outside the block gets NaN, as GDAL leaves it (``out`` may be
    uninitialised: every cell not left to GDAL is written here). Otherwise, with
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
    inside = np.zeros(m, np.bool_)
    ia = np.zeros(m, np.int64)
    ib = np.zeros(m, np.int64)
    ja = np.zeros(m, np.int64)
    jb = np.zeros(m, np.int64)
    rx = np.zeros(m)
    ry = np.zeros(m)
    for k in range(m):
        x, y = fx[k], fy[k]
        if not (x == x and y == y):
            continue
        if x + 0.5 < 0.0 or y + 0.5 < 0.0 or x + 0.5 >= sx or y + 0.5 >= sy:
            done[k] = True  # outside the source: no data, as GDAL
            out[:, k] = np.nan
            continue
        j0 = int(np.floor(x))
        i0 = int(np.floor(y))
        ja[k], jb[k] = max(j0, 0), min(j0 + 1, sx - 1)
        ia[k], ib[k] = max(i0, 0), min(i0 + 1, sy - 1)
        rx[k] = 1.0 - (x - j0)
        ry[k] = 1.0 - (y - i0)
        inside[k] = True
    # Band by band, so that each band's small source plane stays in cache and the output is
    # written in order; a cell found next to a missing value is left to GDAL for every band
    # (the caller overwrites what was written for it here).
    missing = np.zeros(m, np.bool_)
    for b in range(n):
        plane = values[b]
        row = out[b]
        for k in range(m):
            if not inside[k] or missing[k]:
                continue
            v00 = plane[ia[k], ja[k]]
            v01 = plane[ia[k], jb[k]]
            v10 = plane[ib[k], ja[k]]
            v11 = plane[ib[k], jb[k]]
            if not (v00 == v00 and v01 == v01 and v10 == v10 and v11 == v11):
                missing[k] = True
                continue
            wx, wy = rx[k], ry[k]
            row[k] = (v00 * wx + v01 * (1.0 - wx)) * wy + (v10 * wx + v11 * (1.0 - wx)) * (1.0 - wy)
    for k in range(m):
        if inside[k] and not missing[k]:
            done[k] = True
    return done
