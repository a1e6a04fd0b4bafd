"""The layout of a report map: the map, its labels and its colour bar or legend, placed once.

Constrained layout measured every map twice (and ``bbox_inches="tight"`` a third time) and,
with a colour bar beside a map of fixed aspect, could leave the y label a pixel past the
figure's edge. A map's tick counts are fixed, so its labels do not depend on its size: one
measurement with the map at about its final size gives the room they take.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

__all__ = ["BAR_ASPECT", "BAR_GAP", "BAR_SHRINK", "EDGE", "LEGEND_GAP", "lay_out_map"]

#: Edge that constrained layout kept inside the figure [inches]: a map and its labels fill the
#: figure size less this edge, so maps keep the size they had with it.
EDGE = 3 / 72

#: Gap between a map and its colour bar [inches].
BAR_GAP = 0.3

#: Gap between a map and the legend beside it [inches] (its text starts a little further in).
LEGEND_GAP = 0.2

#: Colour-bar length as a share of the map height, and its length over its width (the
#: ``shrink`` and ``aspect`` of ``Figure.colorbar``).
BAR_SHRINK = 0.8
BAR_ASPECT = 30


def _inches(fig: Figure, box: Bbox) -> Bbox:
    """Convert a bounding box from display pixels to inches from the figure's lower left."""
    return box.transformed(fig.dpi_scale_trans.inverted())


def lay_out_map(fig: Figure, ax: Axes, cax: Axes | None, ratio: float) -> None:
    """Place a map and its colour bar, measuring their labels once, and size the figure.

    As constrained layout did: the map's box is what ``fig``'s size leaves after the map's
    tick labels, axis labels and title and the colour bar or legend beside it; the map takes
    the largest size at its aspect inside the box, centred, and the colour bar is
    :data:`BAR_SHRINK` of the box's height, centred on it. A title or axis label wider than the
    map reaches past the map's sides; the figure widens to hold it, so every label is inside
    the figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Its size on entry is the room for the map and everything around it.
    ax : matplotlib.axes.Axes
        The map, with its labels, title and any legend beside it (anchored to it).
    cax : matplotlib.axes.Axes or None
        Its colour bar.
    ratio : float
        Height over width of the map on the page.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    def place(left: float, bottom: float, width: float, box_h: float) -> None:
        """Put the map box's lower left corner at (left, bottom) [in]; map centred in it."""
        fig_w, fig_h = (float(v) for v in fig.get_size_inches())
        height = width * ratio
        middle = bottom + box_h / 2
        ax.set_position(
            (left / fig_w, (middle - height / 2) / fig_h, width / fig_w, height / fig_h)
        )
        if cax is not None:
            length = BAR_SHRINK * box_h
            cax.set_position(
                (
                    (left + width + BAR_GAP) / fig_w,
                    (middle - length / 2) / fig_h,
                    length / BAR_ASPECT / fig_w,
                    length / fig_h,
                )
            )

    fig_w, fig_h = (float(v) for v in fig.get_size_inches())
    # The map's labels do not depend on its size (fixed tick counts): measure them anywhere.
    guess = max(fig_h - 1.4, 1.0)
    place(1.0, 0.7, max(min(fig_w - 2.0, guess / ratio), 1.0), guess)
    renderer = FigureCanvasAgg(fig).get_renderer()
    # For layout: without the widths of the title and x label, which are centred on the map.
    # (Visible axes always have a bounding box; it also places the map at its aspect.)
    map_tight = ax.get_tightbbox(renderer, for_layout_only=True)
    assert map_tight is not None
    tight, box = _inches(fig, map_tight), _inches(fig, ax.get_window_extent(renderer))
    left, right = box.x0 - tight.x0, tight.x1 - box.x1
    below, above = box.y0 - tight.y0, tight.y1 - box.y1
    centred = max(
        ax.title.get_window_extent(renderer).width,
        ax.xaxis.label.get_window_extent(renderer).width,
    )
    box_h = max(fig_h - 2 * EDGE - below - above, 0.5)
    if cax is not None:
        # The colour bar's tick count follows its length: measure it at its final length.
        place(1.0, EDGE + below, 1.0, box_h)
        bar_tight = cax.get_tightbbox(renderer)
        assert bar_tight is not None
        bar_labels = _inches(fig, bar_tight).x1 - _inches(fig, cax.get_window_extent(renderer)).x1
        right = BAR_GAP + BAR_SHRINK * box_h / BAR_ASPECT + bar_labels
    width = max(min(fig_w - 2 * EDGE - left - right, box_h / ratio), 0.05)
    overhang = max(centred / fig.dpi - width, 0.0) / 2
    left, right = max(left, overhang), max(right, overhang)
    # The figure keeps its size when everything fits (the canvas, and the text measured on
    # it, are reused for drawing); it widens to hold a title wider than the room.
    fig.set_size_inches(max(fig_w, left + width + right + 2 * EDGE), fig_h)
    # Centred across: the PNG is cut to what is drawn (socseq.report.png).
    place((fig.get_size_inches()[0] - left - width - right) / 2 + left, EDGE + below, width, box_h)
