"""Plausibility guards: stop a run whose inputs would give silently wrong answers.

Every guard raises one line that names the numbers seen, the likely cause and the fix, and,
where a user may really mean it, the ``[checks]`` key that relaxes it
(:class:`socseq.pipeline.config.ChecksConfig`). :mod:`socseq.pipeline.validate` runs them
for ``socseq validate`` and before every run (the ``[dsm]`` samples before the DSM);
``socseq run`` checks the ``[dsm]`` baseline map once it is predicted, before any phase.
The land-use legend guard is :func:`socseq.pipeline.validate.check_values` (its threshold
is ``[checks] unknown_code_share_max``).

The guards here:

- :func:`check_class_names`: ``land_use.simulate`` and ``land_use.cropland`` name classes of
  the class table (not relaxable: a class without properties cannot be modelled).
- :func:`require_cells`: some cell is left to simulate (not relaxable: nothing to compute),
  with the cells each exclusion reason removed.
- :func:`check_soc_median`: the median SOC stock of the agricultural cells (or of the ``[dsm]``
  samples) lies in a plausible 0–30 cm range (``[checks] soc_median_range_t_ha``, default
  5–400 t C/ha).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from socseq.exceptions import ConfigError, InputValidationError
from socseq.pipeline.config import ChecksConfig, LandUseConfig
from socseq.pipeline.landuse import ClassTable

__all__ = [
    "MIXUPS",
    "SocSource",
    "check_class_names",
    "check_soc_median",
    "require_cells",
    "soc_median",
]

#: Powers of ten by which a median misses the plausible range (positive: too low) → the unit
#: mix-ups that give such a factor, for stocks given as stocks and for stocks computed from
#: SOC concentrations.
MIXUPS = {
    "stock": {
        1: "stocks in kg/m² declared as t/ha",
        2: "stocks in t/ha declared as g/m²",
        -1: "stocks in t/ha declared as kg/m²",
        -2: "stocks in g/m² declared as t/ha",
        -3: "stocks in kg/ha declared as t/ha",
    },
    "concentration": {
        1: "SOC in % declared as g/kg",
        3: "SOC as a fraction (kg/kg) declared as g/kg",
        -1: "SOC in g/kg declared as %",
    },
}


def check_class_names(land_use: LandUseConfig, table: ClassTable) -> None:
    """Raise unless every class of ``land_use.simulate`` and ``.cropland`` is in the table.

    Raises
    ------
    ConfigError
        Names the unknown classes, the table and its classes.
    """
    known = {int(c) for c in table.codes}
    for key in ("simulate", "cropland"):
        unknown = sorted({int(c) for c in getattr(land_use, key)} - known)
        if unknown:
            classes = ", ".join(f"{c} {table.names[c]}" for c in sorted(known))
            which = "class" if len(unknown) == 1 else "classes"
            raise ConfigError(
                f"land_use.{key} names {which} {', '.join(map(str, unknown))}, not in the "
                f"class table ({table.source}: {classes}); give codes of the table (FAO "
                "classes, also for ESA CCI maps) or add the class to a land_use.table CSV"
            )


def require_cells(checked: dict[str, Any], land_use_path: Any, candidate_classes: Any) -> None:
    """Stop before computing when the survey of the grid leaves no cell to simulate.

    Parameters
    ----------
    checked : dict
        :func:`socseq.pipeline.validate.survey` of the grid.
    land_use_path : path-like
        The land-use file, for the message.
    candidate_classes : sequence of int
        ``land_use.simulate`` and ``land_use.cropland``.

    Raises
    ------
    InputValidationError
        No agricultural cell on the grid, or every one excluded: names the cells per reason.
    """
    if checked["candidate_cells"] == 0:
        raise InputValidationError(
            f"layer 'inputs.land_use' (file {land_use_path}): no cell of the classes "
            f"{sorted(candidate_classes)} on the grid; check land_use.simulate and "
            "land_use.source_classes"
        )
    if checked["survey_cells"] == 0:
        reasons = ", ".join(f"{k}: {v:,}" for k, v in checked["excluded"].items() if v)
        raise InputValidationError(
            f"no cell to simulate: all {checked['candidate_cells']:,} agricultural cells are "
            f"excluded ({reasons}); check the masks, the units of the SOC and clay layers, "
            "the climate's extent, the [domain] and land_use.simulate"
        )


@dataclass(frozen=True)
class SocSource:
    """What a SOC median was computed from, for the guard's message.

    Attributes
    ----------
    what : str
        E.g. ``"(inputs.soc, file soc.tif, units 't/ha')"``.
    cells : str
        What the values are: ``"agricultural cells"`` or ``"samples"``.
    fix : str
        Where the units are declared: ``"inputs.soc.units"``.
    kind : {"stock", "concentration"}
        Whether the values were given as stocks or computed from SOC concentrations (which
        unit mix-ups to suggest).
    """

    what: str
    cells: str
    fix: str
    kind: str = "stock"


def soc_median(values: np.ndarray) -> tuple[float, int]:
    """Median [t C/ha] and count of the finite, positive stocks in ``values`` (NaN if none)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v) & (v > 0)]
    return (float(np.median(v)) if v.size else math.nan), int(v.size)


def check_soc_median(median: float, n: int, checks: ChecksConfig, source: SocSource) -> None:
    """Raise when a median SOC stock lies outside the plausible range.

    Parameters
    ----------
    median : float
        Median SOC stock 0–30 cm [t C/ha] (:func:`soc_median`) of the agricultural cells (or
        of the samples).
    n : int
        Cells (or samples) it is the median of; 0: nothing to check.
    checks : ChecksConfig
        ``soc_median_range_t_ha`` (None: no check).
    source : SocSource
        What the values are, for the message.

    Raises
    ------
    InputValidationError
        One line with the median, the cells, the range, the likely unit mix-up and the fix.
    """
    bounds = checks.soc_median_range_t_ha
    if bounds is None or n == 0:
        return
    low, high = bounds
    if low <= median <= high:
        return
    # The power of ten that brings the median nearest the range's geometric centre.
    centre = math.sqrt(max(low, 1.0) * high)
    power = round(math.log10(centre / median)) if median > 0 else 0
    side = f"below {low:g}" if median < low else f"above {high:g}"
    mixup = MIXUPS[source.kind].get(power)
    likely = (
        f"{mixup} gives stocks {10 ** abs(power):g}× too {'low' if power > 0 else 'high'}"
        if mixup
        else "are these 0–30 cm stocks in t C/ha?"
    )
    raise InputValidationError(
        f"SOC baseline {source.what}: median {median:.3g} t C/ha on {n:,} {source.cells} is "
        f"{side} t C/ha, outside the plausible 0–30 cm stocks {low:g}–{high:g} t C/ha; {likely}; "
        f"check {source.fix}, or relax with [checks] soc_median_range_t_ha = [low, high] "
        "(false: off)"
    )
