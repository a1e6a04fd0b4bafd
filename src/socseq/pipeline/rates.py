"""The sequestration rates and the "4 per 1000" rule: the one home of these definitions.

GSOCseq Technical Manual ch. 2 (eqs 2.1–2.2) and Annex II; the "4 per 1000" initiative:

- absolute sequestration rate ASR = (SOC_scenario,final − SOC_T0) / years  [t C/ha/yr];
- relative sequestration rate RSR = (SOC_scenario,final − SOC_baseline,final) / years;
- a cell reaches "4 per 1000" when ASR ≥ 0.004 · SOC_T0 (its 0–30 cm stock grows by 0.4 %
  of its T0 stock per year).

Products, uncertainty statistics, summaries and the report all use these functions; the
threshold appears nowhere else.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

#: numpy arrays, dask arrays or floats: the rules are plain arithmetic, so lazy arrays stay lazy.
A = TypeVar("A")

__all__ = [
    "FOUR_PER_1000",
    "FOUR_PER_1000_RULE",
    "absolute_rate",
    "reaches_four_per_1000",
    "relative_rate",
]

#: Annual relative SOC gain of the "4 per 1000" initiative [1/yr].
FOUR_PER_1000 = 0.004

#: The rule in words, for labels and metadata.
FOUR_PER_1000_RULE = f"ASR >= {FOUR_PER_1000:g} x SOC_T0"


def absolute_rate(final: A, t0: A, years: float) -> A:
    """Return ASR = (final − T0) / years [t C/ha/yr] (stocks in t C/ha, or area sums)."""
    return (final - t0) / years  # type: ignore[operator]


def relative_rate(final: A, final_baseline: A, years: float) -> A:
    """Return RSR = (final − final of the baseline scenario) / years [t C/ha/yr]."""
    return (final - final_baseline) / years  # type: ignore[operator]


def reaches_four_per_1000(asr: A, t0: A) -> Any:
    """Return where ASR ≥ 0.004 · T0 (False where either is NaN)."""
    with np.errstate(invalid="ignore"):
        return asr >= FOUR_PER_1000 * t0  # type: ignore[operator]
