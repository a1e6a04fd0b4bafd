"""The report's figures are drawn once, keep every label inside the PNG and off the map.

The maps are laid out by ``socseq.report.map_layout`` (not constrained layout) and the PNGs are
cut from one drawing (``socseq.report.png``), so these tests check what constrained layout
and ``bbox_inches="tight"`` used to guarantee: nothing is cut off, nothing overlaps the map.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image
from pyproj import CRS

from socseq.report import build_report, read_run_folder
from socseq.report.figures import diverging_style, flag_style, plot_map, sequential_style
from socseq.report.html import _cropland_flags
from socseq.report.png import PAD_INCHES, figure_png
from socseq.report.run_folder import MapLayer, RunFolder

PAD = round(PAD_INCHES * 110)


def _synthetic(height: int, width: int, crs: str = "EPSG:3826") -> MapLayer:
    """A smooth field with a NaN corner on a 1 km grid (or 0.01° when geographic)."""
    rows, cols = np.mgrid[0:height, 0:width]
    values = np.sin(rows / 7.0) + np.cos(cols / 5.0)
    values[: height // 4, : width // 4] = np.nan
    step = 0.01 if CRS.from_user_input(crs).is_geographic else 1000.0
    x0, y0 = (120.0, 23.0) if step < 1 else (170_000.0, 2_650_000.0)
    extent = (x0, x0 + width * step, y0 - height * step, y0)
    return MapLayer(values, extent, CRS.from_user_input(crs), "synthetic")


def _asr(run: RunFolder) -> Figure:
    layer = run.product("ASR", "SSM1")
    style = diverging_style([layer], "ASR (t C/ha/yr)")
    note = "area-weighted mean 0.12 t C/ha/yr"
    return plot_map(layer, style, "ASR, SSM1 (2021–2040)", land=run.land, note=note)


def _flags(run: RunFolder) -> Figure:
    layer, _ = _cropland_flags(run, run.product("4p1000", "SSM1"))
    style = flag_style(
        "cropland, not reached",
        "cropland, reached",
        "other simulated class (not in the share)",
        label="4 per 1000\n(ASR >= 0.004 x SOC_T0)",
    )
    title = "Where 4 per 1000 is reached on the simulated cropland, SSM1"
    return plot_map(layer, style, title, land=run.land, note="0 % of 1,000 ha")


def _grid(
    height: int, width: int, crs: str = "EPSG:3826", title: str = "A map"
) -> Callable[[RunFolder], Figure]:
    def make(run: RunFolder) -> Figure:
        layer = _synthetic(height, width, crs)
        return plot_map(layer, sequential_style([layer], "SOC (t C/ha)"), title)

    return make


MAPS: dict[str, Callable[[RunFolder], Figure]] = {
    "colour bar": _asr,
    "legend beside the map": _flags,
    "wide grid": _grid(40, 400),
    "tall grid": _grid(500, 30),
    "geographic grid": _grid(120, 90, "EPSG:4326"),
    "title wider than the figure": _grid(
        60, 60, title="A title much longer than the map and its colour bar together " * 2
    ),
}


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("case", list(MAPS))
def test_map_labels_are_inside_the_png_and_off_the_map(run_folder: Path, case: str) -> None:
    fig = MAPS[case](read_run_folder(run_folder))
    png = _png(figure_png(fig))
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    # Everything drawn (labels, title, colour bar, legend) is inside the figure ...
    drawn = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
    assert canvas.x0 <= drawn.x0 and drawn.x1 <= canvas.x1
    assert canvas.y0 <= drawn.y0 and drawn.y1 <= canvas.y1
    # ... and the PNG keeps a white margin all round, so no drawing was cut at its edge ...
    white = np.all(png == 255, axis=2)
    assert white[:PAD].all() and white[-PAD:].all()
    assert white[:, :PAD].all() and white[:, -PAD:].all()
    assert png.shape[0] <= canvas.height + 2 * PAD and png.shape[1] <= canvas.width + 2 * PAD
    # ... and the colour bar, the legend and the labels stay off the map.
    ax = fig.axes[0]
    map_box = ax.get_window_extent(renderer)
    assert ax.title.get_window_extent(renderer).y0 >= map_box.y1
    assert ax.xaxis.label.get_window_extent(renderer).y1 <= map_box.y0
    assert ax.yaxis.label.get_window_extent(renderer).x1 <= map_box.x0
    beside = [a.get_tightbbox(renderer) for a in fig.axes[1:]]
    if ax.get_legend() is not None and ax.get_legend().get_title().get_text():
        beside.append(ax.get_legend().get_window_extent(renderer))
    assert beside, "a colour bar or a legend beside the map"
    for box in beside:
        assert box is not None and box.x0 > map_box.x1
    # The map keeps the grid's proportions (the figure was laid out for them, not squeezed).
    left, right, bottom, top = ax.get_xlim() + ax.get_ylim()
    aspect = ax.get_aspect()
    expected = (top - bottom) * (1.0 if aspect == "auto" else float(aspect)) / (right - left)
    assert map_box.height / map_box.width == pytest.approx(expected, rel=0.01)


def test_every_report_figure_is_drawn_once(
    run_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws: dict[int, int] = {}
    draw = Figure.draw

    def counted(self: Figure, renderer: Any) -> None:
        draws[id(self)] = draws.get(id(self), 0) + 1
        draw(self, renderer)

    monkeypatch.setattr(Figure, "draw", counted)
    build_report(run_folder)
    assert len(draws) == 20 and set(draws.values()) == {1}


def test_a_drawing_past_the_figure_edge_is_kept_whole() -> None:
    # Constrained layout does not make room for a title wider than the figure: the PNG widens
    # to hold it (drawn a second time, with the tight bounding box).
    fig = Figure(figsize=(3, 2), layout="constrained")
    fig.add_subplot().set_title("a title far wider than this small figure can hold " * 2)
    png = _png(figure_png(fig, dpi=100))
    assert png.shape[1] > 3 * 100 + 2 * PAD
    white = np.all(png == 255, axis=2)
    assert white[:, :5].all() and white[:, -5:].all()


def test_map_pixels_are_those_of_colouring_the_grid_first() -> None:
    # Drawn at about 1.5 screen pixels per cell, where Matplotlib would colour the grid first.
    layer = _synthetic(300, 200)
    fig = plot_map(layer, diverging_style([layer], "x"), "t")
    image = fig.axes[0].images[0]
    pictures = []
    for stage in ("data", "rgba"):
        image.set_interpolation_stage(stage)
        fig.canvas.draw()
        pictures.append(np.asarray(fig.canvas.buffer_rgba()).copy())
    np.testing.assert_array_equal(pictures[0], pictures[1])
