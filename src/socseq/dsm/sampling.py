"""The ``[dsm]`` samples, read and placed on the covariates as the DSM will model them.

:func:`open_covariates` opens the configured covariates on the template grid;
:func:`prepare_samples` reads the samples, checks and harmonises them to stocks, extracts
their covariates and reports every row it drops, fills or merges
(:class:`~socseq.dsm.qa.SampleReport`). :mod:`socseq.dsm.api` cross-validates, trains and
predicts on them, and ``socseq validate`` (:func:`socseq.pipeline.validate.check_dsm_samples`)
reads them exactly as the DSM will.

This module imports neither scikit-learn, quantile-forest nor joblib, directly or through
another module: ``socseq validate`` imports it, and those packages alone take longer to import
(over a second) than the checks of a small region take to run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyproj import CRS

from socseq.dsm.config import DSMConfig, SamplesConfig, StocksConfig
from socseq.dsm.covariates import CovariateLayer, CovariateStack
from socseq.dsm.geometry import PlanarFrame
from socseq.dsm.qa import SampleReport
from socseq.dsm.stocks import compute_stocks
from socseq.exceptions import ConfigError, InputValidationError
from socseq.io.grid import GridSpec
from socseq.io.raster import open_raster
from socseq.io.samples import ColumnSpec, read_samples

__all__ = ["SampleData", "open_covariates", "prepare_samples"]


@dataclass
class SampleData:
    """Samples ready for modelling.

    Attributes
    ----------
    samples : pandas.DataFrame
        ``sample_id``, ``row``, ``x``, ``y`` (samples' CRS), ``stock_t_ha`` and the
        harmonised concentrations where computed.
    covariates : pandas.DataFrame
        Covariate values at the samples, one column per covariate.
    coords : numpy.ndarray
        Planar coordinates (m) in ``frame``.
    crs : pyproj.CRS
        CRS of ``samples.x``/``samples.y``.
    frame : PlanarFrame
        The metric frame of the training samples.
    report : SampleReport
        What was dropped, filled, extrapolated or merged.
    """

    samples: pd.DataFrame
    covariates: pd.DataFrame
    coords: np.ndarray
    crs: CRS
    frame: PlanarFrame
    report: SampleReport


def open_covariates(config: DSMConfig, grid: GridSpec | None = None) -> CovariateStack:
    """Open the configured covariates on a grid.

    The grid is ``grid`` when given (the pipeline passes its template grid), else that of
    ``[dsm.grid] template``, else that of the first covariate.
    """
    if grid is None and config.grid.template is not None:
        grid = GridSpec.from_raster(open_raster(config.grid.template, name="template"))
    layers = [
        CovariateLayer(
            name=c.name,
            path=c.path,
            categorical=c.categorical,
            variable=c.variable,
            band=c.band,
            resampling=c.resampling,
        )
        for c in config.covariates
    ]
    return CovariateStack.open(layers, grid=grid)


def _read(samples: SamplesConfig, stocks: StocksConfig) -> tuple[pd.DataFrame, SampleReport, CRS]:
    columns: dict[str, ColumnSpec] = {}
    for name, spec in (
        ("stock_t_ha", samples.stock),
        ("soc_g_kg", samples.soc),
        ("bd_g_cm3", samples.bulk_density),
        ("cf_frac", samples.coarse_fragments),
        ("top_cm", samples.top),
        ("bottom_cm", samples.bottom),
    ):
        if spec is not None:
            columns[name] = ColumnSpec(spec.column, spec.units)
    table = read_samples(
        samples.path,
        columns=columns,
        x=samples.x,
        y=samples.y,
        crs=samples.crs,
        layer=samples.layer,
        id_column=samples.id,
        profile_column=samples.profile,
        check_units=samples.check_units,
    )
    frame, report = compute_stocks(
        table,
        depth_cm=stocks.depth_cm,
        interval_cm=samples.interval_cm,
        harmonisation=stocks.harmonisation,
        spline_lambda=stocks.spline_lambda,
        min_coverage=stocks.min_coverage,
        bulk_density_ptf=stocks.bulk_density_ptf,
    )
    return frame, report, table.crs


def _attach(
    samples: pd.DataFrame, crs: CRS, stack: CovariateStack, report: SampleReport
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Extract covariates at the samples; drop (and report) those outside or without values."""
    values = stack.extract(samples["x"].to_numpy(), samples["y"].to_numpy(), crs)
    outside = ~values.pop("inside_grid").to_numpy()
    if outside.any():
        report.add_rows(
            samples[outside],
            "outside_grid",
            "dropped",
            detail="the point lies outside the covariate grid",
        )
    continuous = [n for n in stack.names if n not in stack.categorical]
    missing = values[continuous].isna().to_numpy()
    no_values = missing.any(axis=1) & ~outside
    for i in np.flatnonzero(no_values):
        absent = [c for c, m in zip(continuous, missing[i], strict=True) if m]
        report.add(
            str(samples["sample_id"].iloc[i]),
            int(samples["row"].iloc[i]),
            "no_covariates",
            "dropped",
            column=absent[0],
            detail=f"no value in {', '.join(absent)} at this point",
        )
    class_missing = values[list(stack.categorical)].isna().any(axis=1).to_numpy()
    class_missing = class_missing & ~outside & ~no_values
    if class_missing.any():
        report.add_rows(
            samples[class_missing],
            "no_class",
            "kept: encoded as no known class",
            detail=f"no code in {', '.join(stack.categorical)} at this point",
        )
    keep = ~outside & ~no_values
    report.n_used = int(keep.sum())
    if not keep.any():
        raise InputValidationError(
            f"{report.source}: no sample has covariate values; check that the samples' CRS and "
            "the covariates' extent agree"
        )
    return (samples[keep].reset_index(drop=True), values[keep].reset_index(drop=True)[stack.names])


def prepare_samples(
    config: DSMConfig, stack: CovariateStack | None = None, *, test: bool = False
) -> SampleData:
    """Read, check and harmonise the samples and extract their covariates.

    Parameters
    ----------
    config : DSMConfig
        Settings.
    stack : CovariateStack, optional
        Opened covariates (opened from ``config`` when not given).
    test : bool, default False
        Read the independent test set (``config.test``) instead of the training samples, with
        the same stock settings. Its ``frame`` is centred on the test samples: transform test
        points with the *training* frame to predict with a kriging model.

    Returns
    -------
    SampleData
    """
    source = config.test if test else config.samples
    if source is None:
        raise ConfigError("configuration: [dsm.test] is not set, so there is no test set")
    stack = stack if stack is not None else open_covariates(config)
    frame, report, crs = _read(source, config.stocks)
    samples, covariates = _attach(frame, crs, stack, report)
    planar = PlanarFrame.for_points(samples["x"], samples["y"], crs)
    return SampleData(
        samples, covariates, planar.transform(samples["x"], samples["y"]), crs, planar, report
    )
