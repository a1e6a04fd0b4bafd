"""What a run states about its inputs: the climate, how PET was made, notes and sources.

Three places say it in the same words: ``run.json`` (``method``, ``notes``, ``sources``), the
NetCDF cube's global attributes and the report. Everything here follows from the
configuration, so ``socseq validate`` can read the sources before a run starts.
"""

from __future__ import annotations

import json
from typing import Any

from socseq.climate.gridded import PET_METHODS
from socseq.exceptions import ConfigError
from socseq.pipeline.config import RunConfig

__all__ = ["NORMALS_NOTE", "cited_sources", "climate_method", "netcdf_climate_attrs", "run_notes"]

#: The report's and run.json's statement for a run on ``[climate.normals]``.
NORMALS_NOTE = (
    "The warm-up used the 12 monthly climate normals in every year, not a historical series: "
    "the climate of the warm-up does not change from year to year and has no trend, so the "
    "soil stays near its spin-up equilibrium and BAU is about 0 by construction. ASR of BAU "
    "is therefore no estimate of a historical trend; SSM rates are the effect of the extra "
    "input under average climate."
)


def climate_method(config: RunConfig) -> dict[str, str]:
    """Return the ``run.json`` ``method`` entries of the climate: its kind and the PET.

    Returns
    -------
    dict
        ``climate``: ``"monthly series"`` or ``"monthly normals, the same 12 months in every
        warm-up year"``; ``pet``: the computed method (:data:`~socseq.climate.gridded.
        PET_METHODS`) or ``"evaporation layers given"``.
    """
    cl = config.climate
    kind = (
        "monthly normals, the same 12 months in every warm-up year"
        if cl.normals is not None
        else "monthly series"
    )
    pet = cl.computed_pet
    return {
        "climate": kind,
        "pet": f"computed: {PET_METHODS[pet]}" if pet else "evaporation layers given",
    }


def netcdf_climate_attrs(config: RunConfig) -> dict[str, str]:
    """Global attributes of the products that name the climate and the PET method."""
    method = climate_method(config)
    return {"climate_input": method["climate"], "pet_method": method["pet"]}


def run_notes(config: RunConfig) -> list[str]:
    """Return the notes of a run: what its climate implies, then ``[run] notes`` as given."""
    notes = []
    if config.climate.normals is not None:
        notes.append(NORMALS_NOTE)
    pet = config.climate.computed_pet
    if pet is not None:
        notes.append(
            f"No evaporation layer was given: potential evapotranspiration was computed by "
            f"{PET_METHODS[pet]} (mm per month, used as PET with evaporation coefficient 1.0)."
        )
    return [*notes, *config.run.notes]


def cited_sources(config: RunConfig) -> list[dict[str, Any]]:
    """Read the sources to cite from ``[run] sources`` (the ``sources.json`` of socseq fetch).

    Returns
    -------
    list of dict
        One per source: ``name``, ``title``, ``version``, ``licence``, ``citation``,
        ``homepage``; empty without ``[run] sources``.

    Raises
    ------
    ConfigError
        The file is missing or is not a ``sources.json`` of socseq fetch.
    """
    path = config.run.sources
    if path is None:
        return []
    fix = "give the sources.json that socseq fetch wrote, or remove the key"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration: [run.sources] {path} does not exist; {fix}") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"configuration: [run.sources] {path} is not JSON ({exc}); {fix}"
        ) from exc
    sources = record.get("sources") if isinstance(record, dict) else None
    if not isinstance(sources, dict):
        raise ConfigError(f"configuration: [run.sources] {path} has no 'sources' table; {fix}")
    keys = ("title", "version", "licence", "citation", "homepage")
    return [
        {"name": str(name), **{k: str(entry.get(k) or "") for k in keys}}
        for name, entry in sources.items()
        if isinstance(entry, dict)
    ]
