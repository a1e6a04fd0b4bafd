"""Build the HTML report of a finished run: one self-contained file plus the figures as PNG.

``report.html`` embeds every figure as a base64 PNG and its CSS inline, loads nothing from the
network and opens from disk in any browser; the same figures are written to ``figures/`` for
reuse in documents. The page is rendered from the Jinja2 template ``templates/report.html.j2``
shipped with the package.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from socseq import __version__
from socseq.atomic import atomic_path, write_text_atomic
from socseq.pipeline.landuse import legend_summary
from socseq.pipeline.rates import FOUR_PER_1000_RULE
from socseq.report.dsm_section import dsm_section
from socseq.report.figure_list import FIGURES_DIR, FigureList, ReportFigure
from socseq.report.figures import (
    diverging_style,
    flag_style,
    plot_map,
    plot_timeseries,
    sequential_style,
)
from socseq.report.interactive import build_interactive_map
from socseq.report.numbers import (
    ASR_UNITS,
    STOCK_UNITS,
    fmt_number,
    fmt_share,
    is_missing,
    timing_rows,
)
from socseq.report.run_folder import MapLayer, RunFolder

__all__ = ["REPORT_FILE", "FIGURES_DIR", "ReportFigure", "build_report"]

#: Report file name inside the run folder.
REPORT_FILE = "report.html"


_METHOD_LABELS = {
    "spinup": "spin-up",
    "carbon_fraction": "carbon fraction of dry matter",
    "evaporation_kind": "evaporation input",
    "cover_source": "soil cover from",
    "paddy": "paddy fields",
    "paddy_rate_factor": "paddy rate factor",
    "constants": "RothC constants",
    "depth_cm": "soil depth (cm)",
    "land_use_table": "land-use class table",
    "land_use_codes": "land-use codes",
    "domain": "study area ([domain])",
    "checks_relaxed": "plausibility checks relaxed ([checks])",
    "climate": "climate input",
    "pet": "potential evapotranspiration",
}


def _method_rows(method: dict[str, Any]) -> list[list[str]]:
    """Label and value of each method choice of ``run.json``; the land-use codes in words."""
    rows = []
    for key, value in method.items():
        if value is None:
            continue
        text = str(value)
        if key == "land_use_codes":
            # How codes became classes and what happened to paddy, as socseq validate says it.
            text = legend_summary(
                text, str(method.get("land_use_table", "fao")), str(method.get("paddy"))
            )
        rows.append([_METHOD_LABELS.get(key, key.replace("_", " ")), text])
    return rows


def fmt(value: Any, kind: str = "stock") -> str:
    """Format a table value (see :func:`socseq.report.numbers.fmt_number`)."""
    return fmt_number(value, kind)


def _seconds(value: Any) -> str:
    """Format a duration: seconds below two minutes, else minutes (3 significant figures)."""
    if is_missing(value):
        return "–"
    seconds = float(value)
    if seconds >= 120:
        return f"{fmt_number(seconds / 60, 'seconds')} min"
    return f"{fmt_number(seconds, 'seconds')} s"


def _summary_rows(table: pd.DataFrame) -> list[list[str]]:
    def get(row: pd.Series, column: str) -> Any:
        return row[column] if column in row.index else None

    rows = []
    for _, row in table.iterrows():
        rows.append(
            [
                str(row["scenario"]),
                fmt(get(row, "input_multiplier"), "factor"),
                fmt(get(row, "mean_soc_t0_t_ha"), "stock"),
                fmt(get(row, "mean_soc_final_t_ha"), "stock"),
                fmt(get(row, "mean_asr_t_ha_yr"), "rate"),
                fmt(get(row, "mean_rsr_t_ha_yr"), "rate"),
                fmt(get(row, "total_asr_t_yr"), "total"),
                fmt(get(row, "total_rsr_t_yr"), "total"),
                fmt(get(row, "simulated_area_ha"), "area"),
                fmt(get(row, "simulated_cropland_area_ha"), "area"),
                fmt(get(row, "area_4p1000_ha"), "area"),
                fmt(get(row, "share_4p1000_pct"), "share"),
            ]
        )
    return rows


SUMMARY_HEADER = [
    "scenario",
    "C input ×",
    "mean SOC T0 (t C/ha)",
    "mean SOC final (t C/ha)",
    "mean ASR (t C/ha/yr)",
    "mean RSR (t C/ha/yr)",
    "total ASR (t C/yr)",
    "total RSR (t C/yr)",
    "simulated area (ha): the area of the means and totals",
    "simulated cropland (ha): the 4‰ denominator",
    "cropland reaching 4‰ (ha)",
    "share of the simulated cropland reaching 4‰ (%)",
]


def _cells(run: RunFolder) -> dict[str, Any]:
    """Cell counts by outcome: from exclusions.csv when present, else from run.json."""
    cells = run.manifest.get("cells") or {}
    rows: list[list[str]] = []
    table = run.exclusions
    if table is not None:
        for _, row in table.iterrows():
            if int(row["cells"]) == 0:
                continue
            rows.append(
                [str(row["reason"]), f"{int(row['cells']):,}", fmt(row.get("area_ha"), "area")]
            )
    else:
        if "simulated" in cells:
            rows.append(["simulated", f"{int(cells['simulated']):,}", "–"])
        for reason, count in (cells.get("excluded") or {}).items():
            if int(count):
                rows.append([str(reason), f"{int(count):,}", "–"])
        for key in ("not_agricultural", "no_land_use"):
            if int(cells.get(key, 0) or 0):
                rows.append([key.replace("_", " "), f"{int(cells[key]):,}", "–"])
    excluded = cells.get("excluded") or {}
    return {
        "grid": cells.get("grid"),
        "candidate": cells.get("candidate"),
        "simulated": cells.get("simulated"),
        "excluded_total": sum(int(v) for v in excluded.values()) if excluded else None,
        "rows": rows,
    }


def _warmup_climate(run: RunFolder) -> str:
    """Name what the warm-up ran on: historical climate, or the normals every year."""
    method = run.manifest.get("method") or {}
    if str(method.get("climate", "")).startswith("monthly normals"):
        return "the 12 monthly climate normals repeated every year (no historical climate)"
    return "historical climate"


def _inputs(run: RunFolder) -> list[list[str]]:
    rows = [[str(k), str(v)] for k, v in (run.manifest.get("inputs") or {}).items()]
    dsm = run.manifest.get("dsm")
    if dsm and not any(r[0] == "soc" for r in rows):
        how = "mapped by this run's digital soil mapping (dsm/)"
        if isinstance(dsm, dict) and dsm.get("reused"):
            how = (
                f"mapped by digital soil mapping (dsm/) on {dsm.get('computed_utc')}, reused "
                f"by this run: same inputs, settings and software (key {dsm.get('key')})"
            )
        rows.insert(0, ["soc", how])
    return rows


def _scenario_rows(run: RunFolder) -> list[list[str]]:
    rows = []
    for s in run.manifest["scenarios"]:
        rows.append(
            [
                str(s["name"]),
                fmt(s.get("input_multiplier"), "factor"),
                fmt(s.get("fym_t_ha"), "stock"),
                "yes" if s.get("baseline") else "",
            ]
        )
    return rows


def _summary_for(run: RunFolder, zone: str) -> pd.DataFrame:
    table = run.summary[run.summary["zone"] == zone]
    order = {name: i for i, name in enumerate(run.scenarios)}
    return table.assign(_o=table["scenario"].map(order)).sort_values("_o").drop(columns="_o")


def _domain_value(run: RunFolder, scenario: str, column: str) -> float:
    table = run.summary[(run.summary["zone"] == "all") & (run.summary["scenario"] == scenario)]
    if table.empty or column not in table.columns:
        return math.nan
    return float(table[column].iloc[0])


def _cropland_flags(run: RunFolder, layer: MapLayer) -> tuple[MapLayer, bool]:
    """Return the 4-per-1000 flags with simulated cells outside the cropland set to 2.

    Returns the layer and whether the cropland was known (from the cube's ``cropland``).
    """
    crop = run.cropland
    if crop is None or crop.shape != layer.values.shape:
        return layer, False
    values = np.where(np.isfinite(layer.values) & ~crop, 2.0, layer.values)
    return MapLayer(values, layer.extent, layer.crs, layer.source), True


def _map_figures(run: RunFolder, figures: FigureList) -> dict[str, list[ReportFigure]]:
    """T0, ASR, RSR and 4-per-1000 maps, each quantity on one scale across scenarios."""
    first, last = run.manifest["periods"]["forward"]
    span = f"{first}–{last}"
    t0_year = run.manifest["periods"]["warmup"][1]
    land = run.land
    scenarios = run.scenarios
    others = [s for s in scenarios if s != run.baseline]
    groups: dict[str, list[ReportFigure]] = {"t0": [], "asr": [], "rsr": [], "p4": []}

    t0 = run.product("T0")
    mean_t0 = _domain_value(run, scenarios[0], "mean_soc_t0_t_ha")
    groups["t0"].append(
        figures.add(
            "soc_t0",
            plot_map(
                t0,
                sequential_style([t0], f"SOC stock 0–30 cm ({STOCK_UNITS})"),
                f"SOC stock at T0 (end of {t0_year})",
                land=land,
                note=_note("area-weighted mean", mean_t0, STOCK_UNITS, "stock"),
            ),
            "SOC stock at T0",
            f"SOC stock 0–30 cm at the end of the warm-up ({t0_year}), the start "
            f"of every scenario. Source: {t0.source}.",
        )
    )

    asr = {s: run.product("ASR", s) for s in scenarios}
    style = diverging_style(list(asr.values()), f"ASR ({ASR_UNITS})")
    for s, layer in asr.items():
        groups["asr"].append(
            figures.add(
                f"asr_{_safe(s)}",
                plot_map(
                    layer,
                    style,
                    f"Absolute sequestration rate, {s} ({span})",
                    land=land,
                    note=_note(
                        "area-weighted mean",
                        _domain_value(run, s, "mean_asr_t_ha_yr"),
                        ASR_UNITS,
                        "rate",
                    ),
                ),
                f"ASR, {s}",
                f"(SOC after {run.forward_years} years − SOC at T0) / "
                f"{run.forward_years}, {s}. Green gains, brown loses carbon, near-white is no "
                "change; hatched grey land was not simulated. All scenarios share one colour "
                f"scale. Source: {layer.source}.",
            )
        )

    if others:
        rsr = {s: run.product("RSR", s) for s in others}
        style = sequential_style(
            list(rsr.values()), f"RSR ({ASR_UNITS})", cmap="YlGn", from_zero=True
        )
        for s, layer in rsr.items():
            groups["rsr"].append(
                figures.add(
                    f"rsr_{_safe(s)}",
                    plot_map(
                        layer,
                        style,
                        f"Relative sequestration rate, {s} vs {run.baseline}",
                        land=land,
                        note=_note(
                            "area-weighted mean",
                            _domain_value(run, s, "mean_rsr_t_ha_yr"),
                            ASR_UNITS,
                            "rate",
                        ),
                    ),
                    f"RSR, {s}",
                    f"(SOC of {s} − SOC of {run.baseline}, both after "
                    f"{run.forward_years} years) / {run.forward_years}: the extra carbon the "
                    f"practice stores each year compared with the baseline. "
                    f"Source: {layer.source}.",
                )
            )

    for s in scenarios:
        layer, known = _cropland_flags(run, run.product("4p1000", s))
        share = _domain_value(run, s, "share_4p1000_pct")
        denominator = _domain_value(run, s, "simulated_cropland_area_ha")
        reached = _domain_value(run, s, "area_4p1000_ha")
        note = (
            None
            if math.isnan(share)
            else f"{fmt_share(share, denominator, what='of simulated cropland')} "
            f"({fmt(reached, 'area')} ha)"
        )
        if known:
            style = flag_style(
                "cropland, not reached",
                "cropland, reached",
                "other simulated class (not in the share)",
                label=f"4 per 1000\n({FOUR_PER_1000_RULE})",
            )
            title = f"Where 4 per 1000 is reached on the simulated cropland, {s}"
            what = "simulated cropland cells"
        else:
            style = flag_style(
                "not reached", "reached", label=f"4 per 1000\n({FOUR_PER_1000_RULE})"
            )
            title = f"Where 4 per 1000 is reached, {s} (all simulated classes)"
            what = "simulated cells of every class (the run folder does not say which are cropland)"
        groups["p4"].append(
            figures.add(
                f"4p1000_{_safe(s)}",
                plot_map(layer, style, title, land=land, note=note),
                f"4 per 1000, {s}",
                f"The {what} whose absolute sequestration rate under {s} is at least 0.4 % of "
                f"their T0 stock per year. The share is of the simulated cropland area. "
                f"Source: {layer.source}.",
            )
        )
    return groups


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _note(what: str, value: float, units: str, kind: str) -> str | None:
    return None if math.isnan(value) else f"{what} {fmt(value, kind)} {units}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("socseq.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters: dict[str, Callable[..., str]] = {"fmt": fmt, "seconds": _seconds}
    env.filters.update(filters)
    return env


def render_report(run: RunFolder) -> tuple[str, list[ReportFigure]]:
    """Make every figure and render the report page.

    Parameters
    ----------
    run : RunFolder
        The finished run.

    Returns
    -------
    html : str
        The self-contained page.
    figures : list of ReportFigure
        The figures embedded in it, in page order.
    """
    figures = FigureList()
    dsm = dsm_section(run, figures)
    maps = _map_figures(run, figures)
    series = None
    if run.timeseries is not None and not run.timeseries.empty:
        t0_year = int(run.manifest["periods"]["warmup"][1])
        series = figures.add(
            "soc_timeseries",
            plot_timeseries(run.timeseries, run.scenarios, baseline=run.baseline, t0_year=t0_year),
            "Yearly mean SOC stock",
            "Area-weighted mean SOC stock 0–30 cm of the simulated cells at the end of each "
            f"year: the warm-up with {_warmup_climate(run)}, then every scenario from T0.",
        )
    manifest = run.manifest
    periods = manifest["periods"]
    context = {
        "name": manifest.get("name") or run.path.name,
        "iso": run.iso,
        "version": manifest.get("socseq_version", "unknown"),
        "report_version": __version__,
        "digest": manifest.get("config_digest", "unknown"),
        "created": manifest.get("created_utc", "unknown"),
        "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scheduler": manifest.get("scheduler"),
        "periods": [
            ["spin-up", *periods.get("spinup", ["–", "–"])],
            ["warm-up", *periods.get("warmup", ["–", "–"])],
            ["forward", *periods.get("forward", ["–", "–"])],
        ],
        "t0_year": periods.get("warmup", [None, None])[1],
        "forward_years": run.forward_years,
        "baseline": run.baseline,
        "scenarios": _scenario_rows(run),
        "method": _method_rows(manifest.get("method") or {}),
        "timings": [[label, _seconds(v)] for label, v in timing_rows(manifest.get("timings_s"))],
        "interactive": build_interactive_map(run),
        "cells": _cells(run),
        "inputs": _inputs(run),
        "notes": run.notes,
        "warmup_climate": _warmup_climate(run),
        "normals": _warmup_climate(run) != "historical climate",
        "sources": [s for s in manifest.get("sources") or [] if isinstance(s, dict)],
        "dsm": dsm,
        "maps": maps,
        "series": series,
        "summary_header": SUMMARY_HEADER,
        "summary": _summary_rows(_summary_for(run, "all")),
        "zones": [(zone, _summary_rows(_summary_for(run, zone))) for zone in run.zones],
        "products": [str(p) for p in manifest.get("products") or []],
    }
    html = _environment().get_template("report.html.j2").render(**context)
    return html, figures.items


def build_report(run_dir: str | os.PathLike[str]) -> Path:
    """Write ``report.html`` and ``figures/*.png`` for a finished run folder.

    Parameters
    ----------
    run_dir : path-like
        Output folder of ``socseq run`` (holding ``run.json``, ``summary.csv`` and the maps).

    Returns
    -------
    pathlib.Path
        Path of ``report.html``.

    Raises
    ------
    RunFolderError
        When a file the report needs is missing or unreadable; the message names it and the
        fix.

    Notes
    -----
    The figures folder is replaced as a whole (atomically), so figures of scenarios that a
    rerun dropped do not linger; the report is written after it, also atomically.
    """
    run = RunFolder(run_dir)
    html, items = render_report(run)
    with atomic_path(run.path / FIGURES_DIR) as tmp:
        tmp.mkdir()
        for item in items:
            (tmp / Path(item.file).name).write_bytes(item.png)
    return write_text_atomic(html, run.path / REPORT_FILE)
