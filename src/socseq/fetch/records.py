"""What a fetch leaves beside its layers: ``sources.json`` and the ``socseq.toml`` skeleton.

``sources.json`` records every source used (title, version, licence, citation, homepage, the
URLs read) so a run can cite them; the skeleton is a run configuration that
``socseq validate`` accepts when the sources gave every required layer.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

from socseq import __version__
from socseq.atomic import write_json_atomic, write_text_atomic
from socseq.fetch.plan import FetchRequest, split_periods

if TYPE_CHECKING:
    from socseq.fetch.api import FetchPlan, FetchResult

__all__ = ["write_provenance", "write_skeleton"]


def write_provenance(plan: FetchPlan, result: FetchResult) -> None:
    """Write ``sources.json``: the request, each source's licence and citation, the outputs."""
    record = {
        "socseq_version": __version__,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bbox": list(plan.request.bbox),
        "boundary": str(plan.request.boundary) if plan.request.boundary else None,
        "years": list(plan.request.years),
        "resolution_deg": plan.request.resolution,
        "sources": {
            s.name: {
                "title": s.title,
                "version": s.version,
                "licence": s.licence,
                "citation": s.citation,
                "homepage": s.homepage,
                "urls": [i.url for i in plan.items if i.source.name == s.name],
            }
            for s in plan.sources.values()
        },
        "absent_upstream": result.missing,
        "outputs": {k: os.path.relpath(v, result.out) for k, v in result.outputs.items()},
    }
    write_json_atomic(record, result.out / "sources.json")


def _rel(path: Path, out: Path) -> str:
    return Path(os.path.relpath(path, out)).as_posix()


def write_skeleton(
    result: FetchResult, request: FetchRequest, *, iso: str, name: str | None
) -> Path:
    """Write ``socseq.toml`` for the prepared layers; list what no source gave as incomplete."""
    out, o = result.out, result.outputs
    (spin0, spin1), (warm0, warm1) = split_periods(request.years)
    w, s, e, n = request.bbox
    lines = [
        "# Written by socseq fetch: inputs from public sources (see sources.json for the URLs,",
        "# licences and citations). Check it with `socseq validate socseq.toml`, then edit.",
        "",
        "[run]",
        f'name = "{name or f"socseq fetch {w:g},{s:g},{e:g},{n:g}"}"',
        f'iso = "{iso}"',
        'output_dir = "socseq-out"',
        'sources = "sources.json"  # the report cites these sources',
        "",
        "[periods]",
        f"spinup = [{spin0}, {spin1}]",
        f"warmup = [{warm0}, {warm1}]",
        "",
        "[inputs]",
    ]
    missing = []
    for role, units in (("soc", "t/ha"), ("clay", "%"), ("sand", "%")):
        if role in o:
            lines.append(f'{role} = {{ path = "{_rel(o[role], out)}", units = "{units}" }}')
        elif role != "sand":
            missing.append(role)
    if "land_use" in o:
        lines.append(f'land_use = {{ path = "{_rel(o["land_use"], out)}" }}')
    else:
        missing.append("land_use")
    if "soc" not in o:
        lines.insert(lines.index("[inputs]"), '[grid]\ntemplate = "clay"\n')
    lines += ["", "[land_use]", 'source_classes = "fao"', "", "[climate]"]
    climate = _climate_lines(o, out)
    if climate is None:
        missing.append("climate")
    else:
        lines += climate
    if missing:
        lines.insert(
            2,
            f"# INCOMPLETE: no fetched source gave {', '.join(missing)}; add them (--source "
            "NAME) or fill the keys by hand before socseq validate.",
        )
    result.incomplete = missing
    text = "\n".join(lines) + "\n"
    return write_text_atomic(text, out / "socseq.toml")


def _role_var(key: str) -> str:
    return key.split(":", 1)[1]


#: WorldClim variable → key of a ``[climate.normals]`` table and its units.
_NORMALS_KEYS = {
    "tavg": ("temperature", "degC"),
    "prec": ("precipitation", "mm"),
    "tmin": ("tmin", "degC"),
    "tmax": ("tmax", "degC"),
}


def _climate_lines(o: dict[str, Path], out: Path) -> list[str] | None:
    """``[climate.series]`` from monthly series, else ``[climate.normals]``; None if neither.

    Normals are named by their per-month pattern and carry no evaporation: the run computes
    PET (Hargreaves when tmin and tmax were fetched, else Thornthwaite) and states that its
    warm-up used normals.
    """
    series = {_role_var(k): v for k, v in o.items() if k.startswith("series:")}
    if {"tas", "pr", "pet"} <= set(series):
        return [
            'evaporation_kind = "pet"',
            "",
            "[climate.series]",
            f'temperature = {{ path = "{_rel(series["tas"], out)}", variable = "tas", '
            'units = "degC" }',
            f'precipitation = {{ path = "{_rel(series["pr"], out)}", variable = "pr", '
            'units = "mm" }',
            f'evaporation = {{ path = "{_rel(series["pet"], out)}", variable = "pet", '
            'units = "mm" }',
        ]
    normals = {_role_var(k): v for k, v in o.items() if k.startswith("normals:")}
    if "prec" not in normals or not ({"tavg"} <= set(normals) or {"tmin", "tmax"} <= set(normals)):
        return None
    lines = [
        "# 12 monthly normals: the same climate every warm-up year, so BAU is about 0 by",
        "# construction; no evaporation, so the run computes PET (Hargreaves with tmin/tmax).",
        "",
        "[climate.normals]",
    ]
    for var, (key, units) in _NORMALS_KEYS.items():
        if var in normals:
            lines.append(f'{key} = {{ pattern = "{_rel(normals[var], out)}", units = "{units}" }}')
    return lines
