"""``socseq dsm cv|train|predict CONFIG``: the baseline SOC map from the command line.

CONFIG is a TOML file holding a ``[dsm]`` table (the run configuration) or only the DSM
settings. The commands are thin shells over :mod:`socseq.dsm.api`; a
:class:`~socseq.exceptions.SocseqError` reaches the user as one line and exit status 2.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from socseq.cli.progress import progress_bars
from socseq.dsm.config import DSMConfig, load_config

console = Console()

_METRIC_FORMAT = {
    "n": "{:.0f}",
    "ME": "{:.3f}",
    "MAE": "{:.3f}",
    "RMSE": "{:.3f}",
    "R2": "{:.3f}",
    "MEC": "{:.3f}",
    "CCC": "{:.3f}",
    "PICP90": "{:.3f}",
}


def _load(config_path: Path, out_dir: Path | None) -> DSMConfig:
    config = load_config(config_path)
    if out_dir is not None:
        config = config.model_copy(
            update={"output": config.output.model_copy(update={"dir": out_dir})}
        )
    return config


def _metrics_table(title: str, rows: dict[str, dict[str, float]]) -> Table:
    table = Table(title=title, show_edge=False)
    table.add_column("validation")
    for key in _METRIC_FORMAT:
        table.add_column(key.replace("R2", "R²"), justify="right")
    for name, metrics in rows.items():
        table.add_row(
            name,
            *(_METRIC_FORMAT[k].format(metrics[k]) if k in metrics else "" for k in _METRIC_FORMAT),
        )
    return table


_config_argument = click.argument(
    "config_path", metavar="CONFIG", type=click.Path(dir_okay=False, path_type=Path)
)
_out_option = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (overrides [dsm.output] dir).",
)
_quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def dsm() -> None:
    """Digital soil mapping of the baseline SOC stock 0–30 cm (t C/ha)."""


@dsm.command()
@_config_argument
@_out_option
@_quiet_option
def cv(config_path: Path, out_dir: Path | None, quiet: bool) -> None:
    """Cross-validate (spatial blocks, k-fold) and score the test set, if configured."""
    from socseq.dsm.api import run_cv

    config = _load(config_path, out_dir)
    started = time.perf_counter()
    with progress_bars(quiet) as progress:
        result = run_cv(config, progress=progress)
    rows = {f"{m} CV": r.metrics for m, r in result.cv.items()}
    if result.test_metrics is not None:
        rows["test set"] = result.test_metrics
    if config.output.plots:
        from socseq.report.dsm_figures import write_validation_figures

        write_validation_figures(config.output.dir)
    title = f"SOC stock 0–30 cm, {config.cv.n_splits}-fold CV (ME, MAE, RMSE in t C/ha)"
    console.print(_metrics_table(title, rows))
    for line in result.report.summary():
        console.print(line, highlight=False, markup=False)
    console.print(f"{time.perf_counter() - started:.1f} s; outputs in {config.output.dir}")


@dsm.command()
@_config_argument
@_out_option
@_quiet_option
def train(config_path: Path, out_dir: Path | None, quiet: bool) -> None:
    """Fit the model on all samples and its area of applicability; save it."""
    from socseq.dsm.api import MODEL_FILE
    from socseq.dsm.api import train as train_model

    config = _load(config_path, out_dir)
    started = time.perf_counter()
    with progress_bars(quiet) as progress:
        trained = train_model(config, progress=progress)
    console.print(
        f"trained {trained.provenance['model']} on {len(trained.training)} "
        f"samples and {len(trained.covariate_names)} covariates"
    )
    if trained.aoa is not None:
        console.print(f"area of applicability: DI threshold {trained.aoa.threshold_:.3f}")
    console.print(
        f"{time.perf_counter() - started:.1f} s; model saved as "
        f"{Path(config.output.dir) / MODEL_FILE}"
    )


@dsm.command()
@_config_argument
@_out_option
@_quiet_option
def predict(config_path: Path, out_dir: Path | None, quiet: bool) -> None:
    """Map mean, median, 5 %/95 % quantiles, SD, DI and AOA (trains first if needed)."""
    import numpy as np

    from socseq.dsm.api import predict as predict_maps

    config = _load(config_path, out_dir)
    started = time.perf_counter()
    with progress_bars(quiet) as progress:
        ds = predict_maps(config, progress=progress)
    console.print(
        f"model: {ds.attrs['model_origin']}", highlight=False, markup=False, soft_wrap=True
    )
    if config.output.plots:
        from socseq.report.dsm_figures import plot_dsm_maps, save_figure

        prefix = config.output.prefix
        save_figure(plot_dsm_maps(ds), Path(config.output.dir) / f"{prefix}_maps.png")
    mean = ds["soc_mean_t_ha"].values
    mapped = np.isfinite(mean)
    console.print(f"mapped {int(mapped.sum())} cells: mean SOC stock {np.nanmean(mean):.1f} t C/ha")
    if "aoa" in ds:
        share = float(np.nanmean(ds["aoa"].values[mapped]))
        console.print(f"{share:.1%} of mapped cells inside the area of applicability")
    console.print(f"{time.perf_counter() - started:.1f} s; maps in {config.output.dir}")
