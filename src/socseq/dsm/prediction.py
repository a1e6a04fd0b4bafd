"""Prediction over the grid, window by window, and the map outputs.

The grid is predicted in windows of whole rows, so memory is bounded by the window size (the
feature table of one window and its predictions), not by the grid. Each window yields the
mean, median, 5 % and 95 % quantiles and standard deviation of the SOC stock (t C/ha), and the
dissimilarity index and area of applicability (:mod:`socseq.dsm.aoa`). Cells outside the mask,
or missing a continuous covariate, stay NaN.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from socseq.dsm.aoa import AreaOfApplicability
from socseq.dsm.covariates import CovariateStack
from socseq.dsm.geometry import PlanarFrame
from socseq.dsm.model import SOCStockModel
from socseq.exceptions import InputValidationError
from socseq.io.metadata import STOCK_UNITS as STOCK
from socseq.io.raster import write_geotiff, write_netcdf

__all__ = ["OUTPUT_VARIABLES", "predict_grid", "write_prediction"]

#: Output variables: name → (long name, units). Units are UDUNITS strings, as in every socseq
#: product (:mod:`socseq.io.metadata`): ``t ha-1`` of organic carbon.
OUTPUT_VARIABLES: dict[str, tuple[str, str]] = {
    "soc_mean_t_ha": ("SOC stock 0-30 cm, mean of the predictive distribution (t C/ha)", STOCK),
    "soc_median_t_ha": ("SOC stock 0-30 cm, median (50 % quantile) (t C/ha)", STOCK),
    "soc_q05_t_ha": ("SOC stock 0-30 cm, 5 % quantile (lower 90 % bound) (t C/ha)", STOCK),
    "soc_q95_t_ha": ("SOC stock 0-30 cm, 95 % quantile (upper 90 % bound) (t C/ha)", STOCK),
    "soc_sd_t_ha": ("SOC stock 0-30 cm, SD of the predictive distribution (t C/ha)", STOCK),
    "di": ("dissimilarity index (Meyer & Pebesma 2021)", "1"),
    "aoa": ("inside the area of applicability (1) or not (0)", "1"),
}


def _check_inputs(
    model: SOCStockModel,
    stack: CovariateStack,
    mask: np.ndarray | None,
    frame: PlanarFrame | None,
) -> None:
    """Refuse a mask off the grid, kriging without a frame, or covariates other than trained."""
    if mask is not None and np.shape(mask) != stack.grid.shape:
        raise InputValidationError(
            f"prediction mask has shape {np.shape(mask)}, the grid {stack.grid.shape}; align "
            "the mask to the template grid"
        )
    if model.kriging and frame is None:
        raise InputValidationError(
            "prediction: the model kriges residuals, so it needs the planar frame of its "
            "training samples (frame=)"
        )
    names = list(getattr(model, "feature_names_in_", stack.names))
    if names != stack.names:
        raise InputValidationError(
            f"prediction: the covariate stack ({', '.join(stack.names)}) differs from the "
            f"model's covariates ({', '.join(names)}); open the same covariates in the same order"
        )


def _predict_cells(
    model: SOCStockModel,
    table: pd.DataFrame,
    cells: np.ndarray,
    coords: np.ndarray | None,
    aoa: AreaOfApplicability | None,
    outputs: dict[str, np.ndarray],
) -> None:
    """Write the predictive distribution (and DI/AOA) of some cells into ``outputs``."""
    dist = model.predict_distribution(table, quantiles=(0.05, 0.5, 0.95), coords=coords)
    outputs["soc_mean_t_ha"][cells] = dist["mean"]
    outputs["soc_sd_t_ha"][cells] = dist["sd"]
    outputs["soc_q05_t_ha"][cells] = dist["quantiles"][:, 0]
    outputs["soc_median_t_ha"][cells] = dist["quantiles"][:, 1]
    outputs["soc_q95_t_ha"][cells] = dist["quantiles"][:, 2]
    if aoa is not None:
        di, inside = aoa.predict(model.encoder_.transform(table))
        outputs["di"][cells] = di
        outputs["aoa"][cells] = inside


def predict_grid(
    model: SOCStockModel,
    stack: CovariateStack,
    *,
    mask: np.ndarray | None = None,
    aoa: AreaOfApplicability | None = None,
    frame: PlanarFrame | None = None,
    max_cells_per_window: int = 200_000,
    progress: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Predict the SOC stock and its uncertainty on every cell of the grid.

    Parameters
    ----------
    model : SOCStockModel
        Fitted on covariates named as the stack's layers.
    stack : CovariateStack
        Covariates on the template grid.
    mask : numpy.ndarray of bool (y, x), optional
        Cells to predict (e.g. land or agricultural cells); all by default.
    aoa : AreaOfApplicability, optional
        Fitted on the model's encoded training covariates; adds ``di`` and ``aoa``.
    frame : PlanarFrame, optional
        The training samples' planar frame; required when the model kriges residuals.
    max_cells_per_window : int, default 200000
        Cells per window (whole rows), which bounds memory.
    progress : callable, optional
        ``progress(rows_done, rows_total)`` after each window.

    Returns
    -------
    xarray.Dataset
        Variables of :data:`OUTPUT_VARIABLES` on the grid's ``(y, x)``, CRS written, each with
        ``units`` and ``long_name``.
    """
    grid = stack.grid
    height, width = grid.shape
    _check_inputs(model, stack, mask, frame)
    outputs = {name: np.full(height * width, np.nan) for name in OUTPUT_VARIABLES}
    if aoa is None:
        del outputs["di"], outputs["aoa"]
    y_coords, x_coords = grid.coords()
    rows_per_window = max(1, max_cells_per_window // width)
    flat_mask = None if mask is None else np.asarray(mask, bool).ravel()
    for window, table, index in stack.window_frames(rows_per_window):
        offset = window.start * width
        cells = offset + index
        if flat_mask is not None:
            keep = flat_mask[cells]
            table, cells = table[keep].reset_index(drop=True), cells[keep]
        if len(cells):
            coords = None
            if frame is not None:
                rows, cols = np.divmod(cells, width)
                coords = frame.transform(x_coords[cols], y_coords[rows])
            _predict_cells(model, table, cells, coords, aoa, outputs)
        if progress is not None:
            progress(window.stop, height)
    data_vars = {
        name: xr.DataArray(
            values.reshape(height, width),
            dims=("y", "x"),
            attrs={"long_name": OUTPUT_VARIABLES[name][0], "units": OUTPUT_VARIABLES[name][1]},
        )
        for name, values in outputs.items()
    }
    ds = xr.Dataset(data_vars, coords={"y": y_coords, "x": x_coords})
    if aoa is not None:
        ds["aoa"].attrs["threshold"] = aoa.threshold_
    return ds.rio.write_crs(grid.crs).rio.write_transform(grid.transform)


def write_prediction(
    ds: xr.Dataset,
    out_dir: str | os.PathLike[str],
    *,
    prefix: str = "soc_0_30cm",
    geotiff: bool = True,
    netcdf: bool = True,
    attrs: dict[str, Any] | None = None,
) -> list[Path]:
    """Write the prediction as one Cloud-Optimised GeoTIFF per variable and one NetCDF.

    GeoTIFFs are ``{prefix}_{variable}.tif``: float32 with nodata −999 for the stocks and DI,
    uint8 with nodata 255 for the AOA mask. The NetCDF ``{prefix}.nc`` holds all variables
    with CF metadata. ``attrs`` (provenance: version, config hash, date) go into the GeoTIFF
    tags and the NetCDF global attributes. All writes are atomic.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(out_dir)
    written = []
    tags = {k: str(v) for k, v in (attrs or {}).items()}
    if geotiff:
        for name, da in ds.data_vars.items():
            path = out / f"{prefix}_{name}.tif"
            if name == "aoa":
                written.append(write_geotiff(da, path, nodata=255, dtype="uint8", tags=tags))
            else:
                written.append(write_geotiff(da, path, nodata=-999.0, dtype="float32", tags=tags))
    if netcdf:
        written.append(write_netcdf(ds.assign_attrs(**tags), out / f"{prefix}.nc"))
    return written
