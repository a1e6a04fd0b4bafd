"""The figures of the report, collected in report order and rendered once to PNG."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from matplotlib.figure import Figure

from socseq.report.png import figure_png

__all__ = ["FIGURES_DIR", "FigureList", "ReportFigure"]

#: Folder of the PNG figures inside the run folder.
FIGURES_DIR = "figures"


@dataclass(frozen=True)
class ReportFigure:
    """One figure of the report.

    Attributes
    ----------
    file : str
        Path of the PNG relative to the run folder (``figures/…``).
    title : str
        Heading shown above the figure and its ``alt`` text.
    caption : str
        What the figure shows and how it was made.
    png : bytes
        The image.
    """

    file: str
    title: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        """The PNG as a ``data:`` URI for embedding."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


class FigureList:
    """Collect figures in report order; each is rendered once to PNG bytes."""

    def __init__(self) -> None:
        self.items: list[ReportFigure] = []

    def add(self, name: str, fig: Figure, title: str, caption: str) -> ReportFigure:
        """Render ``fig`` to ``figures/<name>.png`` and append it."""
        item = ReportFigure(f"{FIGURES_DIR}/{name}.png", title, caption, figure_png(fig))
        self.items.append(item)
        return item
