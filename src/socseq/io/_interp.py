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
    """Interpolate ``values`` ``(sy, sx, n)`` at ``(fx, fy)`` ``(m,)`` into ``out`` ``(m, n)``.

    Both arrays are cell-major (the ``n`` bands of a pixel or cell side by side), so each
    cell reads four contiguous runs of its neighbours' bands and writes one run: the series
    of a cell is what the window tasks take next (``(cells, months)``), and a band-major
    output made that pick a strided gather over every band's plane.

    ``fx``/``fy`` are source pixel coordinates with integer values at pixel centres. A cell
    whose centre falls outside the block gets NaN, as GDAL leaves it (``out`` may be
    uninitialised: every cell not left to GDAL is written here). Otherwise, with
    ``rx``/``ry`` the weights of the upper-left pixel, the value is
    ``(v00·rx + v01·(1 − rx))·ry + (v10·rx + v11·(1 − rx))·(1 − ry)`` (GDAL's bilinear), where a
    neighbour beyond the block's edge is replaced by the edge pixel: GDAL drops such a
    neighbour and reweighs the others, which gives the same value. A cell with a missing
    (NaN) neighbour in any band is not interpolated here (GDAL's rules for no-data neighbours
    apply; the caller overwrites every band of it). Sources hold no infinities (an infinite
    neighbour with a zero weight would make NaN and send the cell to GDAL as well).

    Returns
    -------
    numpy.ndarray
        ``(m,)`` bool, the cells done here (the others need GDAL).
    """
    sy, sx, n = values.shape
    m = fx.shape[0]
    done = np.zeros(m, np.bool_)
    for k in range(m):
        x, y = fx[k], fy[k]
        if not (x == x and y == y):
            continue
        if x + 0.5 < 0.0 or y + 0.5 < 0.0 or x + 0.5 >= sx or y + 0.5 >= sy:
            done[k] = True  # outside the source: no data, as GDAL
            out[k, :] = np.nan
            continue
        j0 = int(np.floor(x))
        i0 = int(np.floor(y))
        ja, jb = max(j0, 0), min(j0 + 1, sx - 1)
        ia, ib = max(i0, 0), min(i0 + 1, sy - 1)
        wx = 1.0 - (x - j0)
        wy = 1.0 - (y - i0)
        p00, p01, p10, p11 = values[ia, ja], values[ia, jb], values[ib, ja], values[ib, jb]
        row = out[k]
        # Every band first (a loop the compiler vectorises), then a look for NaN: a missing
        # neighbour makes its band NaN, since NaN survives every product and sum here.
        for b in range(n):
            row[b] = (p00[b] * wx + p01[b] * (1.0 - wx)) * wy + (
                p10[b] * wx + p11[b] * (1.0 - wx)
            ) * (1.0 - wy)
        complete = True
        for b in range(n):
            if row[b] != row[b]:
                complete = False
                break
        done[k] = complete
    return done
