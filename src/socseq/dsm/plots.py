"""Figures of the DSM: observed vs predicted, covariate importance, and the maps.

Figures are built on :class:`matplotlib.figure.Figure` directly, not through ``pyplot``, so
they render with the Agg backend without a display and never touch global plotting state.
Every axis names its quantity and units; map axes give the coordinates in the grid's CRS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from pyproj import CRS

from socseq.atomic import atomic_path

__all__ = ["plot_importance", "plot_maps", "plot_observed_vs_predicted", "save_figure"]


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Save a figure as PNG (or the suffix's format) atomically and return the path."""
    final = Path(path)
    with atomic_path(final) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=final.suffix.lstrip(".") or "png")
    return final


def plot_observed_vs_predicted(
    observed: np.ndarray,
    predicted: np.ndarray,
    *,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    metrics: Mapping[str, float] | None = None,
    units: str = "t C/ha",
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
    fig = Figure(figsize=(6, 6))
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
    ax.set_title(title)
    if metrics:
        lines = [f"n = {int(metrics['n'])}"] if "n" in metrics else []
        for key in ("ME", "MAE", "RMSE"):
            if key in metrics:
                lines.append(f"{key} = {metrics[key]:.3g} {units}")
        for key in ("R2", "MEC", "CCC", "PICP90"):
            if key in metrics:
                lines.append(f"{key.replace('R2', 'R²')} = {metrics[key]:.3f}")
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


def plot_importance(importance: pd.DataFrame, *, units: str = "t C/ha") -> Figure:
    """Bar chart of permutation importance (increase of held-out RMSE) per covariate."""
    column = (
        "permutation_rmse_increase_t_ha"
        if "permutation_rmse_increase_t_ha" in importance
        else "impurity"
    )
    table = importance.sort_values(column)
    fig = Figure(figsize=(6, 0.3 * len(table) + 1.5))
    ax = fig.add_subplot()
    err = table["permutation_sd_t_ha"] if "permutation_sd_t_ha" in table else None
    ax.barh(table["covariate"], table[column], xerr=err, color="tab:green")
    ax.set_xlabel(
        f"increase of held-out RMSE when shuffled ({units})"
        if column != "impurity"
        else "impurity importance (share)"
    )
    ax.set_title("Covariate importance (cross-validation)")
    return fig


def _axis_labels(crs: CRS | None) -> tuple[str, str]:
    if crs is not None and crs.is_geographic:
        return "longitude (°E)", "latitude (°N)"
    unit = crs.axis_info[0].unit_name if crs is not None and crs.axis_info else "m"
    return f"easting ({unit})", f"northing ({unit})"


def plot_maps(
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
    title: str = "SOC stock 0–30 cm",
) -> Figure:
    """Panels of the predicted maps with colour bars, units and grid coordinates.

    The stock panels share one colour scale so the quantiles compare at a glance; DI and the
    AOA mask get their own.
    """
    names = [v for v in variables if v in ds]
    ncols = 3 if len(names) > 4 else 2
    nrows = int(np.ceil(len(names) / ncols))
    crs = ds.rio.crs
    crs = CRS.from_user_input(crs) if crs is not None else None
    xlabel, ylabel = _axis_labels(crs)
    x, y = ds["x"].values, ds["y"].values
    extent = (
        x[0] - (x[1] - x[0]) / 2,
        x[-1] + (x[1] - x[0]) / 2,
        y[-1] - (y[0] - y[1]) / 2,
        y[0] + (y[0] - y[1]) / 2,
    )
    stocks = [n for n in names if n.startswith("soc_") and n != "soc_sd_t_ha"]
    finite = (
        np.concatenate([ds[n].values[np.isfinite(ds[n].values)] for n in stocks])
        if stocks
        else np.array([])
    )
    vmax = float(np.percentile(finite, 99)) if finite.size else None
    fig = Figure(figsize=(5 * ncols, 4 * nrows))
    for i, name in enumerate(names, start=1):
        ax = fig.add_subplot(nrows, ncols, i)
        da = ds[name]
        units = da.attrs.get("units", "")
        label = f"{name} ({'t C/ha' if units == 't/ha' else units})"
        if name == "aoa":
            image = ax.imshow(
                da.values,
                extent=extent,
                origin="upper",
                vmin=0,
                vmax=1,
                cmap=ListedColormap(["tab:red", "tab:green"]),
                interpolation="nearest",
            )
            bar = fig.colorbar(image, ax=ax, ticks=[0.25, 0.75], shrink=0.8)
            bar.ax.set_yticklabels(["outside", "inside"])
            bar.set_label("area of applicability")
        else:
            kwargs: dict[str, Any] = {"vmin": 0, "vmax": vmax} if name in stocks else {}
            image = ax.imshow(
                da.values,
                extent=extent,
                origin="upper",
                cmap="viridis",
                interpolation="nearest",
                **kwargs,
            )
            fig.colorbar(image, ax=ax, shrink=0.8).set_label(label)
        if crs is not None and crs.is_geographic:
            # Degrees of longitude shrink with latitude: keep ground distances undistorted.
            ax.set_aspect(1 / np.cos(np.deg2rad(float(np.mean(y)))))
        ax.set_title(da.attrs.get("long_name", name), fontsize=7)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
