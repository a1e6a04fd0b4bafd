"""Runtime carbon conservation check of the phase engine: every cell, every phase, every run.

Over any stretch of months RothC moves carbon only between its pools, into them (plant and
manure inputs, added after the month's decay) and out of them (CO2); IOM is inert. So for each
simulated row (cell × member) and each phase

    ΔSOC = I − CO2 + s · CO2                                                   [t C/ha]

where ΔSOC is the change of the reported SOC stock (DPM + RPM + BIO + HUM + IOM) since the
start of the phase, I the carbon the kernel added (plant input + FYM · (f_DPM + f_RPM + f_HUM)
of the constants, ``docs/rothc-model.md`` §4.4), CO2 the carbon the kernel's accumulator
recorded as released in the phase (§4.3), and ``s · CO2`` the carbon created by the partition
shares when they do not sum to one: with the official float32 literals ``f_CO2 + f_BIO + f_HUM
= 1 + 2.98e-8/(x + 1)`` (``f32(0.46) + f32(0.54) = 1 + 2.98e-8``), so each tonne decomposed
creates ``f_CO2 + f_BIO + f_HUM − 1`` tonnes, and the tonnes decomposed are ``CO2 / f_CO2``:
``s = (f_CO2 + f_BIO + f_HUM − 1) / f_CO2`` (about 7e-9 with the official constants, at
rounding level with the decimal ones). Likewise ``2 f32(0.49) + f32(0.02) = 1 + 1.86e-8`` is in I
as the kernel adds it. These are properties of the official model, which socseq reproduces
bit for bit, not tolerances: without them the official constants leave residuals of about 1e-8
of the turnover, above the 1e-9 the check demands.

The relative residual of a row and record is ``|ΔSOC − (I − CO2 + s·CO2)| / max(|SOC_start|,
|SOC_end|, I, CO2)``: every term of the balance in the denominator, so a residual is measured
against the largest quantity whose rounding it could come from. It must not exceed
:data:`TOLERANCE` (1e-9) in float64; every kernel path runs float64 (the official constants
are float32 *values* used in double arithmetic), so no path needs a looser one. A NaN or
infinite residual fails too. When the check fails, :class:`~socseq.exceptions.CarbonBalanceError`
names the worst row's grid cell (and member), the phase, and the terms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from socseq.exceptions import CarbonBalanceError
from socseq.rothc.modifiers import co2_partition
from socseq.rothc.parameters import RothCParameters

__all__ = ["TOLERANCE", "CarbonLedger", "fym_share", "partition_surplus", "relative_residual"]

FloatArray = np.ndarray

#: Largest relative residual of the carbon balance a run may show (float64 arithmetic).
TOLERANCE = 1e-9

# Private switch for benchmarks only (``benchmarks/bench_pipeline.py --check-cost`` sets it in
# the child process to measure what the check costs). There is deliberately no configuration
# key, command-line option or environment variable: a run cannot switch the check off, and
# ``tests/pipeline/test_carbon_balance.py`` asserts it is on.
_ENABLED = True


def partition_surplus(clay_pct: FloatArray, params: RothCParameters) -> FloatArray:
    """Carbon created per tonne of CO2 released, by partition shares summing above one.

    Parameters
    ----------
    clay_pct : numpy.ndarray
        Clay content of each row [%].
    params : RothCParameters
        Model constants.

    Returns
    -------
    numpy.ndarray
        ``s = (f_CO2 + f_BIO + f_HUM − 1) / f_CO2`` [-] (``docs/rothc-model.md`` §4.2): about
        5–7e-9 with the official float32 literals, 0 up to rounding with decimal constants.
    """
    f_co2, f_bio, f_hum = co2_partition(clay_pct, params)
    surplus: FloatArray = (f_co2 + f_bio + f_hum - 1.0) / f_co2
    return surplus


def fym_share(params: RothCParameters) -> float:
    """Share of the manure carbon the kernel adds to the pools (DPM + RPM + HUM shares) [-]."""
    return params.fym_dpm + params.fym_rpm + params.fym_hum


def relative_residual(
    start: FloatArray,
    end: FloatArray,
    inputs: FloatArray,
    co2: FloatArray,
    surplus: FloatArray,
) -> FloatArray:
    """Relative residual of ``ΔSOC = I − CO2 + s·CO2`` (see the module docstring).

    Parameters
    ----------
    start : numpy.ndarray
        ``(n,)`` SOC at the start of the phase [t C/ha].
    end, inputs, co2 : numpy.ndarray
        ``(n, r)`` SOC at each record, carbon added and CO2 released since the start [t C/ha].
    surplus : numpy.ndarray
        ``(n,)`` partition surplus ``s`` (:func:`partition_surplus`) [-].

    Returns
    -------
    numpy.ndarray
        ``(n, r)`` relative residual [-]; ``inf`` where a term is not finite.
    """
    s0, e, added, released, s = (
        np.ascontiguousarray(a, dtype=np.float64) for a in (start, end, inputs, co2, surplus)
    )
    rel: FloatArray = np.empty(e.shape)
    _relative_residual(s0, e, added, released, s, rel)
    return rel


@njit(cache=True, nogil=True)
def _relative_residual(start, end, inputs, co2, surplus, out):  # pragma: no cover - compiled
    """One pass over ``(rows, records)`` (numpy needed a dozen over window-sized arrays)."""
    for i in range(end.shape[0]):
        s0 = start[i]
        for j in range(end.shape[1]):
            e, added, released = end[i, j], inputs[i, j], co2[i, j]
            residual = abs((e - s0) - (added - released + surplus[i] * released))
            scale = max(abs(s0), abs(e), abs(added), abs(released))
            rel = residual / scale if scale > 0.0 else residual
            out[i, j] = rel if math.isfinite(rel) else math.inf


@dataclass
class CarbonLedger:
    """Checks the balance of every phase of one engine call and keeps the worst residuals.

    Attributes
    ----------
    surplus : numpy.ndarray
        ``(n,)`` partition surplus of each row [-].
    fym_share : float
        Share of manure carbon entering the pools [-].
    locate : callable
        Row index → where the row is, e.g. ``"grid row 12, col 40"`` (for the error message).
    worst : dict of str to float
        Worst relative residual seen per phase (``"spin-up"``, ``"warm-up"``, ``"forward"``).
    """

    surplus: FloatArray
    fym_share: float
    locate: Callable[[int], str]
    worst: dict[str, float]

    @classmethod
    def for_rows(
        cls, clay_pct: FloatArray, params: RothCParameters, locate: Callable[[int], str]
    ) -> CarbonLedger:
        """Return the ledger of rows with these clay contents and constants."""
        return cls(partition_surplus(clay_pct, params), fym_share(params), locate, {})

    @property
    def enabled(self) -> bool:
        """Whether the check runs (always, except in a cost benchmark)."""
        return _ENABLED

    def check(
        self,
        phase: str,
        start: FloatArray,
        end: FloatArray,
        inputs: FloatArray,
        co2: FloatArray,
        labels: Sequence[str] = ("",),
    ) -> None:
        """Raise :class:`CarbonBalanceError` unless the phase closes for every row and record.

        Parameters
        ----------
        phase : str
            ``"spin-up"``, ``"warm-up"`` or ``"forward"``, then any detail (the scenario).
        start : numpy.ndarray
            ``(n,)`` SOC at the start of the phase [t C/ha].
        end, inputs, co2 : numpy.ndarray
            ``(n, r)`` (or ``(n,)``) SOC, cumulative inputs and CO2 at each record [t C/ha].
        labels : sequence of str
            What record ``j`` is, e.g. ``"year 3 of 20"``.
        """
        if not _ENABLED:
            return
        end, inputs, co2 = (np.asarray(a).reshape(start.shape[0], -1) for a in (end, inputs, co2))
        rel = relative_residual(start, end, inputs, co2, self.surplus)
        if rel.size == 0:
            return
        row, rec = (int(i) for i in np.unravel_index(int(np.argmax(rel)), rel.shape))
        name = phase.split(" ", 1)[0]
        self.worst[name] = max(self.worst.get(name, 0.0), float(rel[row, rec]))
        if rel[row, rec] <= TOLERANCE:
            return
        label = labels[rec] if rec < len(labels) else f"record {rec}"
        raise CarbonBalanceError(
            f"carbon balance not closed at {self.locate(row)}, "
            f"{phase}{', ' + label if label else ''}: stock change "
            f"{end[row, rec] - start[row]:+.9g} t C/ha, inputs {inputs[row, rec]:.9g} t C/ha, "
            f"CO2 released {co2[row, rec]:.9g} t C/ha, relative residual "
            f"{rel[row, rec]:.3g} > {TOLERANCE:g}; this is a bug in socseq, please report it "
            "with the configuration"
        )
