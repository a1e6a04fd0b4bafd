"""Render the report's figures to PNG: each drawn once, cut to what is drawn.

``savefig(bbox_inches="tight")`` made the same pictures but drew every figure twice (once to
lay it out and measure it, once to render it) and measured it a third time.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

__all__ = ["DPI", "PAD_INCHES", "figure_png"]

#: Resolution of the report's figures [dots per inch].
DPI = 110

#: White margin around the drawn content of a PNG [inches]: Matplotlib's ``savefig.pad_inches``
#: default, which ``bbox_inches="tight"`` added.
PAD_INCHES = 0.1

#: An opaque white pixel of the canvas, its four bytes read as one ``uint32``.
_WHITE = np.uint32(0xFFFFFFFF)

#: zlib level of the PNGs: RGB at level 3 is as small as RGBA at Pillow's default level 6
#: (what savefig wrote), in about 60 % of the time (the demo's 20 figures: 1.36 MB either way,
#: 0.23 s against 0.39 s).
_PNG_COMPRESSION = 3


def _crop_to_ink(rgba: np.ndarray, pad: int) -> np.ndarray | None:
    """Cut a canvas to its non-white pixels with ``pad`` white pixels around them, as RGB.

    Parameters
    ----------
    rgba : numpy.ndarray
        ``(height, width, 4)`` ``uint8`` canvas drawn on opaque white.
    pad : int
        White margin on every side [pixels].

    Returns
    -------
    numpy.ndarray or None
        ``(height, width, 3)`` ``uint8`` (the opaque canvas needs no alpha), or None when drawn
        pixels touch the canvas edge: the drawing may then go on past it.
    """
    ink = rgba.view(np.uint32)[..., 0] != _WHITE
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return np.ascontiguousarray(rgba[..., :3])
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if top == 0 or left == 0 or bottom == ink.shape[0] or right == ink.shape[1]:
        return None
    out = np.full((bottom - top + 2 * pad, right - left + 2 * pad, 3), 255, dtype=np.uint8)
    out[pad : pad + bottom - top, pad : pad + right - left] = rgba[top:bottom, left:right, :3]
    return out


def figure_png(fig: Figure, *, dpi: int = DPI) -> bytes:
    """Render a figure to PNG bytes, cut to what is drawn plus :data:`PAD_INCHES` of white.

    The figure is drawn once, on white: a layout engine (constrained layout for the charts)
    runs at the start of that draw, and the white around the drawing is cut off the pixels.
    Only a drawing that reaches the figure's edge is drawn again, with the tight bounding box.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; its dpi and facecolor are set for drawing.
    dpi : int, default :data:`DPI`
        Resolution.

    Returns
    -------
    bytes
        The PNG, RGB with its dpi.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    fig.set_dpi(dpi)
    fig.patch.set_facecolor("white")
    # The canvas a map's layout measured its text on: the sizes are cached for drawing.
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    image = _crop_to_ink(np.asarray(canvas.buffer_rgba()), round(PAD_INCHES * dpi))
    buffer = io.BytesIO()
    if image is None:
        # The drawing reaches the figure's edge and may go on past it (a title wider than
        # the figure): the tight bounding box holds all of it, at the cost of drawing again.
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    else:
        Image.fromarray(image).save(
            buffer, format="png", dpi=(dpi, dpi), compress_level=_PNG_COMPRESSION
        )
    return buffer.getvalue()
