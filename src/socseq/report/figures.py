"""Figures of the run report: product maps, the yearly SOC series and the DSM accuracy plot.

Figures are built on :class:`matplotlib.figure.Figure` directly, not through ``pyplot``, so
they render with the Agg backend without a display and never touch global plotting state.
Maps are laid out when they are built (:mod:`socseq.report.map_layout`), the charts by
constrained layout; :func:`~socseq.report.png.figure_png` draws each once.
Every colour bar names its quantity and units; map axes give the grid coordinates (km on
projected grids) with equal scale on both axes and name the CRS.

Land that was not simulated is grey and hatched, the sea white, and the coast is outlined, so
the neutral middle of a diverging scale (zero change) cannot be taken for "not simulated".

Colour scales follow what the values mean: sequential for stocks and rates that are ≥ 0
(RSR, uncertainty), diverging and centred at zero for changes that can take either sign
(ASR), two categorical colours with a legend for flags (4 per 1000, area of applicability).
Maps of the same quantity share one scale across scenarios so they compare at a glance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from affine import Affine
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.colors import BoundaryNorm, Colormap, ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Patch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import ScaledTranslation
from pyproj import CRS

from socseq.report.map_layout import LEGEND_GAP, lay_out_map
from socseq.report.png import DPI, figure_png
from socseq.report.run_folder import MapLayer

__all__ = [
    "MapStyle",
    "crs_label",
    "diverging_style",
    "draw_map",
    "flag_style",
    "figure_png",
    "plot_map",
    "plot_timeseries",
    "sequential_style",
]

#: Colour of land cells that were not simulated (drawn under every map, hatched).
LAND_GREY = (0.74, 0.74, 0.74, 1.0)

#: Hatching of the land that was not simulated.
HATCH = "////"

#: Colour of the coastline (outline of the land).
COAST = "0.35"

#: Colour of cells without data when the land outline is unknown.
NODATA_GREY = "0.80"


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
    *categories: str,
    colors: Sequence[str] = ("#d8b365", "#1a9850", "#c9c3e6"),
    label: str = "",
) -> MapStyle:
    """Categorical style for maps of codes 0, 1, … (one colour each), explained by a legend.

    Parameters
    ----------
    *categories : str
        Legend labels of the codes 0, 1, … in order (two or more).
    colors : sequence of str
        Their colours (the default: tan "no", green "yes", lilac for a third class).
    label : str
        Legend title.
    """
    n = len(categories)
    cmap = ListedColormap(list(colors)[:n]).with_extremes(bad=(0, 0, 0, 0))
    bounds = [i - 0.5 for i in range(n + 1)]
    return MapStyle(cmap, BoundaryNorm(bounds, n), label, categories=tuple(categories))


def crs_label(crs: CRS | None) -> str:
    """Name of a CRS for axis labels, e.g. ``TWD97 / TM2 zone 121 (EPSG:3826)``."""
    if crs is None:
        return "CRS unknown"
    epsg = crs.to_epsg()
    return f"{crs.name} (EPSG:{epsg})" if epsg is not None else crs.name


def _axes_frame(layer: MapLayer) -> tuple[tuple[float, float, float, float], str, str, float]:
    """Extent in display units, axis labels (with the CRS name) and the axes aspect ratio."""
    crs: CRS | None = layer.crs
    left, right, bottom, top = layer.extent
    name = crs_label(crs)
    if crs is not None and crs.is_geographic:
        mid = np.deg2rad((bottom + top) / 2)
        # Degrees of longitude shrink with latitude: keep ground distances undistorted.
        return (
            layer.extent,
            f"longitude (°E)\n{name}",
            "latitude (°N)",
            1 / max(np.cos(mid), 0.05),
        )
    unit = crs.axis_info[0].unit_name if crs is not None and crs.axis_info else "metre"
    if unit in ("metre", "meter", "m"):
        return (
            (left / 1e3, right / 1e3, bottom / 1e3, top / 1e3),
            f"easting (km)\n{name}",
            "northing (km)",
            1.0,
        )
    return layer.extent, f"easting ({unit})\n{name}", f"northing ({unit})", 1.0


def _outline(mask: np.ndarray, extent: tuple[float, float, float, float]) -> MplPath | None:
    """One compound path of the cells where ``mask`` is True, traced along cell edges."""
    if not mask.any():
        return None
    # Every map of a report outlines the same coast, and most the same land not simulated:
    # each is traced once (the key is the mask packed to bits, not the array).
    return _traced(np.packbits(mask).tobytes(), mask.shape, extent)


@lru_cache(maxsize=4)
def _traced(
    packed: bytes, shape: tuple[int, ...], extent: tuple[float, float, float, float]
) -> MplPath:
    """Trace the cell edges of a mask given as :func:`numpy.packbits` bytes (see _outline)."""
    from rasterio import features

    height, width = shape
    mask = np.unpackbits(np.frombuffer(packed, np.uint8), count=height * width).reshape(shape) != 0
    left, right, bottom, top = extent
    transform = Affine((right - left) / width, 0, left, 0, -(top - bottom) / height, top)
    vertices: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    shapes = features.shapes(mask.astype(np.uint8), mask=mask, transform=transform)
    for geometry, _ in shapes:
        for ring in geometry["coordinates"]:
            ring = np.asarray(ring, float)
            vertices.append(ring)
            ring_codes = np.full(len(ring), MplPath.LINETO, dtype=MplPath.code_type)
            ring_codes[0] = MplPath.MOVETO
            ring_codes[-1] = MplPath.CLOSEPOLY
            codes.append(ring_codes)
    # Read-only: the figures share it.
    return MplPath(np.concatenate(vertices), np.concatenate(codes), readonly=True)


def draw_map(
    ax: Axes,
    layer: MapLayer,
    style: MapStyle,
    *,
    land: np.ndarray | None = None,
    fontsize: float = 9,
) -> tuple[AxesImage, str]:
    """Draw one map into ``ax``: hatched grey unsimulated land, the values, the coast.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    layer : MapLayer
        Values (NaN = no data) on a north-up grid.
    style : MapStyle
        Colour scale.
    land : numpy.ndarray of bool, optional
        Land cells on the same grid: land without a value is drawn grey and hatched, the rest
        (sea) white, and the coast is outlined. Without it, cells without data are grey.
    fontsize : float
        Size of the axis labels.

    Returns
    -------
    image : matplotlib.image.AxesImage
        The values (for a colour bar).
    no_data : str
        Legend text of the grey cells.
    """
    extent, xlabel, ylabel, aspect = _axes_frame(layer)
    # The path traced in display units: the extent is already scaled to them.
    values = np.ma.masked_invalid(layer.values)
    if land is not None and land.shape == layer.values.shape:
        unsimulated = _outline(land & values.mask, extent)
        if unsimulated is not None:
            ax.add_collection(
                PathCollection(
                    [unsimulated],
                    facecolors=[LAND_GREY],
                    edgecolors="white",
                    linewidths=0.0,
                    hatch=HATCH,
                    zorder=1,
                )
            )
        no_data = "land not simulated"
    else:
        ax.set_facecolor(NODATA_GREY)
        no_data = "no data / not simulated"
    image = ax.imshow(
        values,
        extent=extent,
        origin="upper",
        cmap=style.cmap,
        norm=style.norm,
        interpolation="nearest",
        # Pick the cell of each screen pixel, then colour it: the same pixels as colouring the
        # grid first (the nearest cell either way), in a third of the time on the demo's maps,
        # with memory that follows the picture's size rather than the grid's.
        interpolation_stage="data",
        zorder=2,
    )
    if land is not None and land.shape == layer.values.shape:
        coast = _outline(land, extent)
        if coast is not None:
            ax.add_collection(
                PathCollection(
                    [coast], facecolors="none", edgecolors=COAST, linewidths=0.6, zorder=3
                )
            )
    ax.set_aspect(aspect)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel(xlabel, fontsize=fontsize)
    ax.set_ylabel(ylabel, fontsize=fontsize)
    ax.tick_params(labelsize=fontsize - 1)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(6))
    return image, no_data


def legend_handles(style: MapStyle, no_data: str, *, land: bool) -> list[Patch]:
    """Legend entries of a categorical map, with the hatched no-data entry last."""
    assert style.categories is not None
    handles = [
        Patch(facecolor=style.cmap(i), edgecolor="0.4", label=text)
        for i, text in enumerate(style.categories)
    ]
    handles.append(
        Patch(
            facecolor=LAND_GREY if land else NODATA_GREY,
            edgecolor="white" if land else "0.4",
            hatch=HATCH if land else None,
            label=no_data,
        )
    )
    return handles


def plot_map(
    layer: MapLayer,
    style: MapStyle,
    title: str,
    *,
    land: np.ndarray | None = None,
    note: str | None = None,
) -> Figure:
    """Draw one map with its colour bar (or legend), grid coordinates, CRS and title.

    Parameters
    ----------
    layer : MapLayer
        Values (NaN = no data) on a north-up grid.
    style : MapStyle
        Colour scale and colour-bar label.
    title : str
        Figure title.
    land : numpy.ndarray of bool, optional
        Land cells on the same grid (see :func:`draw_map`).
    note : str, optional
        Small text under the title (e.g. the domain mean).

    Returns
    -------
    matplotlib.figure.Figure
        Laid out at :data:`~socseq.report.png.DPI` by
        :func:`~socseq.report.map_layout.lay_out_map`, without a layout engine.
    """
    extent, _, _, aspect = _axes_frame(layer)
    ratio = (extent[3] - extent[2]) / max(extent[1] - extent[0], 1e-12) * aspect
    fig_w = 6.0
    fig_h = float(np.clip(fig_w * ratio * 0.85 + 1.4, 3.4, 8.8))
    fig = Figure(figsize=(fig_w, fig_h), dpi=DPI)
    ax = fig.add_subplot()
    has_land = land is not None and land.shape == layer.values.shape
    image, no_data = draw_map(ax, layer, style, land=land)
    ax.set_title(title if note is None else f"{title}\n{note}", fontsize=10)
    cax = None
    if style.categories is not None:
        # On the right, where the other maps have their colour bar.
        legend = ax.legend(
            handles=legend_handles(style, no_data, land=has_land),
            loc="center left",
            bbox_to_anchor=(1, 0.5),
            bbox_transform=ax.transAxes + ScaledTranslation(LEGEND_GAP, 0, fig.dpi_scale_trans),
            borderaxespad=0,
            fontsize=8,
            frameon=False,
            title=style.label or None,
            title_fontsize=8,
        )
        legend.get_title().set_multialignment("left")
    else:
        cax = fig.add_axes((0.85, 0.1, 0.03, 0.8))  # placed by lay_out_map
        bar = fig.colorbar(image, cax=cax, extend=style.extend, extendfrac=0.04)
        bar.set_label(style.label, fontsize=9)
        bar.ax.tick_params(labelsize=8)
        if has_land:
            ax.legend(
                handles=[Patch(facecolor=LAND_GREY, edgecolor="white", hatch=HATCH, label=no_data)],
                loc="lower right",
                fontsize=7,
                framealpha=0.9,
            )
    lay_out_map(fig, ax, cax, ratio)
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
