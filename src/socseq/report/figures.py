"""Figures of the run report: product maps, the yearly SOC series and the DSM accuracy plot.

Figures are built on :class:`matplotlib.figure.Figure` directly, not through ``pyplot``, so
they render with the Agg backend without a display and never touch global plotting state
(as :mod:`socseq.dsm.plots`). Every colour bar names its quantity and units; map axes give
the grid coordinates (km on projected grids) with equal scale on both axes.

Colour scales follow what the values mean: sequential for stocks and rates that are ≥ 0
(RSR, uncertainty), diverging and centred at zero for changes that can take either sign
(ASR), two categorical colours with a legend for flags (4 per 1000, area of applicability).
Maps of the same quantity share one scale across scenarios so they compare at a glance.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, Colormap, ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from pyproj import CRS

from socseq.report.run_folder import MapLayer

__all__ = [
    "MapStyle",
    "diverging_style",
    "flag_style",
    "figure_png",
    "plot_map",
    "plot_timeseries",
    "sequential_style",
]

#: Colour of land cells that were not simulated (drawn under every map).
LAND_GREY = (0.86, 0.86, 0.86, 1.0)

#: Colour of cells without data when the land outline is unknown.
NODATA_GREY = "0.92"


@dataclass(frozen=True)
class MapStyle:
    """How to colour one quantity.

    Attributes
    ----------
    cmap : matplotlib.colors.Colormap
        Colour map (NaN is drawn transparent over the land background).
    norm : matplotlib.colors.Normalize
        Value → colour scaling, shared by the maps of one quantity.
    label : str
        Colour-bar label with units, e.g. ``"ASR (t C/ha/yr)"``.
    extend : str
        Colour-bar arrows for values beyond the scale (``"neither"``, ``"min"``, ``"max"``,
        ``"both"``).
    categories : tuple of str, optional
        For flag maps: legend labels of the values 0 and 1 (no colour bar is drawn).
    """

    cmap: Colormap
    norm: Normalize
    label: str
    extend: str = "neither"
    categories: tuple[str, ...] | None = field(default=None)


def _finite(layers: Sequence[MapLayer]) -> np.ndarray:
    parts = [layer.values[np.isfinite(layer.values)] for layer in layers]
    return np.concatenate(parts) if parts else np.array([])


def _cmap(name: str) -> Colormap:
    from matplotlib import colormaps

    return colormaps[name].with_extremes(bad=(0, 0, 0, 0))


def _extend(values: np.ndarray, vmin: float, vmax: float) -> str:
    below = bool(values.size and values.min() < vmin)
    above = bool(values.size and values.max() > vmax)
    return {
        (False, False): "neither",
        (True, False): "min",
        (False, True): "max",
        (True, True): "both",
    }[(below, above)]


def sequential_style(
    layers: Sequence[MapLayer], label: str, *, cmap: str = "YlOrBr", from_zero: bool = False
) -> MapStyle:
    """Sequential scale over the 1st–99th percentile of all ``layers`` together.

    Parameters
    ----------
    layers : sequence of MapLayer
        The maps that will share the scale.
    label : str
        Colour-bar label with units.
    cmap : str, default "YlOrBr"
        Matplotlib colour map name.
    from_zero : bool, default False
        Start the scale at 0 (for quantities whose zero is meaningful, e.g. RSR, SD) unless
        values fall below it.
    """
    values = _finite(layers)
    if values.size == 0:
        vmin, vmax = 0.0, 1.0
    else:
        vmin, vmax = (float(v) for v in np.percentile(values, [1, 99]))
        if from_zero:
            vmin = min(0.0, vmin)
        if vmax <= vmin:
            vmax = vmin + max(abs(vmin) * 0.01, 1e-6)
    return MapStyle(_cmap(cmap), Normalize(vmin, vmax), label, _extend(values, vmin, vmax))


def diverging_style(layers: Sequence[MapLayer], label: str, *, cmap: str = "BrBG") -> MapStyle:
    """Diverging scale centred at zero, symmetric over the 1st–99th percentile magnitude.

    Brown is loss, green is gain with the default ``BrBG``; zero is the neutral middle colour
    whatever the balance of gains and losses.
    """
    values = _finite(layers)
    limit = float(np.percentile(np.abs(values), 99)) if values.size else 1.0
    limit = limit if limit > 0 else 1e-3
    return MapStyle(_cmap(cmap), Normalize(-limit, limit), label, _extend(values, -limit, limit))


def flag_style(
    no: str, yes: str, *, colors: tuple[str, str] = ("#d8b365", "#1a9850"), label: str = ""
) -> MapStyle:
    """Two-colour categorical style for 0/1 maps, explained by a legend."""
    cmap = ListedColormap(list(colors)).with_extremes(bad=(0, 0, 0, 0))
    return MapStyle(cmap, BoundaryNorm([-0.5, 0.5, 1.5], 2), label, categories=(no, yes))


def _axes_frame(layer: MapLayer) -> tuple[tuple[float, float, float, float], str, str, float]:
    """Extent in display units, axis labels and the axes aspect ratio."""
    crs: CRS | None = layer.crs
    left, right, bottom, top = layer.extent
    if crs is not None and crs.is_geographic:
        mid = np.deg2rad((bottom + top) / 2)
        # Degrees of longitude shrink with latitude: keep ground distances undistorted.
        return layer.extent, "longitude (°E)", "latitude (°N)", 1 / max(np.cos(mid), 0.05)
    unit = crs.axis_info[0].unit_name if crs is not None and crs.axis_info else "metre"
    if unit in ("metre", "meter", "m"):
        return (
            (left / 1e3, right / 1e3, bottom / 1e3, top / 1e3),
            "easting (km)",
            "northing (km)",
            1.0,
        )
    return layer.extent, f"easting ({unit})", f"northing ({unit})", 1.0


def plot_map(
    layer: MapLayer,
    style: MapStyle,
    title: str,
    *,
    land: np.ndarray | None = None,
    note: str | None = None,
) -> Figure:
    """Draw one map with its colour bar (or legend), grid coordinates and title.

    Parameters
    ----------
    layer : MapLayer
        Values (NaN = no data) on a north-up grid.
    style : MapStyle
        Colour scale and colour-bar label.
    title : str
        Figure title.
    land : numpy.ndarray of bool, optional
        Land cells on the same grid, drawn light grey under the data so that land that was
        not simulated reads as grey and the sea as white. Without it, cells without data are
        grey.
    note : str, optional
        Small text under the title (e.g. the domain mean).

    Returns
    -------
    matplotlib.figure.Figure
    """
    extent, xlabel, ylabel, aspect = _axes_frame(layer)
    height, width = layer.values.shape
    ratio = (extent[3] - extent[2]) / max(extent[1] - extent[0], 1e-12) * aspect
    fig_w = 6.0
    fig_h = float(np.clip(fig_w * ratio * 0.85 + 1.2, 3.2, 8.5))
    fig = Figure(figsize=(fig_w, fig_h), layout="constrained")
    ax = fig.add_subplot()
    if land is not None and land.shape == layer.values.shape:
        background = np.zeros((height, width, 4))
        background[land] = LAND_GREY
        ax.imshow(background, extent=extent, origin="upper", interpolation="nearest")
        no_data = "land not simulated"
    else:
        ax.set_facecolor(NODATA_GREY)
        no_data = "no data / not simulated"
    values = np.ma.masked_invalid(layer.values)
    image = ax.imshow(
        values,
        extent=extent,
        origin="upper",
        cmap=style.cmap,
        norm=style.norm,
        interpolation="nearest",
    )
    ax.set_aspect(aspect)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_locator(MaxNLocator(6))
    ax.set_title(title if note is None else f"{title}\n{note}", fontsize=10)
    if style.categories is not None:
        handles = [
            Patch(facecolor=style.cmap(i), edgecolor="0.4", label=text)
            for i, text in enumerate(style.categories)
        ]
        handles.append(
            Patch(
                facecolor=LAND_GREY if land is not None else NODATA_GREY,
                edgecolor="0.4",
                label=no_data,
            )
        )
        # On the right, where the other maps have their colour bar, so all maps of a report
        # come out at the same scale.
        legend = fig.legend(
            handles=handles,
            loc="outside right center",
            fontsize=8,
            frameon=False,
            title=style.label or None,
            title_fontsize=8,
        )
        legend.get_title().set_multialignment("left")
    else:
        bar = fig.colorbar(
            image, ax=ax, shrink=0.8, aspect=30, extend=style.extend, extendfrac=0.04
        )
        bar.set_label(style.label, fontsize=9)
        bar.ax.tick_params(labelsize=8)
    return fig


def plot_timeseries(
    table: pd.DataFrame,
    scenarios: Sequence[str],
    *,
    baseline: str,
    t0_year: int | None = None,
) -> Figure:
    """Yearly area-weighted mean SOC: the warm-up, then each scenario from T0.

    Parameters
    ----------
    table : pandas.DataFrame
        ``timeseries.csv``: ``phase`` (``warmup``/``forward``), ``scenario`` (empty for the
        warm-up), ``year``, ``mean_soc_t_ha``.
    scenarios : sequence of str
        Scenario names in run order (the colour order).
    baseline : str
        The baseline scenario, drawn dashed in black.
    t0_year : int, optional
        Marked with a vertical line (end of the warm-up).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib import colormaps

    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    warm = table[table["phase"] == "warmup"].sort_values("year")
    if len(warm):
        ax.plot(
            warm["year"],
            warm["mean_soc_t_ha"],
            color="0.35",
            linewidth=1.8,
            marker="o",
            markersize=2.5,
            label="warm-up (historical climate)",
        )
    palette = colormaps["tab10"]
    others = [s for s in scenarios if s != baseline]
    for name in scenarios:
        rows = table[(table["phase"] == "forward") & (table["scenario"] == name)]
        rows = rows.sort_values("year")
        if rows.empty:
            continue
        if name == baseline:
            ax.plot(
                rows["year"],
                rows["mean_soc_t_ha"],
                color="k",
                linestyle="--",
                linewidth=1.6,
                label=f"{name} (baseline)",
            )
        else:
            ax.plot(
                rows["year"],
                rows["mean_soc_t_ha"],
                linewidth=1.8,
                color=palette(others.index(name) % 10),
                label=name,
            )
    if t0_year is not None:
        ax.axvline(t0_year, color="0.5", linestyle=":", linewidth=1)
        ax.annotate(
            "T0",
            (t0_year, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize=8,
            color="0.3",
        )
    ax.set_xlabel("year (end of year)")
    ax.set_ylabel("area-weighted mean SOC 0–30 cm (t C/ha)")
    ax.set_title("Mean SOC stock of the simulated cells: warm-up, then scenarios")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, color="0.9")
    ax.legend(fontsize=8, loc="best")
    return fig


def figure_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes (tight bounding box)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()
