"""Figures of the digital soil mapping: observed vs predicted, covariate importance, the maps.

The DSM (:mod:`socseq.dsm`) writes data only — predictions, metrics, importance tables and
maps; the figures are drawn here, at the report's standard, by the report and by the
``socseq dsm`` commands (:func:`write_validation_figures`, :func:`plot_dsm_maps`). Figures are
built on :class:`matplotlib.figure.Figure` without ``pyplot``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from pyproj import CRS

from socseq.atomic import atomic_path
from socseq.report.figures import (
    MapStyle,
    draw_map,
    flag_style,
    legend_handles,
    sequential_style,
)
from socseq.report.numbers import fmt_number
from socseq.report.png import figure_png
from socseq.report.run_folder import MapLayer

__all__ = [
    "DSM_MAP_LABELS",
    "plot_dsm_maps",
    "plot_importance",
    "plot_observed_vs_predicted",
    "save_figure",
    "write_validation_figures",
]

STOCK = "t C/ha"

#: DSM output variable → (panel title, colour-bar label).
DSM_MAP_LABELS: dict[str, tuple[str, str]] = {
    "soc_mean_t_ha": ("mean", f"SOC stock 0–30 cm ({STOCK})"),
    "soc_median_t_ha": ("median", f"SOC stock 0–30 cm ({STOCK})"),
    "soc_q05_t_ha": ("5 % quantile (lower bound of the 90 % interval)", f"SOC stock ({STOCK})"),
    "soc_q95_t_ha": ("95 % quantile (upper bound of the 90 % interval)", f"SOC stock ({STOCK})"),
    "soc_sd_t_ha": ("standard deviation", f"SD of the SOC stock ({STOCK})"),
    "di": ("dissimilarity index (DI)", "DI (unitless)"),
    "aoa": ("area of applicability", "area of applicability"),
}


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Save a figure as PNG (or the suffix's format) atomically and return the path.

    A PNG is rendered as the report's figures are (:func:`socseq.report.png.figure_png`:
    drawn once, cut to what is drawn); other formats go through ``savefig`` with a tight
    bounding box.
    """
    final = Path(path)
    fmt = final.suffix.lstrip(".").lower() or "png"
    with atomic_path(final) as tmp:
        if fmt == "png":
            tmp.write_bytes(figure_png(fig, dpi=dpi))
        else:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", facecolor="white", format=fmt)
    return final


def plot_observed_vs_predicted(
    observed: np.ndarray,
    predicted: np.ndarray,
    *,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    metrics: Mapping[str, float] | None = None,
    units: str = STOCK,
    title: str = "Observed vs predicted SOC stock 0–30 cm",
) -> Figure:
    """Scatter of observed against predicted values with the 1:1 line.

    Parameters
    ----------
    observed, predicted : array-like
        Values in ``units``.
    lower, upper : array-like, optional
        90 % interval bounds, drawn as grey bars; points outside their interval are marked.
    metrics : mapping, optional
        Shown in a text box (ME, MAE, RMSE in ``units``; R², MEC, CCC, PICP90 unitless).
    units : str, default "t C/ha"
        Axis units.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    o = np.asarray(observed, float)
    p = np.asarray(predicted, float)
    fig = Figure(figsize=(6, 6), layout="constrained")
    ax = fig.add_subplot()
    if lower is not None and upper is not None:
        lo, hi = np.asarray(lower, float), np.asarray(upper, float)
        ax.vlines(p, lo, hi, colors="0.8", linewidth=0.6, zorder=1, label="90 % interval")
        outside = (o < lo) | (o > hi)
        ax.scatter(p[~outside], o[~outside], s=8, alpha=0.6, zorder=2, label="inside interval")
        ax.scatter(
            p[outside],
            o[outside],
            s=8,
            alpha=0.8,
            color="tab:red",
            zorder=3,
            label="outside interval",
        )
    else:
        ax.scatter(p, o, s=8, alpha=0.6, zorder=2)
    top = float(np.nanmax([np.nanmax(o), np.nanmax(p)])) * 1.05
    ax.plot([0, top], [0, top], color="k", linewidth=1, label="1:1")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    ax.set_xlabel(f"predicted ({units})")
    ax.set_ylabel(f"observed ({units})")
    ax.set_title(title, fontsize=11)
    if metrics:
        lines = [f"n = {int(metrics['n'])}"] if "n" in metrics else []
        for key in ("ME", "MAE", "RMSE"):
            if key in metrics:
                lines.append(f"{key} = {fmt_number(metrics[key], 'stock')} {units}")
        for key in ("R2", "MEC", "CCC", "PICP90"):
            if key in metrics:
                lines.append(f"{key.replace('R2', 'R²')} = {fmt_number(metrics[key], 'metric')}")
        ax.text(
            0.03,
            0.97,
            "\n".join(lines),
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.7"},
        )
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_importance(importance: pd.DataFrame, *, units: str = STOCK) -> Figure:
    """Bar chart of permutation importance (increase of held-out RMSE) per covariate."""
    column = (
        "permutation_rmse_increase_t_ha"
        if "permutation_rmse_increase_t_ha" in importance
        else "impurity"
    )
    table = importance.sort_values(column)
    fig = Figure(figsize=(6, 0.3 * len(table) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    err = table["permutation_sd_t_ha"] if "permutation_sd_t_ha" in table else None
    ax.barh(table["covariate"], table[column], xerr=err, color="tab:green")
    ax.set_xlabel(
        f"increase of held-out RMSE when shuffled ({units})"
        if column != "impurity"
        else "impurity importance (share)"
    )
    ax.set_title("Covariate importance (cross-validation)", fontsize=11)
    ax.grid(True, axis="x", color="0.9")
    return fig


def _layer(da: xr.DataArray, crs: CRS | None) -> MapLayer:
    """Return a DSM map as a north-up :class:`MapLayer`."""
    x, y = da["x"].values, da["y"].values
    dx = float(x[1] - x[0]) if x.size > 1 else 1.0
    dy = float(y[0] - y[1]) if y.size > 1 else 1.0
    values = np.asarray(da.values, float)
    if dy < 0:  # rows run south to north
        values, dy = values[::-1], -dy
        y = y[::-1]
    extent = (
        float(x[0]) - dx / 2,
        float(x[-1]) + dx / 2,
        float(y[-1]) - dy / 2,
        float(y[0]) + dy / 2,
    )
    return MapLayer(values, extent, crs, str(da.name))


def plot_dsm_maps(
    ds: xr.Dataset,
    *,
    variables: Sequence[str] = (
        "soc_mean_t_ha",
        "soc_q05_t_ha",
        "soc_q95_t_ha",
        "soc_sd_t_ha",
        "di",
        "aoa",
    ),
    title: str = "SOC baseline 0–30 cm: digital soil mapping",
) -> Figure:
    """Panels of the DSM maps, drawn as the report draws maps.

    The mean and the quantiles share one colour scale so they compare at a glance; SD and DI
    get sequential scales of their own, the area of applicability a two-class legend. Every
    colour bar names the quantity and its units; the axes give km and the CRS.

    Parameters
    ----------
    ds : xarray.Dataset
        The DSM prediction (:func:`socseq.dsm.api.predict`), with a CRS.
    variables : sequence of str
        Variables to draw, in panel order (missing ones are skipped).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = [v for v in variables if v in ds]
    crs = CRS.from_user_input(ds.rio.crs) if ds.rio.crs is not None else None
    layers = {n: _layer(ds[n], crs) for n in names}
    stock_names = [n for n in names if n.startswith("soc_") and n != "soc_sd_t_ha"]
    stocks = [layers[n] for n in stock_names]
    stock_style = sequential_style(stocks, f"SOC stock 0–30 cm ({STOCK})") if stocks else None
    ncols = 3 if len(names) > 4 else 2
    nrows = math.ceil(len(names) / ncols)
    first = next(iter(layers.values()), None)
    ratio = 1.0
    if first is not None:
        left, right, bottom, top = first.extent
        ratio = (top - bottom) / max(right - left, 1e-12)
    fig = Figure(figsize=(4.6 * ncols, min(4.6 * ratio, 7.5) * nrows + 0.8), layout="constrained")
    fig.suptitle(title, fontsize=12)
    for i, name in enumerate(names, start=1):
        ax = fig.add_subplot(nrows, ncols, i)
        panel, label = DSM_MAP_LABELS.get(name, (name, name))
        style: MapStyle
        if name == "aoa":
            style = flag_style(
                "outside", "inside", colors=("#d73027", "#4575b4"), label="area of applicability"
            )
        elif stock_style is not None and name in stock_names:
            style = stock_style
        else:
            style = sequential_style([layers[name]], label, cmap="PuRd")
        image, no_data = draw_map(ax, layers[name], style, fontsize=8)
        ax.set_title(panel, fontsize=9)
        if style.categories is not None:
            ax.legend(
                handles=legend_handles(style, no_data, land=False),
                loc="lower right",
                fontsize=7,
                framealpha=0.9,
            )
        else:
            bar = fig.colorbar(image, ax=ax, shrink=0.85, aspect=25, extend=style.extend)
            bar.set_label(style.label, fontsize=8)
            bar.ax.tick_params(labelsize=7)
    return fig


def write_validation_figures(folder: str | os.PathLike[str]) -> list[Path]:
    """Draw the validation figures of a DSM output folder from its data files.

    Reads ``cv_<method>_predictions.csv`` (and ``test_predictions.csv``),
    ``validation_metrics.json`` and ``importance.csv``; writes
    ``cv_<method>_observed_vs_predicted.png``, ``test_observed_vs_predicted.png`` and
    ``importance.png`` beside them.

    Returns
    -------
    list of pathlib.Path
        The figures written.
    """
    folder = Path(folder)
    metrics: dict[str, object] = {}
    if (folder / "validation_metrics.json").is_file():
        metrics = json.loads((folder / "validation_metrics.json").read_text(encoding="utf-8"))
    written = []
    sources = [
        (p, p.name[3 : -len("_predictions.csv")]) for p in folder.glob("cv_*_predictions.csv")
    ]
    if (folder / "test_predictions.csv").is_file():
        sources.append((folder / "test_predictions.csv", "test"))
    for path, method in sorted(sources):
        table = pd.read_csv(path)
        entry = metrics.get("test" if method == "test" else f"cv_{method}")
        pooled = entry.get("pooled", entry) if isinstance(entry, dict) else None
        title = (
            "Independent test set, SOC stock 0–30 cm"
            if method == "test"
            else f"Cross-validation ({method}), SOC stock 0–30 cm"
        )
        has_interval = {"q05_t_ha", "q95_t_ha"} <= set(table.columns)
        fig = plot_observed_vs_predicted(
            table["observed_t_ha"],
            table["mean_t_ha"],
            lower=table["q05_t_ha"] if has_interval else None,
            upper=table["q95_t_ha"] if has_interval else None,
            metrics=pooled,
            title=title,
        )
        name = "test" if method == "test" else f"cv_{method}"
        written.append(save_figure(fig, folder / f"{name}_observed_vs_predicted.png"))
    if (folder / "importance.csv").is_file():
        table = pd.read_csv(folder / "importance.csv")
        if not table.empty:
            written.append(save_figure(plot_importance(table), folder / "importance.png"))
    return written
