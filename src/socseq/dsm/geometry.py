"""Planar coordinates in metres for spatial blocks and kriging, whatever the samples' CRS.

Block sizes and variogram ranges are distances, so they need a metric frame. A projected CRS in
metres is used as is; a geographic CRS (degrees) is replaced by an azimuthal equidistant
projection centred on the samples, whose distances from the centre are exact and whose scale
error elsewhere stays below 0.5 % within 1,000 km of it (a country-sized region).
The frame is fixed once on the training samples and reused for the grid cells, so training and
prediction coordinates agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import CRS, Transformer

from socseq.exceptions import GridMismatchError

__all__ = ["PlanarFrame"]


@dataclass(frozen=True)
class PlanarFrame:
    """A metric frame: the source CRS and the projected CRS (metres) distances are taken in.

    Attributes
    ----------
    source : pyproj.CRS
        CRS of the coordinates handed to :meth:`transform`.
    planar : pyproj.CRS
        Projected CRS in metres.
    """

    source: CRS
    planar: CRS

    @classmethod
    def for_points(cls, x: np.ndarray, y: np.ndarray, crs: CRS | str) -> PlanarFrame:
        """Choose the frame for points in ``crs``: the CRS itself if metric, else a local AEQD.

        Raises
        ------
        GridMismatchError
            A projected CRS whose unit is not the metre.
        """
        source = CRS.from_user_input(crs)
        if source.is_geographic:
            lon0 = float(np.mean(np.asarray(x, float)))
            lat0 = float(np.mean(np.asarray(y, float)))
            planar = CRS.from_proj4(
                f"+proj=aeqd +lat_0={lat0:.6f} +lon_0={lon0:.6f} +datum=WGS84 +units=m"
            )
            return cls(source, planar)
        unit = source.axis_info[0].unit_name if source.axis_info else "unknown"
        if unit not in ("metre", "meter"):
            raise GridMismatchError(
                f"CRS {source.to_string()} has units '{unit}', not metres; reproject the "
                "samples and the grid to a metric CRS or to longitude/latitude"
            )
        return cls(source, source)

    def transform(self, x: np.ndarray, y: np.ndarray, crs: CRS | str | None = None) -> np.ndarray:
        """Return an (n, 2) array of planar coordinates (m).

        Parameters
        ----------
        x, y : array-like
            Coordinates in ``crs``.
        crs : pyproj.CRS or str, optional
            CRS of the points; default the frame's source CRS (e.g. test samples given in
            another CRS than the training samples).
        """
        x, y = np.asarray(x, float), np.asarray(y, float)
        src = self.source if crs is None else CRS.from_user_input(crs)
        if src == self.planar:
            return np.column_stack([x, y])
        transformer = Transformer.from_crs(src, self.planar, always_xy=True)
        px, py = transformer.transform(x, y)
        return np.column_stack([np.asarray(px), np.asarray(py)])
