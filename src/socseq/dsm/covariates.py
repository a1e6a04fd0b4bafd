"""Covariate rasters on one grid and their values at sample points.

:class:`CovariateStack` opens every covariate with :func:`socseq.io.raster.open_raster` and
aligns it to the template grid with :func:`socseq.io.grid.align_to_template`, the pipeline's own
alignment (continuous layers: bilinear or average; class layers: mode), so the DSM sees exactly
the grid the RothC runs use. Class layers (land cover, soil map units) keep their codes; the
model one-hot encodes them (:class:`socseq.dsm.encoding.FeatureEncoder`).

No scikit-learn here: ``socseq validate`` opens the covariates to place the ``[dsm]`` samples
(:mod:`socseq.dsm.sampling`) and fits nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr
from pyproj import CRS, Transformer

from socseq.exceptions import InputValidationError
from socseq.io.grid import GridSpec, align_to_template
from socseq.io.raster import open_raster

__all__ = ["CovariateLayer", "CovariateStack"]


@dataclass(frozen=True)
class CovariateLayer:
    """One covariate raster.

    Attributes
    ----------
    name : str
        Name of the covariate (the feature name in the model).
    path : pathlib.Path
        GeoTIFF/COG, NetCDF or Zarr file.
    categorical : bool
        Class codes (land cover, soil map unit) rather than a quantity.
    variable, band : optional
        Variable of a NetCDF/Zarr file, or 1-based band of a multi-band file.
    resampling : str, optional
        Overrides the alignment rule (continuous: bilinear/average; categorical: mode/nearest).
    """

    name: str
    path: Path
    categorical: bool = False
    variable: str | None = None
    band: int | None = None
    resampling: str | None = None


class CovariateStack:
    """Covariate layers aligned on one grid, as float64 ``(y, x)`` arrays with NaN for no data.

    Parameters
    ----------
    data : xarray.Dataset
        One ``(y, x)`` variable per covariate on ``grid``.
    grid : GridSpec
        The template grid.
    categorical : sequence of str
        Names of the class layers.
    """

    def __init__(self, data: xr.Dataset, grid: GridSpec, categorical: Sequence[str] = ()):
        missing = [name for name in categorical if name not in data]
        if missing:
            raise InputValidationError(
                f"covariate stack: categorical layer '{missing[0]}' is not in the stack "
                f"({', '.join(map(str, data.data_vars))}); check the covariate names"
            )
        self.data = data
        self.grid = grid
        self.categorical = tuple(categorical)

    @classmethod
    def open(
        cls, layers: Sequence[CovariateLayer], *, grid: GridSpec | None = None
    ) -> CovariateStack:
        """Open and align covariate rasters.

        Parameters
        ----------
        layers : sequence of CovariateLayer
            The covariates; names must be unique.
        grid : GridSpec, optional
            Template grid; by default the grid of the first layer.

        Returns
        -------
        CovariateStack
        """
        names = [layer.name for layer in layers]
        if not layers or len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise InputValidationError(
                "covariates: "
                + (
                    f"names {', '.join(dupes)} are used twice; give every covariate its own name"
                    if dupes
                    else "none given; list at least one covariate raster"
                )
            )
        arrays: dict[str, xr.DataArray] = {}
        for layer in layers:
            da = open_raster(
                layer.path,
                name=layer.name,
                variable=layer.variable,
                band=layer.band,
                categorical=layer.categorical,
            )
            if da.ndim != 2:
                raise InputValidationError(
                    f"covariate '{layer.name}' (file {layer.path}): has dims {da.dims}; give "
                    "a single-band layer or set band"
                )
            if grid is None:
                grid = GridSpec.from_raster(da)
            kind: Literal["continuous", "categorical"] = (
                "categorical" if layer.categorical else "continuous"
            )
            aligned = align_to_template(
                da, grid, kind=kind, resampling=layer.resampling, name=layer.name
            )
            values = np.asarray(aligned.values, dtype=float)
            if layer.categorical and aligned.rio.nodata is not None:
                # Integer class rasters mark no data with a code; the stack uses NaN.
                nodata = aligned.rio.nodata
                values = np.where(np.asarray(aligned.values) == nodata, np.nan, values)
            if not np.isfinite(values).any():
                raise InputValidationError(
                    f"covariate '{layer.name}' (file {layer.path}): has no value on the "
                    "template grid; check its extent, CRS and nodata value"
                )
            arrays[layer.name] = xr.DataArray(
                values,
                dims=("y", "x"),
                attrs={"source": str(layer.path), "resampling": aligned.attrs.get("resampling")},
            )
        assert grid is not None  # set from the first layer when not given
        y, x = grid.coords()
        data = xr.Dataset(arrays, coords={"y": y, "x": x})
        data = data.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
        return cls(data, grid, [layer.name for layer in layers if layer.categorical])

    @property
    def names(self) -> list[str]:
        """Covariate names, in stack order."""
        return [str(name) for name in self.data.data_vars]

    def cell_index(
        self, x: np.ndarray, y: np.ndarray, crs: CRS | str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (row, col, inside) of the cells holding points given in ``crs``.

        Points on a cell edge go to the cell right/below, as GDAL's point sampling does.
        """
        transformer = Transformer.from_crs(CRS.from_user_input(crs), self.grid.crs, always_xy=True)
        gx, gy = transformer.transform(np.asarray(x, float), np.asarray(y, float))
        t = self.grid.transform  # north-up: no rotation terms (GridSpec checks)
        col_f = (np.asarray(gx, float) - t.c) / t.a
        row_f = (np.asarray(gy, float) - t.f) / t.e
        finite = np.isfinite(col_f) & np.isfinite(row_f)
        col = np.floor(np.where(finite, col_f, -1)).astype(np.int64)
        row = np.floor(np.where(finite, row_f, -1)).astype(np.int64)
        inside = (row >= 0) & (row < self.grid.height) & (col >= 0) & (col < self.grid.width)
        return np.where(inside, row, 0), np.where(inside, col, 0), inside

    def extract(self, x: np.ndarray, y: np.ndarray, crs: CRS | str) -> pd.DataFrame:
        """Covariate values at points (value of the cell holding each point).

        Parameters
        ----------
        x, y : array-like
            Point coordinates in ``crs``.
        crs : pyproj.CRS or str
            CRS of the points (transformed to the grid's CRS here).

        Returns
        -------
        pandas.DataFrame
            One column per covariate, NaN where the point is outside the grid or the layer
            has no data; column ``inside_grid`` (bool).
        """
        row, col, inside = self.cell_index(x, y, crs)
        out = {}
        for name in self.names:
            values = self.data[name].values[row, col]
            out[name] = np.where(inside, values, np.nan)
        frame = pd.DataFrame(out)
        frame["inside_grid"] = inside
        return frame

    def window_frames(
        self, rows_per_window: int
    ) -> Iterator[tuple[slice, pd.DataFrame, np.ndarray]]:
        """Yield (row slice, covariate table of the window's cells, flat cell index in window).

        Cells with a missing *continuous* covariate are left out (no prediction is possible
        there); a missing class code is kept and encoded as "no class".
        """
        continuous = [n for n in self.names if n not in self.categorical]
        for start in range(0, self.grid.height, rows_per_window):
            window = slice(start, min(start + rows_per_window, self.grid.height))
            block = {name: self.data[name].values[window].ravel() for name in self.names}
            frame = pd.DataFrame(block)
            valid = np.ones(len(frame), dtype=bool)
            for name in continuous:
                valid &= np.isfinite(frame[name].to_numpy())
            index = np.flatnonzero(valid)
            yield window, frame.iloc[index].reset_index(drop=True), index


def __getattr__(name: str) -> type:
    """Find :class:`~socseq.dsm.encoding.FeatureEncoder` for models pickled before it moved.

    ``dsm_model.joblib`` files written by ``socseq dsm train`` before the encoder left this
    module name it ``socseq.dsm.covariates.FeatureEncoder``; unpickling looks it up here, and
    ``socseq dsm predict`` then reuses the model when its key still matches. The import waits
    for that lookup so that this module stays free of scikit-learn.
    """
    if name == "FeatureEncoder":
        from socseq.dsm.encoding import FeatureEncoder

        return FeatureEncoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
