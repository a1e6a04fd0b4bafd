"""Random draws that depend on (seed, quantity, cell, member) only, never on the chunking.

Monte Carlo members are drawn per grid cell with a counter-based generator, Philox4x32-10
(Salmon et al. 2011), evaluated vectorised in numpy: the counter is the global cell index
(row · width + column), the quantity drawn and the member number; the key is the seed. A value
is therefore the same whichever window, batch, process or scheduler computes it, and no
generator state travels between tasks. Draws shared over space (one per member for every cell)
use a counter flag instead of the cell index.

References
----------
Salmon, J. K., Moraes, M. A., Dror, R. O. and Shaw, D. E. (2011). Parallel random numbers: as
easy as 1, 2, 3. Proceedings of SC11, ACM. (Random123; its ``kat_vectors`` are the known-answer
tests of ``tests/pipeline/test_uncertainty.py``.)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri

__all__ = ["STREAMS", "philox4x32", "standard_normal", "uniform"]

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint32(0x9E3779B9)
_W1 = np.uint32(0xBB67AE85)
_LOW = np.uint64(0xFFFFFFFF)

#: Stream number of each drawn quantity (part of the counter; never reuse or renumber).
STREAMS = {
    "soc": 1,
    "clay": 2,
    "temperature": 3,
    "precipitation": 4,
    "input": 5,
    "increase": 6,
    "k_dpm": 7,
    "k_rpm": 8,
    "k_bio": 9,
    "k_hum": 10,
}


def philox4x32(
    counter: tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike],
    key: tuple[int, int],
    rounds: int = 10,
) -> tuple[NDArray[np.uint32], ...]:
    """Philox4x32 block function (Random123), vectorised over counters.

    Parameters
    ----------
    counter : tuple of four array_like of uint32
        The four 32-bit counter words (broadcast together).
    key : tuple of two int
        The two 32-bit key words.
    rounds : int
        Rounds (10 is the standard, crush-resistant choice).

    Returns
    -------
    tuple of four numpy.ndarray of uint32
        The four output words.
    """
    c = [np.asarray(w, dtype=np.uint32) for w in np.broadcast_arrays(*counter)]
    k0, k1 = np.uint32(key[0] & 0xFFFFFFFF), np.uint32(key[1] & 0xFFFFFFFF)
    with np.errstate(over="ignore"):
        for r in range(rounds):
            if r:
                k0 = np.uint32(k0 + _W0)
                k1 = np.uint32(k1 + _W1)
            p0 = _M0 * c[0].astype(np.uint64)
            p1 = _M1 * c[2].astype(np.uint64)
            hi0, lo0 = (p0 >> np.uint64(32)).astype(np.uint32), (p0 & _LOW).astype(np.uint32)
            hi1, lo1 = (p1 >> np.uint64(32)).astype(np.uint32), (p1 & _LOW).astype(np.uint32)
            c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]
    return tuple(c)


def uniform(seed: int, stream: str, cell: ArrayLike | None, member: ArrayLike) -> NDArray:
    """Uniform draws on (0, 1) with 53 random bits.

    Parameters
    ----------
    seed : int
        Run seed (0 ≤ seed < 2**63).
    stream : str
        Quantity drawn, a key of :data:`STREAMS`.
    cell : array_like of int or None
        Global cell indices (row · width + column); None for draws shared over space.
    member : array_like of int
        Member numbers (broadcast against ``cell``).

    Returns
    -------
    numpy.ndarray
        float64 uniforms of the broadcast shape.
    """
    shared = cell is None
    cells = np.zeros(1, np.int64) if shared else np.asarray(cell, dtype=np.int64)
    members = np.asarray(member, dtype=np.int64)
    cells, members = np.broadcast_arrays(cells, members)
    words = philox4x32(
        (
            (cells & 0xFFFFFFFF).astype(np.uint32),
            (((cells >> 32) & 0xFFFF) | (STREAMS[stream] << 16)).astype(np.uint32),
            (members & 0xFFFFFFFF).astype(np.uint32),
            np.full(cells.shape, 1 if shared else 0, np.uint32),
        ),
        (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF),
    )
    a = (words[0] >> np.uint32(5)).astype(np.float64)
    b = (words[1] >> np.uint32(6)).astype(np.float64)
    return (a * 67108864.0 + b + 0.5) / 9007199254740992.0


def standard_normal(seed: int, stream: str, cell: ArrayLike | None, member: ArrayLike) -> NDArray:
    """Return standard normal draws by inversion of :func:`uniform` (same arguments)."""
    return ndtri(uniform(seed, stream, cell, member))
