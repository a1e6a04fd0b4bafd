"""The Rothamsted carbon model RothC 2.0.0, vectorised over grid cells.

- :func:`run`: monthly runs of many cells (numba kernel, parallel over cells).
- :func:`equilibrium`: spin-up by exact periodic equilibrium, the Rothamsted iteration, or the
  Dechow et al. (2019) analytical solution; optionally fitting the input to a target SOC.
- :class:`RothCParameters`: the model constants in one frozen object.
"""

from __future__ import annotations

from socseq.rothc.equilibrium import Equilibrium, equilibrium
from socseq.rothc.model import (
    POOLS,
    MonthlyForcing,
    RothCState,
    RunOptions,
    RunResult,
    Soil,
    run,
)
from socseq.rothc.modifiers import (
    co2_partition,
    falloon_iom,
    moisture_modifier,
    soil_water_limits,
    temperature_modifier,
)
from socseq.rothc.parameters import DEFAULT_PARAMETERS, RothCParameters

__all__ = [
    "DEFAULT_PARAMETERS",
    "Equilibrium",
    "POOLS",
    "MonthlyForcing",
    "RothCParameters",
    "RothCState",
    "RunOptions",
    "RunResult",
    "Soil",
    "co2_partition",
    "equilibrium",
    "falloon_iom",
    "moisture_modifier",
    "run",
    "soil_water_limits",
    "temperature_modifier",
]
