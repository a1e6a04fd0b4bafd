"""SOC stocks from soil samples: units, bulk density, coarse fragments and depth harmonisation.

The stock of a layer is

    stock [t C/ha] = 0.1 · SOC [g/kg] · BD [g/cm³] · d [cm] · (1 − CF)

with d its thickness and CF the volumetric coarse-fragment fraction. (1 g/kg × 1 g/cm³ × 1 cm
= 10⁻³ g C per cm² = 0.1 t C/ha: 1 % SOC in 1 cm of soil of density 1 g/cm³ holds 1 t C/ha.)

Bulk density missing in a sample is filled by a pedotransfer function of organic matter
(:mod:`socseq.dsm.ptf`; default Grigal et al. 1989).

Profiles with several horizons are harmonised to the target interval (0–30 cm by default)
either by depth-weighting or by the equal-area quadratic spline of Bishop et al. (1999) as
programmed by Malone et al. (2009) (:mod:`socseq.dsm.spline`). Both work on the carbon
density of each horizon (t C/ha per cm = 0.1·SOC·BD·(1 − CF)), whose depth integral *is* the
stock, rather than on SOC, BD and CF separately: the mean of a product is not the product of
the means.

References
----------
Adams, W.A. (1973) J. Soil Sci. 24, 10–17. Bishop, T.F.A., McBratney, A.B., Laslett, G.M. (1999)
Modelling soil attribute depth functions with equal-area quadratic smoothing splines.
Geoderma 91, 27–45. Drew, L.A. (1973) Minnesota Forestry Research Notes 243. FAO (2018) Soil
Organic Carbon Mapping Cookbook, 2nd ed., ch. 3 (code: FAO-SID/SOC-Mapping-Cookbook,
code/1A-DataPreparation-Profiles.R). Grigal, D.F., Brovold, S.L., Nord, W.S., Ohmann, L.F.
(1989) Can. J. Soil Sci. 69, 895–900. Honeysett, J.L., Ratkowsky, D.A. (1989) J. Soil Sci. 40,
299–308. Jeffrey, D.W. (1970) J. Ecol. 58, 297–299. Malone, B.P., McBratney, A.B., Minasny, B.,
Laslett, G.M. (2009) Mapping continuous depth functions of soil carbon storage and available
water capacity. Geoderma 154, 138–152. Saini, G.R. (1966) Nature 210, 1295–1296.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from socseq.dsm.ptf import BD_PTFS, BulkDensityPTF
from socseq.dsm.qa import SampleReport
from socseq.dsm.spline import EqualAreaSpline
from socseq.exceptions import ConfigError, InputValidationError
from socseq.io.samples import SampleTable

__all__ = [
    "LIMITS",
    "compute_stocks",
    "soc_stock_t_ha",
]

Harmonisation = Literal["weighted", "spline"]


#: Physically possible ranges (inclusive bounds unless noted) of the canonical sample
#: quantities. SOC: pure organic matter holds about 50–58 % C, so more than 600 g/kg cannot
#: be organic carbon. BD: a soil cannot be denser than its mineral particles (quartz
#: 2.65 g/cm³). CF: 1 (all stones) leaves no fine earth to hold SOC. Stocks: the plausible
#: range of socseq.io.units for a 0–30 cm stock.
LIMITS: dict[str, tuple[float, float]] = {
    "soc_g_kg": (0.0, 600.0),
    "bd_g_cm3": (0.02, 2.65),
    "cf_frac": (0.0, 0.999),
    "top_cm": (0.0, 1000.0),
    "bottom_cm": (0.0, 1000.0),
    "stock_t_ha": (0.0, 1000.0),
}


def soc_stock_t_ha(
    soc_g_kg: np.ndarray | float,
    bd_g_cm3: np.ndarray | float,
    thickness_cm: np.ndarray | float,
    cf_frac: np.ndarray | float = 0.0,
) -> np.ndarray:
    """SOC stock of a layer (t C/ha).

    Parameters
    ----------
    soc_g_kg : array-like
        SOC concentration of the fine earth (g/kg; 1 % = 10 g/kg).
    bd_g_cm3 : array-like
        Bulk density of the fine earth (g/cm³ = Mg/m³).
    thickness_cm : array-like
        Layer thickness (cm).
    cf_frac : array-like, default 0
        Volumetric coarse-fragment fraction (0–1).

    Returns
    -------
    numpy.ndarray
        Stock = 0.1 · SOC · BD · thickness · (1 − CF), in t C/ha (÷ 10 for kg C/m²).
    """
    return (
        0.1
        * np.asarray(soc_g_kg, float)
        * np.asarray(bd_g_cm3, float)
        * np.asarray(thickness_cm, float)
        * (1.0 - np.asarray(cf_frac, float))
    )


def _flag_missing(data: pd.DataFrame, column: str, report: SampleReport, action: str) -> pd.Series:
    missing = data[column].isna()
    if missing.any():
        report.add_rows(data[missing], "missing_value", action, column=column)
    return missing


def _flag_impossible(data: pd.DataFrame, column: str, report: SampleReport) -> pd.Series:
    lo, hi = LIMITS[column]
    values = data[column]
    bad = values.notna() & ((values < lo) | (values > hi))
    if bad.any():
        report.add_rows(
            data[bad],
            "impossible_value",
            "dropped",
            column=column,
            values=values[bad],
            detail=f"possible range {lo:g}–{hi:g}",
        )
    return bad


def _weighted(
    top: np.ndarray, bottom: np.ndarray, values: np.ndarray, interval: tuple[float, float]
) -> tuple[float, float]:
    """Depth-weighted mean over the covered part of the interval, and the covered length."""
    overlap = np.clip(np.minimum(bottom, interval[1]) - np.maximum(top, interval[0]), 0, None)
    covered = float(overlap.sum())
    if covered <= 0:
        return float("nan"), 0.0
    return float(np.sum(values * overlap) / covered), covered


def _harmonise(
    horizons: pd.DataFrame,
    interval: tuple[float, float],
    method: Harmonisation,
    lam: float,
    min_coverage: float,
    report: SampleReport,
) -> pd.DataFrame:
    """One row per profile with the stock and the harmonised SOC, BD and CF over ``interval``."""
    thickness = interval[1] - interval[0]
    if horizons.empty:  # every row was dropped: compute_stocks says so in one line
        return pd.DataFrame(columns=["sample_id", "row", "x", "y", "stock_t_ha"])
    # Plain arrays sorted by profile (in order of first appearance) then depth: a pandas
    # groupby costs more than the arithmetic for thousands of small profiles.
    codes, keys = pd.factorize(horizons["_profile"], sort=False)
    order = np.lexsort((horizons["top_cm"].to_numpy(), codes))
    codes = codes[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(codes)) + 1, [len(codes)]])
    col = {
        name: horizons[name].to_numpy()[order]
        for name in (
            "sample_id",
            "row",
            "x",
            "y",
            "top_cm",
            "bottom_cm",
            "density",
            "soc_g_kg",
            "bd_g_cm3",
            "cf_frac",
            "bd_source",
        )
    }
    rows = []
    for first, stop in zip(starts[:-1], starts[1:], strict=True):
        key = str(keys[codes[first]])
        head = pd.DataFrame({"sample_id": [col["sample_id"][first]], "row": [col["row"][first]]})
        top, bottom = col["top_cm"][first:stop], col["bottom_cm"][first:stop]
        if np.any(top[1:] < bottom[:-1]):
            report.add_rows(
                head, "overlapping_horizons", "dropped", column="top_cm", detail=f"profile {key}"
            )
            continue
        if np.ptp(col["x"][first:stop]) > 0 or np.ptp(col["y"][first:stop]) > 0:
            report.add_rows(
                head,
                "inconsistent_location",
                "first location used",
                detail=f"profile {key} has horizons at several places",
            )
        values = {}
        covered = 0.0
        for name in ("density", "soc_g_kg", "bd_g_cm3", "cf_frac"):
            y = col[name][first:stop]
            if method == "spline":
                mean, covered = EqualAreaSpline.fit(top, bottom, y, lam).mean(*interval)
            else:
                mean, covered = _weighted(top, bottom, y, interval)
            values[name] = mean
        coverage = covered / thickness
        if coverage < min_coverage:
            report.add_rows(
                head,
                "insufficient_depth",
                "dropped",
                column="bottom_cm",
                values=[coverage],
                detail=f"horizons cover {covered:g} of {thickness:g} cm (minimum "
                f"{min_coverage:.0%})",
            )
            continue
        if coverage < 1 - 1e-9:
            report.add_rows(
                head,
                "partial_depth",
                "extrapolated: mean of the covered part used for the whole interval",
                column="bottom_cm",
                values=[coverage],
                detail=f"horizons cover {covered:g} of {thickness:g} cm",
            )
        rows.append(
            {
                "sample_id": key,
                "row": int(col["row"][first]),
                "x": float(col["x"][first]),
                "y": float(col["y"][first]),
                "stock_t_ha": values["density"] * thickness,
                "soc_g_kg": values["soc_g_kg"],
                "bd_g_cm3": values["bd_g_cm3"],
                "cf_frac": values["cf_frac"],
                "bd_source": ";".join(sorted(set(col["bd_source"][first:stop]))),
                "n_horizons": int(stop - first),
                "coverage": coverage,
            }
        )
    return pd.DataFrame(rows)


def _merge_duplicates(samples: pd.DataFrame, report: SampleReport) -> pd.DataFrame:
    """Average samples at identical coordinates into one (the first one's id and row)."""
    key = samples[["x", "y"]].round(9).astype(str).agg(",".join, axis=1)
    dup = key.duplicated(keep=False)
    if not dup.any():
        return samples
    numeric = [
        c for c in ("stock_t_ha", "soc_g_kg", "bd_g_cm3", "cf_frac", "coverage") if c in samples
    ]
    merged = samples.copy()
    for _, group in samples[dup].groupby(key[dup], sort=False):
        keep = group.index[0]
        merged.loc[keep, numeric] = group[numeric].mean().to_numpy()
        report.add_rows(
            group.iloc[1:],
            "duplicate_location",
            f"merged into {group.iloc[0]['sample_id']}",
            column="stock_t_ha",
            values=group["stock_t_ha"].iloc[1:],
            detail=f"{len(group)} samples at this location averaged",
        )
        merged = merged.drop(index=group.index[1:])
    return merged.reset_index(drop=True)


def compute_stocks(
    table: SampleTable,
    *,
    depth_cm: tuple[float, float] = (0.0, 30.0),
    interval_cm: tuple[float, float] | None = None,
    harmonisation: Harmonisation = "weighted",
    spline_lambda: float = 0.1,
    min_coverage: float = 0.5,
    bulk_density_ptf: str = "grigal1989",
    report: SampleReport | None = None,
) -> tuple[pd.DataFrame, SampleReport]:
    """Compute the SOC stock over ``depth_cm`` for every sample or profile.

    Parameters
    ----------
    table : SampleTable
        From :func:`socseq.io.samples.read_samples`, with either ``stock_t_ha`` or
        ``soc_g_kg`` (and optionally ``bd_g_cm3``, ``cf_frac``, ``top_cm``/``bottom_cm``,
        ``profile_id``).
    depth_cm : (float, float), default (0, 30)
        Target interval (cm).
    interval_cm : (float, float), optional
        Depth of every sample when the table has no ``top_cm``/``bottom_cm`` columns (e.g.
        values already harmonised to 0–30 cm). For stocks it must equal ``depth_cm``.
    harmonisation : {"weighted", "spline"}
        Depth-weighted mean, or the equal-area spline (:class:`EqualAreaSpline`).
    spline_lambda : float, default 0.1
        λ of the spline (depths in cm).
    min_coverage : float, default 0.5
        Smallest share of the target interval the horizons must cover; profiles covering
        less are dropped, those covering more but not all are extrapolated (reported).
    bulk_density_ptf : str, default "grigal1989"
        Pedotransfer function (:data:`BD_PTFS`) filling missing bulk density.
    report : SampleReport, optional
        Report to add the issues to; a new one by default.

    Returns
    -------
    samples : pandas.DataFrame
        One row per sample or profile: ``sample_id``, ``row``, ``x``, ``y``, ``stock_t_ha``
        and, when computed from concentrations, the harmonised ``soc_g_kg``, ``bd_g_cm3``,
        ``cf_frac``, ``bd_source`` (``measured`` or the PTF name), ``n_horizons``,
        ``coverage``.
    report : SampleReport
        Every sample dropped, filled, extrapolated or merged, and why.

    Raises
    ------
    ConfigError
        Neither or both of stocks and SOC given, no depth information, or stocks for another
        interval than the target.
    """
    data = table.data.copy()
    report = report if report is not None else SampleReport(source=str(table.source))
    report.n_read = len(data)
    what = f"samples file {table.source}"
    a, b = (float(v) for v in depth_cm)
    if not 0 <= a < b:
        raise ConfigError(f"{what}: depth_cm = {depth_cm} is not an interval; give e.g. [0, 30]")
    has_stock, has_depths = _check_layout(data, what, interval_cm)
    if has_stock:
        if has_depths or tuple(float(v) for v in interval_cm or ()) != (a, b):
            raise ConfigError(
                f"{what}: stocks must refer to the target interval {a:g}–{b:g} cm; give SOC, "
                "bulk density and depths instead to harmonise other intervals"
            )
        drop = _flag_missing(data, "stock_t_ha", report, "dropped")
        drop |= _flag_impossible(data, "stock_t_ha", report)
        samples = data[~drop][["sample_id", "row", "x", "y", "stock_t_ha"]]
    else:
        if not has_depths:
            data["top_cm"], data["bottom_cm"] = (float(v) for v in interval_cm or ())
        data = _valid_horizons(data, report)
        _fill_density(data, _bulk_density_ptf(bulk_density_ptf, what), report)
        samples = _harmonise(data, (a, b), harmonisation, spline_lambda, min_coverage, report)
        if "profile_id" not in data and not samples.empty:
            # Without a profile column each row is its own sample: restore the plain ids.
            samples["sample_id"] = samples["sample_id"].str.rsplit("#", n=1).str[0]
        if samples.empty:
            samples = pd.DataFrame(columns=["sample_id", "row", "x", "y", "stock_t_ha"])
        else:
            samples = samples[~_flag_impossible(samples, "stock_t_ha", report)]

    samples = _merge_duplicates(samples.reset_index(drop=True), report)
    report.n_used = len(samples)
    if samples.empty:
        issues = ", ".join(
            f"{int(row.samples)} {row.issue} ({row.action})" for row in report.counts().itertuples()
        )
        raise InputValidationError(
            f"{what}: no sample is left after the checks ({issues or 'no rows'}); correct the "
            "columns, units or depths (docs/dsm.md, sample quality report)"
        )
    return samples.reset_index(drop=True), report


def _check_layout(
    data: pd.DataFrame, what: str, interval_cm: tuple[float, float] | None
) -> tuple[bool, bool]:
    """Whether the table gives stocks (else SOC) and depth columns (else ``interval_cm``)."""
    has_stock, has_soc = "stock_t_ha" in data, "soc_g_kg" in data
    if has_stock == has_soc:
        raise ConfigError(
            f"{what}: give either a stock column or a SOC concentration column (with bulk "
            "density and coarse fragments), not " + ("both" if has_stock else "neither")
        )
    has_depths = "top_cm" in data and "bottom_cm" in data
    if has_depths == (interval_cm is not None):
        raise ConfigError(
            f"{what}: give either top and bottom depth columns or interval_cm (the depth of "
            "every sample), not " + ("both" if has_depths else "neither")
        )
    return has_stock, has_depths


def _valid_horizons(data: pd.DataFrame, report: SampleReport) -> pd.DataFrame:
    """Rows with SOC and depths, no impossible value and bottom below top (others reported)."""
    drop = _flag_missing(data, "soc_g_kg", report, "dropped")
    for column in ("top_cm", "bottom_cm"):
        drop |= _flag_missing(data, column, report, "dropped")
    for column in ("soc_g_kg", "bd_g_cm3", "cf_frac", "top_cm", "bottom_cm"):
        if column in data:
            drop |= _flag_impossible(data, column, report)
    inverted = data["bottom_cm"] <= data["top_cm"]
    if inverted.any():
        report.add_rows(
            data[inverted & ~drop],
            "impossible_value",
            "dropped",
            column="bottom_cm",
            values=data["bottom_cm"][inverted & ~drop],
            detail="bottom is not below top",
        )
        drop |= inverted
    return data[~drop].copy()


def _bulk_density_ptf(name: str, what: str) -> BulkDensityPTF:
    ptf = BD_PTFS.get(name)
    if ptf is None:
        raise ConfigError(
            f"{what}: bulk_density_ptf '{name}' is not known; use one of {', '.join(BD_PTFS)}"
        )
    return ptf


def _fill_density(data: pd.DataFrame, ptf: BulkDensityPTF, report: SampleReport) -> None:
    """Fill bulk density (PTF) and coarse fragments (0), then SOC density per cm, in place."""
    if "bd_g_cm3" not in data:
        data["bd_g_cm3"] = np.nan
    no_bd = _flag_missing(data, "bd_g_cm3", report, f"filled by pedotransfer function {ptf.name}")
    data["bd_source"] = np.where(no_bd, ptf.name, "measured")
    data.loc[no_bd, "bd_g_cm3"] = ptf(data.loc[no_bd, "soc_g_kg"].to_numpy())
    if "cf_frac" not in data:
        data["cf_frac"] = 0.0
    no_cf = _flag_missing(data, "cf_frac", report, "assumed 0 (no coarse fragments)")
    data.loc[no_cf, "cf_frac"] = 0.0
    data["density"] = soc_stock_t_ha(data["soc_g_kg"], data["bd_g_cm3"], 1.0, data["cf_frac"])
    data["_profile"] = (
        data["profile_id"]
        if "profile_id" in data
        else (data["sample_id"] + "#" + data["row"].astype(str))
    )
