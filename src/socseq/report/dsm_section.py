"""The DSM section of the report: accuracy metrics, observed vs predicted, the baseline maps.

Shown when the run mapped its SOC baseline (``[dsm]``) or a DSM folder is beside it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from socseq.report.dsm_figures import plot_importance, plot_observed_vs_predicted
from socseq.report.figure_list import FigureList, ReportFigure
from socseq.report.figures import flag_style, plot_map, sequential_style
from socseq.report.numbers import STOCK_UNITS, fmt_number
from socseq.report.run_folder import RunFolder

__all__ = ["dsm_section"]

_CV_LABELS = {
    "spatial": "spatial-block cross-validation",
    "random": "random cross-validation",
    "test": "independent test set",
}


def dsm_section(run: RunFolder, figures: FigureList) -> dict[str, Any] | None:
    """DSM accuracy (metrics, observed vs predicted) and the baseline maps, when present."""
    metrics = run.dsm_metrics
    if run.dsm_dir is None and not metrics:
        return None
    items = _dsm_accuracy_figures(run, figures, metrics) + _dsm_map_figures(run, figures)
    return {
        "metrics_header": ["validation", "n", "ME", "MAE", "RMSE", "R²", "MEC", "CCC", "PICP90"],
        "metrics": _dsm_metric_rows(metrics),
        "figures": items,
    }


def _dsm_metric_rows(metrics: dict[str, dict[str, float]]) -> list[list[str]]:
    """One table row per validation: n, errors in t C/ha, scores."""
    keys = ["n", "ME", "MAE", "RMSE", "R2", "MEC", "CCC", "PICP90"]
    rows = []
    for method, values in metrics.items():
        cells = [_CV_LABELS.get(method, f"{method} cross-validation")]
        for key in keys:
            kind = "area" if key == "n" else "stock" if key in ("ME", "MAE", "RMSE") else "metric"
            cells.append(fmt_number(values.get(key), kind))
        rows.append(cells)
    return rows


def _dsm_accuracy_figures(
    run: RunFolder, figures: FigureList, metrics: dict[str, dict[str, float]]
) -> list[ReportFigure]:
    """Observed vs predicted stocks and the covariate importance, when written."""
    items: list[ReportFigure] = []
    predictions = run.dsm_predictions
    if predictions is not None:
        method, table = predictions
        has_interval = {"q05_t_ha", "q95_t_ha"} <= set(table.columns)
        fig = plot_observed_vs_predicted(
            table["observed_t_ha"],
            table["mean_t_ha"],
            lower=table["q05_t_ha"] if has_interval else None,
            upper=table["q95_t_ha"] if has_interval else None,
            metrics=metrics.get(method),
            title=f"{_CV_LABELS.get(method, method).capitalize()}, SOC stock 0–30 cm",
        )
        items.append(
            figures.add(
                "dsm_observed_vs_predicted",
                fig,
                "Observed vs predicted SOC stock",
                f"Out-of-fold predictions ({_CV_LABELS.get(method, method)}) against the "
                "observed stocks; grey bars are the 90 % prediction intervals, red points fall "
                "outside them.",
            )
        )
    importance = run.dsm_dir / "importance.csv" if run.dsm_dir is not None else None
    if importance is not None and importance.is_file():
        table = pd.read_csv(importance)
        if not table.empty and "covariate" in table.columns:
            items.append(
                figures.add(
                    "dsm_importance",
                    plot_importance(table),
                    "Covariate importance",
                    "How much the held-out error (RMSE) of the cross-validation grows when one "
                    "covariate is shuffled: the covariates the SOC map leans on. "
                    "Source: dsm/importance.csv.",
                )
            )
    return items


def _dsm_map_figures(run: RunFolder, figures: FigureList) -> list[ReportFigure]:
    """Map the baseline: mean and 90 % bounds on one scale, SD, area of applicability."""
    items: list[ReportFigure] = []
    mean = run.dsm_map("soc_mean_t_ha")
    q05, q95 = run.dsm_map("soc_q05_t_ha"), run.dsm_map("soc_q95_t_ha")
    stocks = [layer for layer in (mean, q05, q95) if layer is not None]
    if stocks:
        style = sequential_style(stocks, f"SOC stock 0–30 cm ({STOCK_UNITS})")
        for name, layer, title in (
            ("dsm_soc_mean", mean, "mean"),
            ("dsm_soc_q05", q05, "5 % quantile (lower bound)"),
            ("dsm_soc_q95", q95, "95 % quantile (upper bound)"),
        ):
            if layer is None:
                continue
            items.append(
                figures.add(
                    name,
                    plot_map(layer, style, f"SOC baseline 0–30 cm, {title}", land=run.land),
                    f"SOC baseline, {title}",
                    f"Digital soil mapping of the SOC stock, {title} of the predictive "
                    f"distribution; mean, 5 % and 95 % maps share one scale. "
                    f"Source: {layer.source}.",
                )
            )
    sd = run.dsm_map("soc_sd_t_ha")
    if sd is not None:
        items.append(
            figures.add(
                "dsm_soc_sd",
                plot_map(
                    sd,
                    sequential_style([sd], f"SD ({STOCK_UNITS})", cmap="PuRd"),
                    "SOC baseline uncertainty (standard deviation)",
                    land=run.land,
                ),
                "SOC baseline uncertainty",
                f"Standard deviation of the predictive distribution. Source: {sd.source}.",
            )
        )
    aoa = run.dsm_map("aoa")
    if aoa is not None:
        items.append(
            figures.add(
                "dsm_aoa",
                plot_map(
                    aoa,
                    flag_style(
                        "outside",
                        "inside",
                        colors=("#d73027", "#4575b4"),
                        label="area of\napplicability",
                    ),
                    "Area of applicability of the DSM model",
                    land=run.land,
                ),
                "Area of applicability",
                "Where the covariates resemble those of the training samples (Meyer & Pebesma "
                f"2021); predictions outside are extrapolations. Source: {aoa.source}.",
            )
        )
    return items
