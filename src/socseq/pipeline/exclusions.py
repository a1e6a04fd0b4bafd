"""Why an agricultural cell is or is not simulated: the per-cell codes of a run.

A window task records one code per cell (``reason`` in ``results.zarr``,
:mod:`socseq.pipeline.phases`); ``exclusions.csv``, ``run.json`` and the maps name them from
here, and the survey of ``socseq validate`` (:mod:`socseq.pipeline.survey`) counts the cells
each rule would remove. They live apart from the window task so that validate needs none of the
phase engine (numba, the RothC kernels) to name them.
"""

from __future__ import annotations

__all__ = [
    "EXCLUSION_REASONS",
    "NOT_AGRICULTURAL",
    "NO_LAND_USE",
    "OUTSIDE_DOMAIN",
    "SIMULATED",
]

SIMULATED = 0
#: Agricultural cells outside the ``[domain]``: tested first, so the domain bounds every area.
OUTSIDE_DOMAIN = 11
#: Exclusion reasons of candidate cells (agricultural classes), in the order they are tested;
#: the first that applies is recorded. (Codes are stable across versions: the domain, added
#: last, has the next free code but is tested first.)
EXCLUSION_REASONS = {
    OUTSIDE_DOMAIN: "outside the domain",
    1: "land-use class not simulated",
    2: "paddy (excluded by configuration)",
    3: "no SOC baseline",
    4: "no clay",
    5: "no climate",
    6: "SOC above the mask limit",
    7: "sand above the mask limit",
    8: "EC above the mask limit",
    9: "implausible value (SOC ≤ 0, clay outside 0–100 %, zero NPP)",
    10: "no decomposition (every spin-up month below −5 °C)",
}
#: Cells outside the agricultural classes, and cells without land-use data.
NOT_AGRICULTURAL = 254
NO_LAND_USE = 255
